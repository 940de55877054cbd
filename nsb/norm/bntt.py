"""Batch normalisation through time (BNTT, Kim & Panda 2021).

    y[t] = γ[t] · (x[t] − μ[t]) / sqrt(σ²[t] + ε)

Each time step has its own statistics (over the batch, and H·W for maps), running estimates and
scale γ[t]; as in the paper there is no shift β (the bias is dropped so that a silent input stays
silent). Built for at most ``time_steps`` steps; ``t0`` selects the steps of a chunk.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from nsb.norm.time_index import check_steps


class BNTT(nn.Module):
    def __init__(self, num_features: int, *, time_steps: int, eps: float = 1e-4, momentum: float = 0.1) -> None:
        super().__init__()
        self.time_steps = int(time_steps)
        self.steps = nn.ModuleList(nn.BatchNorm1d(num_features, eps=eps, momentum=momentum) for _ in range(time_steps))
        for bn in self.steps:
            bn.bias.requires_grad_(False)
            nn.init.zeros_(bn.bias)

    def forward(self, x: Tensor, t0: int = 0) -> Tensor:
        check_steps("BNTT", t0, x.shape[0], self.time_steps)
        out = []
        for t in range(x.shape[0]):
            xt = x[t]
            bn = self.steps[t0 + t]
            out.append(bn(xt.flatten(2)).reshape(xt.shape) if xt.dim() > 2 else bn(xt))
        return torch.stack(out)
