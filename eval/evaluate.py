"""Run a bundle on a backend over its reference inputs: task score, fidelity, latency, memory.

Latency: per batch size of a sweep (batch 1 first, as edge deployments care most about it), after
warm-up runs; each timed run covers the whole call including host↔device copies, measured with the
backend's own timer (CUDA events where the backend runs on a GPU through torch, else a host clock
around a synchronised call). Time to first output is the first call after loading, and the load time
includes any engine build.
"""

from __future__ import annotations

import os
import platform
import resource
import sys
import time
from typing import Any

import numpy as np

from nsb.eval.backends import ONNX_BACKENDS, Backend, load_backend, runs_fp16_files
from nsb.errors import NsbError
from nsb.eval.bundle import Bundle, BundleError, check_input
from nsb.eval.fidelity import fidelity, task_score

SCHEMA = "nsb-eval-report"
SCHEMA_VERSION = 1


def percentile_ms(times: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(times) * 1e3, q))


def evaluate(bundle: Bundle, backend_name: str, *, device: str = "cpu", graph: str | None = None, batch_size: int = 64,
             warmup: int = 2, repeats: int = 10, batch_sizes: tuple[int, ...] = (1, 8, 64),
             precision: str = "fp32", engine: str | None = None, plugin_library: str | None = None,
             time_steps: int | None = None) -> dict[str, Any]:
    """``time_steps``: the latency sweep's sequence length (the reference inputs repeated over time);
    fidelity and score always use the reference inputs as stored."""
    if repeats < 1 or warmup < 0:
        raise NsbError(f"--repeats must be at least 1 (got {repeats}): a latency needs at least one timed run")
    if batch_size < 1 or not batch_sizes or any(b < 1 for b in batch_sizes):
        raise NsbError("--batch-size and every --sweep size must be at least 1")
    if time_steps is not None and time_steps < 1:
        raise NsbError(f"--time-steps must be at least 1, got {time_steps}")
    reference = bundle.reference()
    x = reference.inputs
    check_input(bundle, x)
    timed = x
    if time_steps is not None:
        timed = _lengthen(x, time_steps)
        check_input(bundle, timed)
    # an fp16 bundle's ONNX files run in fp16 (load_backend refuses another --precision): reported, not gated
    fp16_bundle = runs_fp16_files(bundle, backend_name)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    # an engine is built for the largest batch it will see
    backend: Backend = load_backend(backend_name, bundle, device=device, graph=graph, precision=precision,
                                    engine=engine, plugin_library=plugin_library,
                                    max_batch=max(batch_size, *batch_sizes))
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    backend.run(np.ascontiguousarray(x[:, :1]))
    backend.synchronize()
    first_output_s = time.perf_counter() - t0

    n = x.shape[1]
    layers = len(reference.layers)
    outputs, counts, trains = [], [[] for _ in range(layers)], [[] for _ in range(layers)]
    stored = reference.spikes[0].shape[1] if layers else 0
    for start in range(0, n, batch_size):
        result = backend.run(np.ascontiguousarray(x[:, start:start + batch_size]))
        if len(result) != layers + 1:
            raise BundleError(f"the {backend_name} model returned {len(result)} outputs, the manifest promises "
                              f"{layers + 1} (output and the spikes of {layers} layers); re-export the bundle")
        outputs.append(np.asarray(result[0], dtype=np.float32))
        for i, s in enumerate(result[1:]):
            counts[i].append(s.sum(0).astype(np.int32))
            if start < stored:
                trains[i].append(s[:, : stored - start].astype(np.uint8))
    per_step = bundle.task != "classification"
    output = np.concatenate(outputs, axis=1 if per_step else 0)
    counts_all = [np.concatenate(c) for c in counts]
    trains_all = [np.concatenate(t, axis=1) for t in trains]
    sweep = [b for b in dict.fromkeys((1, *sorted(set(batch_sizes)))) if b <= n] or [n]
    latency = [_latency(backend, np.ascontiguousarray(timed[:, :b]), warmup, repeats) for b in sweep]
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    device_peak = backend.device_memory_peak() if hasattr(backend, "device_memory_peak") else None
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "bundle": str(bundle.path),
        "model": bundle.manifest.get("name"),
        "backend": backend_name,
        "graph": getattr(backend, "graph", graph) if backend_name in ONNX_BACKENDS else None,
        "device": device,
        "precision": "fp16" if fp16_bundle else precision,
        "samples": int(n),
        "time_steps": int(x.shape[0]),
        "latency_time_steps": int(timed.shape[0]),
        "score": task_score(bundle.task, output, reference.labels),
        "reference_score": task_score(bundle.task, reference.outputs, reference.labels),
        "fidelity": fidelity(bundle.task, output, reference, counts_all, trains_all,
                             gated=precision == "fp32" and not fp16_bundle),
        "startup": {"load_s": load_s, "first_output_s": first_output_s,
                    **({"engine_build_s": backend.build_seconds} if getattr(backend, "build_seconds", None) else {})},
        "latency": latency,
        "memory": {
            "peak_host_rss_mb": _rss_mb(rss_after),
            "host_rss_rise_mb": _rss_mb(rss_after - rss_before),
            "peak_device_mb": None if device_peak is None else device_peak[0] / 2**20,
            "device_measured_by": None if device_peak is None else device_peak[1],
            "neurobench_footprint_bytes": bundle.manifest.get("footprint_bytes"),
        },
        "model_file": backend.model_file,
        "model_bytes": _size(bundle, backend.model_file),
        "machine": machine(),
    }


