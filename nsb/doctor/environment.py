"""What machine this is and which runtimes it has, for ``nsb doctor``'s first two tables. Nothing
here fails: a missing piece is reported as missing."""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import platform
from typing import Any

# (import name, distribution names to ask for the version, label)
RUNTIMES = [
    ("torch", ("torch",), "torch"),
    ("onnx", ("onnx",), "onnx"),
    ("onnxruntime", ("onnxruntime-gpu", "onnxruntime"), "onnxruntime"),
    ("openvino", ("openvino",), "OpenVINO"),
    ("tensorrt", ("tensorrt", "tensorrt-cu13", "tensorrt-cu12"), "TensorRT"),
    ("cuda", ("cuda-python", "cuda-bindings"), "cuda-python"),
    ("pynvml", ("nvidia-ml-py",), "NVML (nvidia-ml-py)"),
]


def _distribution_version(names: tuple[str, ...]) -> str | None:
    for name in names:
        try:
            return f"{importlib.metadata.version(name)} ({name})"
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def runtimes() -> dict[str, str]:
    """Each runtime's installed version, ``missing``, or why it does not import."""
    out: dict[str, str] = {}
    for module, distributions, label in RUNTIMES:
        version = _distribution_version(distributions)
        if version is None:
            out[label] = "missing"
            continue
        try:
            mod = importlib.import_module(module)
        except Exception as err:  # installed but broken (a missing shared library, say)
            out[label] = f"{version}, does not import: {str(err).splitlines()[0][:120]}"
            continue
        if module == "onnxruntime":
            version += ", providers " + ", ".join(p.replace("ExecutionProvider", "") for p in mod.get_available_providers())
        out[label] = version
    return out


def machine() -> dict[str, Any]:
    """CPU, GPU (name, compute capability, memory), driver, CUDA runtime and NVRTC versions."""
    info: dict[str, Any] = {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                            "system": platform.platform(), "python": platform.python_version()}
    try:
        import torch

        if torch.cuda.is_available():
            p = torch.cuda.get_device_properties(0)
            info["gpu"] = p.name
            info["compute_capability"] = f"{p.major}.{p.minor}"
            info["gpu_memory_gb"] = round(p.total_memory / 2**30, 1)
            info["gpus"] = torch.cuda.device_count()
        info["cuda_runtime (torch)"] = torch.version.cuda or "none (a CPU build of torch)"
    except ImportError:
        info["cuda_runtime (torch)"] = "torch missing"
    try:
        import pynvml  # type: ignore[import-not-found]

        pynvml.nvmlInit()
        info["driver"] = pynvml.nvmlSystemGetDriverVersion()
    except Exception:
        info["driver"] = "unknown (no NVML or no GPU)"
    from nsb.kernels import nvrtc

    info["nvrtc"] = ".".join(map(str, nvrtc.nvrtc_version())) if nvrtc.available() else "missing"
    return info


def gpu_arch() -> int | None:
    """The first GPU's architecture as nvcc spells it (90 for sm_90), or None without one."""
    try:
        import torch
    except ImportError:
        return None
    if not torch.cuda.is_available():
        return None
    major, minor = torch.cuda.get_device_capability(0)
    return major * 10 + minor
