"""Layer normalisation per (t, b) over the features, independent of time (Ba et al. 2016).

For conv maps ``[T, B, C, H, W]`` it normalises over C·H·W with one affine pair per channel.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class LayerNorm(nn.Module):
    def __init__(self, num_features: int, *, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))

    def forward(self, x: Tensor, t0: int = 0) -> Tensor:
        if x.dim() == 3:
            return F.layer_norm(x, x.shape[-1:], self.weight, self.bias, self.eps)
        y = F.layer_norm(x, x.shape[2:], None, None, self.eps)
        shape = (1, 1, -1) + (1,) * (x.dim() - 3)
        return y * self.weight.reshape(shape) + self.bias.reshape(shape)
