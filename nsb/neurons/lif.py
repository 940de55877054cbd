"""Leaky integrate-and-fire, the family every deployable nsb op shares (DESIGN §4).

Per element, with v the membrane after reset::

    h[t] = decay · v[t−1] + input_gain · x[t]                     charge
    s[t] = H(h[t] − threshold)                                     fire (strict: h > θ)
    v[t] = h[t]·(1 − s[t]) + s[t]·v_reset      reset "hard"
           h[t] − s[t]·threshold               reset "soft"
           h[t]                                reset "none"

Defaults are the seed's constructor defaults (decay 0.2, threshold 0.3, v_reset 0, hard reset).
The seed applies the hard reset in the next step's charge, ``v[t] = λ·v[t−1]·(1 − s[t−1]) +
V_rest·s[t−1] + x[t]``: with V_rest = 0, as in every experiment of the seed, the spikes are the
same. Its soft reset subtracts θ undecayed at the next step (ours subtracts it before the decay);
see ``docs/neurons.md``.
"""

from __future__ import annotations

from typing import Literal

from torch import Tensor

from nsb.errors import ConfigError
import torch

from nsb.neurons.base import ExportOp, Neuron, State
from nsb.surrogate import Fire

ResetMode = Literal["hard", "soft", "none"]
Backend = Literal["auto", "torch", "cuda"]
RESET_MODES = ("hard", "soft", "none")


def lif_step(x: Tensor, v: Tensor, *, decay: Tensor | float, input_gain: Tensor | float, threshold: Tensor | float,
             v_reset: float, reset: str, fire: Fire, detach_reset: bool = False) -> tuple[Tensor, Tensor]:
    """One LIF step; returns ``(s[t], v[t])``. The single home of this math in PyTorch."""
    h = decay * v + input_gain * x
    s = fire(h - threshold)
    sr = s.detach() if detach_reset else s
    if reset == "hard":
        v = h * (1 - sr) + sr * v_reset
    elif reset == "soft":
        v = h - sr * threshold
    else:
        v = h
    return s, v


def check_reset(reset: str) -> str:
    if reset not in RESET_MODES:
        raise ConfigError(f"unknown reset mode '{reset}'; choose one of: {', '.join(RESET_MODES)}")
    return reset


class LIF(Neuron):
    """Leaky integrate-and-fire; state ``(v,)`` (plus ``s`` when recurrent)."""

    state_names = ("v",)

    def __init__(self, size: int, *, decay: float = 0.2, threshold: float = 0.3, v_reset: float = 0.0,
                 reset: ResetMode = "hard", input_gain: float = 1.0, surrogate: str = "rectangle",
                 alpha: float = 1.0, recurrent: bool = False, backend: Backend = "auto") -> None:
        super().__init__(size, surrogate=surrogate, alpha=alpha, recurrent=recurrent, backend=backend)
        if not 0.0 <= decay <= 1.0:
            raise ConfigError(f"LIF decay must be in [0, 1], got {decay}")
        self.decay = float(decay)
        self.threshold = float(threshold)
        self.v_reset = float(v_reset)
        self.reset = check_reset(reset)
        self.input_gain = float(input_gain)

    @property
    def leak(self) -> Tensor | float:
        return self.decay

    @property
    def trace_decay(self) -> Tensor | float:
        leak = self.leak
        return leak.detach() if isinstance(leak, Tensor) else leak

    fused_recurrence = True

    def fused_unsupported(self, x: Tensor) -> str | None:
        if self.recurrent is not None and isinstance(self.leak, Tensor):
            return "a learned decay (PLIF) with recurrence"
        if self.recurrent is not None and x.dim() != 3:
            return "a recurrent layer's input must be [T, B, N]"
        return super().fused_unsupported(x)

    def forward_fused(self, x: Tensor, state: State | None) -> tuple[Tensor, State]:
        from nsb.kernels.lif import FusedRLIF, fused_lif

        if self.recurrent is not None:
            v0, s0 = (torch.zeros_like(x[0]), torch.zeros_like(x[0])) if state is None else state
            attrs = {"decay": float(self.leak), "input_gain": self.input_gain, "v_threshold": self.threshold,
                     "v_reset": self.v_reset, "reset_mode": self.reset}
            s, v, s_last = FusedRLIF.apply(x, self.recurrent.weight, self.recurrent.bias, v0, s0, None, attrs,
                                           self.surrogate.name, float(self.surrogate.alpha), self.policy.detach_reset)
            return s, (v.to(x.dtype), s_last.to(x.dtype))
        v0 = torch.zeros_like(x[0]) if state is None else state[0]
        leak = self.leak
        learned = leak if isinstance(leak, Tensor) else None
        attrs = {"decay": float(leak), "input_gain": self.input_gain, "v_threshold": self.threshold,
                 "v_reset": self.v_reset, "reset_mode": self.reset}
        s, v = fused_lif(x, v0, attrs, self.surrogate.name, float(self.surrogate.alpha), self.policy.detach_reset,
                         decay=learned)
        return s, (v.to(x.dtype),)

    def step(self, x: Tensor, state: State, fire: Fire) -> tuple[Tensor, State]:
        s, v = lif_step(x, state[0], decay=self.leak, input_gain=self.input_gain, threshold=self.threshold,
                        v_reset=self.v_reset, reset=self.reset, fire=fire, detach_reset=self.policy.detach_reset)
        return s, (v,)

    @torch.no_grad()
    def export_op(self) -> ExportOp:
        attrs: dict[str, float | str] = {"decay": float(self.leak), "input_gain": self.input_gain,
                                         "v_threshold": self.threshold, "v_reset": self.v_reset,
                                         "reset_mode": self.reset}
        if self.recurrent is None:
            return ExportOp("LIF", attrs)
        return ExportOp("RLIF", attrs, (self.recurrent.weight.detach().clone(), self.recurrent.bias.detach().clone()))

    def extra_repr(self) -> str:
        return (f"{super().extra_repr()}, decay={self.decay}, threshold={self.threshold}, "
                f"v_reset={self.v_reset}, reset={self.reset}, input_gain={self.input_gain}")
