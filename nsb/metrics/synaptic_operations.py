"""Synaptic operations per sample: dense, effective MACs and effective ACs.

    dense          = Σ_calls Σ_outputs |{j}|                        all weights × all inputs
    effective      = Σ_calls Σ_outputs |{j : W_ij ≠ 0 ∧ x_j ≠ 0}|   bias never counts
    effective ACs  = effective ops of calls whose input is all in {−1, 0, 1} (spikes)
    effective MACs = effective ops of every other call

each summed over every connection-layer call of every batch and divided by the number of samples,
so the values are totals over a sample's whole sequence; ``steps`` (mean time steps per sample)
turns them into per-step values. A recurrent synapse called once per step (an nsb recurrent
neuron, an LSTM cell, a full LSTM) counts at every step. Per-layer rules: :mod:`nsb.metrics.ops`.
"""

from __future__ import annotations

from nsb.metrics.base import Batch, WorkloadMetric
from nsb.metrics.errors import NothingToCount


class SynapticOperations(WorkloadMetric):
    name = "synaptic_operations"
    needs = frozenset({"synapses"})

    def reset(self) -> None:
        self.dense = 0.0
        self.macs = 0.0
        self.acs = 0.0
        self.samples = 0
        self.steps = 0
        self.calls = 0

    def update(self, batch: Batch) -> None:
        if not batch.connections:
            raise NothingToCount(
                self.name, "synaptic operations: the model has no connection layer (Linear, Conv, RNN/LSTM/GRU "
                "or cell module; functional calls are invisible), so there is nothing to count")
        for _, effective, dense, spiking in batch.ops:
            self.dense += dense
            if spiking:
                self.acs += effective
            else:
                self.macs += effective
        self.calls += len(batch.ops)
        self.samples += batch.samples
        self.steps += batch.steps * batch.samples

    def compute(self) -> dict[str, float]:
        if self.calls == 0:
            raise NothingToCount(self.name, "synaptic operations: no connection layer was called during the run")
        n = self.samples
        return {"dense": self.dense / n, "effective_macs": self.macs / n, "effective_acs": self.acs / n,
                "steps": self.steps / n}
