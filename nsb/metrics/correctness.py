"""The shape check every correctness metric makes before comparing predictions with targets."""

from __future__ import annotations

from torch import Tensor

from nsb.metrics.base import Batch
from nsb.metrics.errors import MetricError


def paired(batch: Batch, metric: str) -> tuple[Tensor, Tensor]:
    if batch.targets is None:
        raise MetricError(f"{metric} needs targets: give batches as (inputs, targets)")
    preds, targets = batch.preds, batch.targets
    if not isinstance(preds, Tensor):
        raise MetricError(f"{metric}: the model's predictions are a {type(preds).__name__}, not a tensor; "
                          "pass forward= to turn the model output into predictions")
    if preds.shape != targets.shape:
        raise MetricError(f"{metric}: predictions of shape {tuple(preds.shape)} do not match targets of shape "
                          f"{tuple(targets.shape)}; pass forward= to reduce the output (e.g. mean over time, "
                          "argmax over classes)")
    return preds, targets.to(preds.device)
