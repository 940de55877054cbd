"""``model.nir``: the trained network as a NIR graph (Neuromorphic Intermediate Representation, the ``nir``
package) for the neuromorphic toolchains — snnTorch, Norse, Sinabs, Lava-DL, Rockpool (Xylo), SpiNNaker2 and
the others neuroir.org lists. ``docs/nir.md`` has the table of what maps exactly and how to load the file.

NIR's neurons are continuous-time ODEs and NIR leaves their discretisation to each consumer. nsb writes
its discrete-time layers for forward Euler at ``dt = DT = 1e-4``, the step and the rule snnTorch's NIR
importer and exporter fix (``β = 1 − dt/τ``): a NIR ``LIF`` (``τ·v̇ = (v_leak − v) + r·I``) then steps as
``v ← (1 − dt/τ)·v + (dt/τ)·(v_leak + r·I)`` and fires and resets in the same step (``z = v > v_threshold``,
then ``v ← v_reset``); a NIR ``IF`` (``v̇ = r·I``) steps as ``v ← v + r·I``.

The conversion (λ the decay, g the input gain, θ the threshold, ρ = V_rest; ``docs/neurons.md``)::

    LIF (λ < 1):  τ = dt / (1 − λ)      r = g / (1 − λ)     (so 1 − dt/τ = λ and (dt/τ)·r = g)
                  v_leak = 0            v_threshold = θ − ρ
                  v_reset = 0 (immediate reset) or (1 − λ)·ρ / λ (deferred reset; 0 when ρ = 0)
    IF  (λ = 1):  r = g                 v_threshold = θ − ρ      v_reset = 0
    synapse:      Affine / Conv2d with the trained weights; bias += −(1 − λ)·ρ / g, the recurrent bias
                  b_rec (recurrent layers) and an eval-mode BatchNorm (``bn``, ``tdbn``) folded in
    recurrence:   the neuron node ⇄ a ``Linear`` node holding W_rec (the LIF ⇄ Linear cycle snnTorch
                  writes and reads for its recurrent LIF)

The NIR membrane is nsb's ``v − V_rest`` (so it starts at 0 as consumers start it, and NIR's reset value
stays the rest value), which is why ρ moves into the threshold, the bias and — for the deferred reset,
whose rest value enters the next charge undecayed — the reset value. With V_rest = 0 both reset timings
are NIR's immediate reset exactly (they give the same spikes, ``docs/neurons.md``). In exact arithmetic
every mapping marked exact gives nsb's spikes step for step; where nothing is folded into the synapse
the float32 operations are nsb's own as well.

What NIR cannot say is never silent. Lossy (written, named in the manifest's ``lossy`` list and in one
:class:`NirLossyWarning` line): ``reset = "soft"`` and ``"none"`` (NIR's neurons reset to a value; written
as a hard reset to V_rest), ``spike_test = "greater_equal"`` (ASGL; NIR fires on ``v > θ``), the deferred
reset with V_rest ≠ 0 and λ = 0. Refused (:class:`nsb.errors.NsbError`, one line naming the layer and the
alternative): ALIF, adLIF, GLIF and any neuron whose op is not LIF's (no NIR node holds an adaptive
threshold, an adaptation current or gates), TEBN/BNTT/LayerNorm (per-step or per-sample scales), the
language model (token embedding), input_gain = 0 with V_rest ≠ 0, and modules nsb does not know how to map.
"""

from __future__ import annotations

import io
import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from nsb.errors import NsbError

#: the Euler step the NIR time constants are written for (the dt snnTorch's NIR importer and exporter fix)
DT = 1e-4

ALTERNATIVE = "export it with --format onnx or torchscript instead, or train lif/if/plif/rlif neurons for NIR"


class NirLossyWarning(UserWarning):
    """``model.nir`` was written but some layer's dynamics are not NIR's exactly (the manifest names them)."""


@dataclass
class _Graph:
    nodes: dict[str, Any] = field(default_factory=dict)
    edges: list[tuple[str, str]] = field(default_factory=list)
    layers: list[dict[str, Any]] = field(default_factory=list)
    lossy: list[dict[str, str]] = field(default_factory=list)

    def add(self, name: str, node: Any, after: str | None) -> str:
        self.nodes[name] = node
        if after is not None:
            self.edges.append((after, name))
        return name


