"""How per-step outputs ``[T, B, C]`` become a loss and a score, per task and readout.

Readouts (``model.readout``), as the seed uses them (``reference/neuroseqbench.md`` §3):
``mean`` averages the logits over time (PSMNIST), ``last`` takes the final step (Binary Adding),
``sum`` sums them (SHD/SSC), ``all`` scores every step (regression, language modelling).

Online learning rules need the loss of one step on its own: :func:`step_loss` gives the
instantaneous loss whose sum over t is the per-step objective of OTTT/SLTT/e-prop.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def reduce_time(out: Tensor, readout: str) -> Tensor:
    if readout == "mean":
        return out.mean(0)
    if readout == "sum":
        return out.sum(0)
    if readout == "last":
        return out[-1]
    return out


def sequence_loss(task: str, out: Tensor, y: Tensor, readout: str, label_smoothing: float = 0.0) -> Tensor:
    """Loss of a whole sequence; ``y`` is ``[B]`` (classes) or time-major ``[T, B, ...]``."""
    if task == "classification":
        return F.cross_entropy(reduce_time(out, readout), y, label_smoothing=label_smoothing)
    if task == "language":
        return F.cross_entropy(out.flatten(0, 1), y.flatten())
    return F.mse_loss(out, y)


def step_loss(task: str, out_t: Tensor, y: Tensor, t: int, steps: int, readout: str,
              label_smoothing: float = 0.0) -> Tensor | None:
    """Instantaneous loss of step ``t`` of ``steps`` (``out_t`` is ``[1, B, C]``); None if it has none."""
    if task == "classification":
        if readout == "last" and t != steps - 1:
            return None
        scale = 1.0 if readout == "last" else 1.0 / steps
        return F.cross_entropy(out_t[0], y, label_smoothing=label_smoothing) * scale
    if task == "language":
        return F.cross_entropy(out_t[0], y[t]) / steps
    return F.mse_loss(out_t[0], y[t]) / steps


@torch.no_grad()
def score(task: str, out: Tensor, y: Tensor, readout: str) -> tuple[float, int]:
    """(sum of the per-sample score, count): correct predictions, or squared error / tokens."""
    if task == "classification":
        return float((reduce_time(out, readout).argmax(-1) == y).sum()), y.numel()
    if task == "language":
        return float(F.cross_entropy(out.flatten(0, 1), y.flatten(), reduction="sum")), y.numel()
    return float(((out - y) ** 2).sum()), y.numel()
