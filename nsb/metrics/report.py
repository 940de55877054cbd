"""``neurobench.json``: NeuroBench's metrics of a trained nsb model on its test split, and a table of them.

Complexity (footprint, connection sparsity, parameter count, activation sparsity, synaptic operations,
membrane updates) plus the task's correctness metric: accuracy of the time-reduced logits for
classification, MSE of the per-step outputs for regression. Language models get the complexity
metrics only; their perplexity is in ``metrics.jsonl``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from torch import nn

from nsb.metrics.harness import measure

COMPLEXITY_METRICS = ["footprint", "connection_sparsity", "parameter_count", "activation_sparsity",
                      "synaptic_operations", "membrane_updates"]


def benchmark_metrics(model: nn.Module, batches: Iterable[Any], task: str, readout: str) -> dict[str, Any]:
    from nsb.objectives import reduce_time

    metrics = list(COMPLEXITY_METRICS)
    forward = None
    if task == "classification":
        metrics.append("accuracy")

        def forward(m, x):
            return reduce_time(m(x)[0], readout).argmax(-1)
    elif task == "regression":
        metrics.append("mse")
    results = measure(model, batches, metrics, **({"forward": forward} if forward is not None else {}))
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
