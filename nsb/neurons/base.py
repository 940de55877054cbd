"""The multi-step neuron: a thin stateful module over a stateless one-step function.

A neuron maps a time-major input ``x [T, B, N...]`` and an optional initial state to spikes
``[T, B, N...]`` and the final state (a tuple of tensors named by ``state_names``), so a stream cut
into chunks gives the same result as one pass. Single-step use is the same call with T = 1.

Subclasses implement :meth:`Neuron.step` by calling the module-level step function of their own
file, where the math lives once. This base class owns what is the same for every model:

* the initial state (``initial_state``),
* the optional recurrent input ``W_rec·s[t−1] + b`` added to ``x[t]`` before the charge,
* the gradient policy set by a learning rule (:class:`GradPolicy`): which temporal paths carry a
  gradient, and where backpropagation through time is truncated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

import torch
from torch import Tensor, nn

from nsb.errors import ConfigError, NsbError
from nsb.surrogate import Fire, Surrogate, build_surrogate

State = tuple[Tensor, ...]
RecurrentGrad = Literal["full", "detached", "trace"]


@dataclass(frozen=True)
class GradPolicy:
    """Which gradient paths a learning rule keeps (``reference/neuroseqbench.md`` §3).

    temporal:        False for NoTD: every step starts from the initial state (no memory, no reset).
    detach_state:    the previous state enters the update as a constant (SDBP, OTTT, SLTT, e-prop):
                     λ·sg(v[t−1]).
    detach_reset:    the spike enters the reset as a constant.
    truncate:        K > 0 cuts the state's gradient every K steps (T-STBP / TBPTT).
    recurrent:       the recurrent input's gradient: "full" (W·s[t−1]), "detached" (W·sg(s[t−1]):
                     gradient into W only, SLTT) or "trace" (e-prop: forward W·s[t−1], gradient
                     through W·ê[t], ê[t] = λ·ê[t−1] + s[t−1] a presynaptic eligibility trace).
    """

    temporal: bool = True
    detach_state: bool = False
    detach_reset: bool = False
    truncate: int = 0
    recurrent: RecurrentGrad = "full"


FULL_BPTT = GradPolicy()

#: "auto": the fused CUDA kernel where it applies, else the PyTorch loop; "torch": always the loop;
#: "cuda": the kernel or an error naming why not
BACKENDS = ("auto", "torch", "cuda")


@dataclass(frozen=True)
class ExportOp:
    """How a trained neuron leaves PyTorch: an ``nsb`` ONNX op (``nsb.ops.schema``) with its learnable
    numbers folded: scalars as attributes, per-neuron values as tensors in the op's parameter order."""

    name: str
    attributes: dict[str, float | str]
    params: tuple[Tensor, ...] = ()


