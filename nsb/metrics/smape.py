"""Symmetric mean absolute percentage error, in [0, 200].

    sMAPE = 200/N · Σ |ŷ − y| / (|ŷ| + |y|)

Per element: ŷ = y = 0 is a perfect prediction and adds 0; a NaN or infinite prediction adds the
maximum 1 (i.e. 200 for that element). NeuroBench takes the batch mean first and maps a NaN mean
to 200, so one 0/0 element turns a whole batch into the worst score.
"""

from __future__ import annotations

import torch

from nsb.metrics.base import Batch, WorkloadMetric
from nsb.metrics.correctness import paired
from nsb.metrics.errors import MetricError


class SMAPE(WorkloadMetric):
    name = "smape"

    def reset(self) -> None:
        self.sum = 0.0
        self.total = 0

    def update(self, batch: Batch) -> None:
        preds, targets = paired(batch, self.name)
        p, y = preds.double(), targets.double()
        num, den = (p - y).abs(), p.abs() + y.abs()
        term = torch.where(den == 0, torch.zeros_like(num), num / den)
        term = torch.where(torch.isfinite(term), term, torch.ones_like(term))
        self.sum += float(term.sum())
        self.total += targets.numel()

    def compute(self) -> float:
        if self.total == 0:
            raise MetricError("smape: no targets were seen")
        return 200.0 * self.sum / self.total