def _lengthen(x: np.ndarray, time_steps: int) -> np.ndarray:
    """``x`` cut or repeated along time to ``time_steps`` steps."""
    if time_steps < 1:
        raise BundleError(f"--time-steps must be at least 1, got {time_steps}")
    reps = -(-time_steps // x.shape[0])
    return np.concatenate([x] * reps, axis=0)[:time_steps]


def _size(bundle: Bundle, name: str) -> int:
    path = bundle.path / name if not os.path.isabs(name) else name
    return os.path.getsize(path) if os.path.exists(path) else 0


def _latency(backend: Backend, x: np.ndarray, warmup: int, repeats: int) -> dict[str, Any]:
    for _ in range(warmup):
        backend.run(x)
    backend.synchronize()
    timer = getattr(backend, "time_run", None)
    times = []
    for _ in range(repeats):
        if timer is not None:
            times.append(timer(x))
            continue
        t0 = time.perf_counter()
        backend.run(x)
        backend.synchronize()
        times.append(time.perf_counter() - t0)
    return {"batch_size": int(x.shape[1]), "repeats": len(times), "timer": getattr(backend, "timer", "host clock"),
            "mean_ms": float(np.mean(times) * 1e3), "p50_ms": percentile_ms(times, 50),
            "p90_ms": percentile_ms(times, 90), "p99_ms": percentile_ms(times, 99),
            "samples_per_s": float(x.shape[1] / np.median(times)), "times_ms": [t * 1e3 for t in times]}


def _rss_mb(kb: int) -> float:
    # ru_maxrss is kilobytes on Linux, bytes on macOS
    return kb / (2**20 if sys.platform == "darwin" else 1024)


def machine() -> dict[str, Any]:
    versions = {"python": platform.python_version(), "numpy": np.__version__}
    for module in ("onnx", "onnxruntime", "torch", "tensorrt"):
        mod = sys.modules.get(module)
        if mod is not None:
            versions[module] = getattr(mod, "__version__", "?")
    info: dict[str, Any] = {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
                            "cpus": os.cpu_count(), "versions": versions}
    gpu = gpu_info()
    if gpu:
        info["gpu"] = gpu
    return info


def gpu_info() -> dict[str, Any] | None:
    """GPU name, SMs, memory, driver and CUDA versions via NVML, or via torch when NVML is absent."""
    try:
        import pynvml  # type: ignore[import-not-found]

        pynvml.nvmlInit()
        handle = pynvml.nvmlDeviceGetHandleByIndex(0)
        name = pynvml.nvmlDeviceGetName(handle)
        info = {"name": name.decode() if isinstance(name, bytes) else name,
                "memory_mb": pynvml.nvmlDeviceGetMemoryInfo(handle).total / 2**20,
                "driver": pynvml.nvmlSystemGetDriverVersion(),
                "cuda_driver": pynvml.nvmlSystemGetCudaDriverVersion()}
        return info
    except Exception:  # no NVML or no GPU: fall back to torch, if it is here and sees one
        pass
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        p = torch.cuda.get_device_properties(0)
        return {"name": p.name, "sms": p.multi_processor_count, "memory_mb": p.total_memory / 2**20,
                "cuda_runtime": torch.version.cuda}
    return None
