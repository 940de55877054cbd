"""onnxruntime on CPU or CUDA, running ``model.onnx`` (its ``nsb`` functions) or ``model.std.onnx``."""

from __future__ import annotations

import numpy as np

from nsb.errors import NsbError
from nsb.eval.backends import require
from nsb.eval.bundle import Bundle, check_onnx_ops

PROVIDERS = {"cpu": ["CPUExecutionProvider"], "cuda": ["CUDAExecutionProvider", "CPUExecutionProvider"]}


class OnnxRuntimeBackend:
    name = "onnxruntime"

    def __init__(self, bundle: Bundle, device: str, graph: str) -> None:
        ort = require("onnxruntime", "onnxruntime", "pip install onnxruntime (or onnxruntime-gpu for --device cuda)")
        onnx = require("onnx", "onnxruntime", "pip install onnx")
        self.model_file = {"custom": "model.onnx", "std": "model.std.onnx"}.get(graph)
        if self.model_file is None:
            raise NsbError(f"--graph must be custom (model.onnx) or std (model.std.onnx), got '{graph}'")
        path = bundle.file(self.model_file)
        check_onnx_ops(onnx.load(str(path), load_external_data=False), self.model_file)
        available = ort.get_available_providers()
        if device == "cuda" and "CUDAExecutionProvider" not in available:
            raise NsbError("onnxruntime here has no CUDA provider (available: " + ", ".join(available)
                           + "); install onnxruntime-gpu or use --device cpu")
        options = ort.SessionOptions()
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(path), options, providers=PROVIDERS[device])
        self.device = device
        self.outputs = [o.name for o in self.session.get_outputs()]
        self.input = self.session.get_inputs()[0].name

    def run(self, x: np.ndarray) -> list[np.ndarray]:
        return self.session.run(self.outputs, {self.input: x})

    def synchronize(self) -> None:  # session.run returns host arrays: already synchronous
        pass


def load(bundle: Bundle, device: str, graph: str) -> OnnxRuntimeBackend:
    return OnnxRuntimeBackend(bundle, device, graph)
