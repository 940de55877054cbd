"""The kernel bodies built for the CPU with the system C++ compiler, loaded with ctypes.

Built once per source hash into ``$NSB_CACHE`` (default ``~/.cache/nsb``); ``-ffp-contract=off``
keeps the compiler from fusing multiply-adds, as the device code's ``__fmul_rn``/``__fadd_rn`` do.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path

import numpy as np

from nsb.errors import NsbError
from nsb.kernels import RESET_IDS, SEGMENT, SURROGATE_IDS, source_dir

SOURCES = ("nsb_math.cuh", "lif.cuh", "adaptive.cuh", "storage.cuh", "neuron_kernels.cuh", "cpu_reference.cpp")


def cache_dir() -> Path:
    return Path(os.environ.get("NSB_CACHE", Path.home() / ".cache" / "nsb"))


def compiler() -> str:
    for name in (os.environ.get("CXX"), "c++", "g++", "clang++"):
        if name and shutil.which(name):
            return name
    raise NsbError("no C++ compiler found (tried $CXX, c++, g++, clang++); install one, e.g. apt install g++")


@lru_cache(maxsize=1)
def library() -> ctypes.CDLL:
    src = source_dir()
    digest = hashlib.sha256(b"".join((src / f).read_bytes() for f in SOURCES)).hexdigest()[:16]
    target = cache_dir() / f"libnsb_kernels_cpu_{digest}.so"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(suffix=".so", dir=target.parent)
        os.close(fd)
        cmd = [compiler(), "-O2", "-std=c++17", "-fPIC", "-shared", "-ffp-contract=off", str(src / "cpu_reference.cpp"),
               "-o", tmp]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            Path(tmp).unlink(missing_ok=True)
            first = (done.stderr.strip().splitlines() or ["?"])[0]
            raise NsbError(f"building the CPU kernels failed ({first[:200]}); command: {' '.join(cmd)}")
        os.replace(tmp, target)
    lib = ctypes.CDLL(str(target))
    _declare(lib)
    return lib


_F = ctypes.POINTER(ctypes.c_float)
_fl, _i, _l = ctypes.c_float, ctypes.c_int, ctypes.c_long


def _declare(lib: ctypes.CDLL) -> None:
    lib.nsb_lif_forward.argtypes = [_F, _F, _F, _F, _F, _fl, _fl, _fl, _fl, _i, _i, _l]
    lib.nsb_lif_backward.argtypes = [_F, _F, _F, _F, _F, _F, _F, _fl, _fl, _fl, _fl, _i, _i, _l, _i, _fl, _i]
    lib.nsb_alif_forward.argtypes = [_F] * 10 + [_fl, _fl, _i, _l, _i]
    lib.nsb_alif_backward.argtypes = [_F] * 13 + [_fl, _fl, _i, _l, _i, _i, _fl, _i]
    lib.nsb_adlif_forward.argtypes = [_F] * 12 + [_fl, _i, _l, _i]
    lib.nsb_adlif_backward.argtypes = [_F] * 14 + [_fl, _i, _l, _i, _i, _fl, _i]
    lib.nsb_glif_forward.argtypes = [_F, _F, _F, _i, _F, _F, _F, _F, _F, _F, _i, _l, _i]
    lib.nsb_glif_backward.argtypes = [_F] * 6 + [_i] + [_F] * 4 + [_i, _l, _i, _i, _fl, _i]
    lib.nsb_rlif_forward.argtypes = [_F] * 9 + [_fl, _fl, _fl, _fl, _i, _i, _i, _i]
    lib.nsb_rlif_backward.argtypes = [_F] * 9 + [_fl, _fl, _fl, _fl, _i, _i, _i, _i, _i, _fl, _i]
    lib.nsb_surrogate_grad.argtypes = [_i, _fl, _fl]
    lib.nsb_surrogate_grad.restype = _fl


def _p(a: np.ndarray | None):
    if a is None:
        return None
    if a.dtype != np.float32 or not a.flags.c_contiguous:
        raise NsbError("CPU kernels take contiguous float32 arrays")
    return a.ctypes.data_as(_F)


def _f32(a) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float32)


def _ckpt(steps: int, n: int) -> np.ndarray:
    return np.empty(((steps + SEGMENT - 1) // SEGMENT, n), np.float32)


def lif_forward(x, v0, *, decay, input_gain, v_threshold, v_reset, reset_mode):
    """(spikes, v_T, checkpoints) for x ``[T, n]``."""
    x, v0 = _f32(x), _f32(v0)
    steps, n = x.shape[0], int(np.prod(x.shape[1:]))
    s, v_out = np.empty_like(x), np.empty(n, np.float32)
    ckpt = _ckpt(steps, n)
    library().nsb_lif_forward(_p(x), _p(v0), _p(s), _p(v_out), _p(ckpt), decay, input_gain, v_threshold, v_reset,
                              RESET_IDS[reset_mode], steps, n)
    return s, v_out.reshape(v0.shape), ckpt


def lif_backward(x, grad_s, grad_v_out, checkpoints, *, decay, input_gain, v_threshold, v_reset, reset_mode,
                 surrogate, alpha, detach_reset=False):
    x, grad_s, grad_v_out = _f32(x), _f32(grad_s), _f32(grad_v_out)
    steps, n = x.shape[0], int(np.prod(x.shape[1:]))
    grad_x, grad_v0, grad_decay = np.empty_like(x), np.empty(n, np.float32), np.empty(n, np.float32)
    library().nsb_lif_backward(_p(x), _p(grad_s), _p(grad_v_out), _p(_f32(checkpoints)), _p(grad_x), _p(grad_v0),
                               _p(grad_decay), decay,
                               input_gain, v_threshold, v_reset, RESET_IDS[reset_mode], steps, n,
                               SURROGATE_IDS[surrogate], alpha, int(detach_reset))
    return grad_x, grad_v0.reshape(grad_v_out.shape), grad_decay.reshape(grad_v_out.shape)


def alif_forward(x, alpha, rho, v0, b0, *, v_threshold, beta):
    """(spikes, v_T, b_T, (checkpoints of v, of b))."""
    x = _f32(x)
    steps, n, neurons = x.shape[0], int(np.prod(x.shape[1:])), x.shape[-1]
    s, v, b = np.empty_like(x), np.empty(n, np.float32), np.empty(n, np.float32)
    cv, cb = _ckpt(steps, n), _ckpt(steps, n)
    library().nsb_alif_forward(_p(x), _p(_f32(alpha)), _p(_f32(rho)), _p(_f32(v0)), _p(_f32(b0)), _p(s), _p(v), _p(b),
                               _p(cv), _p(cb), v_threshold, beta, steps, n, neurons)
    return s, v.reshape(x.shape[1:]), b.reshape(x.shape[1:]), (cv, cb)


def alif_backward(x, grad_s, grad_v, grad_b, ckpts, alpha, rho, *, v_threshold, beta, surrogate, alpha_sg,
                  detach_reset=False):
    """(grad_x, grad_v0, grad_b0, grad_alpha [n], grad_rho [n]) — parameter grads per sample and neuron."""
    x = _f32(x)
    steps, n, neurons = x.shape[0], int(np.prod(x.shape[1:])), x.shape[-1]
    gx = np.empty_like(x)
    gv0, gb0, ga, gr = (np.empty(n, np.float32) for _ in range(4))
    library().nsb_alif_backward(_p(x), _p(_f32(grad_s)), _p(_f32(grad_v)), _p(_f32(grad_b)), _p(ckpts[0]), _p(ckpts[1]),
                                _p(_f32(alpha)), _p(_f32(rho)), _p(gx), _p(gv0), _p(gb0), _p(ga), _p(gr), v_threshold,
                                beta, steps, n, neurons, SURROGATE_IDS[surrogate], alpha_sg, int(detach_reset))
    shape = x.shape[1:]
    return gx, gv0.reshape(shape), gb0.reshape(shape), ga.reshape(shape), gr.reshape(shape)


def adlif_forward(x, alpha, beta, a, b, v0, w0, *, v_threshold):
    x = _f32(x)
    steps, n, neurons = x.shape[0], int(np.prod(x.shape[1:])), x.shape[-1]
    s, v, w = np.empty_like(x), np.empty(n, np.float32), np.empty(n, np.float32)
    cv, cw = _ckpt(steps, n), _ckpt(steps, n)
    library().nsb_adlif_forward(_p(x), *(_p(_f32(t)) for t in (alpha, beta, a, b, v0, w0)), _p(s), _p(v), _p(w),
                                _p(cv), _p(cw), v_threshold, steps, n, neurons)
    return s, v.reshape(x.shape[1:]), w.reshape(x.shape[1:]), (cv, cw)


def adlif_backward(x, grad_s, grad_v, grad_w, ckpts, alpha, beta, a, b, *, v_threshold, surrogate, alpha_sg,
                   detach_reset=False):
    """(grad_x, grad_v0, grad_w0, grad_params [4, n]: α, β, a, b per sample and neuron)."""
    x = _f32(x)
    steps, n, neurons = x.shape[0], int(np.prod(x.shape[1:])), x.shape[-1]
    gx, gv0, gw0, gp = np.empty_like(x), np.empty(n, np.float32), np.empty(n, np.float32), np.empty((4, n), np.float32)
    library().nsb_adlif_backward(_p(x), _p(_f32(grad_s)), _p(_f32(grad_v)), _p(_f32(grad_w)), _p(ckpts[0]), _p(ckpts[1]),
                                 *(_p(_f32(t)) for t in (alpha, beta, a, b)), _p(gx), _p(gv0), _p(gw0), _p(gp),
                                 v_threshold, steps, n, neurons, SURROGATE_IDS[surrogate], alpha_sg, int(detach_reset))
    shape = x.shape[1:]
    return gx, gv0.reshape(shape), gw0.reshape(shape), gp.reshape(4, *shape)


def glif_forward(x, alpha_g, beta_g, gamma_g, tau, leak, re_vth, v_th, c, u0, t0):
    """(spikes, u_T, t_T, checkpoints of u)."""
    x = _f32(x)
    steps, n, neurons = x.shape[0], int(np.prod(x.shape[1:])), x.shape[-1]
    params = _f32(np.stack([alpha_g, beta_g, gamma_g, tau, leak, re_vth, v_th]))
    s, u, t_out, cu = np.empty_like(x), np.empty(n, np.float32), np.empty(1, np.float32), _ckpt(steps, n)
    c = _f32(c)
    start = np.array([t0], np.float32)
    library().nsb_glif_forward(_p(x), _p(params), _p(c), c.shape[0], _p(_f32(u0)), _p(start), _p(s), _p(u), _p(t_out),
                               _p(cu), steps, n, neurons)
    return s, u.reshape(x.shape[1:]), t_out[0], cu


def glif_backward(x, grad_s, grad_u, ckpt, params, c, start, *, surrogate, alpha_sg, detach_reset=False):
    """(grad_x, grad_u0, grad_params [7, n], grad_c [T, n]) — per sample and neuron."""
    x = _f32(x)
    steps, n, neurons = x.shape[0], int(np.prod(x.shape[1:])), x.shape[-1]
    gx, gu0 = np.empty_like(x), np.empty(n, np.float32)
    gp, gc = np.empty((7, n), np.float32), np.empty_like(x)
    library().nsb_glif_backward(_p(x), _p(_f32(grad_s)), _p(_f32(grad_u)), _p(ckpt), _p(_f32(np.stack(params))),
                                _p(_f32(c)), int(start), _p(gx), _p(gu0), _p(gp), _p(gc), steps, n, neurons,
                                SURROGATE_IDS[surrogate], alpha_sg, int(detach_reset))
    shape = x.shape[1:]
    return gx, gu0.reshape(shape), gp.reshape(7, *shape), gc


def rlif_forward(x, w, bias, v0, s0, *, decay, input_gain, v_threshold, v_reset, reset_mode):
    """(spikes, membranes before reset h, v_T, s_T) for x ``[T, B, N]``."""
    x = _f32(x)
    steps, batch, neurons = x.shape
    s, h = np.empty_like(x), np.empty_like(x)
    v, last = np.empty((batch, neurons), np.float32), np.empty((batch, neurons), np.float32)
    library().nsb_rlif_forward(_p(x), _p(_f32(w)), _p(_f32(bias)), _p(_f32(v0)), _p(_f32(s0)), _p(s), _p(h), _p(v),
                               _p(last), decay, input_gain, v_threshold, v_reset, RESET_IDS[reset_mode], steps, batch,
                               neurons)
    return s, h, v, last


def rlif_backward(s, h, grad_s, grad_v, grad_s_out, w, *, decay, input_gain, v_threshold, v_reset, reset_mode,
                  surrogate, alpha, detach_reset=False):
    """(∂L/∂current per step [T, B, N], ∂L/∂v0, ∂L/∂s0); ∂L/∂x is ∂L/∂current."""
    s = _f32(s)
    steps, batch, neurons = s.shape
    gi = np.empty_like(s)
    gv0, gs0 = np.empty((batch, neurons), np.float32), np.empty((batch, neurons), np.float32)
    library().nsb_rlif_backward(_p(s), _p(_f32(h)), _p(_f32(grad_s)), _p(_f32(grad_v)), _p(_f32(grad_s_out)),
                                _p(_f32(w)), _p(gi), _p(gv0), _p(gs0), decay, input_gain, v_threshold, v_reset,
                                RESET_IDS[reset_mode], steps, batch, neurons, SURROGATE_IDS[surrogate], alpha,
                                int(detach_reset))
    return gi, gv0, gs0


def surrogate_grad(name: str, alpha: float, u: float) -> float:
    return library().nsb_surrogate_grad(SURROGATE_IDS[name], alpha, u)
