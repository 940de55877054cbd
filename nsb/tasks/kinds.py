"""What a training run is asked to do: classification, regression or language modelling.

The trainer treats every data set the same way; what differs between these three kinds of task lives
here, in one :class:`Task` subclass each, so that no other module needs an ``if task == ...`` branch:

* how a split becomes batches (map-style datasets of ``(x, y)`` sequences, or parallel token streams),
  also the fixed sample an exported bundle keeps, and the layout the targets need (regression targets go
  time-major);
* whether the recurrent state carries from one batch to the next (the token streams do);
* the loss of a whole sequence and of one time step (the online learning rules need the latter);
* the score reported each epoch (accuracy, MSE, perplexity), its ``metrics.jsonl`` key and whether
  higher or lower is better;
* the correctness metric NeuroBench adds to ``neurobench.json``.

A data module names its kind in :attr:`nsb.data.TaskData.task`; :func:`task_kind` turns that name into
the object. The objects hold no state, so one instance per kind is shared.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import DataLoader
from torch.utils.data.distributed import DistributedSampler

from nsb.data.common import TaskData, TaskName, time_major_collate
from nsb.errors import ConfigError, DataError, unknown
from nsb.objectives import reduce_time


@dataclass(frozen=True)
class Batching:
    """How the trainer wants a split cut into batches: ``train.*`` sizes and this process's shard."""

    batch_size: int
    eval_batch_size: int = 0  # 0: the task's default for evaluation
    seed: int = 0
    num_workers: int = 0
    rank: int = 0
    world: int = 1


class Task:
    """One kind of task; subclasses fill in the class attributes and the loss and score."""

    name: ClassVar[TaskName]
    metric: ClassVar[str]  # suffix of the metrics.jsonl keys: train_<metric>, test_<metric>, …
    higher_is_better: ClassVar[bool]
    carries_state: ClassVar[bool] = False  # does the recurrent state flow from one batch into the next?
    per_step: ClassVar[bool] = True  # is every time step scored (readout "all")?
    neurobench_metric: ClassVar[str | None] = None  # the correctness metric of neurobench.json

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    # --- configuration -----------------------------------------------------------------------------

    def check_readout(self, readout: str) -> None:
        """Refuse a ``model.readout`` this kind of task cannot be scored with."""
        if self.per_step and readout != "all":
            raise ConfigError(f"a {self.name} task scores every step; set model.readout = 'all'")
        if not self.per_step and readout == "all":
            raise ConfigError(f"model.readout = 'all' scores every step; a {self.name} task needs mean, last or sum")

    # --- data --------------------------------------------------------------------------------------

    def batches(self, data: TaskData, split: str, train: bool, epoch: int, how: Batching) -> Iterable[Any]:
        """``(x, y)`` batches of ``split``, time-major ``x [T, B, F]``; shuffled per epoch when training."""
        dataset = getattr(data, split)
        batch = how.batch_size if train else (how.eval_batch_size or how.batch_size)
        if how.world > 1 and train:
            sampler = DistributedSampler(dataset, how.world, how.rank, shuffle=True, seed=how.seed)
            sampler.set_epoch(epoch)
            return DataLoader(dataset, batch_size=batch, sampler=sampler, collate_fn=time_major_collate,
                              num_workers=how.num_workers)
        generator = torch.Generator().manual_seed(how.seed * 1000 + epoch)
        return DataLoader(dataset, batch_size=batch, shuffle=train, generator=generator,
                          collate_fn=time_major_collate, num_workers=how.num_workers)

    def targets(self, y: Tensor) -> Tensor:
        """The targets of a batch in the layout :meth:`sequence_loss` and :meth:`score` take."""
        return y

    def check_targets(self, y: Tensor, outputs: int, split: str) -> None:
        """Refuse targets the model's ``outputs`` cannot express (a label past the last class would otherwise
        fail deep inside the loss, or on a GPU corrupt it silently)."""

    def samples(self, data: TaskData, split: str, n: int) -> tuple[Tensor, Tensor]:
        """The first ``n`` samples of ``split`` as one time-major batch ``(x, targets)``: the reference inputs
        an exported bundle stores."""
        dataset = getattr(data, split)
        x, y = time_major_collate([dataset[i] for i in range(min(n, len(dataset)))])
        return x, self.targets(y)

    # --- objective and score -----------------------------------------------------------------------

    def sequence_loss(self, out: Tensor, y: Tensor, readout: str, label_smoothing: float = 0.0) -> Tensor:
        """Loss of a whole sequence; ``out`` is ``[T, B, C]``."""
        raise NotImplementedError

    def step_loss(self, out_t: Tensor, y: Tensor, t: int, steps: int, readout: str,
                  label_smoothing: float = 0.0) -> Tensor | None:
        """Instantaneous loss of step ``t`` of ``steps`` (``out_t`` is ``[1, B, C]``), None if that step has none;
        the sum over t is the per-step objective of the online rules (OTTT, SLTT, e-prop)."""
        raise NotImplementedError

    def score(self, out: Tensor, y: Tensor, readout: str) -> tuple[float, int]:
        """(sum of the per-sample score, count) of one batch; :meth:`metric_value` turns the sums into the metric."""
        raise NotImplementedError

    def metric_value(self, total: float, count: int) -> float:
        """The reported metric from summed scores: their mean (NaN for no samples)."""
        return total / count if count else float("nan")

    def better(self, value: float, than: float) -> bool:
        """Is metric ``value`` an improvement on ``than``?"""
        return value > than if self.higher_is_better else value < than

    def neurobench_forward(self, readout: str) -> Callable[[Any, Tensor], Tensor] | None:
        """How NeuroBench's correctness metric calls the model, when it needs more than ``model(x)[0]``."""
        return None


