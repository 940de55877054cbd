"""Parametric LIF (Fang et al. 2021): LIF whose decay is learned, one scalar per layer.

    decay = σ(w),  then the LIF step of :mod:`nsb.neurons.lif` (hard reset by default)

``w`` starts at logit(init_decay); the seed starts it at 0 (decay 0.5) and ignores its ``decay``
argument, which ``init_decay=0.5`` reproduces. Export folds σ(w) to a constant decay.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from nsb.errors import ConfigError
from nsb.neurons.lif import LIF, ResetMode


class PLIF(LIF):
    def __init__(self, size: int, *, init_decay: float = 0.5, threshold: float = 0.3, v_reset: float = 0.0,
                 reset: ResetMode = "hard", input_gain: float = 1.0, surrogate: str = "rectangle",
                 alpha: float = 1.0, recurrent: bool = False, backend: str = "auto") -> None:
        if not 0.0 < init_decay < 1.0:
            raise ConfigError(f"PLIF init_decay must be in (0, 1), got {init_decay}")
        super().__init__(size, decay=init_decay, threshold=threshold, v_reset=v_reset, reset=reset,
                         input_gain=input_gain, surrogate=surrogate, alpha=alpha, recurrent=recurrent, backend=backend)
        self.w = nn.Parameter(torch.tensor(math.log(init_decay / (1 - init_decay))))

    @property
    def leak(self) -> Tensor:
        return torch.sigmoid(self.w)
