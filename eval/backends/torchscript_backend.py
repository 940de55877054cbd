"""``model.ts`` with ``torch.jit.load``: needs torch, not nsb."""

from __future__ import annotations

import numpy as np

from nsb.errors import NsbError
from nsb.eval.backends import require
from nsb.eval.bundle import Bundle


class TorchScriptBackend:
    name = "torchscript"
    model_file = "model.ts"

    def __init__(self, bundle: Bundle, device: str, graph: str) -> None:
        self.torch = require("torch", "torchscript", "pip install torch")
        if device == "cuda" and not self.torch.cuda.is_available():
            raise NsbError("--device cuda asked for, but torch sees no CUDA device here; use --device cpu")
        self.device = device
        try:
            self.module = self.torch.jit.load(str(bundle.file(self.model_file)), map_location=device).eval()
        except RuntimeError as err:
            raise NsbError(f"model.ts does not load as TorchScript ({str(err).splitlines()[0][:160]}); "
                           "re-export the bundle") from None

    def run(self, x: np.ndarray) -> list[np.ndarray]:
        with self.torch.no_grad():
            outs = self.module(self.torch.from_numpy(x).to(self.device))
        return [o.cpu().numpy() for o in outs]

    def synchronize(self) -> None:
        if self.device == "cuda":
            self.torch.cuda.synchronize()


def load(bundle: Bundle, device: str, graph: str) -> TorchScriptBackend:
    return TorchScriptBackend(bundle, device, graph)