def export_nir(model: nn.Module, cfg: Any, frame_shape: tuple[int, int, int] | None = None
               ) -> tuple[bytes, dict[str, Any]]:
    """``(model.nir bytes, manifest entry)`` for a trained model in eval mode (``cfg`` its nsb Config).

    See the module docstring for the conversion: per layer, λ → ``τ = dt/(1 − λ)`` with ``dt = 1e-4``,
    g → ``r = g/(1 − λ)``, θ → ``v_threshold = θ − V_rest``, reset → ``v_reset`` (0, or ``(1 − λ)·V_rest/λ``
    for the deferred reset); λ = 1 → NIR ``IF`` with ``r = g``. Raises :class:`NsbError` (one line) for what
    NIR cannot hold at all; warns once (:class:`NirLossyWarning`, one line) for what it holds only
    approximately, and lists it in the manifest. ``frame_shape`` (C, H, W) is the conv model's input; it is
    inferred, for square frames, when not given.
    """
    try:
        import nir
    except ImportError:
        raise NsbError("--format nir needs the nir package: pip install 'nsb[nir]' (or pip install nir)") from None
    graph, info = build_graph(model, cfg, frame_shape)
    buffer = io.BytesIO()
    nir.write(buffer, graph)
    if info["lossy"]:
        # one line: the layers grouped by what they lose; warn_explicit with a pseudo-file name, so that no
        # source line is printed under it
        groups: dict[tuple[str, str], list[str]] = {}
        for x in info["lossy"]:
            groups.setdefault((x["what"], x["why"]), []).append(x["layer"])
        items = "; ".join(f"{what} in {', '.join(layers)}: {why}" for (what, why), layers in groups.items())
        warnings.warn_explicit(f"model.nir is not exact: {items} (manifest nir.lossy, docs/nir.md)",
                               NirLossyWarning, "<nsb export --format nir>", 0, module=__name__)
    return buffer.getvalue(), info


def build_graph(model: nn.Module, cfg: Any, frame_shape: tuple[int, int, int] | None = None
                ) -> tuple[Any, dict[str, Any]]:
    """The ``nir.NIRGraph`` and the manifest entry (see :func:`export_nir`)."""
    import nir

    from nsb.models.classifier import SpikingClassifier
    from nsb.models.conv import ConvSpikingNet
    from nsb.models.language import SpikingLanguageModel

    if model.training:
        raise NsbError("export_nir needs the model in eval mode (model.eval()): BatchNorm folds its running statistics")
    g = _Graph()
    if isinstance(model, SpikingLanguageModel):
        raise NsbError("the language model cannot be written as NIR: its token embedding has no NIR node; "
                       "export it with --format onnx or torchscript")
    if isinstance(model, SpikingClassifier):
        first = model.layers[0]  # a neuron owning its input layer (issue 16) has no synapse before it
        in_shape = (first.synapse.in_features if isinstance(first.synapse, nn.Linear) else first.neuron.input_size,)
        last = g.add("input", nir.Input(input_type=np.array(in_shape)), None)
        shape = in_shape
        for i, layer in enumerate(model.layers):
            last, shape = _spiking_layer(g, f"layers.{i}", layer, last, shape)
    elif isinstance(model, ConvSpikingNet):
        in_shape = tuple(frame_shape) if frame_shape is not None else _infer_frame_shape(model)
        last = g.add("input", nir.Input(input_type=np.array(in_shape)), None)
        shape = in_shape
        for i, block in enumerate(model.features):
            last, shape = _feature_block(g, f"features.{i}", block, last, shape)
        flat = (int(np.prod(shape)),)
        last = g.add("flatten", nir.Flatten(input_type={"input": np.array(shape)}, start_dim=0, end_dim=-1), last)
        last, shape = _spiking_layer(g, "hidden", model.hidden, last, flat)
    else:
        raise NsbError(f"NIR export knows nsb's classifier and conv models, not {type(model).__name__}; {ALTERNATIVE}")
    readout = model.readout
    w, b = _linear(readout)
    last = g.add("readout", nir.Affine(weight=w, bias=b), last)
    out_shape = (w.shape[0],)
    g.add("output", nir.Output(output_type=np.array(out_shape)), last)
    metadata = {"producer": "nsb", "dt": DT, "readout": str(cfg.model.readout),
                "membrane": "nsb's v - V_rest", "docs": "docs/nir.md"}
    graph = nir.NIRGraph(nodes=g.nodes, edges=g.edges, metadata=metadata)
    info = {
        "file": "model.nir",
        "nir_version": nir.version,
        "dt": DT,
        "discretisation": "forward Euler at dt: LIF v <- (1 - dt/tau) v + (dt/tau) (v_leak + r I), spike v > "
                          "v_threshold, then v <- v_reset in the same step; IF v <- v + r I",
        "conversion": "tau = dt/(1 - decay), r = input_gain/(1 - decay), v_threshold = threshold - v_rest, "
                      "v_reset = 0 (immediate) or (1 - decay) v_rest/decay (deferred); decay = 1: IF, r = input_gain",
        "membrane": "NIR's membrane is nsb's v - v_rest (starts at 0)",
        "input": {"node": "input", "shape": list(in_shape), "per_step": True,
                  "encoding": f"one step of the {cfg.data.name} input per NIR step, as reference.h5's inputs[t]"},
        "output": {"node": "output", "shape": list(out_shape), "per_step": True,
                   "readout": str(cfg.model.readout),
                   "meaning": "the readout Affine of the last spiking layer's spikes at every step; nsb reduces it "
                              "over time as task.readout says (every step for per-step tasks)"},
        "nodes": [{"name": k, "type": type(v).__name__} for k, v in g.nodes.items()],
        "edges": [list(e) for e in g.edges],
        "layers": g.layers,
        "exact": not g.lossy,
        "lossy": g.lossy,
    }
    return graph, info


