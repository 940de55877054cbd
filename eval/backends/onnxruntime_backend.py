"""onnxruntime on CPU or CUDA, running ``model.onnx`` (its ``nsb`` functions) or ``model.std.onnx``.

Inputs and outputs go through I/O binding: on CUDA the input is copied to the device once per call
and the outputs stay there until read, and ``time_run`` times the device-resident run alone (input
already bound, outputs left on the device). ``--precision fp16`` converts the graph to fp16 inside
with onnxconverter-common, keeping fp32 inputs and outputs.
"""

from __future__ import annotations

import time

import numpy as np

from nsb.errors import NsbError
from nsb.eval.backends import as_input, onnx_input_type, require
from nsb.eval.bundle import Bundle, check_onnx_ops

PROVIDERS = {"cpu": ["CPUExecutionProvider"], "cuda": ["CUDAExecutionProvider", "CPUExecutionProvider"]}


def to_fp16(model):
    """fp16 inside, fp32 at the edges; the nsb nodes and their Scan bodies convert as standard ops."""
    float16 = require("onnxconverter_common.float16", "onnxruntime fp16", "pip install onnxconverter-common")
    return float16.convert_float_to_float16(model, keep_io_types=True)


class OnnxRuntimeBackend:
    name = "onnxruntime"

    def __init__(self, bundle: Bundle, device: str, graph: str, precision: str = "fp32") -> None:
        ort = require("onnxruntime", "onnxruntime", "pip install 'nsb[cpu]' (or 'nsb[gpu]' on a CUDA machine)")
        onnx = require("onnx", "onnxruntime", "pip install onnx")
        self.graph = graph
        self.model_file = {"custom": "model.onnx", "std": "model.std.onnx"}.get(graph)
        if self.model_file is None:
            raise NsbError(f"--graph must be custom (model.onnx) or std (model.std.onnx), got '{graph}'")
        model = onnx.load(str(bundle.file(self.model_file)), load_external_data=False)
        check_onnx_ops(model, self.model_file)
        if hasattr(ort, "preload_dlls") and device == "cuda":
            ort.preload_dlls()  # onnxruntime-gpu ≥ 1.21 finds the CUDA/cuDNN wheels this way
        available = ort.get_available_providers()
        if device == "cuda" and "CUDAExecutionProvider" not in available:
            raise NsbError("onnxruntime here has no CUDA provider (available: " + ", ".join(available)
                           + "); on a CUDA machine pip install 'nsb[gpu]' (instead of nsb[cpu]), or use --device cpu")
        self.input_type = onnx_input_type(model)
        if precision == "fp16":
            if graph != "std":
                raise NsbError("--precision fp16 with onnxruntime runs the standard-op graph; add --graph std")
            model = to_fp16(model)
        options = ort.SessionOptions()
        options.log_severity_level = 3
        self.session = ort.InferenceSession(model.SerializeToString(), options, providers=PROVIDERS[device])
        if device == "cuda" and self.session.get_providers()[0] != "CUDAExecutionProvider":
            raise NsbError("onnxruntime could not start its CUDA provider (CUDA or cuDNN libraries missing?); "
                           "see onnxruntime's install notes, or use --device cpu")
        self.ort = ort
        self.device = device
        self.outputs = [o.name for o in self.session.get_outputs()]
        self.input = self.session.get_inputs()[0].name

    def _bind(self, x: np.ndarray):
        x = as_input(x, self.input_type)
        binding = self.session.io_binding()
        if self.device == "cuda":
            binding.bind_ortvalue_input(self.input, self.ort.OrtValue.ortvalue_from_numpy(x, "cuda", 0))
        else:
            binding.bind_cpu_input(self.input, x)
        for name in self.outputs:
            binding.bind_output(name, self.device)
        return binding

    def run(self, x: np.ndarray) -> list[np.ndarray]:
        binding = self._bind(x)
        self.session.run_with_iobinding(binding)
        return binding.copy_outputs_to_cpu()

    # inputs bound before the clock starts, outputs synchronised before it stops
    timer = "host clock around run_with_iobinding"

    def time_run(self, x: np.ndarray) -> float:
        binding = self._bind(x)
        binding.synchronize_inputs()
        t0 = time.perf_counter()
        self.session.run_with_iobinding(binding)
        binding.synchronize_outputs()
        return time.perf_counter() - t0

    def synchronize(self) -> None:  # run_with_iobinding returns once the outputs are ready
        pass

    def device_memory_peak(self) -> tuple[int, str] | None:
        if self.device != "cuda":
            return None
        from nsb.eval.gpu_memory import process_device_memory

        return process_device_memory()


def load(bundle: Bundle, device: str, graph: str, precision: str = "fp32") -> OnnxRuntimeBackend:
    return OnnxRuntimeBackend(bundle, device, graph, precision)
