"""Temporal effective batch normalisation (TEBN, Duan et al. 2022).

    y[t] = p[t] · BN(x)[t]

BN statistics are shared over all T·B samples (as :class:`nsb.norm.bn.BN`); each time step has its
own learnable scale p[t] (initialised to 1), so a layer is built for at most ``time_steps`` steps.
``t0`` is the index of the chunk's first step when a stream is processed in pieces.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from nsb.norm.bn import BN
from nsb.norm.time_index import check_steps


class TEBN(BN):
    def __init__(self, num_features: int, *, time_steps: int, eps: float = 1e-5, momentum: float = 0.1) -> None:
        super().__init__(num_features, eps=eps, momentum=momentum)
        self.time_steps = int(time_steps)
        self.p = nn.Parameter(torch.ones(time_steps))

    def forward(self, x: Tensor, t0: int = 0) -> Tensor:
        check_steps("TEBN", t0, x.shape[0], self.time_steps)
        scale = self.p[t0:t0 + x.shape[0]].reshape(-1, *([1] * (x.dim() - 1)))
        return super().forward(x) * scale
