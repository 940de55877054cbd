"""Inputs, outputs and attributes of every ``nsb`` op, version 1.

Inputs are always ``X``, then the per-neuron parameters (folded from the trained model, passed as
initializers so the plugin's input count never varies), then the initial states. Outputs are the
spikes ``S`` and the final states, in the order of the initial states, so a stream can be cut into
chunks by feeding each final state back as the next chunk's initial state.

Each node also carries ``plugin_namespace`` and ``plugin_version`` for TensorRT's ONNX parser, which
ignores the domain and looks the plugin up by op type, version and namespace.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nsb.errors import NsbError

DOMAIN = "nsb"
VERSION = 1
PLUGIN_NAMESPACE = "nsb"
PLUGIN_VERSION = "1"
ROUTING_ATTRIBUTES = ("plugin_namespace", "plugin_version")


@dataclass(frozen=True)
class OpSpec:
    name: str
    params: tuple[str, ...]              # per-neuron (or matrix) parameter inputs, after X
    states: tuple[str, ...]              # initial-state inputs, after the parameters
    attributes: dict[str, str] = field(default_factory=dict)  # name -> "float" | "string"
    doc: str = ""

    @property
    def inputs(self) -> tuple[str, ...]:
        return ("X", *self.params, *self.states)

    @property
    def outputs(self) -> tuple[str, ...]:
        return ("S", *(s[:-1] + "T" for s in self.states))


LIF_ATTRIBUTES = {"decay": "float", "input_gain": "float", "v_threshold": "float", "v_reset": "float",
                  "reset_mode": "string"}

OPS: dict[str, OpSpec] = {
    "LIF": OpSpec("LIF", (), ("V0",), LIF_ATTRIBUTES,
                  "h = decay·v + input_gain·x; s = H(h − θ); v = reset(h, s)  (LIF, IF, PLIF)"),
    "RLIF": OpSpec("RLIF", ("W_rec", "B_rec"), ("V0", "S0"), LIF_ATTRIBUTES,
                   "LIF whose input gains W_rec·s[t−1] + B_rec before the charge (the seed's Recurrent_LIF)"),
    "ALIF": OpSpec("ALIF", ("ALPHA", "RHO"), ("V0", "B0"), {"v_threshold": "float", "beta": "float"},
                   "adaptive threshold θ + β·b, soft reset by it; α = exp(−1/τ_m), ρ = exp(−1/τ_adp) per neuron"),
    "ADLIF": OpSpec("ADLIF", ("ALPHA", "BETA", "A", "B"), ("V0", "W0"), {"v_threshold": "float"},
                    "adLIF with clamped per-neuron α, β, a, b; the input BN is exported as standard ops"),
    "GLIF": OpSpec("GLIF", ("ALPHA_G", "BETA_G", "GAMMA_G", "TAU", "LEAK", "RE_VTH", "V_TH", "C"), ("U0", "T0"), {},
                   "gated LIF with σ-folded per-neuron gates and the per-step conductance C [T_max, N]; "
                   "T0 (a float scalar) is the index of the chunk's first step"),
}


def op_spec(name: str) -> OpSpec:
    try:
        return OPS[name]
    except KeyError:
        raise NsbError(f"unknown nsb op '{name}'; this nsb knows {', '.join(OPS)} (version {VERSION}); "
                       "export the bundle with this nsb version or upgrade nsb") from None


def register_onnx_schemas() -> None:
    """Register every op with ``onnx.defs`` so ``onnx.checker`` validates nsb nodes (idempotent)."""
    from onnx import defs

    for spec in OPS.values():
        if defs.has(spec.name, DOMAIN):
            continue
        kinds = {"float": defs.OpSchema.AttrType.FLOAT, "string": defs.OpSchema.AttrType.STRING}
        attributes = [defs.OpSchema.Attribute(n, kinds[k], "", required=False) for n, k in spec.attributes.items()]
        attributes += [defs.OpSchema.Attribute(n, defs.OpSchema.AttrType.STRING, "TensorRT plugin routing",
                                               required=False) for n in ROUTING_ATTRIBUTES]
        schema = defs.OpSchema(
            spec.name, DOMAIN, VERSION, doc=spec.doc,
            inputs=[defs.OpSchema.FormalParameter(n, "T") for n in spec.inputs],
            outputs=[defs.OpSchema.FormalParameter(n, "T") for n in spec.outputs],
            type_constraints=[("T", ["tensor(float)", "tensor(float16)", "tensor(bfloat16)"], "")],
            attributes=attributes,
        )
        defs.register_schema(schema)
