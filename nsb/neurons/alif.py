"""Adaptive LIF (Yin et al. 2021), as the seed's ``ALIF``.

Per neuron, with learnable time constants τ_m and τ_adp::

    α = exp(−1/τ_m),  ρ = exp(−1/τ_adp)
    b[t] = ρ·b[t−1] + (1 − ρ)·s[t−1]                 adaptation
    B[t] = θ + β·b[t]                                 adaptive threshold
    v[t] = α·v[t−1] + x[t] − B[t]·s[t−1]             soft reset by the current threshold
    s[t] = H(v[t] − B[t])                            gradient also flows into B

State ``(v, b)`` with v before reset; s[t−1] = H(v[t−1] − θ − β·b[t−1]) is recomputed from it
(the very same operations, so the same bits), which keeps the state to the two tensors the ONNX
``ALIF`` op carries. As in the seed the (1 − α) input factor of the paper is dropped, τ_m ~ N(20, 5)
and τ_adp ~ N(700, 25) are unconstrained, β = 1.8, b[0] = 0.01, v[0] = 0.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from nsb.errors import NsbError
from nsb.neurons.base import ExportOp, Neuron, State
from nsb.surrogate import Fire


def alif_step(x: Tensor, v: Tensor, b: Tensor, *, alpha: Tensor, rho: Tensor, threshold: float, beta: float,
              fire: Fire, detach_reset: bool = False) -> tuple[Tensor, Tensor, Tensor]:
    """One ALIF step; returns ``(s[t], v[t], b[t])``."""
    s_prev = fire(v - (threshold + beta * b))
    sr = s_prev.detach() if detach_reset else s_prev
    b = rho * b + (1 - rho) * sr
    big_b = threshold + beta * b
    v = alpha * v + x - big_b * sr
    return fire(v - big_b), v, b


class ALIF(Neuron):
    state_names = ("v", "b")

    def __init__(self, size: int, *, threshold: float = 0.3, beta: float = 1.8, b0: float = 0.01,
                 tau_m: tuple[float, float] = (20.0, 5.0), tau_adp: tuple[float, float] = (700.0, 25.0),
                 surrogate: str = "rectangle", alpha: float = 1.0, recurrent: bool = False,
                 backend: str = "auto") -> None:
        super().__init__(size, surrogate=surrogate, alpha=alpha, recurrent=recurrent, backend=backend)
        self.threshold = float(threshold)
        self.beta = float(beta)
        self.b0 = float(b0)
        self.tau_m = nn.Parameter(torch.empty(size).normal_(*tau_m))
        self.tau_adp = nn.Parameter(torch.empty(size).normal_(*tau_adp))

    def initial_state(self, x: Tensor) -> State:
        return torch.zeros_like(x), torch.full_like(x, self.b0)

    @property
    def trace_decay(self) -> Tensor:
        return torch.exp(-1.0 / self.tau_m).detach()

    def step(self, x: Tensor, state: State, fire: Fire) -> tuple[Tensor, State]:
        s, v, b = alif_step(x, state[0], state[1], alpha=torch.exp(-1.0 / self.tau_m),
                            rho=torch.exp(-1.0 / self.tau_adp), threshold=self.threshold, beta=self.beta,
                            fire=fire, detach_reset=self.policy.detach_reset)
        return s, (v, b)

    def forward_fused(self, x: Tensor, state: State | None) -> tuple[Tensor, State]:
        from nsb.kernels.adaptive import FusedALIF

        v0, b0 = self.initial_state(x[0]) if state is None else state
        s, v, b = FusedALIF.apply(x, torch.exp(-1.0 / self.tau_m), torch.exp(-1.0 / self.tau_adp), v0, b0,
                                  self.threshold, self.beta, self.surrogate.name, float(self.surrogate.alpha),
                                  self.policy.detach_reset)
        return s, (v.to(x.dtype), b.to(x.dtype))

    @torch.no_grad()
    def export_op(self) -> ExportOp:
        if self.recurrent is not None:
            raise NsbError("recurrent ALIF layers have no nsb ONNX op yet; export a feed-forward ALIF model or use rlif")
        return ExportOp("ALIF", {"v_threshold": self.threshold, "beta": self.beta},
                        (torch.exp(-1.0 / self.tau_m), torch.exp(-1.0 / self.tau_adp)))

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, threshold={self.threshold}, beta={self.beta}, b0={self.b0}"
