"""``measure``: run a model over batches once and return the chosen metrics.

Static metrics are taken from the model before any batch runs. Workload metrics see every batch;
hooks exist only during the call, the model runs in eval mode under ``torch.no_grad`` and gets
its previous train/eval flags back afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from nsb.errors import unknown
from nsb.metrics.accuracy import Accuracy
from nsb.metrics.activation_sparsity import ActivationSparsity
from nsb.metrics.base import Batch, WorkloadMetric
from nsb.metrics.connection_sparsity import connection_sparsity
from nsb.metrics.errors import MetricError
from nsb.metrics.footprint import footprint
from nsb.metrics.membrane_updates import MembraneUpdates
from nsb.metrics.mse import MSE
from nsb.metrics.parameter_count import parameter_count
from nsb.metrics.r2 import R2
from nsb.metrics.recorder import Recorder
from nsb.metrics.smape import SMAPE
from nsb.metrics.synaptic_operations import SynapticOperations

STATIC: dict[str, Callable[[nn.Module], Any]] = {
    "footprint": footprint,
    "connection_sparsity": connection_sparsity,
    "parameter_count": parameter_count,
}
WORKLOAD: dict[str, type[WorkloadMetric]] = {
    cls.name: cls for cls in (ActivationSparsity, SynapticOperations, MembraneUpdates, Accuracy, MSE, SMAPE, R2)
}
COMPLEXITY = ("footprint", "connection_sparsity", "activation_sparsity", "synaptic_operations")

Forward = Callable[[nn.Module, Tensor], Any]


def default_forward(model: nn.Module, inputs: Tensor) -> Any:
    """The model's output; nsb models return ``(outputs, state)``, of which the outputs are kept."""
    out = model(inputs)
    return out[0] if isinstance(out, (tuple, list)) else out


def _resolve(metrics: Sequence[str | WorkloadMetric]) -> tuple[list[str], list[WorkloadMetric]]:
    static, workload = [], []
    for m in metrics:
        if isinstance(m, WorkloadMetric):
            workload.append(m)
        elif m in STATIC:
            static.append(m)
        elif m in WORKLOAD:
            workload.append(WORKLOAD[m]())
        else:
            raise MetricError(unknown("metric", str(m), [*STATIC, *WORKLOAD]))
    return static, workload


def _split(batch: Any, index: int, batch_dim: int) -> tuple[Tensor, Tensor | None]:
    if isinstance(batch, Tensor):
        inputs, targets = batch, None
    elif isinstance(batch, (tuple, list)) and len(batch) == 2:
        inputs, targets = batch
    else:
        raise MetricError(f"batch {index}: expected (inputs, targets) or an inputs tensor, got {type(batch).__name__}"
                          + (f" of length {len(batch)}" if isinstance(batch, (tuple, list)) else ""))
    if not isinstance(inputs, Tensor):
        raise MetricError(f"batch {index}: inputs must be a tensor, got {type(inputs).__name__}")
    if inputs.dim() <= batch_dim:
        raise MetricError(f"batch {index}: inputs of shape {tuple(inputs.shape)} have no batch dimension "
                          f"{batch_dim}; nsb models take time-major [T, B, ...] (batch_dim=1), plain torch "
                          "models usually [B, ...] (batch_dim=0)")
    return inputs, targets


def measure(model: nn.Module, batches: Iterable[Any], metrics: Sequence[str | WorkloadMetric] = COMPLEXITY, *,
            forward: Forward = default_forward, batch_dim: int = 1, time_dim: int | None = 0,
            activations: Sequence[type[nn.Module]] = ()) -> dict[str, Any]:
    """Run ``model`` over ``batches`` once and return ``{metric name: value}``.

    batches:     an iterable of ``(inputs, targets)`` (or bare inputs when no correctness metric is
                 chosen), e.g. a DataLoader. nsb models take time-major inputs ``[T, B, ...]``.
    metrics:     names from ``STATIC`` and ``WORKLOAD``, or ``WorkloadMetric`` instances.
    forward:     ``(model, inputs) -> predictions``; reduce the output here (e.g. argmax over the
                 time-mean) so that predictions have the targets' shape.
    batch_dim:   the dimension of ``inputs`` that counts samples (1 for nsb, 0 for batch-first).
    time_dim:    the time dimension of ``inputs``, for synaptic operations' ``steps``; None = 1 step.
    activations: extra module classes whose outputs count as activations.
    """
    static, workload = _resolve(metrics)
    results: dict[str, Any] = {name: STATIC[name](model) for name in static}
    if not workload:
        return results
    needs = set().union(*(m.needs for m in workload))
    for m in workload:
        m.reset()
    params = next(iter(model.parameters()), None)
    device = params.device if params is not None else None
    modes = {m: m.training for m in model.modules()}
    seen = 0
    recorder = Recorder(model, synapses="synapses" in needs, activations="activations" in needs,
                        membranes="membranes" in needs, extra_activations=activations)
    try:
        model.eval()
        with recorder, torch.no_grad():
            for index, raw in enumerate(batches):
                inputs, targets = _split(raw, index, batch_dim)
                if device is not None:
                    inputs = inputs.to(device)
                recorder.clear()
                preds = forward(model, inputs)
                batch = Batch(preds=preds, targets=targets, samples=inputs.shape[batch_dim],
                              steps=inputs.shape[time_dim] if time_dim is not None else 1,
                              connections=recorder.connections, activations=recorder.activations,
                              neurons=recorder.neurons, ops=list(recorder.ops), spikes=dict(recorder.spikes),
                              updates=dict(recorder.updates))
                for m in workload:
                    m.update(batch)
                seen += 1
    finally:
        for module, training in modes.items():
            module.training = training
    if seen == 0:
        raise MetricError("no batches to measure: the batch iterable was empty")
    for m in workload:
        results[m.name] = m.compute()
    return results
