"""TensorRT on CUDA: ``model.onnx`` with each ``nsb`` node run by the plugin library (``--graph custom``)
or ``model.std.onnx`` (``--graph std``, standard ops, no plugin), or a prebuilt ``--engine`` plan.

Engines are built once per GPU, TensorRT version, precision and profile and cached (:mod:`.engine`).
Buffers live in device memory allocated with cuda-python (no torch); inputs and outputs go through
page-locked host buffers on one stream. ``run`` returns host arrays, so it synchronizes.
"""

from __future__ import annotations

import ctypes
from pathlib import Path
from typing import Any

import numpy as np

from nsb.errors import NsbError
from nsb.eval.bundle import Bundle, BundleError
from nsb.eval.backends.tensorrt.engine import (DEFAULT_MAX_BATCH, GRAPH_FILES, PRECISIONS, TimeSteps, cuda_check,
                                               cuda_runtime, find_plugin_library, gpu_name, load_or_build,
                                               load_plugins, read_engine_file, require_tensorrt)


def _volume(shape: tuple[int, ...]) -> int:
    return int(np.prod(shape, dtype=np.int64)) if shape else 1


class _Buffer:
    """One I/O tensor: device memory and a page-locked host twin, both sized for the profile's largest shape."""

    def __init__(self, cudart: Any, name: str, dtype: np.dtype, max_shape: tuple[int, ...]) -> None:
        self.name, self.dtype = name, np.dtype(dtype)
        self.nbytes = max(1, _volume(max_shape) * self.dtype.itemsize)
        self.device = int(cuda_check(cudart, cudart.cudaMalloc(self.nbytes), "cudaMalloc"))
        self.host_ptr = int(cuda_check(cudart, cudart.cudaMallocHost(self.nbytes), "cudaMallocHost"))
        raw = (ctypes.c_ubyte * self.nbytes).from_address(self.host_ptr)
        self.host = np.ctypeslib.as_array(raw).view(self.dtype)

    def free(self, cudart: Any) -> None:
        cudart.cudaFree(self.device)
        cudart.cudaFreeHost(self.host_ptr)


