"""Parameter count: Σ numel over the model's parameters (buffers excluded, shared tensors once)."""

from __future__ import annotations

from torch import nn


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
