"""Footprint: the bytes a deployed model must store.

    footprint = Σ_parameters numel·element_size + Σ_buffers numel·element_size

Every buffer counts, persistent or not (BatchNorm running statistics and ``num_batches_tracked``,
input windows); zero weights still count (that is connection sparsity's job); a tensor shared by
two modules (tied embedding/decoder) counts once. Same as NeuroBench.
"""

from __future__ import annotations

from torch import nn


def footprint(model: nn.Module) -> int:
    params = sum(p.numel() * p.element_size() for p in model.parameters())
    buffers = sum(b.numel() * b.element_size() for b in model.buffers())
    return params + buffers
