"""How per-step outputs ``[T, B, C]`` become a loss and a score.

Readouts (``model.readout``), as the seed uses them (``reference/neuroseqbench.md`` §3):
``mean`` averages the logits over time (PSMNIST), ``last`` takes the final step (Binary Adding),
``sum`` sums them (SHD/SSC), ``all`` scores every step (regression, language modelling).
:func:`reduce_time` applies one; the exporters and the torch evaluation backend use it too.

The loss and the score depend on the kind of task and are its methods (:mod:`nsb.tasks.kinds`).
The functions below take a task object or its name (``TaskData.task``) and ask it, for callers that
hold only the name (the learning rules' step functions, the benchmarks). Online learning rules need
the loss of one step on its own: :func:`step_loss` gives the instantaneous loss whose sum over t is
the per-step objective of OTTT/SLTT/e-prop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from torch import Tensor

if TYPE_CHECKING:
    from nsb.tasks.kinds import Task


def reduce_time(out: Tensor, readout: str) -> Tensor:
    if readout == "mean":
        return out.mean(0)
    if readout == "sum":
        return out.sum(0)
    if readout == "last":
        return out[-1]
    return out


def _kind(task: Task | str) -> Task:
    from nsb.tasks.kinds import task_kind  # imported here: nsb.tasks.kinds imports reduce_time from this module

    return task_kind(task)


def sequence_loss(task: Task | str, out: Tensor, y: Tensor, readout: str, label_smoothing: float = 0.0) -> Tensor:
    """Loss of a whole sequence; ``y`` is ``[B]`` (classes) or time-major ``[T, B, ...]``."""
    return _kind(task).sequence_loss(out, y, readout, label_smoothing)


def step_loss(task: Task | str, out_t: Tensor, y: Tensor, t: int, steps: int, readout: str,
              label_smoothing: float = 0.0) -> Tensor | None:
    """Instantaneous loss of step ``t`` of ``steps`` (``out_t`` is ``[1, B, C]``); None if it has none."""
    return _kind(task).step_loss(out_t, y, t, steps, readout, label_smoothing)
