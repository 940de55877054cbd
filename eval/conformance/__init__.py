"""Does a bundle run everywhere? Every runtime installed here, nsb's or not, judged by one gate.

A runtime that executes the model must reproduce ``reference.h5`` as the fidelity gate says
(:mod:`nsb.eval.fidelity`: fp32, 100 % of predictions, ≥ 99.99 % of spikes per layer); TensorRT's
parser must accept the standard-op graph and build an engine, and accept ``model.onnx`` up to the
plugin lookup (:mod:`.tensorrt_rtx`). A runtime that is not installed, a file the bundle does not
hold, or a model the format cannot express (NIR's refusals) is a skip with its reason, never a pass.

``nsb conformance BUNDLE`` prints the cells of one bundle; ``benchmarks/conformance_matrix.py``
exports every model kind and writes the matrix into docs/deployment.md; tests/test_conformance.py
asserts it in CI.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Callable

from nsb.errors import NsbError
from nsb.eval.bundle import Bundle


@dataclass
class Cell:
    runtime: str
    status: str  # pass | fail | skip | flagged (a format's documented approximation: reported, not gated)
    detail: str


@dataclass(frozen=True)
class Runtime:
    name: str
    label: str  # the matrix's column heading
    module: str  # what must be importable
    install: str
    needs: str  # the bundle file it reads


Judge = Callable[[Bundle], "tuple[bool | str, str]"]  # (passed, or a status; a one-line account)


def _evaluated(backend: str, graph: str | None = None) -> Judge:
    def check(bundle: Bundle) -> tuple[bool, str]:
        from nsb.eval.evaluate import evaluate

        report = evaluate(bundle, backend, graph=graph, batch_size=64, repeats=1, warmup=0, batch_sizes=(1,))
        fid = report["fidelity"]
        spikes = min((layer["spike_agreement"] for layer in fid["layers"]), default=1.0)
        parts = []
        if "prediction_agreement" in fid:
            parts.append(f"{fid['prediction_agreement']:.2%} predictions")
        parts.append(f"≥ {spikes:.4%} spikes" if fid["layers"] else f"no spiking layer, rel. L2 {fid['relative_l2_error']:.1e}")
        parts.append(f"max |Δout| {fid['max_abs_error']:.1e}")
        return bool(fid.get("passed")), ", ".join(parts)

    return check


def _tensorrt_std(bundle: Bundle) -> tuple[bool, str]:
    import onnx

    from nsb.eval.conformance.tensorrt_rtx import parse_and_build

    model = onnx.load(str(bundle.file("model.std.onnx")))
    result = parse_and_build(model, int(bundle.manifest["input"]["time_steps"]))
    if not result.parsed:
        node, desc = result.errors[0] if result.errors else ("?", "no error recorded")
        return False, f"parser: {len(result.errors)} error(s), first at {node}: {desc[:200]}"
    if not result.engine_bytes:
        return False, "parsed, but no engine was built"
    return True, f"parsed, engine {result.engine_bytes / 2**20:.1f} MiB"


def _tensorrt_plugins(bundle: Bundle) -> tuple[bool, str]:
    import onnx

    from nsb.eval.conformance.tensorrt_rtx import parses_up_to_plugins

    return parses_up_to_plugins(onnx.load(str(bundle.file("model.onnx"))))


def _nir(bundle: Bundle) -> tuple[str, str]:
    from nsb.eval.conformance.nir_consumer import snntorch_agreement

    return snntorch_agreement(bundle)


_ORT = "pip install 'nsb[cpu]'"
RUNTIMES: dict[str, tuple[Runtime, Judge]] = {
    r.name: (r, check) for r, check in [
        (Runtime("torch", "PyTorch (weights.h5)", "torch", "pip install 'nsb[torch]'", "weights.h5"),
         _evaluated("torch")),
        (Runtime("torchscript", "TorchScript", "torch", "pip install torch", "model.ts"), _evaluated("torchscript")),
        (Runtime("pt2", "torch.export", "torch", "pip install torch", "model.pt2"), _evaluated("pt2")),
        (Runtime("onnxruntime", "onnxruntime (nsb ops)", "onnxruntime", _ORT, "model.onnx"),
         _evaluated("onnxruntime", "custom")),
        (Runtime("onnxruntime-std", "onnxruntime (std)", "onnxruntime", _ORT, "model.std.onnx"),
         _evaluated("onnxruntime", "std")),
        (Runtime("onnx-reference", "onnx.reference (nsb ops)", "onnx", "pip install onnx", "model.onnx"),
         _evaluated("onnx-reference", "custom")),
        (Runtime("onnx-reference-std", "onnx.reference (std)", "onnx", "pip install onnx", "model.std.onnx"),
         _evaluated("onnx-reference", "std")),
        (Runtime("openvino", "OpenVINO CPU f32", "openvino", "pip install 'nsb[openvino]'", "model.std.onnx"),
         _evaluated("openvino")),
        (Runtime("tensorrt-rtx", "TensorRT parser + engine (std)", "tensorrt_rtx_bindings",
                 "pip install tensorrt-rtx-cu13-bindings tensorrt-rtx-cu13-libs", "model.std.onnx"), _tensorrt_std),
        (Runtime("tensorrt-rtx-plugins", "TensorRT parser (nsb ops)", "tensorrt_rtx_bindings",
                 "pip install tensorrt-rtx-cu13-bindings tensorrt-rtx-cu13-libs", "model.onnx"), _tensorrt_plugins),
        (Runtime("nir-snntorch", "NIR → snnTorch", "snntorch", "pip install snntorch nirtorch", "model.nir"), _nir),
    ]
}

# the runtimes that need a GPU, with the command the GPU check runs (benchmarks/gpu_check.sh)
GPU_RUNTIMES = {
    "onnxruntime CUDA": "nsb eval BUNDLE --backend onnxruntime --device cuda",
    "TensorRT + nsb plugins": "nsb eval BUNDLE --backend tensorrt --device cuda",
    "TensorRT (std)": "nsb eval BUNDLE --backend tensorrt --graph std --device cuda",
    "PyTorch fused CUDA kernels": "nsb doctor --device cuda",
}


def installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def check(bundle: Bundle, runtime: str) -> Cell:
    """One cell: ``runtime`` on ``bundle``."""
    if runtime not in RUNTIMES:
        raise NsbError(f"unknown runtime '{runtime}'; choose from {', '.join(RUNTIMES)}")
    spec, judge = RUNTIMES[runtime]
    if not installed(spec.module):
        return Cell(runtime, "skip", f"{spec.module} not installed ({spec.install})")
    if not bundle.has(spec.needs):
        return Cell(runtime, "skip", f"the bundle has no {spec.needs}")
    try:
        verdict, detail = judge(bundle)
    except NsbError as err:
        return Cell(runtime, "fail", str(err))
    status = verdict if isinstance(verdict, str) else ("pass" if verdict else "fail")
    return Cell(runtime, status, detail)


def check_bundle(bundle: Bundle, runtimes: list[str] | None = None) -> list[Cell]:
    return [check(bundle, r) for r in (runtimes or list(RUNTIMES))]


def versions() -> dict[str, str]:
    """The version of every judge installed here, for the matrix's caption."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for package in ("torch", "onnx", "onnxruntime", "onnxruntime-gpu", "openvino", "tensorrt-rtx-cu13-bindings",
                    "nir", "nirtorch", "snntorch"):
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            pass
    return out
