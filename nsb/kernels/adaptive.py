"""Fused ALIF, adLIF and GLIF over CUDA tensors: forward with state checkpoints every 16 steps,
backward recomputing each segment, parameter gradients summed per neuron over the batch.

Parameters enter as the folded tensors the step functions use (ALIF: α = exp(−1/τ_m), ρ; adLIF: the
clamped α, β, a, b; GLIF: the seven σ(·) vectors and σ(C)), so autograd carries their gradients on
to the stored parameters.
"""

from __future__ import annotations

import ctypes

import torch
from torch import Tensor

from nsb.kernels import SURROGATE_IDS
from nsb.kernels.lif import BLOCK, SUFFIX, _checkpoints, _ptr


def _launch(name: str, x: Tensor, n: int, *args) -> None:
    from nsb.kernels.nvrtc import module_for

    module = module_for(x.device.index or 0)
    stream = torch.cuda.current_stream(x.device).cuda_stream
    module.launch(f"{name}_{SUFFIX[x.dtype]}", (n + BLOCK - 1) // BLOCK, BLOCK, stream, *args)


def _f(t: Tensor) -> Tensor:
    return t.detach().contiguous().float()


def _grad(g: Tensor | None, like: Tensor) -> Tensor:
    return torch.zeros_like(like, dtype=torch.float32) if g is None else g.contiguous().float()


def _per_neuron(partial: Tensor, neurons: int) -> Tensor:
    return partial.reshape(-1, neurons).sum(0)


class FusedALIF(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, alpha, rho, v0, b0, theta: float, beta: float, surrogate: str, sg_alpha: float, detach: bool):
        x = x.contiguous()
        n, neurons, steps = x[0].numel(), x.shape[-1], x.shape[0]
        alpha, rho, v0, b0 = _f(alpha), _f(rho), _f(v0), _f(b0)
        s, v, b = torch.empty_like(x), torch.empty_like(v0), torch.empty_like(b0)
        cv, cb = _checkpoints(x), _checkpoints(x)
        if steps and n:
            _launch("alif_forward", x, n, _ptr(x), _ptr(alpha), _ptr(rho), _ptr(v0), _ptr(b0), _ptr(s), _ptr(v), _ptr(b),
                    _ptr(cv), _ptr(cb), ctypes.c_float(theta), ctypes.c_float(beta), ctypes.c_int(steps),
                    ctypes.c_long(n), ctypes.c_int(neurons))
        ctx.save_for_backward(x, alpha, rho, cv, cb)
        ctx.config = (theta, beta, surrogate, sg_alpha, detach)
        return s, v, b

    @staticmethod
    def backward(ctx, gs, gv, gb):
        x, alpha, rho, cv, cb = ctx.saved_tensors
        theta, beta, surrogate, sg_alpha, detach = ctx.config
        n, neurons, steps = x[0].numel(), x.shape[-1], x.shape[0]
        gs = torch.zeros_like(x) if gs is None else gs.contiguous().to(x.dtype)
        gv, gb = _grad(gv, x[0]), _grad(gb, x[0])
        gx = torch.empty_like(x)
        gv0, gb0, ga, gr = (torch.empty(x.shape[1:], device=x.device, dtype=torch.float32) for _ in range(4))
        if steps and n:
            _launch("alif_backward", x, n, _ptr(x), _ptr(gs), _ptr(gv), _ptr(gb), _ptr(cv), _ptr(cb), _ptr(alpha),
                    _ptr(rho), _ptr(gx), _ptr(gv0), _ptr(gb0), _ptr(ga), _ptr(gr), ctypes.c_float(theta),
                    ctypes.c_float(beta), ctypes.c_int(steps), ctypes.c_long(n), ctypes.c_int(neurons),
                    ctypes.c_int(SURROGATE_IDS[surrogate]), ctypes.c_float(sg_alpha), ctypes.c_int(int(detach)))
        return gx, _per_neuron(ga, neurons), _per_neuron(gr, neurons), gv0, gb0, None, None, None, None, None


class FusedADLIF(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, alpha, beta, a, b, v0, w0, theta: float, surrogate: str, sg_alpha: float, detach: bool):
        x = x.contiguous()
        n, neurons, steps = x[0].numel(), x.shape[-1], x.shape[0]
        params = [_f(t) for t in (alpha, beta, a, b)]
        v0, w0 = _f(v0), _f(w0)
        s, v, w = torch.empty_like(x), torch.empty_like(v0), torch.empty_like(w0)
        cv, cw = _checkpoints(x), _checkpoints(x)
        if steps and n:
            _launch("adlif_forward", x, n, _ptr(x), *(_ptr(p) for p in params), _ptr(v0), _ptr(w0), _ptr(s), _ptr(v),
                    _ptr(w), _ptr(cv), _ptr(cw), ctypes.c_float(theta), ctypes.c_int(steps), ctypes.c_long(n),
                    ctypes.c_int(neurons))
        ctx.save_for_backward(x, *params, cv, cw)
        ctx.config = (theta, surrogate, sg_alpha, detach)
        return s, v, w

    @staticmethod
    def backward(ctx, gs, gv, gw):
        x, alpha, beta, a, b, cv, cw = ctx.saved_tensors
        theta, surrogate, sg_alpha, detach = ctx.config
        n, neurons, steps = x[0].numel(), x.shape[-1], x.shape[0]
        gs = torch.zeros_like(x) if gs is None else gs.contiguous().to(x.dtype)
        gv, gw = _grad(gv, x[0]), _grad(gw, x[0])
        gx = torch.empty_like(x)
        gv0, gw0 = (torch.empty(x.shape[1:], device=x.device, dtype=torch.float32) for _ in range(2))
        gp = torch.empty((4, n), device=x.device, dtype=torch.float32)
        if steps and n:
            _launch("adlif_backward", x, n, _ptr(x), _ptr(gs), _ptr(gv), _ptr(gw), _ptr(cv), _ptr(cw), _ptr(alpha),
                    _ptr(beta), _ptr(a), _ptr(b), _ptr(gx), _ptr(gv0), _ptr(gw0), _ptr(gp), ctypes.c_float(theta),
                    ctypes.c_int(steps), ctypes.c_long(n), ctypes.c_int(neurons),
                    ctypes.c_int(SURROGATE_IDS[surrogate]), ctypes.c_float(sg_alpha), ctypes.c_int(int(detach)))
        grads = [_per_neuron(gp[k], neurons) for k in range(4)]
        return (gx, *grads, gv0, gw0, None, None, None, None)


class GlifPointers(ctypes.Structure):
    _fields_ = [("p", ctypes.c_void_p * 7)]


class FusedGLIF(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, c, u0, start: int, surrogate: str, sg_alpha: float, detach: bool, *tensors):
        # the seven parameter vectors come last, as separate inputs, so autograd gives each its gradient
        x = x.contiguous()
        n, neurons, steps = x[0].numel(), x.shape[-1], x.shape[0]
        ps = [_f(t) for t in tensors]
        c, u0 = _f(c), _f(u0)
        t0 = torch.full((1,), float(start), device=x.device)
        s, u, t_out, cu = torch.empty_like(x), torch.empty_like(u0), torch.empty_like(t0), _checkpoints(x)
        pointers = GlifPointers((ctypes.c_void_p * 7)(*(p.data_ptr() for p in ps)))
        if steps and n:
            _launch("glif_forward", x, n, _ptr(x), pointers, _ptr(c), ctypes.c_int(c.shape[0]), _ptr(u0), _ptr(t0),
                    _ptr(s), _ptr(u), _ptr(t_out), _ptr(cu), ctypes.c_int(steps), ctypes.c_long(n),
                    ctypes.c_int(neurons))
        ctx.save_for_backward(x, c, cu, *ps)
        ctx.config = (start, surrogate, sg_alpha, detach)
        return s, u

    @staticmethod
    def backward(ctx, gs, gu):
        x, c, cu, *ps = ctx.saved_tensors
        start, surrogate, sg_alpha, detach = ctx.config
        n, neurons, steps = x[0].numel(), x.shape[-1], x.shape[0]
        gs = torch.zeros_like(x) if gs is None else gs.contiguous().to(x.dtype)
        gu = _grad(gu, x[0])
        gx = torch.empty_like(x)
        gu0 = torch.empty(x.shape[1:], device=x.device, dtype=torch.float32)
        gp = torch.empty((7, n), device=x.device, dtype=torch.float32)
        gc_part = torch.empty((steps, n), device=x.device, dtype=torch.float32)
        pointers = GlifPointers((ctypes.c_void_p * 7)(*(p.data_ptr() for p in ps)))
        if steps and n:
            _launch("glif_backward", x, n, _ptr(x), _ptr(gs), _ptr(gu), _ptr(cu), pointers, _ptr(c),
                    ctypes.c_int(start), _ptr(gx), _ptr(gu0), _ptr(gp), _ptr(gc_part), ctypes.c_int(steps),
                    ctypes.c_long(n), ctypes.c_int(neurons), ctypes.c_int(SURROGATE_IDS[surrogate]),
                    ctypes.c_float(sg_alpha), ctypes.c_int(int(detach)))
        gc = torch.zeros_like(c)
        gc[start:start + steps] = gc_part.reshape(steps, -1, neurons).sum(1)
        grads = [_per_neuron(gp[k], neurons) for k in range(7)]
        return (gx, gc, gu0, None, None, None, None, *grads)


def fused_glif(x: Tensor, params: tuple[Tensor, ...], c: Tensor, u0: Tensor, start: int, surrogate: str,
               sg_alpha: float, detach: bool) -> tuple[Tensor, Tensor]:
    return FusedGLIF.apply(x, c, u0, start, surrogate, sg_alpha, detach, *params)
