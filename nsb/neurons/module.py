"""The PyTorch layer of any declared neuron: a thin stateful module over the op's stateless step.

A layer maps a time-major input ``x [T, B, N...]`` and an optional initial state to spikes
``[T, B, N...]`` and the final state (a tuple of tensors named by ``full_state_names``), so a stream
cut into chunks gives the same result as one pass. Single-step use is the same call with T = 1.

What differs between neurons is their declaration (:mod:`nsb.neurons.declare`): the options a
config may set, the learned tensors and their initialisation, and how they fold into the op's
attributes and inputs. This module owns what is the same for every neuron:

* the learned tensors, the optional input BN and recurrent synapse, the initial state;
* the reference forward (``forward_loop``): the op's step function run on torch tensors with the
  surrogate spike, at every time step, with the recurrent input ``W_rec·s[t−1] + b`` added first;
* the gradient policy a learning rule sets (:class:`GradPolicy`);
* the fused kernels (``forward_fused``), generated from the same step (:mod:`nsb.kernels`);
* the deployable form (``export_op``): the op's name, folded attributes and input tensors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Literal

import torch
from torch import Tensor, nn

from nsb.errors import ConfigError, NsbError
from nsb.neurons.declare import SPIKE_STATE, STEP_STATE, Fold, Neuron as Declaration, Op
from nsb.neurons.synapses import ZeroDiagonalRecurrent
from nsb.surrogate import Surrogate, build_surrogate

State = tuple[Tensor, ...]
RecurrentGrad = Literal["full", "detached", "trace"]


@dataclass(frozen=True)
class GradPolicy:
    """Which gradient paths a learning rule keeps (``reference/neuroseqbench.md`` §3).

    temporal:        False for NoTD: every step starts from the initial state (no memory, no reset); with
                     V_rest = 0, the seed's setting, that is its v = x[t]; with V_rest ≠ 0 it is λ·V_rest + x.
    detach_state:    the previous state enters the step as a constant (SDBP, OTTT, SLTT, e-prop):
                     λ·sg(v[t−1]), sg(s[t−1]).
    detach_reset:    a spike enters a reset (``f.reset``) as a constant.
    truncate:        K > 0 cuts the state's gradient every K steps (T-STBP / TBPTT).
    recurrent:       the recurrent input's gradient: "full" (W·s[t−1]), "detached" (W·sg(s[t−1]):
                     gradient into W only, SLTT) or "trace" (e-prop: forward W·s[t−1], gradient
                     through W·ê[t], ê[t] = λ·ê[t−1] + s[t−1] a presynaptic eligibility trace).
                     The recurrent input keeps its gradient under ``detach_state`` (the seed's SDBP).
    """

    temporal: bool = True
    detach_state: bool = False
    detach_reset: bool = False
    truncate: int = 0
    recurrent: RecurrentGrad = "full"


FULL_BPTT = GradPolicy()

#: "auto": the fused kernel where it applies (CUDA tensors: the NVRTC build; CPU tensors: the CPU
#: training kernels, built with the system C++ compiler), else the PyTorch loop; "torch": always the
#: loop; "cuda" / "cpu": that kernel or an error naming why not
BACKENDS = ("auto", "torch", "cuda", "cpu")
#: an R-op's block keeps two steps of spikes in shared memory: 2·N floats within the 48 KiB default
MAX_FUSED_RECURRENT = 6144


@dataclass(frozen=True)
class ExportOp:
    """How a trained layer leaves PyTorch: an ``nsb`` op with its attributes folded (floats and
    choices) and its input tensors in the op's order (``Op.parameter_inputs``)."""

    name: str
    attributes: dict[str, float | str]
    params: tuple[Tensor, ...] = ()


class _Folds:
    """The ``f`` namespace of folds, on torch tensors."""

    exp = staticmethod(torch.exp)
    sigmoid = staticmethod(torch.sigmoid)

    @staticmethod
    def clamp(x: Tensor, lo: float, hi: float) -> Tensor:
        return x.clamp(lo, hi)


class _Init:
    """The ``g`` namespace of initialisers: tensors of one learned shape, from the global RNG."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = shape

    def normal(self, mean: float, std: float) -> Tensor:
        return torch.empty(self.shape).normal_(mean, std)

    def uniform(self, lo: float, hi: float) -> Tensor:
        return torch.empty(self.shape).uniform_(lo, hi)

    def full(self, value: float) -> Tensor:
        return torch.full(self.shape, float(value))

    def zeros(self) -> Tensor:
        return torch.zeros(self.shape)

    @staticmethod
    def logit(p: float) -> float:
        return -math.log(1 / p - 1)  # as the seed writes it, in double precision


class _Spikes:
    """The ``f`` namespace of the step in training: the surrogate spike and the policy's reset."""

    def __init__(self, fire, detach_reset: bool) -> None:
        self.fire = fire
        self.detach_reset = detach_reset

    def reset(self, s: Tensor) -> Tensor:
        return s.detach() if self.detach_reset else s

    @staticmethod
    def detach(value: Tensor) -> Tensor:
        return value.detach()

    sigmoid = staticmethod(torch.sigmoid)


class _LearnedView:
    """The ``w`` namespace of folds: each learned tensor as the layer uses it, read when a fold asks (an
    initial value that needs only the options folds on a layer whose tensors the pt2 twin dropped)."""

    def __init__(self, layer: "Neuron") -> None:
        self._layer = layer

    def __getattr__(self, name: str) -> Tensor:
        return self._layer.learned_tensor(name)


_MODULE_NAMES = {"decl", "options", "size", "backend", "surrogate", "recurrent", "policy", "norm", "learned"}


class Neuron(nn.Module):
    """A layer of ``size`` neurons of a declared neuron; see the module docstring for the contract."""

    def __init__(self, decl: Declaration, size: int, *, surrogate: str | Surrogate | None = None, alpha: float = 1.0,
                 recurrent: bool | None = None, backend: str = "auto", **options: Any) -> None:
        super().__init__()
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ConfigError(f"a neuron layer needs at least one neuron, got size={size!r}")
        if backend not in BACKENDS:
            raise ConfigError(f"unknown neuron backend '{backend}'; choose one of: {', '.join(BACKENDS)}")
        if recurrent is not None and decl.recurrence != "optional":
            raise ConfigError(f"neuron '{decl.name}' is {'always' if decl.recurrence == 'always' else 'never'} "
                              "recurrent; drop the recurrent option")
        self.decl = decl
        self.size = size
        self.backend = backend
        self.options = SimpleNamespace(**decl.check_options(options))
        if surrogate is None:  # the neuron's own spike function (asgl_lif), else the seed's default
            surrogate = decl.surrogate or "rectangle"
        self.surrogate = surrogate if isinstance(surrogate, Surrogate) else build_surrogate(surrogate, alpha)
        if decl.surrogate and self.surrogate.name != decl.surrogate:
            raise ConfigError(f"neuron '{decl.name}' spikes through the '{decl.surrogate}' surrogate; set "
                              f"surrogate.name = \"{decl.surrogate}\" (got '{self.surrogate.name}')")
        is_recurrent = decl.recurrence == "always" or (decl.recurrence == "optional" and bool(recurrent))
        self.recurrent = self._build_recurrent() if is_recurrent else None
        self.learned = tuple(decl.learned)
        for name, spec in decl.learned.items():
            if name in _MODULE_NAMES:
                raise ValueError(f"neuron {decl.name}: a learned tensor cannot be named '{name}'")
            setattr(self, name, nn.Parameter(spec.init(_Init(self._shape(spec)), self.options).float()))
        use_norm = decl.input_norm and getattr(self.options, decl.input_norm)
        self.norm = nn.BatchNorm1d(size, momentum=0.05) if use_norm else None
        self.policy = FULL_BPTT

    def _shape(self, spec) -> tuple[int, ...]:
        if spec.shape == "scalar":
            return ()
        if spec.shape == "neuron":
            return (self.size,)
        return (int(getattr(self.options, spec.rows)), self.size)

    def _build_recurrent(self) -> nn.Module:
        if self.decl.recurrent_synapse == "zero_diagonal":
            return ZeroDiagonalRecurrent(self.size)
        return nn.Linear(self.size, self.size)  # the seed's recurrent_weight, with bias

    # --- the op -------------------------------------------------------------------------------

    @property
    def op(self) -> Op:
        from nsb.ops.registry import op

        return op(("R" if self.recurrent is not None else "") + self.decl.op.name)

    def learned_tensor(self, name: str) -> Tensor:
        """A learned tensor as this layer uses it: a network-wide one (``Learned.shared``) is cut to the
        layer's first N columns."""
        tensor = getattr(self, name)
        if self.decl.learned[name].shared:
            return tensor[..., :self.size]
        return tensor

    def _fold(self, fold: Fold) -> Any:
        if callable(fold):
            return fold(_Folds, _LearnedView(self), self.options)
        if isinstance(fold, str):
            return getattr(self.options, fold)
        return fold

    def folded(self) -> tuple[dict[str, Any], dict[str, Tensor]]:
        """The op's attributes (floats: numbers or 0-d tensors; choices: strings) and inputs, from the
        learned tensors and the options, differentiable."""
        op = self.decl.op
        attributes: dict[str, Any] = {}
        for name, spec in op.all_attributes.items():
            if name in self.decl.fold:
                attributes[name] = self._fold(self.decl.fold[name])
            elif name == "spike_test":
                attributes[name] = self.surrogate.spike_test
            elif hasattr(self.options, name):
                attributes[name] = getattr(self.options, name)
            else:
                attributes[name] = spec.default
        inputs = {name: self._fold(self.decl.fold[name]) for name in (*op.inputs, *op.step_inputs)}
        return attributes, inputs

    def recurrent_weights(self) -> tuple[Tensor, Tensor]:
        """The recurrent synapse as the op's ``W_rec`` and ``B_rec``: current += s·W_recᵀ + B_rec."""
        assert self.recurrent is not None
        if isinstance(self.recurrent, ZeroDiagonalRecurrent):
            w = self.recurrent.effective_weight().t()
            return w, torch.zeros(self.size, dtype=w.dtype, device=w.device)
        return self.recurrent.weight, self.recurrent.bias

    @torch.no_grad()
    def export_op(self) -> ExportOp:
        """The deployable form of this layer (the exporter writes the input BN as standard ops)."""
        attributes, inputs = self.folded()
        attrs = {k: (str(v) if self.op.all_attributes[k].kind == "choice" else float(v)) for k, v in attributes.items()}
        params = [inputs[n].detach().clone().float() for n in (*self.op.inputs, *self.op.step_inputs)]
        if self.recurrent is not None:
            params += [t.detach().clone().float() for t in self.recurrent_weights()]
        return ExportOp(self.op.name, attrs, tuple(params))

    @property
    def trace_decay(self) -> Tensor | float:
        """The membrane leak λ, used by presynaptic traces (OTTT, e-prop)."""
        value = self._fold(self.decl.trace_decay)
        return value.detach() if isinstance(value, Tensor) else float(value)

    # --- state --------------------------------------------------------------------------------

    @property
    def state_names(self) -> tuple[str, ...]:
        """The op's states: the model's own, the last spike ``s``, and the step index ``t`` (per-step inputs)."""
        return self.decl.op.all_states

    @property
    def full_state_names(self) -> tuple[str, ...]:
        """The op's states, then the e-prop eligibility trace of a recurrent layer."""
        extra = ("trace",) if self.recurrent is not None and self.policy.recurrent == "trace" else ()
        return self.state_names + extra

    def initial_state(self, x: Tensor) -> State:
        """The state at t = 0 for one step of ``x``: each state's declared start (V_rest, b0, …), ``s = 0``."""
        out = []
        for name in self.state_names:
            if name == STEP_STATE:
                out.append(torch.zeros((), dtype=torch.long, device=x.device))
            elif name in self.decl.initial:
                out.append(torch.full_like(x, float(self._fold(self.decl.initial[name]))))
            else:
                out.append(torch.zeros_like(x))
        return tuple(out)

    def full_initial_state(self, x: Tensor) -> State:
        extra = len(self.full_state_names) - len(self.state_names)
        return self.initial_state(x) + tuple(torch.zeros_like(x) for _ in range(extra))

    def check_input(self, x: Tensor) -> None:
        if x.dim() < 3:
            raise NsbError(f"{self.decl.name} expects a time-major input [T, B, N...], got shape {tuple(x.shape)}")
        if x.shape[-1] != self.size and (x.dim() == 3 or self.decl.op.inputs or self.recurrent is not None):
            raise NsbError(f"{self.decl.name} has {self.size} neurons but the input has {x.shape[-1]} features "
                           f"(shape {tuple(x.shape)}); make the preceding layer's output size {self.size}")

    def _check_state(self, x: Tensor, state: State | None, init: State | None = None) -> State:
        init = self.full_initial_state(x[0]) if init is None else init
        if state is None:
            return init
        return matching_state(self.decl.name, self.full_state_names, init, state)

    # --- forward ------------------------------------------------------------------------------

    def forward(self, x: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        self.check_input(x)
        if self.norm is not None:
            x = self.norm(x.reshape(-1, x.shape[-1])).reshape(x.shape)
        if self.backend != "torch":
            reason = self.fused_unsupported(x)
            if reason is None:
                return self.forward_fused(x, self._check_state(x, state))
            if self.backend in ("cuda", "cpu"):
                raise NsbError(f"neuron.backend = '{self.backend}' but the fused kernel cannot run here: {reason}; "
                               "set neuron.backend = 'auto' to fall back to the PyTorch loop")
        return self.forward_loop(x, state)

    def forward_loop(self, x: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        """The reference: the op's step applied at every time step, in PyTorch."""
        policy = self.policy
        op = self.decl.op
        names = self.full_state_names
        start_state = self.full_initial_state(x[0])
        init = dict(zip(names, start_state))
        current = dict(zip(names, self._check_state(x, state, start_state)))
        attributes, inputs = self.folded()
        params = {k: (v if isinstance(v, str) else _scalar(v, x)) for k, v in attributes.items()}
        params.update({k: v for k, v in inputs.items() if k in op.inputs})
        rows = {k: v for k, v in inputs.items() if k in op.step_inputs}
        prims = _Spikes(self.surrogate.sequence_fire(x.shape[1:], x), policy.detach_reset)
        # read once per call, not per step: the step index (a device sync on a GPU) and e-prop's λ (a fold)
        start = int(current[STEP_STATE]) if op.step_inputs else 0
        for name, table in rows.items():
            if start + x.shape[0] > table.shape[0]:
                raise NsbError(f"{self.decl.name} was built for {table.shape[0]} steps (its {name} has one "
                               f"row per step) but step {max(start, table.shape[0]) + 1} was requested; set the "
                               f"model's time_steps to the sequence length")
        decay = self.trace_decay if self.recurrent is not None and policy.recurrent == "trace" else None
        spikes = []
        for t in range(x.shape[0]):
            if policy.truncate and t and t % policy.truncate == 0:
                current = {k: (v.detach() if v.is_floating_point() else v) for k, v in current.items()}
            if not policy.temporal:
                step_state = {n: init[n] for n in op.element_states}
            elif policy.detach_state:
                step_state = {n: current[n].detach() for n in op.element_states}
            else:
                step_state = {n: current[n] for n in op.element_states}
            x_t = x[t]
            if self.recurrent is not None:
                r, trace = self._recurrent_input(current[SPIKE_STATE], current.get("trace"), decay)
                if trace is not None:
                    current["trace"] = trace
                x_t = x_t + r
            for name, table in rows.items():
                params[name] = table[start + t]
            s, changed = self.step(x_t, step_state, params, prims)
            current.update(changed)
            current[SPIKE_STATE] = s
            spikes.append(s)
        if op.step_inputs:
            current[STEP_STATE] = current[STEP_STATE] + x.shape[0]
        return torch.stack(spikes), tuple(current[n] for n in names)

    def step(self, x: Tensor, state: dict[str, Tensor], params: dict[str, Any], prims: Any) -> tuple[Tensor, dict]:
        """One time step of the op: the spike and the states it changed (metrics wrap this per step)."""
        return self.decl.op.step(prims, x, SimpleNamespace(**state), SimpleNamespace(**params))

    def _recurrent_input(self, s_prev: Tensor, trace: Tensor | None,
                         decay: Tensor | float | None) -> tuple[Tensor, Tensor | None]:
        assert self.recurrent is not None
        mode = self.policy.recurrent
        if mode == "full":
            return self.recurrent(s_prev), trace
        if mode == "detached":
            return self.recurrent(s_prev.detach()), trace
        # e-prop: value W·s[t−1] + b exactly, gradient δ·êᵀ into W only
        assert trace is not None and decay is not None
        trace = decay * trace.detach() + s_prev.detach()
        through_trace = self.recurrent(trace)
        return self.recurrent(s_prev.detach()).detach() + (through_trace - through_trace.detach()), trace

    # --- the fused kernels (nsb.kernels) ------------------------------------------------------

    def fused_unsupported(self, x: Tensor) -> str | None:
        """Why the fused kernel cannot run this call (None when it can)."""
        from nsb.kernels import SURROGATE_IDS, cpu_unavailable, tensor_unsupported

        p = self.policy
        reason = tensor_unsupported(x, self.backend)
        if reason is not None:
            return reason
        if self.recurrent is not None and p.recurrent != "full":
            return f"the learning rule's recurrent gradient '{p.recurrent}' is not fused"
        if self.recurrent is not None and x.dim() != 3:
            return "a recurrent layer's input must be [T, B, N]"
        if self.recurrent is not None and self.size > MAX_FUSED_RECURRENT and x.is_cuda:
            return f"a recurrent layer of more than {MAX_FUSED_RECURRENT} neurons (its spikes live in shared memory)"
        if not p.temporal or p.detach_state:
            return ("the learning rule cuts the state's gradient at every step (the kernels run STBP and T-STBP, "
                    "with or without reset detachment)")
        if self.surrogate.name not in SURROGATE_IDS:
            return f"the surrogate '{self.surrogate.name}' has no kernel"
        return cpu_unavailable(x, self.backend)  # last: the first call builds the CPU kernels

    def forward_fused(self, x: Tensor, state: State) -> tuple[Tensor, State]:
        """The same map through the op's fused kernel (generated from the same step)."""
        from nsb.kernels.fused import fused_forward

        return fused_forward(self, x, state)

    def extra_repr(self) -> str:
        opts = ", ".join(f"{k}={v}" for k, v in vars(self.options).items())
        return f"{self.decl.name}, size={self.size}, recurrent={self.recurrent is not None}" + (f", {opts}" if opts else "")


def share_learned(model: nn.Module) -> nn.Module:
    """Give every layer of a neuron whose declaration has a ``shared`` learned tensor (CELIF's temporal
    embedding) one tensor for the whole network: as wide as the widest such layer, initialised once
    by the declaration, each layer reading its first N columns. Returns ``model``."""
    groups: dict[tuple[str, str], list[Neuron]] = {}
    for module in model.modules():
        if isinstance(module, Neuron):
            for name, spec in module.decl.learned.items():
                if spec.shared:
                    groups.setdefault((module.decl.name, name), []).append(module)
    for (neuron, name), layers in groups.items():
        spec = layers[0].decl.learned[name]
        shapes = {layer._shape(spec)[:-1] for layer in layers}
        if len(shapes) > 1:
            raise ConfigError(f"the {neuron} layers share '{name}' but differ in its leading shape {sorted(shapes)}; "
                              "give them the same options")
        shape = (*shapes.pop(), max(layer.size for layer in layers))
        shared = nn.Parameter(spec.init(_Init(shape), layers[0].options).float())
        for layer in layers:
            setattr(layer, name, shared)
    return model


def _scalar(value: Any, like: Tensor) -> Tensor:
    """A float attribute as a 0-d tensor of the input's dtype, so attribute-only arithmetic (V_rest − θ)
    rounds in float32 as every other backend does; learned ones keep their graph."""
    if isinstance(value, Tensor):
        return value.to(like.dtype)
    return torch.tensor(float(value), dtype=like.dtype, device=like.device)


def matching_state(name: str, names: tuple[str, ...], init: State, state: State) -> State:
    """``state`` as a tuple, refused in one line unless it has ``init``'s tensors and shapes."""
    state = tuple(state)
    if len(state) != len(init) or any(a.shape != b.shape for a, b in zip(state, init)):
        raise NsbError(f"{name} state must be {len(init)} tensors {list(names)} shaped "
                       f"{[tuple(t.shape) for t in init]}, got {[tuple(a.shape) for a in state]}")
    return state
