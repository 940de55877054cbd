"""Will it fit? Estimates of what a run allocates, checked against the machine before any work.

A config with ``model.hidden=[10000000]`` or a data set of 10^9 samples should cost one line naming the
estimate, not minutes of swapping and an out-of-memory kill. The estimates are deliberately simple upper
bounds (float32 everywhere, every step's tensors kept for backpropagation through time); they refuse
only what cannot fit, not what merely might not.
"""

from __future__ import annotations

import os

from nsb.errors import NsbError

FLOAT = 4
# tensors a spiking layer keeps per neuron and step for BPTT: the input current, the state before and after,
# the spike, the surrogate's argument and its gradient
SAVED_PER_NEURON_STEP = 6
GIB = 1024**3


def available_bytes(device: str = "cpu") -> int | None:
    """Memory a new allocation can use now: MemAvailable on Linux, free memory on a CUDA device, or None
    where the system does not say."""
    if device.startswith("cuda"):
        import torch

        index = torch.device(device).index or 0
        return int(torch.cuda.mem_get_info(index)[0])
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):
        return None


def check_fits(estimate: int, what: str, fix: str, device: str = "cpu") -> None:
    """Refuse ``estimate`` bytes when the device has less available."""
    free = available_bytes(device)
    if free is not None and estimate > free:
        raise NsbError(f"{what} needs about {estimate / GIB:.1f} GiB but {device} has {free / GIB:.1f} GiB available; "
                       f"{fix}")


def training_bytes(cfg, input_size: int, num_classes: int, time_steps: int, frame_shape=None) -> dict[str, int]:
    """Parameters (with gradients and two Adam moments: ×4) and the activations one training batch keeps."""
    model = cfg.model
    batch = cfg.train.batch_size
    hidden = list(model.hidden)
    recurrent = model.recurrent if isinstance(model.recurrent, list) else [model.recurrent] * len(hidden)
    if model.kind == "language":
        sizes = [model.embedding_dim, *hidden]
        params = num_classes * model.embedding_dim + (0 if model.tie_weights else num_classes * hidden[-1])
        outputs = num_classes  # the logits of every step, and their softmax gradient
    elif model.kind == "conv" and frame_shape:
        channels, height, width = frame_shape
        pixels = height * width
        params, neurons = 0, 0
        for out in model.channels:
            params += channels * out * 9 + out
            neurons += out * pixels
            channels, pixels = out, max(pixels // 4, 1)
        sizes = [channels * pixels, *hidden]
        params += sum(a * b + b for a, b in zip(sizes, sizes[1:])) + hidden[-1] * num_classes
        return {"parameters": params * FLOAT * 4,
                "activations": time_steps * batch * (neurons + sum(hidden)) * SAVED_PER_NEURON_STEP * FLOAT}
    else:
        sizes = [input_size, *hidden]
        params = 0
        outputs = num_classes
    for (a, b), rec in zip(zip(sizes, sizes[1:]), recurrent):
        params += a * b + b + (b * b if rec else 0)
    params += hidden[-1] * num_classes + num_classes
    activations = time_steps * batch * (sum(hidden) * SAVED_PER_NEURON_STEP + outputs * 2) * FLOAT
    return {"parameters": params * FLOAT * 4, "activations": activations}
