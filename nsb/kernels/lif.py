"""The fused LIF forward and backward as an autograd function over CUDA tensors.

Forward: one launch over all T steps, writing spikes, the final membrane and a membrane checkpoint
every 16 steps. Backward: one launch in reverse time that recomputes each 16-step segment from its
checkpoint and the saved input, so the membrane of every step is never stored (DESIGN §9).
"""

from __future__ import annotations

import ctypes

import torch
from torch import Tensor

from nsb.kernels import RESET_IDS, SEGMENT, SURROGATE_IDS

BLOCK = 256
SUFFIX = {torch.float32: "f32", torch.float16: "f16", torch.bfloat16: "bf16"}


def _checkpoints(x: Tensor) -> Tensor:
    """Membrane (or state) checkpoints every SEGMENT steps: ``[ceil(T / SEGMENT), n]`` fp32."""
    return torch.empty(((x.shape[0] + SEGMENT - 1) // SEGMENT, x[0].numel()), device=x.device, dtype=torch.float32)


def _ptr(t: Tensor | None) -> ctypes.c_void_p:
    return ctypes.c_void_p(t.data_ptr() if t is not None else 0)


def _params(attrs: dict) -> "object":
    from nsb.kernels.nvrtc import LifParams

    return LifParams(attrs["decay"], attrs["input_gain"], attrs["v_threshold"], attrs["v_reset"],
                     RESET_IDS[attrs["reset_mode"]])


class FusedLIF(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, v0: Tensor, decay: Tensor | None, attrs: dict, surrogate: str, alpha: float,
                detach_reset: bool):
        # ``decay`` is PLIF's learned σ(w) (a 0-d tensor, whose gradient the backward returns), else None
        if decay is not None:
            attrs = {**attrs, "decay": float(decay)}
        from nsb.kernels.nvrtc import module_for

        x = x.contiguous()
        v0 = v0.contiguous().float()
        steps, n = x.shape[0], x[0].numel()
        s = torch.empty_like(x)
        v_out = torch.empty_like(v0)
        ckpt = _checkpoints(x)
        if steps and n:
            module = module_for(x.device.index or 0)
            stream = torch.cuda.current_stream(x.device).cuda_stream
            module.launch(f"lif_forward_{SUFFIX[x.dtype]}", (n + BLOCK - 1) // BLOCK, BLOCK, stream,
                          _ptr(x), _ptr(v0), _ptr(s), _ptr(v_out), _ptr(ckpt), _params(attrs), ctypes.c_int(steps),
                          ctypes.c_long(n))
        ctx.save_for_backward(x, ckpt)
        ctx.config = (attrs, surrogate, alpha, detach_reset, v0.shape, decay is not None)
        ctx.mark_non_differentiable()
        return s, v_out

    @staticmethod
    def backward(ctx, grad_s: Tensor | None, grad_v: Tensor | None):
        from nsb.kernels.nvrtc import module_for

        x, ckpt = ctx.saved_tensors
        attrs, surrogate, alpha, detach_reset, v_shape, learned = ctx.config
        steps, n = x.shape[0], x[0].numel()
        grad_s = torch.zeros_like(x) if grad_s is None else grad_s.contiguous().to(x.dtype)
        grad_v = None if grad_v is None else grad_v.contiguous().float()
        grad_x = torch.empty_like(x)
        grad_v0 = torch.empty(v_shape, device=x.device, dtype=torch.float32)
        grad_decay = torch.empty(n, device=x.device, dtype=torch.float32) if learned else None
        if steps and n:
            module = module_for(x.device.index or 0)
            stream = torch.cuda.current_stream(x.device).cuda_stream
            module.launch(f"lif_backward_{SUFFIX[x.dtype]}", (n + BLOCK - 1) // BLOCK, BLOCK, stream,
                          _ptr(x), _ptr(grad_s), _ptr(grad_v), _ptr(ckpt), _ptr(grad_x), _ptr(grad_v0),
                          _ptr(grad_decay), _params(attrs), ctypes.c_int(steps), ctypes.c_long(n),
                          ctypes.c_int(SURROGATE_IDS[surrogate]), ctypes.c_float(alpha),
                          ctypes.c_int(int(detach_reset)))
        return grad_x, grad_v0, None if grad_decay is None else grad_decay.sum(), None, None, None, None


def fused_lif(x: Tensor, v0: Tensor, attrs: dict, surrogate: str, alpha: float, detach_reset: bool = False,
              decay: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Spikes ``[T, ...]`` (x's dtype) and the final membrane (fp32) of the LIF op with ``attrs``; a
    learned ``decay`` tensor (PLIF) replaces ``attrs["decay"]`` and receives its gradient."""
    return FusedLIF.apply(x, v0, decay, attrs, surrogate, alpha, detach_reset)


MAX_SPIKES_PER_THREAD = 8  # the per-thread arrays of rlif_forward / rlif_backward


def _rlif_threads(neurons: int) -> int:
    threads = -(-neurons // MAX_SPIKES_PER_THREAD)
    threads = max(32, -(-threads // 32) * 32)
    return min(1024, max(threads, min(128, -(-neurons // 32) * 32)))


class FusedRLIF(torch.autograd.Function):
    """The seed's Recurrent_LIF: one block per sample keeps the spikes in shared memory; the backward
    walks time in reverse with the stored membranes, and ∂L/∂W_rec is one GEMM over (T·B)."""

    @staticmethod
    def forward(ctx, x, w, b, v0, s0, decay, attrs: dict, surrogate: str, alpha: float, detach_reset: bool):
        from nsb.kernels.nvrtc import module_for

        if decay is not None:
            attrs = {**attrs, "decay": float(decay)}
        x = x.contiguous()
        steps, batch, neurons = x.shape
        if neurons > 1024 * MAX_SPIKES_PER_THREAD:
            raise ValueError(f"fused RLIF supports up to {1024 * MAX_SPIKES_PER_THREAD} neurons per layer")
        w32, b32, v0, s0 = (t.detach().contiguous().float() for t in (w, b, v0, s0))
        s = torch.empty_like(x)
        h = torch.empty(x.shape, device=x.device, dtype=torch.float32)
        v_out, s_out = torch.empty_like(v0), torch.empty_like(s0)
        if steps and batch:
            module = module_for(x.device.index or 0)
            stream = torch.cuda.current_stream(x.device).cuda_stream
            module.launch(f"rlif_forward_{SUFFIX[x.dtype]}", batch, _rlif_threads(neurons), stream,
                          _ptr(x), _ptr(w32), _ptr(b32), _ptr(v0), _ptr(s0), _ptr(s), _ptr(v_out), _ptr(s_out), _ptr(h),
                          _params(attrs), ctypes.c_int(steps), ctypes.c_int(batch), ctypes.c_int(neurons),
                          shared=4 * neurons)
        ctx.save_for_backward(s, h, w32, s0)
        ctx.config = (attrs, surrogate, alpha, detach_reset, decay is not None)
        return s, v_out, s_out

    @staticmethod
    def backward(ctx, grad_s, grad_v, grad_s_out):
        from nsb.kernels.nvrtc import module_for

        s, h, w, s0 = ctx.saved_tensors
        attrs, surrogate, alpha, detach_reset, learned = ctx.config
        if learned:
            raise NotImplementedError("a learned decay (PLIF) with recurrence trains on the PyTorch loop")
        steps, batch, neurons = s.shape
        grad_s = torch.zeros_like(s) if grad_s is None else grad_s.contiguous().to(s.dtype)
        gv = None if grad_v is None else grad_v.contiguous().float()
        gso = None if grad_s_out is None else grad_s_out.contiguous().float()
        gi = torch.empty(s.shape, device=s.device, dtype=torch.float32)
        gv0, gs0 = torch.empty_like(s0), torch.empty_like(s0)
        if steps and batch:
            module = module_for(s.device.index or 0)
            stream = torch.cuda.current_stream(s.device).cuda_stream
            module.launch(f"rlif_backward_{SUFFIX[s.dtype]}", batch, _rlif_threads(neurons), stream,
                          _ptr(s), _ptr(h), _ptr(grad_s), _ptr(gv), _ptr(gso), _ptr(w), _ptr(gi), _ptr(gv0), _ptr(gs0),
                          _params(attrs), ctypes.c_int(steps), ctypes.c_int(batch), ctypes.c_int(neurons),
                          ctypes.c_int(SURROGATE_IDS[surrogate]), ctypes.c_float(alpha),
                          ctypes.c_int(int(detach_reset)), shared=4 * neurons)
        s_prev = torch.cat([s0.unsqueeze(0), s[:-1].float()])
        grad_w = gi.reshape(-1, neurons).t() @ s_prev.reshape(-1, neurons)
        grad_b = gi.sum((0, 1))
        return gi.to(s.dtype), grad_w, grad_b, gv0, gs0, None, None, None, None, None