def _infer_frame_shape(model: nn.Module) -> tuple[int, int, int]:
    """(C, H, W) of a ConvSpikingNet's input from its weights, for square frames."""
    convs = [m.synapse.module for m in model.features if hasattr(m, "synapse")]
    pools = sum(1 for m in model.features if not hasattr(m, "synapse"))
    c_in, c_last = convs[0].in_channels, convs[-1].out_channels
    side = math.isqrt(model.hidden.synapse.in_features // c_last)
    if side * side * c_last != model.hidden.synapse.in_features:
        raise NsbError("cannot infer the conv model's frame size (frames are not square); pass frame_shape")
    return c_in, side * 2 ** pools, side * 2 ** pools


def _linear(m: nn.Linear) -> tuple[np.ndarray, np.ndarray]:
    w = m.weight.detach().cpu().float().numpy().copy()
    b = m.bias.detach().cpu().float().numpy().copy() if m.bias is not None else np.zeros(w.shape[0], np.float32)
    return w, b


def _feature_block(g: _Graph, name: str, block: nn.Module, last: str, shape: tuple[int, ...]
                   ) -> tuple[str, tuple[int, ...]]:
    import nir

    from nsb.models.layers import SpikingLayer, TimeDistributed

    if isinstance(block, SpikingLayer):
        return _spiking_layer(g, name, block, last, shape)
    inner = block.module if isinstance(block, TimeDistributed) else block
    if isinstance(inner, nn.AvgPool2d) and not inner.ceil_mode and inner.divisor_override is None:
        k, s, p = (_pair(inner.kernel_size), _pair(inner.stride or inner.kernel_size), _pair(inner.padding))
        if any(p) and not inner.count_include_pad:
            raise NsbError(f"{name}: average pooling that excludes padding has no NIR node; {ALTERNATIVE}")
        node = nir.AvgPool2d(kernel_size=np.array(k), stride=np.array(s), padding=np.array(p))
        c, h, w = shape
        out = (c, (h + 2 * p[0] - k[0]) // s[0] + 1, (w + 2 * p[1] - k[1]) // s[1] + 1)
        return g.add(_node_name(name, "pool"), node, last), out
    raise NsbError(f"{name}: {type(inner).__name__} has no NIR mapping in nsb; {ALTERNATIVE}")


def _pair(v: Any) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[1]))


def _node_name(layer: str, part: str) -> str:
    # one dot only, "<layer>.<part>": snnTorch's importer names a recurrent subgraph by the text before it
    return f"{layer.replace('.', '_')}.{part}"


