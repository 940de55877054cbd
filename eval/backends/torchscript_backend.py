"""``model.ts`` with ``torch.jit.load``: needs torch, not nsb."""

from __future__ import annotations

import numpy as np

from nsb.errors import NsbError
from nsb.eval.backends import require
from nsb.eval.backends.torch_device import TorchDevice, check_device
from nsb.eval.bundle import Bundle


class TorchScriptBackend(TorchDevice):
    name = "torchscript"
    model_file = "model.ts"

    def __init__(self, bundle: Bundle, device: str, graph: str, precision: str = "fp32") -> None:
        self.torch = require("torch", "torchscript", "pip install torch")
        if precision != "fp32":
            raise NsbError("model.ts is frozen with fp32 weights, so TorchScript runs fp32 only; for fp16 use "
                           "--backend onnxruntime --graph std, tensorrt or torch")
        check_device(self.torch, device)
        self.device = device
        try:
            self.module = self.torch.jit.load(str(bundle.file(self.model_file)), map_location=device).eval()
            self.dtype = self.torch.float32
        except RuntimeError as err:
            raise NsbError(f"model.ts does not load as TorchScript ({str(err).splitlines()[0][:160]}); "
                           "re-export the bundle") from None

    def run(self, x: np.ndarray) -> list[np.ndarray]:
        with self.torch.no_grad():
            outs = self.module(self.as_input(x))
        return [o.float().cpu().numpy() for o in outs]


def load(bundle: Bundle, device: str, graph: str, precision: str = "fp32") -> TorchScriptBackend:
    return TorchScriptBackend(bundle, device, graph, precision)
