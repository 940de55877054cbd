"""The presynaptic-trace synapse of OTTT and e-prop (Xiao et al. 2022; Bellec et al. 2020).

Forward value ``W·x[t] + b``; the gradient is taken through ``W·x̂[t]`` with the trace
``x̂[t] = λ·sg(x̂[t−1]) + x[t]``, so the weight gradient is ``δ[t]·x̂[t]ᵀ`` (the eligibility of
each weight accumulated online) while the previous layer still receives ``Wᵀδ[t]`` at step t.
λ is the postsynaptic neuron's leak, which makes ``x̂`` the exact temporal sensitivity of the
membrane to ``W`` for a LIF without reset; for neurons whose leak is per neuron the mean is used.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def traced_linear(x: Tensor, trace: Tensor, linear: nn.Linear, decay: Tensor | float) -> tuple[Tensor, Tensor]:
    """Apply ``linear`` to ``x [T, B, F]`` with the trace gradient; returns ``(out, final trace)``."""
    if isinstance(decay, Tensor):
        decay = decay.detach().mean()
    outs = []
    for t in range(x.shape[0]):
        past = decay * trace.detach()
        trace = past + x[t]
        # value W·x[t] + b; gradient through W·x̂[t]
        outs.append(linear(trace) - F.linear(past, linear.weight).detach())
    return torch.stack(outs), trace
