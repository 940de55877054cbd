"""What the dense-recurrence neurons share (DH-LIF, LTC, the GSN cell; issue 16): neurons whose step
holds dense matrix products, so they are PyTorch layers of their own rather than element-wise op
declarations (``docs/architecture.md`` §5 covers those).

A :class:`LayerNeuron` is the declaration a config's ``model.neuron`` names (options with their ranges,
recurrence, whether the neuron owns its input layer); the registry loads it on first use
(``nsb.neurons.LAYER_FILES``), so ``import nsb.neurons`` stays free of torch. :class:`DenseNeuron` is the
base of the layers: it is an :class:`nsb.neurons.module.Neuron`, so probes, metrics, learning rules
and the exporter find it as they find every neuron, with the same contract — ``spikes, state =
layer(x [T, B, N], state)``, explicit state that continues a stream cut into chunks, and one
``self.step`` call per time step (the membrane-update metric wraps it).

What the math allows outside the time loop runs outside it: the products of the input with its
weights for the whole sequence at once (one GEMM); only the products of the previous spike, membrane
or adaptation stay in the loop.

Deployment (:class:`DenseDeploy`): the same recurrence with a hard spike, as

* one ``torch.ops.higher_order.scan`` over time under ``torch.export`` (``model.pt2``) and under the
  dynamo ONNX exporter, which writes it as a standard ONNX ``Scan`` whose body holds the in-loop
  products (the weights are loop-carried values passed through unchanged, so the body references
  nothing outside itself), in ``model.onnx`` and ``model.std.onnx`` alike (no ``nsb`` op);
* a scripted TorchScript function with the time loop (``model.ts``), which ``torch.jit.trace`` keeps
  as a call, so the sequence length stays dynamic.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, Literal

import torch
from torch import Tensor, nn

from nsb.errors import ConfigError, NsbError, closest
from nsb.neurons.declare import Float, Option
from nsb.neurons.module import FULL_BPTT, GradPolicy, Neuron
from nsb.surrogate import Surrogate, build_surrogate

State = tuple[Tensor, ...]
BACKENDS = ("auto", "torch", "cuda", "cpu")


@dataclass(frozen=True)
class OptionalFloat(Float):
    """A float option that may stay unset (None): the layer derives its value (LTC's b₀ = θ)."""


@dataclass(frozen=True, eq=False)
class LayerNeuron:
    """The declaration of a dense-recurrence neuron: what ``model.neuron`` names."""

    name: str
    doc: str
    op_name: str                                   # its name in manifests and refusals, e.g. "DHLIF"
    layer: Callable[..., DenseNeuron]
    states: tuple[str, ...]                        # the state tuple's names, the membrane first, then "s"
    options: Mapping[str, Option] = field(default_factory=dict)
    recurrence: Literal["optional", "always", "never"] = "optional"
    owns_input: bool = False                       # holds its input Linear: the network gives it no synapse
    # what code walking every neuron's declaration reads: no learned tensors of the op kind (the layer holds
    # its own), no input BN, no fixed surrogate
    learned: Mapping[str, Any] = field(default_factory=dict)
    input_norm: str = ""
    surrogate: str = ""

    @property
    def op(self) -> SimpleNamespace:
        """What code asking for a neuron's op (the NIR exporter's refusal, listings) reads: its name and states."""
        return SimpleNamespace(name=self.op_name, all_states=self.states)

    def check_options(self, given: Mapping[str, Any]) -> dict[str, Any]:
        for key in given:
            if key not in self.options:
                raise ConfigError(f"neuron '{self.name}' has no option '{key}'{closest(key, self.options)}; "
                                  f"it takes: {', '.join(self.options) or 'none'}")
        out: dict[str, Any] = {}
        for key, spec in self.options.items():
            if key in given:
                out[key] = spec.check(f"neuron.{key}", given[key])
            elif spec.default is None and not isinstance(spec, OptionalFloat):
                raise ConfigError(f"neuron '{self.name}' needs the option '{key}'"
                                  + (f" ({spec.doc})" if spec.doc else ""))
            else:
                out[key] = spec.default
        return out

    def build(self, size: int, **kwargs: Any) -> DenseNeuron:
        return self.layer(self, size, **kwargs)


class DenseNeuron(Neuron):
    """Base of the dense-recurrence layers. Subclasses set up their tensors in ``setup``, and define
    ``initial_state``, ``run`` (the training loop, calling ``self.step`` once per step) and
    ``deploy_tensors``/``deploy_run``/``deploy_scan``."""

    decl: LayerNeuron  # type: ignore[assignment]

    def __init__(self, decl: LayerNeuron, size: int, *, surrogate: str | Surrogate | None = None, alpha: float = 1.0,
                 recurrent: bool | None = None, backend: str = "auto", input_size: int | None = None,
                 **options: Any) -> None:
        nn.Module.__init__(self)
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ConfigError(f"a neuron layer needs at least one neuron, got size={size!r}")
        if backend not in BACKENDS:
            raise ConfigError(f"unknown neuron backend '{backend}'; choose one of: {', '.join(BACKENDS)}")
        if recurrent is not None and decl.recurrence != "optional":
            raise ConfigError(f"neuron '{decl.name}' is {'always' if decl.recurrence == 'always' else 'never'} "
                              "recurrent; drop the recurrent option")
        if input_size is not None and (isinstance(input_size, bool) or not isinstance(input_size, int)
                                       or input_size < 1):
            raise ConfigError(f"neuron '{decl.name}' needs a positive input size, got {input_size!r}")
        self.decl = decl
        self.size = size
        self.input_size = int(input_size) if input_size is not None and decl.owns_input else size
        # the products in the loop are GEMMs, which PyTorch already runs well on any device; only DH-LIF's
        # feed-forward layer, an element-wise recurrence once its input GEMM is done, has fused kernels
        self.backend = backend
        self.options = SimpleNamespace(**decl.check_options(options))
        surrogate = "rectangle" if surrogate is None else surrogate
        self.surrogate = surrogate if isinstance(surrogate, Surrogate) else build_surrogate(surrogate, alpha)
        self.is_recurrent = decl.recurrence == "always" or (decl.recurrence == "optional" and bool(recurrent))
        self.recurrent = None  # a subclass with the seed's separate recurrent Linear (LTC) sets it
        self.learned = ()
        self.norm = None
        self._policy = FULL_BPTT
        self.setup()

    def setup(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def deploy_constants(self) -> dict[str, Any]:
        """The numbers (not tensors) the recurrence needs: sizes, θ, the spike test; also the initial state's."""
        return {"size": self.size, "threshold": float(self.options.threshold),
                "ge": self.surrogate.spike_test == "greater_equal"}

    @staticmethod
    def initial(x0: Tensor, constants: dict[str, Any]) -> State:  # pragma: no cover - abstract
        """The state at t = 0 for one step ``x0 [B, N_in]`` of the input."""
        raise NotImplementedError

    def initial_state(self, x: Tensor) -> State:
        return self.initial(x, self.deploy_constants())

    # --- what every nsb neuron answers ---------------------------------------------------------

    @property
    def op(self) -> SimpleNamespace:  # type: ignore[override]
        return self.decl.op

    @property
    def policy(self) -> GradPolicy:
        return self._policy

    @policy.setter
    def policy(self, value: GradPolicy) -> None:
        # full BPTT (STBP) and its truncation (T-STBP) are these layers' rules; the others detach parts of
        # an element-wise state or trace presynaptic inputs the seed defines for LIF-like neurons only
        if value.detach_state or value.detach_reset or not value.temporal or value.recurrent != "full":
            raise ConfigError(f"neuron '{self.decl.name}' trains with STBP or T-STBP (full or truncated BPTT) only; "
                              "choose train.learning_rule = \"stbp\" or \"tstbp\"")
        self._policy = value

    @property
    def state_names(self) -> tuple[str, ...]:
        return self.decl.states

    @property
    def full_state_names(self) -> tuple[str, ...]:
        return self.decl.states

    def full_initial_state(self, x: Tensor) -> State:
        return self.initial_state(x)

    @property
    def trace_decay(self) -> float:  # type: ignore[override]
        raise ConfigError(f"neuron '{self.decl.name}' has no presynaptic trace decay (OTTT, e-prop)")

    def fused_unsupported(self, x: Tensor) -> str | None:
        return f"neuron '{self.decl.name}' has no fused kernel (its step holds dense matrix products)"

    def export_op(self):  # type: ignore[override]
        raise NsbError(f"neuron '{self.decl.name}' ({self.decl.op_name}) is not an nsb op; it exports through "
                       "deploy_module()")

    def folded(self):  # type: ignore[override]
        raise NsbError(f"neuron '{self.decl.name}' has no folded op")

    def check_input(self, x: Tensor) -> None:
        if x.dim() != 3:
            raise NsbError(f"{self.decl.name} expects a time-major input [T, B, N], got shape {tuple(x.shape)}")
        if x.shape[-1] != self.input_size:
            raise NsbError(f"{self.decl.name} takes {self.input_size} input features but the input has "
                           f"{x.shape[-1]} (shape {tuple(x.shape)}); make the preceding layer's output size "
                           f"{self.input_size}")

    def forward(self, x: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        self.check_input(x)
        reason = None if self.backend == "torch" else self.fused_unsupported(x)
        if reason is not None and self.backend in ("cuda", "cpu"):
            raise NsbError(f"neuron.backend = '{self.backend}' but {reason}; set neuron.backend = 'auto'")
        state = self._check_state(x, state)
        if self.backend != "torch" and reason is None:
            return self.run_fused(x, state)
        return self.run(x, state)

    def forward_loop(self, x: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        """The reference: ``run``, the step applied at every time step in PyTorch."""
        self.check_input(x)
        return self.run(x, self._check_state(x, state))

    def run_fused(self, x: Tensor, state: State) -> tuple[Tensor, State]:  # pragma: no cover - abstract
        """The same map through generated fused kernels, where ``fused_unsupported`` allows it."""
        raise NotImplementedError

    def step(self, x: Any, state: dict[str, Tensor], params: dict[str, Any],  # type: ignore[override]
             prims: Any) -> tuple[Tensor, dict]:
        """One time step: ``x`` the step's input terms, ``state`` the previous states by name, ``params``
        this layer's tensors, ``prims.fire`` the spike. Returns the spike and the new states."""
        raise NotImplementedError  # pragma: no cover - abstract

    def loop(self, inputs: tuple[Tensor, ...], state: dict[str, Tensor], params: dict[str, Any]
             ) -> tuple[Tensor, dict[str, Tensor]]:
        """Run ``self.step`` over time on ``inputs`` (each ``[T, …]``), truncating the gradient every K steps
        under T-STBP."""
        # the spike is [B, N] whatever the step's input terms are (DH-LIF's branch currents are [B, N, B_n])
        prims = SimpleNamespace(fire=self.surrogate.sequence_fire(torch.Size((inputs[0].shape[1], self.size)),
                                                                  inputs[0]))
        spikes = []
        truncate = self.policy.truncate
        # unbind, not x[t]: indexing's backward would fill a zero tensor of the whole sequence at every step
        steps = list(zip(*(i.unbind(0) for i in inputs)))
        for t, x_t in enumerate(steps):
            if truncate and t and t % truncate == 0:
                state = {k: v.detach() for k, v in state.items()}
            s, new = self.step(x_t, state, params, prims)
            state = {**state, **new, "s": s}
            spikes.append(s)
        return torch.stack(spikes), state

    def run(self, x: Tensor, state: State) -> tuple[Tensor, State]:  # pragma: no cover - abstract
        raise NotImplementedError

    # --- metrics: the weights multiply inside the loop, where no connection hook sees them ----------

    def weight_matrices(self) -> list[Tensor]:  # pragma: no cover - abstract
        """The layer's weight matrices as the seed's cell holds them (connection sparsity)."""
        raise NotImplementedError

    def step_synapses(self, x_t: Tensor, state: dict[str, Tensor], params: dict[str, Any]
                      ) -> list[tuple[Tensor, Tensor]]:  # pragma: no cover - abstract
        """The products ``(operand, weight)`` the seed's cell computes at one step from the layer's input
        ``x_t`` and the previous states, each counted as a Linear call (:func:`nsb.metrics.ops.product_ops`);
        nsb's reordering (the input's products as one GEMM before the loop) does not change them."""
        raise NotImplementedError

    # --- deployment -----------------------------------------------------------------------------

    def deploy_module(self) -> DenseDeploy:
        return DenseDeploy(self)

    def deploy_tensors(self) -> dict[str, Tensor]:  # pragma: no cover - abstract
        """The trained tensors the deployed recurrence needs, by name (folded: σ of the decays etc.)."""
        raise NotImplementedError

    @staticmethod
    def deploy_scan(x: Tensor, tensors: tuple[Tensor, ...], state: State, constants: dict[str, Any]
                    ) -> tuple[Tensor, State]:  # pragma: no cover - abstract
        """The deployed recurrence as one ``scan`` over time (ONNX ``Scan``, ``torch.export``)."""
        raise NotImplementedError

    @staticmethod
    def deploy_script(x: Tensor, tensors: tuple[Tensor, ...], state: State, constants: dict[str, Any]
                      ) -> tuple[Tensor, State]:  # pragma: no cover - abstract
        """The deployed recurrence as a scripted TorchScript loop (``model.ts``)."""
        raise NotImplementedError

    def extra_repr(self) -> str:
        opts = ", ".join(f"{k}={v}" for k, v in vars(self.options).items())
        return (f"{self.decl.name}, size={self.size}, input_size={self.input_size}, recurrent={self.is_recurrent}"
                + (f", {opts}" if opts else ""))


class DenseDeploy(nn.Module):
    """The deployable twin of a :class:`DenseNeuron`: its folded tensors as buffers, a hard spike, and the
    recurrence as a ``scan`` under export (``model.pt2``, ONNX ``Scan``) or a scripted loop (``model.ts``)."""

    def __init__(self, neuron: DenseNeuron) -> None:
        super().__init__()
        self.kind = type(neuron)
        self.spec = SimpleNamespace(name=neuron.decl.op_name, step_inputs=(), parameter_inputs=())
        self.names = tuple(neuron.deploy_tensors())
        for name, tensor in neuron.deploy_tensors().items():
            self.register_buffer(name, tensor.detach().clone().float().contiguous())
        self.constants = neuron.deploy_constants()
        self.sink: list[Tensor] = []  # set by DeployModel for each call

    def tensors(self) -> tuple[Tensor, ...]:
        return tuple(getattr(self, n) for n in self.names)

    def forward(self, x: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        if state is None:
            state = self.kind.initial(x[0], self.constants)
        state = tuple(t.to(x.dtype) for t in state)
        if torch.onnx.is_in_onnx_export() or torch.compiler.is_exporting():
            spikes, final = self.kind.deploy_scan(x, self.tensors(), state, self.constants)
        else:
            spikes, final = self.kind.deploy_script(x, self.tensors(), state, self.constants)
        self.sink.append(spikes)
        return spikes, final


def scan_with_weights(body: Callable, state: State, weights: tuple[Tensor, ...], xs: tuple[Tensor, ...]
                      ) -> tuple[Tensor, State]:
    """``torch``'s ``scan`` of ``body(state, weights, x_t) -> (new state, spike)`` with the weights carried
    through every step unchanged: ONNX's ``Scan`` body then reads nothing from outside itself (TensorRT's
    parser refuses outer-scope references)."""
    from torch._higher_order_ops.scan import scan

    n = len(state)

    def step(carry: tuple[Tensor, ...], x_t: tuple[Tensor, ...]) -> tuple[tuple[Tensor, ...], Tensor]:
        new, spike = body(carry[:n], carry[n:], x_t)
        new = tuple(v.clone() if any(v is c for c in carry) else v for v in new)
        return (*new, *(w.clone() for w in carry[n:])), spike.clone()

    final, spikes = scan(step, (*state, *weights), xs)
    return spikes, tuple(final[:n])


def hard_fire(u: Tensor, ge: bool) -> Tensor:
    """The deployed spike: ``u > 0`` (``u ≥ 0`` under the ASGL surrogate's test), no surrogate."""
    return ((u >= 0) if ge else (u > 0)).to(u.dtype)


__all__ = ["DenseDeploy", "DenseNeuron", "LayerNeuron", "OptionalFloat", "hard_fire", "scan_with_weights"]
