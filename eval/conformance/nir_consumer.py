"""``model.nir`` read by a NIR consumer nsb did not write: snnTorch's ``import_from_nir``, run step by step
over the reference inputs and compared with the trained model's spikes (docs/nir.md).

snnTorch 1.0.0 with nirtorch 2.x has two importer bugs that nsb's file does not cause, both fixed upstream:
``nir.IF`` becomes ``Leaky(beta=0.9, subtract reset, init_hidden=False)``, which crashes the graph
(snnTorch PR #452 maps it to a leak-free ``Leaky``), and its recurrent-subgraph rewrite routes the layer's
input through W_rec (W_rec·(x + s) instead of x + W_rec·s; nirtorch PR #51 is the fix's prerequisite).
:func:`snntorch_run` applies those two fixes (``fixed=True``) and otherwise uses snnTorch's modules and
nirtorch's executor as shipped. snnTorch also resets to 0 whatever ``v_reset`` says, and flattens the batch
dimension with NIR's ``Flatten``, so frames run one sample at a time.
"""

from __future__ import annotations

import contextlib
import io
from typing import Any

import numpy as np

from nsb.eval.bundle import Bundle
from nsb.eval.fidelity import SPIKE_GATE as SPIKES_BAR
from nsb.eval.fidelity import fidelity


@contextlib.contextmanager
def fixed_importer():
    """snnTorch's importer with its two upstream-fixed bugs fixed (module docstring); nothing else changed."""
    import nir
    import snntorch as snn
    import snntorch.import_nir as imp

    saved = imp._replace_rnn_subgraph_with_nirgraph, imp._nir_to_snntorch_module

    def module(node: Any, hack_w_scale: bool = True, init_hidden: bool = False) -> Any:
        if isinstance(node, nir.IF):  # as snnTorch PR #452: a leak-free Leaky, reset to zero, r folded into θ
            r, theta = np.unique(node.r), np.unique(node.v_threshold)
            if r.size != 1 or theta.size != 1:
                raise ValueError("snnTorch's Leaky holds one threshold: the IF node's r and θ must be uniform")
            return snn.Leaky(beta=1.0, threshold=float(theta[0] / r[0]), reset_mechanism="zero",
                             init_hidden=init_hidden, reset_delay=False)
        return saved[1](node, hack_w_scale, init_hidden)

    imp._replace_rnn_subgraph_with_nirgraph = lambda graph: graph  # nirtorch runs the LIF ⇄ Linear cycle itself
    imp._nir_to_snntorch_module = module
    try:
        yield
    finally:
        imp._replace_rnn_subgraph_with_nirgraph, imp._nir_to_snntorch_module = saved


def snntorch_run(graph: Any, x: np.ndarray, layers: list[str], fixed: bool = True
                 ) -> tuple[np.ndarray, list[np.ndarray]]:
    """Import ``graph`` with snnTorch and run it step by step over ``x [T, B, ...]``: the per-step outputs and
    the spikes of the neuron nodes named in ``layers``."""
    import torch
    from snntorch.import_nir import import_from_nir

    with contextlib.redirect_stdout(io.StringIO()), (fixed_importer() if fixed else contextlib.nullcontext()):
        net = import_from_nir(graph)
    modules = dict(net.named_modules())
    recorded: dict[str, list] = {name: [] for name in layers}
    for name in layers:
        key = name.replace(".", "_")
        module = modules.get(key) or next(m for k, m in modules.items() if k.endswith(key))
        module.register_forward_hook(
            lambda _m, _i, out, name=name: recorded[name].append(out[0] if isinstance(out, tuple) else out))
    outputs, state = [], None
    with torch.no_grad(), contextlib.redirect_stdout(io.StringIO()):
        for t in range(x.shape[0]):
            out, state = net(torch.from_numpy(np.ascontiguousarray(x[t])), state)
            outputs.append(out)
    return torch.stack(outputs).numpy(), [torch.stack(recorded[name]).numpy() for name in layers]


def run_bundle(bundle: Bundle, fixed: bool = True) -> tuple[np.ndarray, list[np.ndarray]]:
    """snnTorch on the bundle's reference inputs; frames ([T, B, C, H, W]) one sample at a time."""
    import nir

    info = bundle.manifest["nir"]
    graph = nir.read(bundle.file("model.nir"))
    x = bundle.reference().inputs
    layers = [layer["nodes"][1] for layer in info["layers"]]
    if x.ndim <= 3:
        return snntorch_run(graph, x, layers, fixed)
    runs = [snntorch_run(graph, x[:, b], layers, fixed) for b in range(x.shape[1])]
    outputs = np.stack([out for out, _ in runs], axis=1)
    spikes = [np.stack([s[i] for _, s in runs], axis=1) for i in range(len(layers))]
    return outputs, spikes


def agreement(bundle: Bundle, outputs: np.ndarray, spikes: list[np.ndarray]) -> dict[str, Any]:
    """Spike and count agreement per layer, prediction agreement (classification) and the largest output
    error against reference.h5, as :func:`nsb.eval.fidelity.fidelity` measures every backend."""
    import torch

    from nsb.objectives import reduce_time

    ref = bundle.reference()
    readout = bundle.manifest["task"]["readout"] if bundle.task == "classification" else "all"
    reduced = reduce_time(torch.from_numpy(outputs), readout).numpy()
    stored = ref.spikes[0].shape[1] if ref.spikes else 0
    fid = fidelity(bundle.task, reduced, ref, [s.sum(0) for s in spikes], [s[:, :stored] for s in spikes],
                   gated=False)
    return {"layers": [{"spikes": layer["spike_agreement"], "counts": layer["count_agreement"], "rate": layer["rate"]}
                       for layer in fid["layers"]],
            "predictions": fid.get("prediction_agreement"), "max_output_error": fid["max_abs_error"]}


def snntorch_agreement(bundle: Bundle) -> tuple[str, str]:
    """The conformance cell: ``pass`` when snnTorch meets the fp32 gate; ``flagged`` (reported, not gated)
    when the manifest says the file is lossy or the model resets to a value snnTorch ignores; else ``fail``."""
    from importlib.metadata import version

    info = bundle.manifest["nir"]
    result = agreement(bundle, *run_bundle(bundle))
    spikes = min(layer["spikes"] for layer in result["layers"])
    counts = min(layer["counts"] for layer in result["layers"])
    predictions = result["predictions"]
    said = "" if predictions is None else f"{predictions:.2%} predictions, "
    detail = (f"snnTorch {version('snntorch')}: {said}≥ {spikes:.4%} spikes "
              "(importer with the IF and recurrence fixes of snnTorch #452 / nirtorch #51)")
    met = spikes >= SPIKES_BAR and counts >= SPIKES_BAR and predictions in (None, 1.0)
    if not info["exact"]:
        lossy = ", ".join(sorted({item["what"] for item in info["lossy"]}))
        return "flagged", f"lossy ({lossy}), flagged in the manifest; {detail}"
    if any(np.any(np.asarray(layer["nir"]["v_reset"]) != 0) for layer in info["layers"]):
        return ("pass" if met else "flagged"), f"v_reset ≠ 0, which snnTorch ignores (it resets to 0); {detail}"
    return ("pass" if met else "fail"), detail

