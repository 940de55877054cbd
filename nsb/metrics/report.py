"""``neurobench.json``: NeuroBench's metrics of a trained nsb model on its test split, and a table of them.

Complexity (footprint, connection sparsity, parameter count, activation sparsity, synaptic operations,
membrane updates) plus the task's correctness metric: accuracy of the time-reduced logits for
classification, MSE of the per-step outputs for regression. Language models get the complexity
metrics only; their perplexity is in ``metrics.jsonl``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from torch import nn

from nsb.metrics.errors import NothingToCount
from nsb.metrics.harness import measure

if TYPE_CHECKING:
    from nsb.tasks.kinds import Task

COMPLEXITY_METRICS = ["footprint", "connection_sparsity", "parameter_count", "activation_sparsity",
                      "synaptic_operations", "membrane_updates"]


def benchmark_metrics(model: nn.Module, batches: Iterable[Any], task: Task | str, readout: str) -> dict[str, Any]:
    """The complexity metrics and, where the task has one, NeuroBench's correctness metric over ``batches``."""
    from nsb.tasks.kinds import task_kind

    kind = task_kind(task)
    metrics = list(COMPLEXITY_METRICS)
    if kind.neurobench_metric is not None:
        metrics.append(kind.neurobench_metric)
    forward = kind.neurobench_forward(readout)
    kwargs = {"forward": forward} if forward is not None else {}
    batches = list(batches)
    # a metric this model has nothing for is reported as such, never as a number: activation sparsity and
    # membrane updates of a model without neurons or activation modules (the LSTM and Transformer references)
    optional = ("synaptic_operations", "activation_sparsity", "membrane_updates")
    skipped: dict[str, str] = {}
    while True:
        try:
            results = measure(model, batches, [m for m in metrics if m not in skipped], **kwargs)
            break
        except NothingToCount as err:
            if err.metric not in optional or err.metric in skipped or err.metric not in metrics:
                raise
            skipped[err.metric] = str(err)
    results.update({m: {"not_measured": why} for m, why in skipped.items()})
    return {"format": "nsb-neurobench", "definitions": "NeuroBench 2.3 (docs/metrics.md lists nsb's differences)",
            "split": "test", **results}


def rows(results: dict[str, Any]) -> list[tuple[str, str]]:
    """Human-readable rows for a table."""
    out = []
    for key, value in results.items():
        if key in ("format", "definitions", "split"):
            continue
        if isinstance(value, dict):
            for sub, v in value.items():
                out.append((f"{key}.{sub}", _fmt(v)))
        else:
            out.append((key, _fmt(value)))
    return out


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.4f}" if abs(value) < 1e4 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)
