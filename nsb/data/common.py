"""What every data module returns, and the batching shared by all of them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch
from torch.utils.data import Dataset

# the kind of task a data set poses; nsb.tasks.kinds.task_kind gives what differs between them
TaskName = Literal["classification", "regression", "language"]


@dataclass
class TaskData:
    """A data set ready for training.

    For ``classification`` and ``regression`` the splits are map-style datasets whose items are
    ``(x, y)`` with ``x`` a float32 tensor ``[T, F]`` (batch-first per item; the collate makes
    batches time-major) and ``y`` an int64 class (classification) or a float32 tensor
    (regression). For ``language`` the splits are int64 token streams ``[L]`` and batching into
    parallel streams is the task's job (:class:`nsb.tasks.kinds.Language`).
    """

    task: TaskName
    train: Dataset | torch.Tensor
    test: Dataset | torch.Tensor
    input_size: int  # features per step (vocabulary size for language)
    num_classes: int  # classes, regression outputs, or vocabulary size
    time_steps: int  # T of one sequence (window length for language)
    valid: Dataset | torch.Tensor | None = None
    info: dict = field(default_factory=dict)  # e.g. the permutation, vocabulary, source files


def time_major_collate(batch: list[tuple[torch.Tensor, torch.Tensor | int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack ``(x [T, F], y)`` items into ``x [T, B, F]`` and ``y [B, ...]``."""
    xs, ys = zip(*batch)
    x = torch.stack([torch.as_tensor(v) for v in xs], dim=1)
    y = torch.stack([torch.as_tensor(v) for v in ys], dim=0)
    return x, y
