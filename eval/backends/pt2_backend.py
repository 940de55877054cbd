"""``model.pt2`` with ``torch.export.load``: needs torch, not nsb. fp32 on the CPU or, moved there, CUDA."""

from __future__ import annotations

import logging

import numpy as np

from nsb.errors import NsbError
from nsb.eval.backends import require
from nsb.eval.backends.torch_device import TorchDevice, check_device
from nsb.eval.bundle import Bundle

_FIX = "re-export with nsb export RUN --format pt2"


class PT2Backend(TorchDevice):
    name = "pt2"
    model_file = "model.pt2"

    def __init__(self, bundle: Bundle, device: str, graph: str, precision: str = "fp32") -> None:
        self.torch = require("torch", "pt2", "pip install torch")
        if precision != "fp32":
            raise NsbError("model.pt2 runs in fp32 only (torch.export fixes the program's dtypes); "
                           "use --backend onnxruntime --graph std, tensorrt or torch for fp16")
        check_device(self.torch, device)
        self.device = device
        path = bundle.file(self.model_file)
        # torch.export.load logs a traceback before it raises on a damaged file; the one line below says it
        quiet = logging.getLogger("torch.export")
        level = quiet.level
        quiet.setLevel(logging.ERROR)
        try:
            program = self.torch.export.load(str(path))
            if device != "cpu":
                from torch.export.passes import move_to_device_pass

                # the program was traced on the CPU: its weights, constants and any device baked into an op
                program = move_to_device_pass(program, device)
            self.module = program.module()
        except Exception as err:  # a truncated zip, a foreign file or another torch's serialisation all land here
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise NsbError(f"{path.name} does not load as a torch.export program ({first[:160]}); {_FIX}") from None
        finally:
            quiet.setLevel(level)
        self.dtype = self.torch.float32

    def run(self, x: np.ndarray) -> list[np.ndarray]:
        with self.torch.no_grad():
            try:
                outs = self.module(self.as_input(x))
            except (AssertionError, RuntimeError) as err:
                # the program checks its input's shape first (a fixed T, or T above a per-step op's rows)
                first = str(err).strip().splitlines()[0] if str(err).strip() else ""
                if "Guard failed" not in first:
                    raise
                raise NsbError(f"model.pt2 does not take an input of shape {list(x.shape)} "
                               f"({first[:160]})") from None
        return [o.float().cpu().numpy() for o in outs]


def load(bundle: Bundle, device: str, graph: str, precision: str = "fp32") -> PT2Backend:
    return PT2Backend(bundle, device, graph, precision)
