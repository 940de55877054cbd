"""How a batch becomes gradients: the whole-sequence graph (BPTT and its cuts) or one step at a time.

Offline rules (stbp, tstbp, sdbp, notd) run :func:`offline_step`; online rules (ottt, sltt, eprop)
run :func:`online_step`, whose graph never spans more than one time step, so their memory does
not grow with T. The trainer and ``benchmarks/learning_rules.py`` both call these.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from nsb.errors import NsbError
from nsb.objectives import sequence_loss, step_loss

if TYPE_CHECKING:
    from nsb.tasks.kinds import Task


def detach_state(state: Any) -> Any:
    if isinstance(state, torch.Tensor):
        return state.detach()
    if isinstance(state, (list, tuple)):
        return type(state)(detach_state(s) for s in state)
    return state


def offline_step(net: nn.Module, x: torch.Tensor, y: torch.Tensor, state: Any, task: Task | str, readout: str,
                 label_smoothing: float = 0.0):
    """Forward the whole sequence, one backward: the graph spans all T steps (BPTT and its cuts)."""
    out, state = net(x, state)
    loss = sequence_loss(task, out, y, readout, label_smoothing)
    if not torch.isfinite(loss):
        raise NsbError(f"the loss became {loss.item()}; lower train.lr or set train.grad_clip")
    loss.backward()
    return out.detach(), loss.item(), state


def online_step(net: nn.Module, x: torch.Tensor, y: torch.Tensor, state: Any, task: Task | str, readout: str,
                label_smoothing: float = 0.0, no_sync=None):
    """One step of the network at a time with its own backward; the graph never spans two steps.

    Gradients accumulate in ``.grad`` over the sequence; under DDP they are all-reduced once, at
    the last step that has a loss (``no_sync`` suppresses the others).
    """
    steps = x.shape[0]
    last_with_loss = steps - 1
    outs, total = [], 0.0
    for t in range(steps):
        out_t, state = net(x[t:t + 1], state, t)
        loss = step_loss(task, out_t, y, t, steps, readout, label_smoothing)
        if loss is not None:
            if no_sync is not None and t != last_with_loss:
                with no_sync():
                    loss.backward()
            else:
                loss.backward()
            total += loss.item()
        state = detach_state(state)
        outs.append(out_t.detach())
    return torch.cat(outs), total, state
