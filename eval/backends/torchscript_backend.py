"""``model.ts`` with ``torch.jit.load``: needs torch, not nsb."""

from __future__ import annotations

import numpy as np

from nsb.errors import NsbError
from nsb.eval.backends import require
from nsb.eval.bundle import Bundle


class TorchScriptBackend:
    name = "torchscript"
    model_file = "model.ts"

    def __init__(self, bundle: Bundle, device: str, graph: str, precision: str = "fp32") -> None:
        self.torch = require("torch", "torchscript", "pip install torch")
        if device == "cuda" and not self.torch.cuda.is_available():
            raise NsbError("--device cuda asked for, but torch sees no CUDA device here; use --device cpu")
        self.device = device
        try:
            self.module = self.torch.jit.load(str(bundle.file(self.model_file)), map_location=device).eval()
            self.dtype = self.torch.float16 if precision == "fp16" else self.torch.float32
            if precision == "fp16":
                self.module = self.module.half()
        except RuntimeError as err:
            raise NsbError(f"model.ts does not load as TorchScript ({str(err).splitlines()[0][:160]}); "
                           "re-export the bundle") from None

    def run(self, x: np.ndarray) -> list[np.ndarray]:
        with self.torch.no_grad():
            xt = self.torch.from_numpy(x).to(self.device)
            outs = self.module(xt.to(self.dtype) if xt.is_floating_point() else xt)
        return [o.float().cpu().numpy() for o in outs]

    def synchronize(self) -> None:
        if self.device == "cuda":
            self.torch.cuda.synchronize()

    def time_run(self, x: np.ndarray) -> float:
        """Seconds of one run; CUDA events on the GPU, so the host's own overhead is not counted."""
        import time

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


def load(bundle: Bundle, device: str, graph: str, precision: str = "fp32") -> TorchScriptBackend:
    return TorchScriptBackend(bundle, device, graph, precision)
