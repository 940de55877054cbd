"""``reference.h5``: what the training-time model did on the evaluation inputs.

The inputs are the first ``samples`` items of the test split (the first windows of the test stream
for language models). The outputs come from the trained model itself, with its training-time
neurons, not from the deployable twin, so every backend is compared with what was trained.
"""

from __future__ import annotations

import io

import h5py
import numpy as np
import torch
from torch import Tensor, nn

from nsb.data.common import TaskData
from nsb.errors import NsbError
from nsb.objectives import reduce_time
from nsb.models.probe import recorded_spikes, spiking_layers
from nsb.tasks.kinds import task_kind

FULL_SPIKE_SAMPLES = 8  # samples whose whole spike trains are stored, per layer


def evaluation_inputs(task: TaskData, samples: int) -> tuple[Tensor, Tensor]:
    """``(x, y)`` time-major: x ``[T, N, F]`` (tokens ``[T, N]``), y ``[N]`` or ``[T, N, ...]``."""
    if samples < 1:
        raise NsbError(f"--samples must be at least 1, got {samples}")
    return task_kind(task).samples(task, "test", samples)


@torch.no_grad()
def reference_outputs(model: nn.Module, x: Tensor, task: str, readout: str, batch_size: int = 64
                      ) -> tuple[np.ndarray, list[str], list[np.ndarray], list[np.ndarray]]:
    """(outputs, layer names, per-layer spike counts [N, ...] summed over time, first spike trains)."""
    model.eval()
    readout = "all" if task_kind(task).per_step else readout
    names = [name for name, _ in spiking_layers(model)]
    outputs, counts, trains = [], [[] for _ in names], [[] for _ in names]
    with recorded_spikes(model) as captured:
        for start in range(0, x.shape[1], batch_size):
            captured.clear()
            out, _ = model(x[:, start:start + batch_size])
            outputs.append(reduce_time(out, readout))
            for i, s in enumerate(captured):
                counts[i].append(s.sum(0))
                if start < FULL_SPIKE_SAMPLES:
                    trains[i].append(s[:, :FULL_SPIKE_SAMPLES - start])
    batch_dim = 0 if readout != "all" else 1
    output = torch.cat(outputs, batch_dim).numpy()
    return (output, names, [torch.cat(c).numpy().astype(np.int32) for c in counts],
            [torch.cat(t, 1).numpy().astype(np.uint8) for t in trains])


def write_reference(x: Tensor, y: Tensor, output: np.ndarray, names: list[str], counts: list[np.ndarray],
                    trains: list[np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        f.attrs["format"] = "nsb-reference"
        f.attrs["layers"] = np.array(names, dtype=h5py.string_dtype())
        f.create_dataset("inputs", data=x.numpy(), compression="gzip")
        f.create_dataset("labels", data=y.numpy())
        f.create_dataset("outputs", data=output)
        for i, (c, t) in enumerate(zip(counts, trains)):
            f.create_dataset(f"spike_counts/{i}", data=c, compression="gzip")
            f.create_dataset(f"spikes/{i}", data=t, compression="gzip")
    return buffer.getvalue()


def write_weights(model: nn.Module) -> bytes:
    """The trained state dict as plain HDF5 datasets (no pickle), for the torch backend."""
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        for key, value in model.state_dict().items():
            f.create_dataset(key, data=value.detach().cpu().numpy())
    return buffer.getvalue()
