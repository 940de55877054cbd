"""Connection sparsity: the fraction of exactly-zero synaptic weights.

    sparsity = Σ_l zeros(W_l) / Σ_l numel(W_l),   rounded to 4 decimals (as NeuroBench)

over every connection layer (:mod:`nsb.metrics.layers`). Only weight matrices count, for every
layer type: Linear/Conv ``weight``; cells ``weight_ih``, ``weight_hh``; full RNN/LSTM/GRU every
``weight_ih_l*``, ``weight_hh_l*`` (and ``weight_hr_l*``, ``_reverse``); adLIF's recurrent matrix
with its masked diagonal as zeros. NeuroBench also counts the biases of recurrent layers and cells
but not of Linear/Conv; one policy for every layer is the point of the metric.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from nsb.metrics.errors import MetricError
from nsb.metrics.layers import CELLS, RECURRENT, connection_layers, counts_itself, counts_per_step
from nsb.neurons.synapses import ZeroDiagonalRecurrent


def weight_matrices(layer: nn.Module) -> list[Tensor]:
    if counts_itself(layer) or counts_per_step(layer):  # DCLS's kernel, a dense neuron's weights; SDSA has none
        return layer.weight_matrices()
    if isinstance(layer, ZeroDiagonalRecurrent):
        return [layer.effective_weight()]
    if isinstance(layer, CELLS + RECURRENT):
        return [p for name, p in layer.named_parameters(recurse=False) if name.startswith("weight_")]
    return [layer.weight]


def connection_sparsity(model: nn.Module) -> float:
    layers = connection_layers(model)
    if not layers:
        raise MetricError(f"connection sparsity: {type(model).__name__} has no connection layer (Linear, Conv, "
                          "RNN/LSTM/GRU or cell) to count")
    zeros = total = 0
    with torch.no_grad():
        for layer in layers.values():
            for w in weight_matrices(layer):
                zeros += int((w == 0).sum())
                total += w.numel()
    return round(zeros / total, 4)
