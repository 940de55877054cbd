"""Coefficient of determination, per output dimension then averaged.

    R²_d = 1 − Σ_i (y_id − ŷ_id)² / Σ_i (y_id − ȳ_d)²,      R² = mean_d R²_d

pooled over every batch (ȳ_d is the mean over all samples). Targets are ``[N]`` or ``[N, D]``
(NeuroBench accepts only ``[N, 2]``; for that shape the two agree). A target dimension with zero
variance has no R² and raises.
"""

from __future__ import annotations

import torch

from nsb.metrics.base import Batch, WorkloadMetric
from nsb.metrics.correctness import paired
from nsb.metrics.errors import MetricError


class R2(WorkloadMetric):
    name = "r2"

    def reset(self) -> None:
        self.sse: torch.Tensor | None = None
        self.targets: list[torch.Tensor] = []

    def update(self, batch: Batch) -> None:
        preds, targets = paired(batch, self.name)
        if targets.dim() > 2:
            raise MetricError(f"r2 takes targets [N] or [N, D], got shape {tuple(targets.shape)}")
        p, y = preds.double().reshape(len(preds), -1), targets.double().reshape(len(targets), -1)
        sse = ((y - p) ** 2).sum(0).cpu()
        self.sse = sse if self.sse is None else self.sse + sse
        self.targets.append(y.cpu())

    def compute(self) -> float:
        if self.sse is None:
            raise MetricError("r2: no targets were seen")
        y = torch.cat(self.targets)
        sst = ((y - y.mean(0)) ** 2).sum(0)
        if (sst == 0).any():
            raise MetricError("r2: a target dimension is constant over the data, so R² is undefined")
        return float((1 - self.sse / sst).mean())
