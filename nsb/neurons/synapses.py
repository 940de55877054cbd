"""Recurrent synapses a neuron declaration can ask for besides the default ``nn.Linear(N, N)``."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class ZeroDiagonalRecurrent(nn.Module):
    """``s @ W`` with W orthogonal at init and its diagonal forced to zero (no self-connection), the
    seed's adLIF recurrence (no bias)."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(size, size))
        nn.init.orthogonal_(self.weight)

    def effective_weight(self) -> Tensor:
        eye = torch.eye(self.weight.shape[0], dtype=torch.bool, device=self.weight.device)
        return self.weight.masked_fill(eye, 0.0)

    def forward(self, s: Tensor) -> Tensor:
        return s @ self.effective_weight()
