"""Device memory of this process through NVML (pynvml), for runtimes that do not report their own."""

from __future__ import annotations

import os


def process_device_memory() -> tuple[int, str] | None:
    """(bytes used by this process on GPU 0 now, "nvml") or None without NVML. NVML reports current
    usage, not a peak; the evaluator reads it right after the timed runs, when the runtime's arenas
    hold their largest allocation."""
    try:
        import pynvml  # type: ignore[import-not-found]

        pynvml.nvmlInit()
        handle = pynvml.nvmlDeviceGetHandleByIndex(0)
        for proc in pynvml.nvmlDeviceGetComputeRunningProcesses(handle):
            if proc.pid == os.getpid() and proc.usedGpuMemory is not None:
                return int(proc.usedGpuMemory), "nvml (process usage after the timed runs)"
    except Exception:  # NVML missing or not permitted: the report says "not measured"
        return None
    return None
