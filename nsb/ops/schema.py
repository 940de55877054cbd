"""The ``nsb`` ONNX domain: names, version, and ``onnx.defs`` schemas derived from the op declarations.

Inputs are always ``X``, then the op's per-neuron and per-step inputs (folded from the trained model,
passed as initializers so the plugin's input count never varies), ``W_rec``/``B_rec`` for the
recurrent R-ops, then the initial states. Outputs are the spikes ``S`` and the final states, in the
order of the initial states, so a stream can be cut into chunks by feeding each final state back.

Each node also carries ``plugin_namespace`` and ``plugin_version`` for TensorRT's ONNX parser, which
ignores the domain and looks the plugin up by op type, version and namespace. Version 2: every op
carries the last spike as a state, LIF resets as the seed does (``reset_timing``), and every op has
``spike_test``.
"""

from __future__ import annotations

from nsb.neurons.declare import Op
from nsb.ops.registry import ops

DOMAIN = "nsb"
VERSION = 2
PLUGIN_NAMESPACE = "nsb"
PLUGIN_VERSION = str(VERSION)
ROUTING_ATTRIBUTES = ("plugin_namespace", "plugin_version")

__all__ = ["DOMAIN", "PLUGIN_NAMESPACE", "PLUGIN_VERSION", "ROUTING_ATTRIBUTES", "VERSION", "ops",
           "register_onnx_schemas"]


def register_onnx_schemas() -> None:
    """Register every op with ``onnx.defs`` so ``onnx.checker`` validates nsb nodes (idempotent)."""
    from onnx import defs

    for spec in ops().values():
        if not defs.has(spec.name, DOMAIN):
            defs.register_schema(_schema(spec))


def _schema(spec: Op):
    from onnx import defs

    kinds = {"float": defs.OpSchema.AttrType.FLOAT, "choice": defs.OpSchema.AttrType.STRING}
    attributes = [defs.OpSchema.Attribute(n, kinds[a.kind], a.doc, required=False)
                  for n, a in spec.all_attributes.items()]
    attributes += [defs.OpSchema.Attribute(n, defs.OpSchema.AttrType.STRING, "TensorRT plugin routing",
                                           required=False) for n in ROUTING_ATTRIBUTES]
    return defs.OpSchema(
        spec.name, DOMAIN, VERSION, doc=spec.doc,
        inputs=[defs.OpSchema.FormalParameter(n, "T") for n in spec.onnx_inputs],
        outputs=[defs.OpSchema.FormalParameter(n, "T") for n in spec.onnx_outputs],
        type_constraints=[("T", ["tensor(float)", "tensor(float16)", "tensor(bfloat16)"], "")],
        attributes=attributes,
    )