class Classification(Task):
    """One label per sequence, read from the time-reduced logits (``model.readout`` mean, last or sum)."""

    name = "classification"
    metric = "acc"
    higher_is_better = True
    per_step = False
    neurobench_metric = "accuracy"

    def check_targets(self, y, outputs, split):
        if y.numel() and (int(y.min()) < 0 or int(y.max()) >= outputs):
            raise DataError(f"the {split} split has label {int(y.max()) if int(y.max()) >= outputs else int(y.min())}"
                            f" but the model has {outputs} classes (labels 0..{outputs - 1}); fix the data set's "
                            "labels or its class count")

    def sequence_loss(self, out, y, readout, label_smoothing=0.0):
        return F.cross_entropy(reduce_time(out, readout), y, label_smoothing=label_smoothing)

    def step_loss(self, out_t, y, t, steps, readout, label_smoothing=0.0):
        if readout == "last" and t != steps - 1:
            return None
        scale = 1.0 if readout == "last" else 1.0 / steps
        return F.cross_entropy(out_t[0], y, label_smoothing=label_smoothing) * scale

    @torch.no_grad()
    def score(self, out, y, readout):
        return float((reduce_time(out, readout).argmax(-1) == y).sum()), y.numel()

    def neurobench_forward(self, readout):
        def forward(model, x):
            return reduce_time(model(x)[0], readout).argmax(-1)

        return forward


class Regression(Task):
    """A value per step (Mackey-Glass): mean squared error over every step and output."""

    name = "regression"
    metric = "mse"
    higher_is_better = False
    neurobench_metric = "mse"

    def targets(self, y):
        return y.transpose(0, 1) if y.dim() >= 2 else y  # [B, T, ...] → time-major

    def sequence_loss(self, out, y, readout, label_smoothing=0.0):
        return F.mse_loss(out, y)

    def step_loss(self, out_t, y, t, steps, readout, label_smoothing=0.0):
        return F.mse_loss(out_t[0], y[t]) / steps

    @torch.no_grad()
    def score(self, out, y, readout):
        return float(((out - y) ** 2).sum()), y.numel()


class Language(Task):
    """Next-token prediction on token streams (PTB): the splits are cut into parallel streams, the hidden
    state carries from one window to the next, and the score is perplexity. NeuroBench has no correctness
    metric for it; ``neurobench.json`` holds the complexity metrics only."""

    name = "language"
    metric = "ppl"
    higher_is_better = False
    carries_state = True

    def batches(self, data, split, train, epoch, how):
        from nsb.data.ptb import batchify, windows

        ids = getattr(data, split)
        if train:
            streams = batchify(ids, how.batch_size * how.world)
            streams = streams[:, how.rank * how.batch_size:(how.rank + 1) * how.batch_size]
        else:
            streams = batchify(ids, how.eval_batch_size or (10 if split == "valid" else 1))
        return windows(streams, data.time_steps)

    def samples(self, data, split, n):
        from nsb.data.ptb import batchify

        streams = batchify(getattr(data, split), n)  # n parallel streams, their first window
        steps = min(data.time_steps, streams.shape[0] - 1)
        return streams[:steps], streams[1:steps + 1]

    def sequence_loss(self, out, y, readout, label_smoothing=0.0):
        return F.cross_entropy(out.flatten(0, 1), y.flatten())

    def step_loss(self, out_t, y, t, steps, readout, label_smoothing=0.0):
        return F.cross_entropy(out_t[0], y[t]) / steps

    @torch.no_grad()
    def score(self, out, y, readout):
        return float(F.cross_entropy(out.flatten(0, 1), y.flatten(), reduction="sum")), y.numel()

    def metric_value(self, total, count):
        return math.exp(min(total / count, 50.0)) if count else float("nan")


TASKS: dict[str, Task] = {t.name: t for t in (Classification(), Regression(), Language())}


def task_kind(task: Task | TaskData | str) -> Task:
    """The :class:`Task` of a name (``TaskData.task``), of a data set, or the object itself."""
    if isinstance(task, Task):
        return task
    name = task.task if isinstance(task, TaskData) else task
    if name not in TASKS:
        raise ConfigError(unknown("task kind", str(name), TASKS))
    return TASKS[name]
