"""The vocabulary a neuron file is written in: one op (the math of one step) and one neuron (how a
layer holds, initialises and folds its parameters into that op). Nothing here imports torch.

An :class:`Op` is what every backend is generated from (``docs/architecture.md``, "Op
declarations"): its attributes (type, default, range), its per-neuron and per-step inputs, its
states, and one ``step(f, x, state, p)`` written with Python arithmetic (``+ - * /``, unary ``-``)
and the primitives of ``f``:

``f.fire(u)``   the spike of ``u = membrane − threshold``: Heaviside forward (``u > 0``, or ``u ≥ 0``
                under ``spike_test = "greater_equal"``), the surrogate's derivative backward;
``f.reset(s)``  a previous spike where it resets or adapts the neuron: the spike itself, but a
                constant (no gradient) under the learning rules that detach the reset;
``f.detach(v)`` a value that is always a constant in the backward (LM-H's ``vs − sg(s)``).

``x`` is the step's input current (the recurrent current already added), ``state`` holds the
previous step's states by name (always including the last spike ``s``), ``p`` the op's attributes
(floats as scalars, choices as their string, so ``if p.reset_mode == "hard":`` picks code at trace
time) and inputs (this neuron's value; a per-step input is this step's row). ``step`` returns the
spike and a dict of the new values of the states it changes. The evaluation order of the Python
expression is the order every backend computes in, which keeps them bit-exact.

A :class:`Neuron` names the config options of a layer, its learned tensors and their
initialisation, and how they fold into the op's attributes and inputs (``fold``): the learned
decay of PLIF is ``σ(w)``, ALIF's input ``ALPHA`` is ``exp(−1/τ_m)``. Folds and initialisers are
written against the namespaces ``f`` (``exp``, ``sigmoid``, ``clamp``, ``logit`` …) and ``g``
(``normal``, ``uniform``, ``full``, ``zeros``) that the PyTorch module passes in.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from nsb.errors import ConfigError

#: the spike test every op carries: the seed's LIFAct compares v > θ; its ASGL spike u ≥ 0
SPIKE_TESTS = ("greater", "greater_equal")
#: the state every op carries: the last spike, so resets and recurrences see s[t−1] as a state
SPIKE_STATE = "s"
#: the extra state of ops with per-step inputs: the index of the next step (a chunk's start row)
STEP_STATE = "t"


# --- values: op attributes and neuron options ------------------------------------------------------

@dataclass(frozen=True)
class Float:
    """A float attribute or option, with its default (None: required) and its allowed range."""

    default: float | None = None
    lo: float | None = None
    hi: float | None = None
    open_lo: bool = False
    open_hi: bool = False
    doc: str = ""
    sample: float | None = None   # the value tests and harness cases use (None: one inside the range)

    kind = "float"

    def range_text(self) -> str:
        left = "(" if self.open_lo else "["
        right = ")" if self.open_hi else "]"
        lo = "-inf" if self.lo is None else f"{self.lo:g}"
        hi = "inf" if self.hi is None else f"{self.hi:g}"
        return f"{left}{lo}, {hi}{right}"

    def check(self, name: str, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ConfigError(f"'{name}' must be a number, got {value!r}")
        value = float(value)
        below = self.lo is not None and (value < self.lo or (self.open_lo and value == self.lo))
        above = self.hi is not None and (value > self.hi or (self.open_hi and value == self.hi))
        if not math.isfinite(value) or below or above:
            raise ConfigError(f"'{name}' must be a finite number in {self.range_text()}, got {value!r}")
        return value


@dataclass(frozen=True)
class Choice:
    """A string taking one of a few values; an op resolves it when its code is generated."""

    default: str
    choices: tuple[str, ...]
    doc: str = ""

    kind = "choice"

    def check(self, name: str, value: Any) -> str:
        if value not in self.choices:
            raise ConfigError(f"'{name}' must be one of {', '.join(self.choices)}, got {value!r}")
        return str(value)


@dataclass(frozen=True)
class Int:
    default: int | None = None
    lo: int = 1
    doc: str = ""

    kind = "int"

    def check(self, name: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < self.lo:
            raise ConfigError(f"'{name}' must be a whole number >= {self.lo}, got {value!r}")
        return int(value)


@dataclass(frozen=True)
class Bool:
    default: bool
    doc: str = ""

    kind = "bool"

    def check(self, name: str, value: Any) -> bool:
        if not isinstance(value, bool):
            raise ConfigError(f"'{name}' must be true or false, got {value!r}")
        return value


@dataclass(frozen=True)
class Floats:
    """A fixed-length list of numbers (a mean and a spread, a range, three gates)."""

    default: tuple[float, ...]
    doc: str = ""
    item: Float = Float()

    kind = "floats"

    def check(self, name: str, value: Any) -> tuple[float, ...]:
        if not isinstance(value, (list, tuple)) or len(value) != len(self.default):
            raise ConfigError(f"'{name}' must be a list of {len(self.default)} numbers, got {value!r}")
        return tuple(self.item.check(f"{name}[{i}]", v) for i, v in enumerate(value))


Option = Float | Choice | Int | Bool | Floats


# --- the op -----------------------------------------------------------------------------------------

Step = Callable[[Any, Any, Any, Any], tuple[Any, dict[str, Any]]]


@dataclass(frozen=True, eq=False)
class Op:
    """One ``nsb`` ONNX op, its TensorRT plugin and its fused kernels, all generated from ``step``."""

    name: str                                   # op type and plugin name, e.g. "ALIF"
    step: Step
    attributes: Mapping[str, Float | Choice] = field(default_factory=dict)
    inputs: tuple[str, ...] = ()                # per-neuron vectors [N], after X
    step_inputs: tuple[str, ...] = ()           # per-step rows [T_max, N]: the op also carries STEP_STATE
    states: tuple[str, ...] = ("v",)            # besides SPIKE_STATE, which every op carries last
    doc: str = ""
    recurrent: bool = False                     # the R-variant: X + W_rec·s[t−1] + B_rec enters the step

    def __post_init__(self) -> None:
        if SPIKE_STATE in self.states or STEP_STATE in self.states:
            raise ValueError(f"op {self.name}: '{SPIKE_STATE}' and '{STEP_STATE}' are added by nsb, do not declare them")
        if "spike_test" in self.attributes:
            raise ValueError(f"op {self.name}: 'spike_test' is added by nsb")
        for key, spec in self.attributes.items():  # a node may leave an attribute out: it needs a default
            if spec.default is None or (spec.kind == "float" and not math.isfinite(spec.default)):
                raise ValueError(f"op {self.name}: attribute '{key}' needs a finite default")

    @property
    def all_attributes(self) -> dict[str, Float | Choice]:
        """The declared attributes and the spike test every op has, in the order the plugin reads them."""
        return {**self.attributes, "spike_test": Choice("greater", SPIKE_TESTS,
                                                        "u > 0 (the seed's LIFAct) or u ≥ 0 (its ASGL spike)")}

    @property
    def float_attributes(self) -> tuple[str, ...]:
        return tuple(k for k, a in self.all_attributes.items() if a.kind == "float")

    @property
    def choice_attributes(self) -> tuple[str, ...]:
        return tuple(k for k, a in self.all_attributes.items() if a.kind == "choice")

    @property
    def element_states(self) -> tuple[str, ...]:
        """States with one value per element (the model's own and the last spike)."""
        return (*self.states, SPIKE_STATE)

    @property
    def all_states(self) -> tuple[str, ...]:
        return self.element_states + ((STEP_STATE,) if self.step_inputs else ())

    @property
    def recurrent_inputs(self) -> tuple[str, ...]:
        return ("W_rec", "B_rec") if self.recurrent else ()

    @property
    def parameter_inputs(self) -> tuple[str, ...]:
        """Every tensor input between X and the initial states, in order."""
        return (*self.inputs, *self.step_inputs, *self.recurrent_inputs)

    @property
    def onnx_inputs(self) -> tuple[str, ...]:
        return ("X", *self.parameter_inputs, *(state_input(s) for s in self.all_states))

    @property
    def onnx_outputs(self) -> tuple[str, ...]:
        return ("S", *(state_output(s) for s in self.all_states))

    def variants(self) -> list[dict[str, str]]:
        """Every combination of the choice attributes: each is traced into its own code."""
        combos: list[dict[str, str]] = [{}]
        for name in self.choice_attributes:
            attr = self.all_attributes[name]
            combos = [{**c, name: v} for c in combos for v in attr.choices]
        return combos

    def with_recurrence(self) -> Op:
        return replace(self, name="R" + self.name, recurrent=True,
                       doc=f"{self.name} whose input gains W_rec·s[t−1] + B_rec before the step")


def state_input(state: str) -> str:
    return state.upper() + "0"


def state_output(state: str) -> str:
    return state.upper() + "T"


# --- the neuron -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Learned:
    """A trained tensor of a layer: one number (``scalar``), one per neuron (``neuron``) or one per step
    and neuron (``step``, with ``rows`` naming the option that holds the step count).

    ``shared``: one tensor for the whole network (CELIF's temporal embedding), as wide as its widest
    layer of this neuron, created by the model (:func:`nsb.neurons.module.share_learned`); each layer
    reads its first N columns. A layer built alone holds its own."""

    shape: Literal["scalar", "neuron", "step"]
    init: Callable[[Any, Any], Any]             # init(g, options) -> tensor of this shape
    rows: str = ""
    shared: bool = False


Fold = Callable[[Any, Any, Any], Any] | str | float  # fold(f, learned, options), an option's name, or a constant


@dataclass(frozen=True, eq=False)
class Neuron:
    """A trainable layer of one op: what a config's ``model.neuron`` names."""

    name: str
    op: Op
    doc: str
    options: Mapping[str, Option] = field(default_factory=dict)
    learned: Mapping[str, Learned] = field(default_factory=dict)
    fold: Mapping[str, Fold] = field(default_factory=dict)       # op attribute / input -> value
    initial: Mapping[str, Fold] = field(default_factory=dict)    # state -> its value at t = 0 (default 0)
    trace_decay: Fold = 1.0                  # the leak presynaptic traces use (OTTT, e-prop)
    recurrence: Literal["optional", "always", "never"] = "optional"
    recurrent_synapse: Literal["linear", "zero_diagonal"] = "linear"
    input_norm: str = ""                     # a Bool option: BN over the T·B samples before the op (adLIF)
    surrogate: str = ""                      # the one surrogate a neuron whose spike is part of it takes (asgl_lif)

    def __post_init__(self) -> None:
        known = set(self.op.all_attributes) | set(self.op.inputs) | set(self.op.step_inputs)
        for key in self.fold:
            if key not in known:
                raise ValueError(f"neuron {self.name}: fold names '{key}', which op {self.op.name} does not have")
        for key in self.initial:
            if key not in self.op.states:
                raise ValueError(f"neuron {self.name}: initial value for unknown state '{key}'")

    def check_options(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """The options with defaults filled in, each checked; one line for anything wrong."""
        from nsb.errors import closest

        for key in given:
            if key not in self.options:
                raise ConfigError(f"neuron '{self.name}' has no option '{key}'{closest(key, self.options)}; "
                                  f"it takes: {', '.join(self.options) or 'none'} (drop a key the config file sets "
                                  f"with --unset neuron.{key})")
        out: dict[str, Any] = {}
        for key, spec in self.options.items():
            if key in given:
                out[key] = spec.check(f"neuron.{key}", given[key])
            elif spec.default is None:
                raise ConfigError(f"neuron '{self.name}' needs the option '{key}'" + (f" ({spec.doc})" if spec.doc else ""))
            else:
                out[key] = spec.default
        return out

    def variant(self, name: str, doc: str, *, drop: tuple[str, ...] = (), options: Mapping[str, Option] | None = None,
                **changes: Any) -> Neuron:
        """A neuron of the same op with some options removed, added or replaced (IF, PLIF, RLIF)."""
        kept = {k: v for k, v in self.options.items() if k not in drop}
        return replace(self, name=name, doc=doc, options={**kept, **(options or {})}, **changes)