class TensorRTBackend:
    name = "tensorrt"

    def __init__(self, bundle: Bundle, device: str, graph: str, *, precision: str = "fp32",
                 engine: Path | str | None = None, plugin_library: Path | str | None = None,
                 max_batch: int = DEFAULT_MAX_BATCH, time_steps: TimeSteps | None = None,
                 cache_dir: Path | str | None = None, rebuild: bool = False) -> None:
        if device != "cuda":
            raise NsbError("the tensorrt backend runs on CUDA GPUs only; use --device cuda (or another backend "
                           "for --device cpu)")
        if precision not in PRECISIONS:
            raise NsbError(f"--precision must be one of {', '.join(PRECISIONS)}, got '{precision}'")
        model_file = GRAPH_FILES.get(graph)
        if model_file is None:
            raise NsbError(f"--graph must be custom (model.onnx) or std (model.std.onnx), got '{graph}'")
        version = require_tensorrt()
        cudart = cuda_runtime()
        import tensorrt as trt

        self._cudart = cudart
        self._buffers: list[_Buffer] = []
        self._stream: Any = None
        self.device, self.precision, self.graph = device, precision, graph
        self.model_file = model_file
        self.bundle = bundle
        gpu = gpu_name(cudart)
        if engine is not None:
            library = find_plugin_library(plugin_library, required=False)
            if library is not None:
                load_plugins(library)
            plan = read_engine_file(engine)
            self.engine_info: dict[str, Any] = {"engine": str(engine), "cached": True, "prebuilt": True,
                                                "gpu": gpu, "tensorrt": version,
                                                "plugin_library": str(library) if library else None}
        else:
            bundle.file(model_file)  # the one-line "export it with nsb export --format onnx" when missing
            library = find_plugin_library(plugin_library) if graph == "custom" else None
            if library is not None:
                load_plugins(library)
            plan, self.engine_info = load_or_build(bundle, gpu=gpu, graph=graph, precision=precision,
                                                   plugin_library=library, max_batch=max_batch,
                                                   time_steps=time_steps, cache_dir=cache_dir, rebuild=rebuild)
        self._logger = trt.Logger(trt.Logger.ERROR)
        self._runtime = trt.Runtime(self._logger)
        self.engine = self._runtime.deserialize_cuda_engine(plan)
        if self.engine is None and engine is None and self.engine_info.get("cached"):
            # a cache entry this TensorRT cannot read (damaged, or written by another build): rebuild once
            plan, self.engine_info = load_or_build(bundle, gpu=gpu, graph=graph, precision=precision,
                                                   plugin_library=library, max_batch=max_batch,
                                                   time_steps=time_steps, cache_dir=cache_dir, rebuild=True)
            self.engine = self._runtime.deserialize_cuda_engine(plan)
        if self.engine is None:
            raise NsbError(f"TensorRT {version} could not load the engine {self.engine_info.get('engine')} (built by "
                           "another TensorRT version or GPU, or its plugins are not loaded: set NSB_TRT_PLUGINS)")
        self.context = self.engine.create_execution_context()
        if self.context is None:
            raise NsbError("TensorRT could not create an execution context (out of GPU memory?)")
        self._bind()

    def _bind(self) -> None:
        import tensorrt as trt

        engine, context = self.engine, self.context
        names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
        inputs = [n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        outputs = [n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT]
        if len(inputs) != 1:
            raise BundleError(f"the engine has {len(inputs)} inputs ({', '.join(inputs)}); nsb models have one")
        self.input = inputs[0]
        wanted = [o["name"] for o in self.bundle.manifest["outputs"]]
        missing = [n for n in wanted if n not in outputs]
        if missing:
            raise BundleError(f"the engine lacks the outputs {', '.join(missing)} that the manifest lists (an engine "
                              "for another model?); rebuild it")
        self.outputs = wanted
        dims = engine.get_tensor_profile_shape(self.input, 0)
        self.min_shape, self.max_shape = (tuple(int(d[i]) for i in range(len(d))) for d in (dims[0], dims[2]))
        if not context.set_input_shape(self.input, self.max_shape):
            raise NsbError(f"TensorRT refused the engine's own largest input shape {list(self.max_shape)}")
        cudart = self._cudart
        self._stream = cuda_check(cudart, cudart.cudaStreamCreate(), "cudaStreamCreate")
        for name in [self.input, *self.outputs]:
            shape = context.get_tensor_shape(name)
            max_shape = tuple(int(shape[i]) for i in range(len(shape)))
            if any(d < 0 for d in max_shape):
                raise NsbError(f"TensorRT cannot size output {name} ({list(max_shape)}) from the input shape alone")
            buffer = _Buffer(cudart, name, np.dtype(trt.nptype(engine.get_tensor_dtype(name))), max_shape)
            self._buffers.append(buffer)
            if not context.set_tensor_address(name, buffer.device):
                raise NsbError(f"TensorRT refused the address of tensor {name}")
        self._input, self._output_buffers = self._buffers[0], self._buffers[1:]

    def run(self, x: np.ndarray) -> list[np.ndarray]:
        cudart, context = self._cudart, self.context
        x = np.ascontiguousarray(x, dtype=self._input.dtype)
        if (x.ndim != len(self.max_shape) or any(not lo <= d <= hi for d, lo, hi in zip(x.shape, self.min_shape,
                                                                                       self.max_shape))):
            raise NsbError(f"input {list(x.shape)} is outside the engine's profile {list(self.min_shape)} .. "
                           f"{list(self.max_shape)}; rebuild it with a larger --max-batch (or the time steps you run)")
        if not context.set_input_shape(self.input, x.shape):
            raise NsbError(f"TensorRT refused the input shape {list(x.shape)}")
        self._input.host[: x.size] = x.reshape(-1)
        h2d, d2h = cudart.cudaMemcpyKind.cudaMemcpyHostToDevice, cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost
        cuda_check(cudart, cudart.cudaMemcpyAsync(self._input.device, self._input.host_ptr, x.nbytes, h2d,
                                                  self._stream), "cudaMemcpyAsync (input)")
        if not context.execute_async_v3(int(self._stream)):
            raise NsbError("TensorRT's execute_async_v3 failed (see the TensorRT error above)")
        shapes = []
        for buffer in self._output_buffers:
            dims = context.get_tensor_shape(buffer.name)
            shape = tuple(int(dims[i]) for i in range(len(dims)))
            shapes.append(shape)
            nbytes = _volume(shape) * buffer.dtype.itemsize
            cuda_check(cudart, cudart.cudaMemcpyAsync(buffer.host_ptr, buffer.device, nbytes, d2h, self._stream),
                       f"cudaMemcpyAsync ({buffer.name})")
        self.synchronize()
        return [b.host[: _volume(s)].reshape(s).copy() for b, s in zip(self._output_buffers, shapes)]

    def synchronize(self) -> None:
        cuda_check(self._cudart, self._cudart.cudaStreamSynchronize(self._stream), "cudaStreamSynchronize")

    def compute_times_ms(self, x: np.ndarray, repeats: int = 100, warmup: int = 10) -> list[float]:
        """GPU time of ``execute_async_v3`` alone (no copies), one CUDA event pair per run (deploy.md §6.2)."""
        cudart = self._cudart
        self.run(x)  # sets the shape and uploads x
        start = cuda_check(cudart, cudart.cudaEventCreate(), "cudaEventCreate")
        stop = cuda_check(cudart, cudart.cudaEventCreate(), "cudaEventCreate")
        times = []
        try:
            for i in range(warmup + repeats):
                cuda_check(cudart, cudart.cudaEventRecord(start, self._stream), "cudaEventRecord")
                self.context.execute_async_v3(int(self._stream))
                cuda_check(cudart, cudart.cudaEventRecord(stop, self._stream), "cudaEventRecord")
                cuda_check(cudart, cudart.cudaEventSynchronize(stop), "cudaEventSynchronize")
                if i >= warmup:
                    times.append(float(cuda_check(cudart, cudart.cudaEventElapsedTime(start, stop),
                                                  "cudaEventElapsedTime")))
        finally:
            cudart.cudaEventDestroy(start)
            cudart.cudaEventDestroy(stop)
        return times

    @property
    def build_seconds(self) -> float | None:
        """The engine build time when this load built it (the evaluator reports it under startup)."""
        return None if self.engine_info.get("cached") else self.engine_info.get("build_s")

    timer = "cuda events"

    def time_run(self, x: np.ndarray) -> float:
        """Seconds of one ``run`` (copies included) on the GPU timeline, between two CUDA events."""
        cudart = self._cudart
        start = cuda_check(cudart, cudart.cudaEventCreate(), "cudaEventCreate")
        stop = cuda_check(cudart, cudart.cudaEventCreate(), "cudaEventCreate")
        try:
            cuda_check(cudart, cudart.cudaEventRecord(start, self._stream), "cudaEventRecord")
            self.run(x)
            cuda_check(cudart, cudart.cudaEventRecord(stop, self._stream), "cudaEventRecord")
            cuda_check(cudart, cudart.cudaEventSynchronize(stop), "cudaEventSynchronize")
            return float(cuda_check(cudart, cudart.cudaEventElapsedTime(start, stop), "cudaEventElapsedTime")) / 1e3
        finally:
            cudart.cudaEventDestroy(start)
            cudart.cudaEventDestroy(stop)

    def device_memory_peak(self) -> tuple[int, str] | None:
        from nsb.eval.gpu_memory import process_device_memory

        return process_device_memory()

    def close(self) -> None:
        """Free the buffers and the stream; the backend is unusable afterwards."""
        buffers, self._buffers = self._buffers, []
        for buffer in buffers:
            buffer.free(self._cudart)
        if self._stream is not None:
            self._cudart.cudaStreamDestroy(self._stream)
            self._stream = None
        for attribute in ("context", "engine"):  # the context goes before its engine
            if hasattr(self, attribute):
                delattr(self, attribute)

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass


def load(bundle: Bundle, device: str, graph: str, **options: Any) -> TensorRTBackend:
    """``options``: precision (fp32|fp16), engine (a prebuilt .engine/.plan), plugin_library, max_batch,
    time_steps, cache_dir, rebuild."""
    return TensorRTBackend(bundle, device, graph, **options)
