"""The fused LIF forward and backward as an autograd function over CUDA tensors.

Forward: one launch over all T steps, writing spikes, the final membrane and a membrane checkpoint
every 16 steps. Backward: one launch in reverse time that recomputes each 16-step segment from its
checkpoint and the saved input, so the membrane of every step is never stored (DESIGN §9).
"""

from __future__ import annotations

import ctypes

import torch
from torch import Tensor

from nsb.kernels import RESET_IDS, SURROGATE_IDS

SEGMENT = 16
BLOCK = 256
SUFFIX = {torch.float32: "f32", torch.float16: "f16", torch.bfloat16: "bf16"}


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
        ckpt = torch.empty(((steps + SEGMENT - 1) // SEGMENT, n), device=x.device, dtype=torch.float32)
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
