"""Membrane updates per sample: how often a neuron's membrane changes.

    updates = Σ_l [ N_l (step 0 of a fresh start) + Σ_{t ≥ 1} |{n : v_t,n ≠ v_{t−1},n}| ]

over nsb neurons l, divided by the number of samples. v is the neuron's first state (``v`` of
LIF/ALIF/adLIF, ``u`` of GLIF). As in NeuroBench, a neuron started from its initial state counts
every neuron as updated at step 0; a neuron continuing from a state passed in (a stream cut into
chunks) counts its first step like any other.
"""

from __future__ import annotations

from nsb.metrics.base import Batch, WorkloadMetric
from nsb.metrics.errors import NothingToCount


class MembraneUpdates(WorkloadMetric):
    name = "membrane_updates"
    needs = frozenset({"membranes"})

    def reset(self) -> None:
        self.updates = 0
        self.samples = 0
        self.seen = False

    def update(self, batch: Batch) -> None:
        if not batch.neurons:
            raise NothingToCount(
                self.name, "membrane updates: the model has no nsb spiking neuron; the metric counts neuron "
                "membranes, which ReLU/Sigmoid layers do not have")
        self.updates += sum(batch.updates.values())
        self.seen = self.seen or bool(batch.updates)
        self.samples += batch.samples

    def compute(self) -> float:
        if not self.seen:
            raise NothingToCount(self.name, "membrane updates: no spiking neuron was called during the run")
        return self.updates / self.samples
