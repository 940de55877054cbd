"""OpenVINO on the CPU (Intel's edge runtime), running ``model.std.onnx``.

OpenVINO has no ``nsb`` ops, so it reads the standard-op twin, as any runtime that did not come
with nsb would. Its CPU plugin infers in bf16 (or fp16) by default on processors that have it, which
silently cost a recurrent model most of its predictions (docs/deployment.md); so the precision hint
is always set, f32 unless ``--precision bf16|fp16`` asks for another (reported, not gated), and a
precision the CPU lacks is refused rather than quietly run in f32.
"""

from __future__ import annotations

import numpy as np

from nsb.errors import NsbError
from nsb.eval.backends import as_input, require
from nsb.eval.bundle import Bundle

HINTS = {"fp32": "f32", "bf16": "bf16", "fp16": "f16"}
# what the precision needs among the CPU plugin's OPTIMIZATION_CAPABILITIES
CAPABILITIES = {"fp32": "FP32", "bf16": "BF16", "fp16": "FP16"}
INSTALL = "pip install 'nsb[openvino]' (or pip install openvino)"


class OpenVinoBackend:
    name = "openvino"
    model_file = "model.std.onnx"
    graph = "std"

    def __init__(self, bundle: Bundle, device: str, graph: str | None, precision: str = "fp32") -> None:
        ov = require("openvino", "openvino", INSTALL)
        if device != "cpu":
            raise NsbError("the openvino backend runs on --device cpu here; for an NVIDIA GPU use onnxruntime or "
                           "tensorrt")
        if graph not in (None, "std"):
            raise NsbError("OpenVINO runs the standard-op graph (model.std.onnx), it has no nsb ops; drop --graph "
                           "or pass --graph std")
        if precision not in HINTS:
            raise NsbError(f"--precision for openvino must be fp32, bf16 or fp16, got '{precision}'")
        core = ov.Core()
        capabilities = core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")
        if CAPABILITIES[precision] not in capabilities:
            raise NsbError(f"this CPU cannot infer in {precision} with OpenVINO (its capabilities: "
                           f"{', '.join(capabilities)}); use --precision fp32")
        path = bundle.file(self.model_file)  # standard ops only: the bundle's op check is all there is to check
        try:
            model = core.read_model(str(path))
            self.compiled = core.compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": HINTS[precision],
                                                              "PERFORMANCE_HINT": "LATENCY"})
        except RuntimeError as err:
            first = next((line for line in str(err).splitlines() if line.strip() and "Exception from" not in line),
                         str(err))
            raise NsbError(f"OpenVINO {ov.__version__} cannot compile model.std.onnx ({first.strip()[:200]}); "
                           "re-export the bundle with this nsb, or report it") from None
        self.request = self.compiled.create_infer_request()
        self.input_type = np.dtype(self.compiled.input(0).get_element_type().to_dtype())
        self.device = device
        self.precision = precision
        self.version = ov.__version__

    def run(self, x: np.ndarray) -> list[np.ndarray]:
        self.request.infer({0: as_input(x, self.input_type)})
        return [self.request.get_output_tensor(i).data.copy() for i in range(len(self.compiled.outputs))]

    def synchronize(self) -> None:  # infer() returns once the outputs are ready
        pass


def load(bundle: Bundle, device: str, graph: str | None, precision: str = "fp32") -> OpenVinoBackend:
    return OpenVinoBackend(bundle, device, graph, precision)
