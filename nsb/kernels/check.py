"""A layer's fused kernels against its PyTorch loop, forward and backward: the check the tests and
``nsb doctor`` run, returning the first mismatching element rather than raising.

One loss through both paths (weighted spikes plus the squared final states), then spikes, states and
the gradients of the input, the initial states and every learned tensor compared. fp32: spikes equal
(an R-op's recurrent sum may order differently from the library's matmul, so there a rare threshold
tie is allowed and the gradients are compared on the samples whose spikes all agree), states and
gradients within ``rtol`` of the largest magnitude. fp16/bf16 storage: the loop gets the same rounded
inputs in fp32 (the kernels keep fp32 states), spikes must agree on 99.9 % and ∂L/∂x, on the samples whose
spikes all agree, within a relative L2 error of 5e-2.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

#: fp16 keeps ~11 bits, bf16 ~8: a stored gradient's relative error is ~4e-3 before any accumulation
HALF_GRAD_TOLERANCE = 5e-2
from torch import Tensor


@dataclass
class Comparison:
    ok: bool
    detail: str

    def __bool__(self) -> bool:
        return self.ok


def _first(a: Tensor, b: Tensor, bad: Tensor, what: str) -> str:
    index = tuple(int(i) for i in bad.nonzero()[0])
    return f"{what} differ first at {list(index)}: kernel {float(a[index]):.7g}, reference {float(b[index]):.7g}"


def _run(neuron, x: Tensor, state, fused: bool, device: str):
    from nsb.kernels.fused import fused_forward

    x = x.clone().requires_grad_()
    state = tuple(t.clone().requires_grad_() if t.is_floating_point() else t for t in state)
    if not fused:
        s, final = neuron.forward_loop(x, state)
    elif callable(getattr(neuron, "run_fused", None)):  # a layer with its own staged kernels (DH-LIF)
        s, final = neuron.run_fused(x, state)
    else:
        s, final = fused_forward(neuron, x, state, device=device)
    weights = torch.linspace(0.5, 1.5, neuron.size, device=x.device)

    def weighted(f: Tensor) -> Tensor:  # a state [B, N] or with more per neuron (DH-LIF's branches [B, N, K])
        return f.float() * weights.reshape(-1, *([1] * (f.dim() - 2))) if f.dim() > 2 else f.float() * weights

    loss = (s.float() * weights).sum() + sum(weighted(f).square().sum() for f in final if f.is_floating_point())
    leaves = [x, *(t for t in state if t.is_floating_point()), *neuron.parameters()]
    grads = torch.autograd.grad(loss, leaves, allow_unused=True)
    kinds = ["x", *("state" for t in state if t.is_floating_point()), *("parameter" for _ in neuron.parameters())]
    names = ["∂L/∂x", *(f"∂L/∂(initial {n})" for n, t in zip(neuron.state_names, state) if t.is_floating_point()),
             *(f"∂L/∂{n}" for n, _ in neuron.named_parameters())]
    return s.detach(), [f.detach() for f in final], list(zip(kinds, names, grads))


def compare_with_loop(neuron, x: Tensor, *, device: str, state=None, rtol: float = 2e-5) -> Comparison:
    """Run ``neuron`` on ``x`` through its kernels (``device``: "cpu" for the CPU build, "cuda") and
    through the PyTorch loop; the first mismatch, or what agreed."""
    half = x.dtype in (torch.float16, torch.bfloat16)
    state = neuron.initial_state(x[0]) if state is None else state
    # a noisy spike (ASGL in training) draws its mask from the generator: both paths get the same draws
    cuda = [x.device] if x.is_cuda else []
    with torch.random.fork_rng(devices=cuda):
        seed = int(torch.randint(0, 2**62, (1,)))
        torch.manual_seed(seed)
        s1, f1, g1 = _run(neuron, x, state, True, device)
        torch.manual_seed(seed)
        s2, f2, g2 = _run(neuron, x.float() if half else x,
                          tuple(t.float() if t.is_floating_point() else t for t in state), False, device)
    s1 = s1.float()
    # ASGL's noisy neurons emit real values r(u), as exact as u: an op whose step has a sigmoid (each runtime's
    # own exp) or a recurrent sum (the kernel's order) gives them to rounding, not bit for bit
    noisy = neuron.surrogate.noisy
    same = (s1 - s2).abs() <= rtol * (s2.abs() + 1.0) if noisy else s1 == s2
    agree = float(same.float().mean())
    if half:  # storage rounding: spikes nearly all agree, ∂L/∂x within the storage's precision
        samples = same.all(0).reshape(s1.shape[1], -1).all(-1)
        gx1, gx2 = g1[0][2][:, samples].float(), g2[0][2][:, samples].float()
        error = float((gx1 - gx2).norm() / gx2.norm().clamp_min(1e-12)) if samples.any() else 0.0
        ok = agree >= 0.999 and error < HALF_GRAD_TOLERANCE
        return Comparison(ok, f"spikes agree on {agree:.4%}, ∂L/∂x relative L2 error {error:.2e} over the "
                              f"{int(samples.sum())} samples whose spikes all agree" +
                              ("" if ok else f" (needs ≥ 99.9 % and < {HALF_GRAD_TOLERANCE:g})"))
    recurrent = neuron.recurrent is not None
    if not recurrent and not bool(same.all()):
        return Comparison(False, _first(s1, s2, ~same, "spikes"))
    if recurrent and agree < 0.9999:
        return Comparison(False, _first(s1, s2, ~same, f"spikes (agreement {agree:.4%})"))
    samples = same.all(0).reshape(s1.shape[1], -1).all(-1)
    for name, (a, b) in zip(neuron.state_names, zip(f1, f2)):
        if not a.is_floating_point():
            continue
        problem = _close(a[samples].float(), b[samples].float(), rtol, f"final {name}")
        if problem:
            return Comparison(False, problem)
    every_sample = bool(samples.all())
    for (kind, name, a), (_, _, b) in zip(g1, g2):
        if a is None or b is None:
            if (a is not None and a.abs().any()) or (b is not None and b.abs().any()):
                return Comparison(False, f"{name}: one path has a gradient, the other none")
            continue
        if not every_sample:  # compare the samples whose spikes all agree; shared tensors mix them all
            if kind == "parameter":
                continue
            a, b = (a[:, samples], b[:, samples]) if kind == "x" else (a[samples], b[samples])
        problem = _close(a, b, rtol, name)
        if problem:
            return Comparison(False, problem)
    return Comparison(True, f"spikes {'agree on %.4f %%' % (100 * agree) if recurrent else 'equal'}, "
                            f"states and {len(g1)} gradients within {rtol:g}")


def _close(a: Tensor, b: Tensor, rtol: float, what: str) -> str | None:
    scale = max(1.0, float(b.abs().max())) if b.numel() else 1.0
    bad = (a - b).abs() > rtol * (b.abs() + scale)
    return _first(a, b, bad, what) if bool(bad.any()) else None
