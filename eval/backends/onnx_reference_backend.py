"""``onnx.reference.ReferenceEvaluator`` on ``model.onnx``, each ``nsb`` node run by its numpy kernel.

The model-local functions are dropped first, so the numpy kernels (:mod:`nsb.ops.numpy_kernels`)
execute the spiking layers: an implementation independent of both PyTorch and the Scan bodies.
With ``--graph std`` it runs ``model.std.onnx`` (the Scan bodies) instead. CPU only, and slow.
"""

from __future__ import annotations

import numpy as np

from nsb.errors import NsbError
from nsb.eval.backends import as_input, onnx_input_type, require
from nsb.eval.bundle import Bundle, check_onnx_ops
from nsb.ops.functions import strip_functions


class OnnxReferenceBackend:
    name = "onnx-reference"

    def __init__(self, bundle: Bundle, device: str, graph: str) -> None:
        onnx = require("onnx", "onnx-reference", "pip install onnx")
        from onnx.reference import ReferenceEvaluator

        from nsb.ops.reference import reference_ops

        if device != "cpu":
            raise NsbError("the onnx-reference backend runs on the CPU only; use --device cpu")
        self.device = device
        self.graph = graph
        self.model_file = {"custom": "model.onnx", "std": "model.std.onnx"}.get(graph)
        if self.model_file is None:
            raise NsbError(f"--graph must be custom (model.onnx) or std (model.std.onnx), got '{graph}'")
        model = onnx.load(str(bundle.file(self.model_file)))
        check_onnx_ops(model, self.model_file)
        # without the Scan functions, each nsb node runs its numpy kernel
        self.evaluator = ReferenceEvaluator(strip_functions(model), new_ops=reference_ops())
        self.input_type = onnx_input_type(model)
        self.outputs = list(self.evaluator.output_names)
        self.input = self.evaluator.input_names[0]

    def run(self, x: np.ndarray) -> list[np.ndarray]:
        return list(self.evaluator.run(self.outputs, {self.input: as_input(x, self.input_type)}))

    def synchronize(self) -> None:
        pass


def load(bundle: Bundle, device: str, graph: str, precision: str = "fp32") -> OnnxReferenceBackend:
    return OnnxReferenceBackend(bundle, device, graph)
