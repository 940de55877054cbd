"""Classification accuracy: the fraction of predictions equal to their targets.

    accuracy = Σ [ŷ = y] / N          over every element of every batch

Predictions must already be class indices of the targets' shape (reduce with ``forward=``).
"""

from __future__ import annotations

from nsb.metrics.base import Batch, WorkloadMetric
from nsb.metrics.correctness import paired
from nsb.metrics.errors import MetricError


class Accuracy(WorkloadMetric):
    name = "accuracy"

    def reset(self) -> None:
        self.correct = 0
        self.total = 0

    def update(self, batch: Batch) -> None:
        preds, targets = paired(batch, self.name)
        self.correct += int((preds == targets).sum())
        self.total += targets.numel()

    def compute(self) -> float:
        if self.total == 0:
            raise MetricError("accuracy: no targets were seen")
        return self.correct / self.total
