"""Activation sparsity: the fraction of activation outputs that are zero.

    sparsity = Σ_{l,t,i} zeros / Σ_{l,t,i} N_l

over activation layers l (nsb neurons, ReLU, Sigmoid), time steps t and samples i, pooled over
every batch. Any non-zero value (graded, negative) is active. NeuroBench averages per-batch ratios
weighted by batch size over ``len(dataset)``, which equals the pooled ratio only when every sample
has the same length and no batch is dropped.
"""

from __future__ import annotations

from nsb.metrics.base import Batch, WorkloadMetric
from nsb.metrics.errors import NothingToCount


class ActivationSparsity(WorkloadMetric):
    name = "activation_sparsity"
    needs = frozenset({"activations"})

    def reset(self) -> None:
        self.active = 0
        self.total = 0

    def update(self, batch: Batch) -> None:
        if not batch.activations:
            raise NothingToCount(
                self.name, "activation sparsity: the model has no activation layer (an nsb neuron, ReLU or "
                "Sigmoid module; functional calls are invisible), so there is nothing to count")
        for active, total in batch.spikes.values():
            self.active += active
            self.total += total

    def compute(self) -> float:
        if self.total == 0:
            raise NothingToCount(self.name, "activation sparsity: no activation layer was called during the run")
        return (self.total - self.active) / self.total
