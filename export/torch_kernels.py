"""The ``nsb`` ops as TorchScript functions, for ``model.ts`` (runs without nsb installed).

A traced model keeps calls to scripted functions as calls, so the time loop survives tracing and the
saved module accepts any sequence length. Each function repeats its neuron's step (``nsb/neurons/``)
with the same float32 operations in the same order; the tests hold them to the trained neurons.
"""

from __future__ import annotations

import warnings
from typing import Tuple

import torch
from torch import Tensor

# torch 2.13 marks torch.jit.script deprecated; TorchScript is still what deployment users load
warnings.filterwarnings("ignore", message=r"`torch\.jit\.script` is deprecated", category=DeprecationWarning)



@torch.jit.script
def _lif_reset(h: Tensor, s: Tensor, v_threshold: float, v_reset: float, reset: int) -> Tensor:
    """LIF's reset, shared by LIF and RLIF: 0 hard, 1 soft, 2 none (``nsb.kernels`` reset-mode ids)."""
    if reset == 0:
        return h * (1 - s) + s * v_reset
    if reset == 1:
        return h - s * v_threshold
    return h


@torch.jit.script
def lif_sequence(x: Tensor, v: Tensor, decay: float, input_gain: float, v_threshold: float, v_reset: float,
                 reset: int) -> Tuple[Tensor, Tensor]:
    spikes = []
    for t in range(x.shape[0]):
        h = decay * v + input_gain * x[t]
        s = (h - v_threshold > 0).to(h.dtype)
        v = _lif_reset(h, s, v_threshold, v_reset, reset)
        spikes.append(s)
    return torch.stack(spikes), v


@torch.jit.script
def rlif_sequence(x: Tensor, w_rec: Tensor, b_rec: Tensor, v: Tensor, s: Tensor, decay: float, input_gain: float,
                  v_threshold: float, v_reset: float, reset: int) -> Tuple[Tensor, Tensor, Tensor]:
    spikes = []
    for t in range(x.shape[0]):
        h = decay * v + input_gain * (x[t] + torch.nn.functional.linear(s, w_rec, b_rec))
        s = (h - v_threshold > 0).to(h.dtype)
        v = _lif_reset(h, s, v_threshold, v_reset, reset)
        spikes.append(s)
    return torch.stack(spikes), v, s


@torch.jit.script
def alif_sequence(x: Tensor, alpha: Tensor, rho: Tensor, v: Tensor, b: Tensor, v_threshold: float,
                  beta: float) -> Tuple[Tensor, Tensor, Tensor]:
    spikes = []
    for t in range(x.shape[0]):
        s_prev = (v - (v_threshold + beta * b) > 0).to(v.dtype)
        b = rho * b + (1 - rho) * s_prev
        big_b = v_threshold + beta * b
        v = alpha * v + x[t] - big_b * s_prev
        spikes.append((v - big_b > 0).to(v.dtype))
    return torch.stack(spikes), v, b


@torch.jit.script
def adlif_sequence(x: Tensor, alpha: Tensor, beta: Tensor, a: Tensor, b: Tensor, v: Tensor, w: Tensor,
                   v_threshold: float) -> Tuple[Tensor, Tensor, Tensor]:
    spikes = []
    for t in range(x.shape[0]):
        s_prev = (v - v_threshold > 0).to(v.dtype)
        w = beta * w + a * v + b * s_prev
        v = alpha * (v - s_prev) + (1 - alpha) * (x[t] - w)
        spikes.append((v - v_threshold > 0).to(v.dtype))
    return torch.stack(spikes), v, w


@torch.jit.script
def glif_sequence(x: Tensor, alpha_g: Tensor, beta_g: Tensor, gamma_g: Tensor, tau: Tensor, leak: Tensor,
                  re_vth: Tensor, v_th: Tensor, c: Tensor, u: Tensor, t0: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
    start = int(t0.item())
    if start + x.shape[0] > c.shape[0]:
        raise RuntimeError("GLIF: more steps than the conductance was built for")
    spikes = []
    for t in range(x.shape[0]):
        s_prev = (u - v_th > 0).to(u.dtype)
        current = x[t] * (1 - beta_g * (1 - c[start + t]))
        u = ((1 - alpha_g * (1 - tau)) * u * (1 - gamma_g * s_prev) - (1 - alpha_g) * leak + current
             - (1 - gamma_g) * re_vth * s_prev)
        spikes.append((u - v_th > 0).to(u.dtype))
    return torch.stack(spikes), u, t0 + x.shape[0]
