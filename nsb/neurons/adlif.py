"""Adaptive LIF with a subthreshold coupling (Bittar & Garner 2022), as the seed's ``adLIF``.

Per neuron, all four parameters learned and clamped to their ranges at every use::

    x̃ = BN(x)                                         over all T·B samples, momentum 0.05
    w[t] = β·w[t−1] + a·v[t−1] + b·s[t−1]
    v[t] = α·(v[t−1] − s[t−1]) + (1 − α)·(x̃[t] − w[t])
    s[t] = H(v[t] − θ)

α ∈ [e^(−1/5), e^(−1/25)], β ∈ [e^(−1/30), e^(−1/120)], a ∈ [−1, 1], b ∈ [0, 2], each initialised
uniformly over its range (``init_zero`` sets a = b = 0). State ``(v, w)``; s[t−1] = H(v[t−1] − θ) is
recomputed. The recurrent synapse is the seed's: an orthogonally initialised N×N matrix with its
diagonal held at zero, applied as ``s @ W`` without bias. The input BN makes a chunked stream equal
to one pass only in eval mode (running statistics); ``input_norm=False`` drops it.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from nsb.errors import NsbError
from nsb.neurons.base import ExportOp, Neuron, State
from nsb.surrogate import Fire


def adlif_step(x: Tensor, v: Tensor, w: Tensor, *, alpha: Tensor, beta: Tensor, a: Tensor, b: Tensor,
               threshold: float, fire: Fire, detach_reset: bool = False) -> tuple[Tensor, Tensor, Tensor]:
    """One adLIF step; returns ``(s[t], v[t], w[t])``."""
    s_prev = fire(v - threshold)
    sr = s_prev.detach() if detach_reset else s_prev
    w = beta * w + a * v + b * sr
    v = alpha * (v - sr) + (1 - alpha) * (x - w)
    return fire(v - threshold), v, w


class ZeroDiagonalRecurrent(nn.Module):
    """``s @ W`` with W orthogonal at init and its diagonal forced to zero (no self-connection)."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(size, size))
        nn.init.orthogonal_(self.weight)

    def forward(self, s: Tensor) -> Tensor:
        eye = torch.eye(self.weight.shape[0], dtype=torch.bool, device=self.weight.device)
        return s @ self.weight.masked_fill(eye, 0.0)


class AdLIF(Neuron):
    state_names = ("v", "w")

    def __init__(self, size: int, *, threshold: float = 0.3, input_norm: bool = True, init_zero: bool = False,
                 alpha_tau: tuple[float, float] = (5.0, 25.0), beta_tau: tuple[float, float] = (30.0, 120.0),
                 a_range: tuple[float, float] = (-1.0, 1.0), b_range: tuple[float, float] = (0.0, 2.0),
                 surrogate: str = "rectangle", alpha: float = 1.0, recurrent: bool = False,
                 backend: str = "auto") -> None:
        super().__init__(size, surrogate=surrogate, alpha=alpha, recurrent=recurrent, backend=backend)
        self.threshold = float(threshold)
        self.alpha_lim = (math.exp(-1 / alpha_tau[0]), math.exp(-1 / alpha_tau[1]))
        self.beta_lim = (math.exp(-1 / beta_tau[0]), math.exp(-1 / beta_tau[1]))
        self.a_lim = tuple(a_range)
        self.b_lim = tuple(b_range)
        self.alpha = nn.Parameter(torch.empty(size).uniform_(*self.alpha_lim))
        self.beta = nn.Parameter(torch.empty(size).uniform_(*self.beta_lim))
        self.a = nn.Parameter(torch.zeros(size) if init_zero else torch.empty(size).uniform_(*self.a_lim))
        self.b = nn.Parameter(torch.zeros(size) if init_zero else torch.empty(size).uniform_(*self.b_lim))
        self.norm = nn.BatchNorm1d(size, momentum=0.05) if input_norm else None

    def build_recurrent(self) -> nn.Module:
        return ZeroDiagonalRecurrent(self.size)

    @property
    def trace_decay(self) -> Tensor:
        return self.alpha.clamp(*self.alpha_lim).detach()

    def forward_fused(self, x: Tensor, state: State | None) -> tuple[Tensor, State]:
        from nsb.kernels.adaptive import FusedADLIF

        v0, w0 = self.initial_state(x[0]) if state is None else state
        s, v, w = FusedADLIF.apply(x, self.alpha.clamp(*self.alpha_lim), self.beta.clamp(*self.beta_lim),
                                   self.a.clamp(*self.a_lim), self.b.clamp(*self.b_lim), v0, w0, self.threshold,
                                   self.surrogate.name, float(self.surrogate.alpha), self.policy.detach_reset)
        return s, (v.to(x.dtype), w.to(x.dtype))

    @torch.no_grad()
    def export_op(self) -> ExportOp:
        """The op after the input BN, which the exporter writes as standard ops (``self.norm``)."""
        if self.recurrent is not None:
            raise NsbError("recurrent adLIF layers have no nsb ONNX op yet; export a feed-forward adLIF model")
        return ExportOp("ADLIF", {"v_threshold": self.threshold},
                        (self.alpha.clamp(*self.alpha_lim), self.beta.clamp(*self.beta_lim),
                         self.a.clamp(*self.a_lim), self.b.clamp(*self.b_lim)))

    def forward(self, x: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        if self.norm is not None:
            self.check_input(x)
            x = self.norm(x.reshape(-1, x.shape[-1])).reshape(x.shape)
        return super().forward(x, state)

    def step(self, x: Tensor, state: State, fire: Fire) -> tuple[Tensor, State]:
        s, v, w = adlif_step(x, state[0], state[1], alpha=self.alpha.clamp(*self.alpha_lim),
                             beta=self.beta.clamp(*self.beta_lim), a=self.a.clamp(*self.a_lim),
                             b=self.b.clamp(*self.b_lim), threshold=self.threshold, fire=fire,
                             detach_reset=self.policy.detach_reset)
        return s, (v, w)
