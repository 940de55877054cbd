"""The one error the metrics raise, so a benchmark never reports a silent 0.0 or ``None``."""

from __future__ import annotations

from nsb.errors import NsbError


class MetricError(NsbError):
    """A metric that cannot be computed for this model or these batches; the message says why."""
