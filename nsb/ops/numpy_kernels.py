"""numpy kernels of every ``nsb`` op: the CPU reference a deployment is checked with, no torch needed.

Each kernel runs the whole sequence, ``X [T, B, N...]`` with its parameters and initial states, and
returns ``(S, *final_states)``. The arithmetic is the neuron's step of ``nsb/neurons/`` done in the
same order with the same float32 operations, so spikes match the trained model bit for bit except
where a membrane lands within rounding of the threshold.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from nsb.errors import NsbError


def _fire(u: np.ndarray) -> np.ndarray:
    return (u > 0).astype(u.dtype)


def _scalar(value: float, like: np.ndarray) -> np.floating:
    # the trained model multiplies float32 tensors by Python floats, which torch rounds to float32 first
    return like.dtype.type(value)


def lif(x: np.ndarray, v0: np.ndarray, *, decay: float, input_gain: float, v_threshold: float, v_reset: float,
        reset_mode: str) -> tuple[np.ndarray, np.ndarray]:
    return _lif_loop(x, v0, None, decay=decay, input_gain=input_gain, v_threshold=v_threshold, v_reset=v_reset,
                     reset_mode=reset_mode)[:2]


def rlif(x: np.ndarray, w_rec: np.ndarray, b_rec: np.ndarray, v0: np.ndarray, s0: np.ndarray, *, decay: float,
         input_gain: float, v_threshold: float, v_reset: float, reset_mode: str
         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    s, v, s_last = _lif_loop(x, v0, (w_rec, b_rec, s0), decay=decay, input_gain=input_gain,
                             v_threshold=v_threshold, v_reset=v_reset, reset_mode=reset_mode)
    return s, v, s_last


def _lif_loop(x, v, recurrent, *, decay, input_gain, v_threshold, v_reset, reset_mode):
    if reset_mode not in ("hard", "soft", "none"):
        raise NsbError(f"LIF reset_mode must be hard, soft or none, got '{reset_mode}'")
    decay, gain, theta, v_reset = (_scalar(a, x) for a in (decay, input_gain, v_threshold, v_reset))
    one = _scalar(1.0, x)
    spikes = np.empty_like(x)
    s = None
    if recurrent is not None:
        w_rec, b_rec, s = recurrent
    for t in range(x.shape[0]):
        x_t = x[t]
        if recurrent is not None:
            x_t = x_t + (s @ w_rec.T + b_rec)
        h = decay * v + gain * x_t
        s = _fire(h - theta)
        if reset_mode == "hard":
            v = h * (one - s) + s * v_reset
        elif reset_mode == "soft":
            v = h - s * theta
        else:
            v = h
        spikes[t] = s
    return spikes, v, s


def alif(x: np.ndarray, alpha: np.ndarray, rho: np.ndarray, v0: np.ndarray, b0: np.ndarray, *, v_threshold: float,
         beta: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    theta, beta_, one = _scalar(v_threshold, x), _scalar(beta, x), _scalar(1.0, x)
    v, b = v0, b0
    spikes = np.empty_like(x)
    for t in range(x.shape[0]):
        s_prev = _fire(v - (theta + beta_ * b))
        b = rho * b + (one - rho) * s_prev
        big_b = theta + beta_ * b
        v = alpha * v + x[t] - big_b * s_prev
        spikes[t] = _fire(v - big_b)
    return spikes, v, b


def adlif(x: np.ndarray, alpha: np.ndarray, beta: np.ndarray, a: np.ndarray, b: np.ndarray, v0: np.ndarray,
          w0: np.ndarray, *, v_threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    theta, one = _scalar(v_threshold, x), _scalar(1.0, x)
    v, w = v0, w0
    spikes = np.empty_like(x)
    for t in range(x.shape[0]):
        s_prev = _fire(v - theta)
        w = beta * w + a * v + b * s_prev
        v = alpha * (v - s_prev) + (one - alpha) * (x[t] - w)
        spikes[t] = _fire(v - theta)
    return spikes, v, w


def glif(x: np.ndarray, alpha_g: np.ndarray, beta_g: np.ndarray, gamma_g: np.ndarray, tau: np.ndarray,
         leak: np.ndarray, re_vth: np.ndarray, v_th: np.ndarray, c: np.ndarray, u0: np.ndarray, t0: np.ndarray
         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    start = int(t0)
    if start + x.shape[0] > c.shape[0]:
        raise NsbError(f"GLIF was built for {c.shape[0]} steps (its conductance is per step); steps {start} to "
                       f"{start + x.shape[0]} were requested")
    one = _scalar(1.0, x)
    u = u0
    spikes = np.empty_like(x)
    for t in range(x.shape[0]):
        s_prev = _fire(u - v_th)
        current = x[t] * (one - beta_g * (one - c[start + t]))
        u = ((one - alpha_g * (one - tau)) * u * (one - gamma_g * s_prev) - (one - alpha_g) * leak + current
             - (one - gamma_g) * re_vth * s_prev)
        spikes[t] = _fire(u - v_th)
    return spikes, u, np.asarray(t0 + x.shape[0], dtype=x.dtype)


KERNELS: dict[str, Callable[..., tuple[np.ndarray, ...]]] = {"LIF": lif, "RLIF": rlif, "ALIF": alif, "ADLIF": adlif, "GLIF": glif}
