"""Run a bundle on a backend over its reference inputs: task score, fidelity, latency, memory."""

from __future__ import annotations

import os
import platform
import resource
import sys
import time
from typing import Any

import numpy as np

from nsb.eval.backends import Backend, load_backend
from nsb.eval.bundle import Bundle, check_input
from nsb.eval.fidelity import fidelity, task_score


def percentile_ms(times: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(times) * 1e3, q))


def evaluate(bundle: Bundle, backend_name: str, *, device: str = "cpu", graph: str = "custom", batch_size: int = 64,
             warmup: int = 1, repeats: int = 5) -> dict[str, Any]:
    reference = bundle.reference()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    backend: Backend = load_backend(backend_name, bundle, device=device, graph=graph)
    x = reference.inputs
    check_input(bundle, x)
    n = x.shape[1]
    layers = len(reference.layers)
    outputs, counts, trains = [], [[] for _ in range(layers)], [[] for _ in range(layers)]
    stored = reference.spikes[0].shape[1] if layers else 0
    for start in range(0, n, batch_size):
        result = backend.run(np.ascontiguousarray(x[:, start:start + batch_size]))
        if len(result) != layers + 1:
            from nsb.eval.bundle import BundleError

            raise BundleError(f"the {backend_name} model returned {len(result)} outputs, the manifest promises "
                              f"{layers + 1} (output and the spikes of {layers} layers); re-export the bundle")
        outputs.append(result[0])
        for i, s in enumerate(result[1:]):
            counts[i].append(s.sum(0).astype(np.int32))
            if start < stored:
                trains[i].append(s[:, : stored - start].astype(np.uint8))
    per_step = bundle.task != "classification"
    output = np.concatenate(outputs, axis=1 if per_step else 0)
    counts_all = [np.concatenate(c) for c in counts]
    trains_all = [np.concatenate(t, axis=1) for t in trains]
    latency = _latency(backend, np.ascontiguousarray(x[:, :batch_size]), warmup, repeats)
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "bundle": str(bundle.path),
        "model": bundle.manifest.get("name"),
        "backend": backend_name,
        "graph": graph if backend_name in ("onnxruntime", "onnx-reference") else None,
        "device": device,
        "precision": "fp32",
        "samples": int(n),
        "time_steps": int(x.shape[0]),
        "score": task_score(bundle.task, output, reference.labels),
        "reference_score": task_score(bundle.task, reference.outputs, reference.labels),
        "fidelity": fidelity(bundle.task, output, reference, counts_all, trains_all),
        "latency": latency,
        "memory": {"peak_host_rss_mb": _rss_mb(rss_after), "host_rss_rise_mb": _rss_mb(rss_after - rss_before)},
        "model_file": backend.model_file,
        "model_bytes": os.path.getsize(bundle.file(backend.model_file)),
        "machine": _machine(),
    }


def _latency(backend: Backend, x: np.ndarray, warmup: int, repeats: int) -> dict[str, Any]:
    for _ in range(warmup):
        backend.run(x)
    backend.synchronize()
    times = []
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        backend.run(x)
        backend.synchronize()
        times.append(time.perf_counter() - t0)
    return {"batch_size": int(x.shape[1]), "repeats": len(times), "p50_ms": percentile_ms(times, 50),
            "p90_ms": percentile_ms(times, 90), "p99_ms": percentile_ms(times, 99),
            "samples_per_s": float(x.shape[1] / np.median(times))}


def _rss_mb(kb: int) -> float:
    # ru_maxrss is kilobytes on Linux, bytes on macOS
    return kb / (2**20 if sys.platform == "darwin" else 1024)


def _machine() -> dict[str, Any]:
    versions = {"python": platform.python_version(), "numpy": np.__version__}
    for module in ("onnx", "onnxruntime", "torch"):
        mod = sys.modules.get(module)
        if mod is not None:
            versions[module] = getattr(mod, "__version__", "?")
    return {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(), "versions": versions}