def _spiking_layer(g: _Graph, name: str, layer: nn.Module, last: str, shape: tuple[int, ...]
                   ) -> tuple[str, tuple[int, ...]]:
    """Synapse → (norm) → neuron, as NIR nodes; returns the neuron node's name and the layer's output shape."""
    import nir

    from nsb.models.layers import TimeDistributed
    from nsb.neurons.module import Neuron

    from nsb.neurons.parallel import ParallelNeuron

    neuron = layer.neuron
    layer_name = f"{name}.neuron"
    if isinstance(neuron, ParallelNeuron):  # issue 16: SPSN, PSN, PMSN, S4D
        raise NsbError(f"{layer_name}: the {neuron.name} neuron is a convolution over the whole input sequence, "
                       f"which NIR has no node for; {ALTERNATIVE}")
    if not isinstance(neuron, Neuron):
        raise NsbError(f"{layer_name}: {type(neuron).__name__} is not an nsb neuron; {ALTERNATIVE}")
    if neuron.decl.op.name != "LIF":
        raise NsbError(f"{layer_name}: the {neuron.decl.name} neuron (op {neuron.decl.op.name}) has no NIR node "
                       f"(NIR's neurons are LIF, CubaLIF, IF and LI: no adaptive threshold, adaptation current or "
                       f"gates); {ALTERNATIVE}")
    synapse = layer.synapse
    conv = synapse.module if isinstance(synapse, TimeDistributed) else None
    if isinstance(synapse, nn.Linear):
        w, b = _linear(synapse)
        out_shape: tuple[int, ...] = (w.shape[0],)
    elif isinstance(conv, nn.Conv2d):
        if conv.padding_mode != "zeros" or isinstance(conv.padding, str):
            raise NsbError(f"{name}.synapse: Conv2d padding '{conv.padding_mode}'/{conv.padding!r} has no NIR form; "
                           f"{ALTERNATIVE}")
        w = conv.weight.detach().cpu().float().numpy().copy()
        b = (conv.bias.detach().cpu().float().numpy().copy() if conv.bias is not None
             else np.zeros(w.shape[0], np.float32))
        c, h, wd = shape
        k, s, p, d = _pair(conv.kernel_size), _pair(conv.stride), _pair(conv.padding), _pair(conv.dilation)
        out_shape = (w.shape[0], (h + 2 * p[0] - d[0] * (k[0] - 1) - 1) // s[0] + 1,
                     (wd + 2 * p[1] - d[1] * (k[1] - 1) - 1) // s[1] + 1)
    else:
        raise NsbError(f"{name}.synapse: {type(synapse).__name__} has no NIR mapping in nsb; {ALTERNATIVE}")

    with torch.no_grad():
        attrs, _ = neuron.folded()
    # the float32 values nsb steps with (attributes enter the step as float32, docs/architecture.md §5.2)
    decay, gain, theta, rest = (float(np.float32(float(attrs[k])))
                                for k in ("decay", "input_gain", "v_threshold", "v_rest"))
    reset, timing, spike_test = str(attrs["reset_mode"]), str(attrs["reset_timing"]), str(attrs["spike_test"])
    folded: list[str] = []
    lossy: list[dict[str, str]] = []

    def flag(what: str, why: str) -> None:
        lossy.append({"layer": layer_name, "what": what, "why": why})

    # the feed-forward current's affine steps, folded into the synapse in float64, rounded once to float32
    scale = np.ones(w.shape[0])
    shift = b.astype(np.float64)
    norm_name = type(layer.norm).__name__
    if norm_name != "NoNorm":
        a, c0 = _norm_affine(layer.norm, f"{name}.norm")
        scale, shift = a, a * shift + c0
        folded.append(f"{norm_name} (eval) into the synapse")
    if neuron.norm is not None:
        a, c0 = _bn_affine(neuron.norm, f"{layer_name}.norm")
        scale, shift = a * scale, a * shift + c0
        folded.append("the neuron's input BatchNorm (eval) into the synapse")
    w_rec = None
    if neuron.recurrent is not None:
        wr, br = (t.detach().cpu().float().numpy() for t in neuron.recurrent_weights())
        w_rec = wr.copy()
        if np.any(br != 0):
            shift = shift + br.astype(np.float64)
            folded.append("the recurrent bias b_rec into the synapse bias (NIR consumers start a loop edge at 0)")
    if rest != 0 and decay < 1:
        if gain == 0:
            raise NsbError(f"{layer_name}: input_gain = 0 with v_rest ≠ 0 has no NIR form (the rest offset "
                           f"-(1 - decay)·v_rest cannot move into the synapse bias); {ALTERNATIVE}")
        shift = shift - (1 - decay) * rest / gain
        folded.append("V_rest into the synapse bias (-(1 - decay) v_rest / input_gain)")
    if folded:
        w = (w.astype(np.float64) * scale.reshape(-1, *([1] * (w.ndim - 1)))).astype(np.float32)
        b = shift.astype(np.float32)

    # the reset
    v_reset = 0.0
    if reset != "hard":
        flag("reset", f"reset='{reset}' ({timing}): NIR's neurons reset the membrane to a value; written as a hard "
                      "reset to V_rest")
    elif timing == "deferred" and rest != 0:
        if decay > 0:
            v_reset = (1 - decay) * rest / decay
        else:
            flag("v_rest", "deferred reset with V_rest != 0 and decay = 0: the undecayed rest value has no NIR reset "
                           "value; written as a reset to V_rest")
    if spike_test != "greater":
        flag("spike_test", f"spike_test='{spike_test}' fires on v >= threshold (ASGL); NIR fires on v > threshold")

    neuron_shape = out_shape
    full = lambda value: np.full(neuron_shape, value, dtype=np.float64)  # noqa: E731
    if decay >= 1.0:
        node = nir.IF(r=full(gain), v_threshold=full(theta - rest), v_reset=full(v_reset))
        params = {"r": gain}
    else:
        tau = DT / (1.0 - decay)
        node = nir.LIF(tau=full(tau), r=full(gain / (1.0 - decay)), v_leak=full(0.0),
                       v_threshold=full(theta - rest), v_reset=full(v_reset))
        params = {"tau": tau, "r": gain / (1.0 - decay), "v_leak": 0.0}
    params |= {"v_threshold": theta - rest, "v_reset": v_reset}

    if conv is not None:
        syn = nir.Conv2d(input_shape=np.array(shape[1:]), weight=w, stride=np.array(_pair(conv.stride)),
                         padding=np.array(_pair(conv.padding)), dilation=np.array(_pair(conv.dilation)),
                         groups=conv.groups, bias=b)
    else:
        syn = nir.Affine(weight=w, bias=b)
    syn_name = g.add(_node_name(name, "synapse"), syn, last)
    neuron_name = g.add(_node_name(name, "neuron"), node, syn_name)
    nodes = [syn_name, neuron_name]
    if w_rec is not None:
        rec_name = g.add(_node_name(name, "w_rec"), nir.Linear(weight=w_rec), neuron_name)
        g.edges.append((rec_name, neuron_name))
        nodes.append(rec_name)
    g.layers.append({
        "layer": layer_name, "neuron": neuron.decl.name, "nir_node": type(node).__name__, "nodes": nodes,
        "recurrent": w_rec is not None, "shape": list(neuron_shape),
        "nsb": {"decay": decay, "input_gain": gain, "threshold": theta, "v_rest": rest, "reset": reset,
                "reset_timing": timing, "spike_test": spike_test},
        "nir": params, "folded": folded, "exact": not lossy,
    })
    g.lossy.extend(lossy)
    return neuron_name, neuron_shape


def _bn_affine(bn: nn.Module, name: str) -> tuple[np.ndarray, np.ndarray]:
    """(a, c) with BN(x) = a·x + c in eval mode, float64."""
    if not isinstance(bn, nn.modules.batchnorm._BatchNorm) or bn.running_mean is None:
        raise NsbError(f"{name}: a BatchNorm without running statistics has no fixed affine form for NIR; "
                       f"{ALTERNATIVE}")
    var = bn.running_var.detach().cpu().double().numpy()
    mean = bn.running_mean.detach().cpu().double().numpy()
    gamma = bn.weight.detach().cpu().double().numpy() if bn.weight is not None else np.ones_like(mean)
    beta = bn.bias.detach().cpu().double().numpy() if bn.bias is not None else np.zeros_like(mean)
    a = gamma / np.sqrt(var + bn.eps)
    return a, beta - a * mean


def _norm_affine(norm: nn.Module, name: str) -> tuple[np.ndarray, np.ndarray]:
    from nsb.norm import BN

    kind = type(norm).__name__
    if isinstance(norm, BN) and kind in ("BN", "TDBN"):
        return _bn_affine(norm.bn1d, name)
    why = {"TEBN": "its per-step scale p[t]", "BNTT": "its per-step statistics",
           "LayerNorm": "its per-sample statistics"}.get(kind, "it is not an nsb norm NIR can hold")
    raise NsbError(f"{name}: {kind} cannot be written as NIR ({why}: NIR's nodes do not change over time or with "
                   "the sample); train with model.norm = 'bn' or 'none' for NIR, or export it with --format onnx or "
                   "torchscript instead")


__all__ = ["DT", "NirLossyWarning", "build_graph", "export_nir"]
