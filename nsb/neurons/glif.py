"""Gated LIF (Yao et al. 2022), as the seed's ``GLIF``.

Every parameter is stored as a logit and used through σ, per neuron; the conductance c is per
(time step, neuron), so a layer is built for at most ``time_steps`` steps::

    I[t] = x[t]·(1 − β_g·(1 − c[t]))
    u[t] = (1 − α_g·(1 − τ))·u[t−1]·(1 − γ_g·s[t−1]) − (1 − α_g)·leak + I[t] − (1 − γ_g)·reVth·s[t−1]
    s[t] = H(u[t] − V_th)                              gradient also flows into V_th

Initial σ values: gates α_g, β_g, γ_g = 0.65, 0.35, 0.65 (Yao's ``(g − 0.5)/2 + 0.5`` of the gate
init [0.8, 0.2, 0.8]); τ = 0.25; V_th = threshold; leak = 0.0625; reVth = threshold; c = 0.5.
State ``(u, t)``: the membrane and the index of the next step (a 0-d integer tensor, so a chunked
stream picks up the right c[t]); s[t−1] = H(u[t−1] − V_th) is recomputed.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from nsb.errors import ConfigError, NsbError
from nsb.neurons.base import ExportOp, Neuron, State
from nsb.surrogate import Fire


def glif_step(x: Tensor, u: Tensor, *, alpha_g: Tensor, beta_g: Tensor, gamma_g: Tensor, tau: Tensor,
              leak: Tensor, re_vth: Tensor, v_th: Tensor, c: Tensor, fire: Fire,
              detach_reset: bool = False) -> tuple[Tensor, Tensor]:
    """One GLIF step; every parameter already through σ. Returns ``(s[t], u[t])``."""
    s_prev = fire(u - v_th)
    sr = s_prev.detach() if detach_reset else s_prev
    current = x * (1 - beta_g * (1 - c))
    u = ((1 - alpha_g * (1 - tau)) * u * (1 - gamma_g * sr) - (1 - alpha_g) * leak + current
         - (1 - gamma_g) * re_vth * sr)
    return fire(u - v_th), u


def _logit(p: float) -> float:
    if not 0.0 < p < 1.0:
        raise ConfigError(f"GLIF parameters live in (0, 1) through a sigmoid; got {p} (GLIF needs 0 < threshold < 1)")
    return float(torch.logit(torch.tensor(p)))


class GLIF(Neuron):
    state_names = ("u", "t")

    def __init__(self, size: int, *, time_steps: int, threshold: float = 0.3, gates: tuple[float, float, float] = (0.8, 0.2, 0.8),
                 tau: float = 0.25, leak: float = 0.0625, conductance: float = 0.5,
                 surrogate: str = "rectangle", alpha: float = 1.0, recurrent: bool = False,
                 backend: str = "auto") -> None:
        super().__init__(size, surrogate=surrogate, alpha=alpha, recurrent=recurrent, backend=backend)
        if time_steps < 1:
            raise ConfigError(f"GLIF needs time_steps >= 1 (its conductance is per step), got {time_steps}")
        self.time_steps = int(time_steps)

        def per_neuron(p: float) -> nn.Parameter:
            return nn.Parameter(torch.full((size,), _logit(p)))

        self.alpha_g, self.beta_g, self.gamma_g = (per_neuron((g - 0.5) * 0.5 + 0.5) for g in gates)
        self.tau = per_neuron(tau)
        self.leak = per_neuron(leak)
        self.re_vth = per_neuron(threshold)
        self.v_th = per_neuron(threshold)
        self.conductance = nn.Parameter(torch.full((time_steps, size), _logit(conductance)))

    def initial_state(self, x: Tensor) -> State:
        return torch.zeros_like(x), torch.zeros((), dtype=torch.long, device=x.device)

    @property
    def trace_decay(self) -> Tensor:
        return (1 - torch.sigmoid(self.alpha_g) * (1 - torch.sigmoid(self.tau))).detach()

    def step(self, x: Tensor, state: State, fire: Fire) -> tuple[Tensor, State]:
        u, t = state
        index = int(t)
        if index >= self.time_steps:
            raise NsbError(f"GLIF was built for {self.time_steps} steps (its conductance is per step) but step "
                           f"{index + 1} was requested; set the model's time_steps to the sequence length")
        sg = torch.sigmoid
        s, u = glif_step(x, u, alpha_g=sg(self.alpha_g), beta_g=sg(self.beta_g), gamma_g=sg(self.gamma_g),
                         tau=sg(self.tau), leak=sg(self.leak), re_vth=sg(self.re_vth), v_th=sg(self.v_th),
                         c=sg(self.conductance[index]), fire=fire, detach_reset=self.policy.detach_reset)
        return s, (u, t + 1)

    def forward_fused(self, x: Tensor, state: State | None) -> tuple[Tensor, State]:
        from nsb.kernels.adaptive import fused_glif

        u0, t = self.initial_state(x[0]) if state is None else state
        start = int(t)
        if start + x.shape[0] > self.time_steps:
            raise NsbError(f"GLIF was built for {self.time_steps} steps (its conductance is per step) but steps "
                           f"{start + 1} to {start + x.shape[0]} were requested; set the model's time_steps")
        sg = torch.sigmoid
        params = tuple(sg(p) for p in (self.alpha_g, self.beta_g, self.gamma_g, self.tau, self.leak, self.re_vth,
                                       self.v_th))
        s, u = fused_glif(x, params, sg(self.conductance), u0, start, self.surrogate.name,
                          float(self.surrogate.alpha), self.policy.detach_reset)
        return s, (u.to(x.dtype), t + x.shape[0])

    @torch.no_grad()
    def export_op(self) -> ExportOp:
        if self.recurrent is not None:
            raise NsbError("recurrent GLIF layers have no nsb ONNX op yet; export a feed-forward GLIF model")
        sg = torch.sigmoid
        return ExportOp("GLIF", {}, tuple(sg(p) for p in (self.alpha_g, self.beta_g, self.gamma_g, self.tau, self.leak,
                                                          self.re_vth, self.v_th, self.conductance)))
