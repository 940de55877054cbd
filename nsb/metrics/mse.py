"""Mean squared error over every element of every batch.

    MSE = Σ (ŷ − y)² / N
"""

from __future__ import annotations

from nsb.metrics.base import Batch, WorkloadMetric
from nsb.metrics.correctness import paired
from nsb.metrics.errors import MetricError


class MSE(WorkloadMetric):
    name = "mse"

    def reset(self) -> None:
        self.sse = 0.0
        self.total = 0

    def update(self, batch: Batch) -> None:
        preds, targets = paired(batch, self.name)
        self.sse += float(((preds.double() - targets.double()) ** 2).sum())
        self.total += targets.numel()

    def compute(self) -> float:
        if self.total == 0:
            raise MetricError("mse: no targets were seen")
        return self.sse / self.total