class Neuron(nn.Module):
    """Base class of every spiking neuron; see the module docstring for the contract."""

    #: names of the state tensors, in the order of the state tuple (recurrence adds its own)
    state_names: ClassVar[tuple[str, ...]] = ("v",)

    def __init__(self, size: int, *, surrogate: str | Surrogate = "rectangle", alpha: float = 1.0,
                 recurrent: bool = False, backend: str = "auto") -> None:
        super().__init__()
        if size < 1:
            raise ConfigError(f"a neuron layer needs at least one neuron, got size={size}")
        if backend not in BACKENDS:
            raise ConfigError(f"unknown neuron backend '{backend}'; choose one of: {', '.join(BACKENDS)}")
        self.backend = backend
        self.size = int(size)
        self.surrogate = surrogate if isinstance(surrogate, Surrogate) else build_surrogate(surrogate, alpha)
        self.recurrent = self.build_recurrent() if recurrent else None
        self.policy = FULL_BPTT

    # --- what subclasses provide -------------------------------------------------------------

    def step(self, x: Tensor, state: State, fire: Fire) -> tuple[Tensor, State]:
        """One time step: input current ``x [B, N...]`` and state in, spikes and new state out."""
        raise NotImplementedError

    def initial_state(self, x: Tensor) -> State:
        """Zeros shaped like one step of ``x``; override where the model starts elsewhere."""
        return tuple(torch.zeros_like(x) for _ in self.state_names)

    @property
    def trace_decay(self) -> Tensor | float:
        """The membrane leak λ, used by presynaptic traces (OTTT, e-prop)."""
        raise NotImplementedError

    def export_op(self) -> ExportOp:
        """The deployable form of this neuron; models without an ``nsb`` op say so."""
        raise NsbError(f"{type(self).__name__} has no nsb ONNX op yet, so it cannot be exported; "
                       f"train with an exportable neuron (lif, if, plif, rlif, alif, adlif, glif)")

    def build_recurrent(self) -> nn.Module:
        """The recurrent synapse; the seed's ``Recurrent_LIF`` uses a Linear with bias."""
        return nn.Linear(self.size, self.size)

    # --- the shared multi-step loop ----------------------------------------------------------

    @property
    def full_state_names(self) -> tuple[str, ...]:
        """The model's own state, then the last spike ``s`` (recurrent layers) and the e-prop trace."""
        names = self.state_names
        if self.recurrent is not None:
            names += ("s",) + (("trace",) if self.policy.recurrent == "trace" else ())
        return names

    def full_initial_state(self, x0: Tensor) -> State:
        extra = len(self.full_state_names) - len(self.state_names)
        return self.initial_state(x0) + tuple(torch.zeros_like(x0) for _ in range(extra))

    def _recurrent_input(self, s_prev: Tensor, trace: Tensor | None) -> tuple[Tensor, Tensor | None]:
        assert self.recurrent is not None
        mode = self.policy.recurrent
        if mode == "full":
            return self.recurrent(s_prev), trace
        if mode == "detached":
            return self.recurrent(s_prev.detach()), trace
        # e-prop: value W·s[t−1] + b, gradient δ·êᵀ into W only
        assert trace is not None
        trace = self.trace_decay * trace.detach() + s_prev.detach()
        value = self.recurrent(trace)
        correction = self.recurrent(s_prev.detach()) - value
        return value + correction.detach(), trace

    def check_input(self, x: Tensor) -> None:
        if x.dim() < 3:
            raise NsbError(f"{type(self).__name__} expects a time-major input [T, B, N...], got shape {tuple(x.shape)}")
        if x.dim() == 3 and x.shape[2] != self.size:
            raise NsbError(f"{type(self).__name__} has {self.size} neurons but the input has {x.shape[2]} features "
                           f"(shape {tuple(x.shape)}); make the preceding layer's output size {self.size}")

    # --- the fused CUDA kernels (nsb.kernels) ---------------------------------------------------

    #: whether forward_fused handles a recurrent synapse (the LIF family's RLIF kernel does)
    fused_recurrence: ClassVar[bool] = False

    def forward_fused(self, x: Tensor, state: State | None) -> tuple[Tensor, State]:
        """The same map through the neuron's fused kernel; models with one override this."""
        raise NotImplementedError

    def fused_unsupported(self, x: Tensor) -> str | None:
        """Why the fused kernel cannot run this call (None when it can)."""
        from nsb.kernels import SURROGATE_IDS

        p = self.policy
        if type(self).forward_fused is Neuron.forward_fused:
            return f"{type(self).__name__} has no fused kernel"
        if not x.is_cuda:
            return "the input is not on a CUDA device"
        if self.recurrent is not None and not self.fused_recurrence:
            return "the layer is recurrent"
        if self.recurrent is not None and p.recurrent != "full":
            return f"the learning rule's recurrent gradient '{p.recurrent}' is not fused"
        if not p.temporal or p.detach_state or p.truncate:
            return "the learning rule cuts the state's gradient (only STBP and reset detachment are fused)"
        if self.surrogate.name not in SURROGATE_IDS:
            return f"the surrogate '{self.surrogate.name}' has no kernel"
        if x.dtype not in (torch.float32, torch.float16, torch.bfloat16):
            return f"the dtype {x.dtype} has no kernel"
        return None

    def forward(self, x: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        if self.backend != "torch":
            reason = self.fused_unsupported(x)
            if reason is None:
                self.check_input(x)
                return self.forward_fused(x, state)
            if self.backend == "cuda":
                raise NsbError(f"neuron.backend = 'cuda' but the fused kernel cannot run here: {reason}; "
                               "set neuron.backend = 'auto' to fall back to the PyTorch loop")
        return self.forward_loop(x, state)

    def forward_loop(self, x: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        """The reference: the step function applied at every time step, in PyTorch."""
        self.check_input(x)
        policy = self.policy
        n_core = len(self.state_names)
        init = self.full_initial_state(x[0])
        state = init if state is None else tuple(state)
        if len(state) != len(init) or any(a.shape != b.shape for a, b in zip(state, init)):
            raise NsbError(f"{type(self).__name__} state must be {len(init)} tensors "
                           f"{list(self.full_state_names)} of shape {tuple(init[0].shape)}, "
                           f"got {[tuple(a.shape) for a in state]}")
        fire = self.surrogate.sequence_fire(x.shape[1:], x)
        spikes = []
        for t in range(x.shape[0]):
            core, extra = state[:n_core], state[n_core:]
            if policy.truncate and t and t % policy.truncate == 0:
                core, extra = tuple(c.detach() for c in core), tuple(e.detach() for e in extra)
            if not policy.temporal:
                core = init[:n_core]
            elif policy.detach_state:
                core = tuple(c.detach() for c in core)
            x_t = x[t]
            if self.recurrent is not None:
                r, trace = self._recurrent_input(extra[0], extra[1] if len(extra) > 1 else None)
                x_t = x_t + r
            s, core = self.step(x_t, core, fire)
            if self.recurrent is not None:
                extra = (s,) if trace is None else (s, trace)
            state = core + extra
            spikes.append(s)
        return torch.stack(spikes), state

    def extra_repr(self) -> str:
        return f"size={self.size}, recurrent={self.recurrent is not None}"
