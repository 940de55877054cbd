"""The trained model itself: rebuilt from ``config.toml`` and ``weights.h5`` with nsb's own neurons.

This is the training-time model (Python loop, surrogate spike functions in their Heaviside forward),
so it reproduces ``reference.h5`` on the machine that exported it and shows what a different
machine or device does to the trained model before any export is involved.
"""

from __future__ import annotations

import os

import numpy as np

from nsb.errors import NsbError
from nsb.eval.backends import require
from nsb.eval.backends.torch_device import TorchDevice, check_device
from nsb.eval.bundle import Bundle


class TorchBackend(TorchDevice):
    name = "torch"
    model_file = "weights.h5"

    def __init__(self, bundle: Bundle, device: str, graph: str, precision: str = "fp32") -> None:
        torch = require("torch", "torch", "pip install 'nsb[torch]'")
        import h5py

        from nsb.config import from_dict, read_toml
        from nsb.data.common import TaskData
        from nsb.models.build import build_model

        check_device(torch, device)
        self.torch, self.device = torch, device
        cfg = from_dict(read_toml(bundle.file("config.toml")), f"{bundle.path}/config.toml")
        neuron_backend = os.environ.get("NSB_NEURON_BACKEND")
        if neuron_backend:  # "torch": the PyTorch step loop even on a GPU; "auto"/"cuda": the fused kernels
            cfg.neuron = {**cfg.neuron, "backend": neuron_backend}
        self.neuron_backend = cfg.neuron.get("backend", "auto")
        t = bundle.manifest["task"]
        info = {"frame_shape": tuple(t["frame_shape"])} if t.get("frame_shape") else {}
        empty = torch.empty(0)
        task = TaskData(t["task"], empty, empty, input_size=t["input_size"], num_classes=t["num_classes"],
                        time_steps=t["time_steps"], info=info)
        self.model = build_model(cfg, task)
        with h5py.File(bundle.file(self.model_file), "r") as f:
            state = {k: torch.from_numpy(np.asarray(f[k][()])) for k in self.model.state_dict()
                     if k in f}
        try:
            self.model.load_state_dict(state)
        except RuntimeError as err:
            raise NsbError(f"weights.h5 does not fit the model config.toml builds ({str(err).splitlines()[0][:160]}); "
                           "re-export the bundle") from None
        self.model.to(device).eval()
        self.dtype = torch.float16 if precision == "fp16" else torch.float32
        if precision == "fp16":
            self.model.half()
        self.readout = t["readout"] if t["task"] == "classification" else "all"

    def run(self, x: np.ndarray) -> list[np.ndarray]:
        from nsb.models.probe import recorded_spikes
        from nsb.objectives import reduce_time

        with recorded_spikes(self.model) as captured, self.torch.no_grad():
            out, _ = self.model(self.as_input(x))
        return [reduce_time(out, self.readout).float().cpu().numpy(), *(s.float().cpu().numpy() for s in captured)]


def load(bundle: Bundle, device: str, graph: str, precision: str = "fp32") -> TorchBackend:
    return TorchBackend(bundle, device, graph, precision)
