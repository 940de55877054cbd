"""Teacher-forced training shared by the look-back models (LSTM, SNN).

Both keep a register of the last W inputs, r_i = (u[i−W+1], …, u[i]) with zeros before the series
starts (the register begins empty, as NeuroBench's buffer does), and predict u[i+1]. Training runs
truncated BPTT on chunks: every start s gives the sequence r_s … r_{s+T−1}, run from a zero state;
the loss is the MSE over the chunk's steps after ``burn_in`` (the state needs a few steps to fill):

    loss = mean_{chunks, t ≥ burn_in} (f(r_{s+t}) − u[s+t+1])²

Chunks instead of one 750-step sequence: the whole epoch is then T batched steps, not 750 serial
ones, which is what makes 30 repeats affordable on two CPU cores.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from nsb.errors import NsbError


def register_windows(u: Tensor, window: int) -> Tensor:
    """``[N, 1]`` values → ``[N, W]`` look-back registers (row i ends with u[i], zeros before u[0])."""
    if u.dim() != 2 or u.shape[1] != 1:
        raise NsbError(f"register_windows takes [N, 1] values, got {tuple(u.shape)}")
    if window < 1:
        raise NsbError(f"look-back window must be >= 1, got {window}")
    padded = torch.cat([u.new_zeros(window - 1), u[:, 0]])
    return padded.unfold(0, window, 1)


def chunks(x: Tensor, y: Tensor, length: int) -> tuple[Tensor, Tensor]:
    """Every length-``length`` run of rows: ``x [N, F]``, ``y [N, 1]`` → ``[T, B, F]``, ``[T, B, 1]``."""
    n = x.shape[0]
    if not 1 <= length <= n:
        raise NsbError(f"training chunk length must be in 1..{n}, got {length}")
    idx = torch.arange(n - length + 1)[None, :] + torch.arange(length)[:, None]
    return x[idx], y[idx]


@dataclass
class FitOptions:
    epochs: int = 300
    lr: float = 3e-3
    chunk: int = 40
    burn_in: int = 10
    batch_size: int = 128
    input_noise: float = 0.0  # std of Gaussian noise on the registers: makes the closed loop forgiving
    weight_decay: float = 0.0


def fit_sequences(forward: Callable[[Tensor], Tensor], params, x: Tensor, y: Tensor, opts: FitOptions,
                  generator: torch.Generator) -> list[float]:
    """Adam + cosine schedule on chunked sequences; returns the loss per epoch (loud on NaN)."""
    if opts.burn_in >= opts.chunk:
        raise NsbError(f"burn_in ({opts.burn_in}) must be shorter than the chunk ({opts.chunk})")
    xs, ys = chunks(x, y, opts.chunk)
    params = list(params)
    opt = torch.optim.Adam(params, lr=opts.lr, weight_decay=opts.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(opts.epochs, 1))
    losses = []
    batches = xs.shape[1]
    for epoch in range(opts.epochs):
        order = torch.randperm(batches, generator=generator)
        total = 0.0
        for start in range(0, batches, opts.batch_size):
            pick = order[start:start + opts.batch_size]
            xb, yb = xs[:, pick], ys[:, pick]
            if opts.input_noise > 0:
                xb = xb + opts.input_noise * torch.randn(xb.shape, generator=generator, dtype=xb.dtype)
            pred = forward(xb)
            loss = torch.mean((pred[opts.burn_in:] - yb[opts.burn_in:]) ** 2)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * pick.numel()
        sched.step()
        losses.append(total / batches)
        if not torch.isfinite(torch.tensor(losses[-1])):
            raise NsbError(f"training diverged at epoch {epoch + 1} (loss {losses[-1]}); lower the learning rate")
    return losses
