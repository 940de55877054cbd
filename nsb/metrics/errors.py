"""The one error the metrics raise, so a benchmark never reports a silent 0.0 or ``None``."""

from __future__ import annotations

from nsb.errors import NsbError


class MetricError(NsbError):
    """A metric that cannot be computed for this model or these batches; the message says why."""


class NothingToCount(MetricError):
    """A workload metric this model has nothing for (no activation layer, no neuron, no connection): reported
    as ``{"not_measured": reason}`` in ``neurobench.json`` (:mod:`nsb.metrics.report`), never as a number."""

    def __init__(self, metric: str, message: str) -> None:
        super().__init__(message)
        self.metric = metric
