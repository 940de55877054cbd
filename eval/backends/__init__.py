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
}


FP16_BACKENDS = ("onnxruntime", "tensorrt", "torch", "torchscript")


class Backend(Protocol):
    name: str
    device: str
    model_file: str  # the bundle file it runs, for the on-disk size

    def run(self, x: np.ndarray) -> list[np.ndarray]: ...

    def synchronize(self) -> None: ...


def load_backend(name: str, bundle, device: str = "cpu", graph: str = "custom", precision: str = "fp32",
                 **options) -> Backend:
    """``options`` go to backends that take them (tensorrt: engine, plugin_library, max_batch)."""
    if name not in BACKENDS:
        raise NsbError(unknown("backend", name, BACKENDS))
    if device not in ("cpu", "cuda"):
        raise NsbError(f"--device must be cpu or cuda, got '{device}'")
    if precision == "fp16" and (device != "cuda" or name not in FP16_BACKENDS):
        raise NsbError(f"--precision fp16 needs --device cuda and one of the backends {', '.join(FP16_BACKENDS)}")
    module = importlib.import_module(BACKENDS[name])
    extra = {k: v for k, v in options.items() if v is not None} if name == "tensorrt" else {}
    if precision == "fp16":
        extra["precision"] = precision
    return module.load(bundle, device=device, graph=graph, **extra)


def require(module: str, backend: str, install: str):
    try:
        return importlib.import_module(module)
    except ImportError:
        raise NsbError(f"the {backend} backend needs {module}, which is not installed here; {install}") from None
