"""Backends: ``load(bundle, device)`` then ``run(x) -> [output, spikes_0, spikes_1, …]`` (numpy).

Each lives in its own module and imports its runtime there, so the evaluator itself needs neither
torch nor onnxruntime; a backend whose runtime is missing says how to install it.
"""

from __future__ import annotations

import importlib
from typing import Protocol

import numpy as np

from nsb.errors import NsbError, unknown

BACKENDS = {
    "torch": "nsb.eval.backends.torch_backend",
    "torchscript": "nsb.eval.backends.torchscript_backend",
    "onnxruntime": "nsb.eval.backends.onnxruntime_backend",
    "onnx-reference": "nsb.eval.backends.onnx_reference_backend",
    "tensorrt": "nsb.eval.backends.tensorrt",
    "pt2": "nsb.eval.backends.pt2_backend",
    "openvino": "nsb.eval.backends.openvino_backend",
}


# model.ts and model.pt2 hold their weights as fp32 constants (frozen / dtype-specialised), so fp16 on
# a GPU is for the runtimes that convert the graph or build for it
FP16_BACKENDS = ("onnxruntime", "tensorrt", "torch")
# backends that run a bundle's ONNX files, so an fp16 bundle runs in fp16 on them
ONNX_BACKENDS = ("onnxruntime", "onnx-reference", "openvino", "tensorrt")
PRECISIONS = ("fp32", "fp16", "bf16")


class Backend(Protocol):
    name: str
    device: str
    model_file: str  # the bundle file it runs, for the on-disk size

    def run(self, x: np.ndarray) -> list[np.ndarray]: ...

    def synchronize(self) -> None: ...


def load_backend(name: str, bundle, device: str = "cpu", graph: str | None = None, precision: str = "fp32",
                 **options) -> Backend:
    """``options`` go to backends that take them (tensorrt: engine, plugin_library, max_batch).
    ``graph`` None is the backend's own choice: model.onnx, or model.std.onnx for OpenVINO."""
    if name not in BACKENDS:
        raise NsbError(unknown("backend", name, BACKENDS))
    if device not in ("cpu", "cuda"):
        raise NsbError(f"--device must be cpu or cuda, got '{device}'")
    if precision not in PRECISIONS:
        raise NsbError(f"--precision must be one of {', '.join(PRECISIONS)}, got '{precision}'")
    if precision != "fp32" and runs_fp16_files(bundle, name):
        raise NsbError(f"this bundle's ONNX files are fp16 already (nsb export --precision fp16); drop "
                       f"--precision {precision}")
    if name == "openvino":
        pass  # fp32, bf16 or fp16 on the CPU, as the processor allows: the backend checks
    elif precision == "bf16":
        raise NsbError("--precision bf16 is OpenVINO's CPU inference precision; use --backend openvino, or fp16 on "
                       "--device cuda")
    elif precision == "fp16" and (device != "cuda" or name not in FP16_BACKENDS):
        raise NsbError(f"--precision fp16 needs --device cuda and one of the backends {', '.join(FP16_BACKENDS)} "
                       "(or --backend openvino on the CPU, or a bundle exported with nsb export --precision fp16)")
    if graph is None and name != "openvino":
        graph = "custom"
    module = importlib.import_module(BACKENDS[name])
    extra = {k: v for k, v in options.items() if v is not None} if name == "tensorrt" else {}
    if precision != "fp32":
        extra["precision"] = precision
    return module.load(bundle, device=device, graph=graph, **extra)


def runs_fp16_files(bundle, name: str) -> bool:
    """Whether backend ``name`` runs ``bundle``'s fp16 ONNX files (fidelity then reported, not gated)."""
    return bundle.manifest.get("precision") == "fp16" and name in ONNX_BACKENDS


def as_input(x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """``x`` in the model's input type: an fp16 bundle takes fp16; integer tokens stay as they are."""
    return x.astype(dtype) if x.dtype != dtype and x.dtype.kind == "f" else x


def onnx_input_type(model) -> np.dtype:
    """The numpy type of an ONNX model's first input (float16 in an fp16 bundle)."""
    from onnx.helper import tensor_dtype_to_np_dtype

    return np.dtype(tensor_dtype_to_np_dtype(model.graph.input[0].type.tensor_type.elem_type))


def require(module: str, backend: str, install: str):
    try:
        return importlib.import_module(module)
    except ImportError:
        raise NsbError(f"the {backend} backend needs {module}, which is not installed here; {install}") from None
