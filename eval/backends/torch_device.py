"""What the torch and TorchScript backends share: device checks, inputs, CUDA-event timing, memory."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from nsb.errors import NsbError


def check_device(torch: Any, device: str) -> None:
    if device == "cuda" and not torch.cuda.is_available():
        raise NsbError("--device cuda asked for, but torch sees no CUDA device here; use --device cpu")


class TorchDevice:
    """Mixin; the backend sets ``torch``, ``device`` and ``dtype`` and defines ``run``."""

    torch: Any
    device: str
    dtype: Any

    def as_input(self, x: np.ndarray) -> Any:
        xt = self.torch.from_numpy(x).to(self.device)
        return xt.to(self.dtype) if xt.is_floating_point() else xt  # token ids stay integers

    def run(self, x: np.ndarray) -> list[np.ndarray]:
        raise NotImplementedError

    def synchronize(self) -> None:
        if self.device == "cuda":
            self.torch.cuda.synchronize()

    @property
    def timer(self) -> str:
        return "cuda events" if self.device == "cuda" else "host clock"

    def time_run(self, x: np.ndarray) -> float:
        """Seconds of one run; CUDA events on the GPU, so the host's own overhead is not counted."""
        if self.device != "cuda":
            t0 = time.perf_counter()
            self.run(x)
            return time.perf_counter() - t0
        start, end = self.torch.cuda.Event(enable_timing=True), self.torch.cuda.Event(enable_timing=True)
        start.record()
        self.run(x)
        end.record()
        end.synchronize()
        return start.elapsed_time(end) / 1e3

    def device_memory_peak(self) -> tuple[int, str] | None:
        if self.device != "cuda":
            return None
        return int(self.torch.cuda.max_memory_allocated()), "torch.cuda.max_memory_allocated"
