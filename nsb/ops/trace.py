"""An op's step traced into a small expression graph, which the ONNX, TorchScript and C++
generators walk (``docs/architecture.md``, "Op declarations").

Tracing calls ``op.step`` once per combination of the op's choice attributes with symbolic values:
each ``+ - * /``, unary ``-`` and primitive call records one :class:`Node`. Nodes are recorded in
Python's evaluation order and every generator emits them in that order with float32 arithmetic,
one rounding per operation, which is what keeps the generated backends bit-exact with the PyTorch
and numpy ones that run the step function itself. Python numbers in the step become float32
constants.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from types import SimpleNamespace
from typing import Any

import numpy as np

from nsb.neurons.declare import SPIKE_STATE, Op

#: leaf kinds: the step input, a previous state, a per-neuron or per-step input, an attribute, a constant
LEAVES = ("x", "state", "input", "step_input", "attr", "const")


class TraceError(ValueError):
    """A step function that cannot be traced: a bug in a neuron declaration."""


@dataclass(eq=False)
class Node:
    kind: str
    args: tuple[Node, ...] = ()
    name: str = ""        # leaves: the state, input or attribute it reads
    value: float = 0.0    # const: a float32 value
    id: int = -1

    @property
    def is_leaf(self) -> bool:
        return self.kind in LEAVES


@dataclass
class Step:
    """One traced variant of an op's step."""

    op: Op
    variant: dict[str, str]
    nodes: list[Node]                              # every node the outputs need, in evaluation order
    spike: Node
    new_states: dict[str, Node]                    # every element state's new value (s is the spike)
    leaves: dict[tuple[str, str], Node] = field(default_factory=dict)

    def leaf(self, kind: str, name: str) -> Node | None:
        return self.leaves.get((kind, name))

    @property
    def fire_test(self) -> str:
        return self.variant["spike_test"]


def f32(value: float) -> float:
    return float(np.float32(value))


class _Graph:
    def __init__(self) -> None:
        self.nodes: list[Node] = []
        self.leaves: dict[tuple[str, str], Node] = {}

    def add(self, node: Node) -> Node:
        node.id = len(self.nodes)
        self.nodes.append(node)
        return node

    def leaf(self, kind: str, name: str) -> Node:
        key = (kind, name)
        if key not in self.leaves:
            self.leaves[key] = self.add(Node(kind, name=name))
        return self.leaves[key]


class Sym:
    """A traced value: arithmetic on it records nodes."""

    __slots__ = ("node", "graph")
    __array_priority__ = 1000  # numpy scalars on the left defer to Sym's reflected operators

    def __init__(self, node: Node, graph: _Graph) -> None:
        self.node = node
        self.graph = graph

    def _wrap(self, other: Any) -> Node:
        if isinstance(other, Sym):
            return other.node
        if isinstance(other, (int, float, np.floating)) and not isinstance(other, bool):
            if not np.isfinite(other):
                raise TraceError(f"a step's constants must be finite, got {other}")
            return self.graph.add(Node("const", value=f32(other)))
        raise TraceError(f"a step can combine traced values with numbers only, got {type(other).__name__}")

    def _divide(self, a: Any, b: Any) -> Sym:
        # PyTorch divides by a Python number (and a number by a tensor) through a reciprocal, rounding
        # twice; numpy, ONNX and the C++ round once: only a division of traced values is bit-exact
        if not (isinstance(a, Sym) and isinstance(b, Sym)):
            raise TraceError("a step may divide traced values only (an attribute, input or state), not by or into a "
                             "Python number; multiply by the number's reciprocal, or make it an attribute")
        return self._op("div", a.node, b.node)

    def _op(self, kind: str, *args: Node) -> Sym:
        return Sym(self.graph.add(Node(kind, args)), self.graph)

    def __add__(self, o): return self._op("add", self.node, self._wrap(o))
    def __radd__(self, o): return self._op("add", self._wrap(o), self.node)
    def __sub__(self, o): return self._op("sub", self.node, self._wrap(o))
    def __rsub__(self, o): return self._op("sub", self._wrap(o), self.node)
    def __mul__(self, o): return self._op("mul", self.node, self._wrap(o))
    def __rmul__(self, o): return self._op("mul", self._wrap(o), self.node)
    def __truediv__(self, o): return self._divide(self, o)
    def __rtruediv__(self, o): return self._divide(o, self)
    def __neg__(self): return self._op("neg", self.node)

    def __bool__(self):
        raise TraceError("a step cannot branch on a traced value; branch on choice attributes (p.reset_mode == …) "
                         "or compute with f.fire")

    __lt__ = __le__ = __gt__ = __ge__ = __eq__ = __ne__ = lambda self, other: self.__bool__()  # noqa: E731
    __hash__ = object.__hash__


class _Primitives:
    def __init__(self, graph: _Graph) -> None:
        self.graph = graph

    def fire(self, u: Sym) -> Sym:
        return _as_sym(u, "fire")._op("fire", u.node)

    def reset(self, s: Sym) -> Sym:
        return _as_sym(s, "reset")._op("reset", s.node)

    def detach(self, value: Sym) -> Sym:
        return _as_sym(value, "detach")._op("detach", value.node)

    def sigmoid(self, value: Sym) -> Sym:
        return _as_sym(value, "sigmoid")._op("sigmoid", value.node)


def _as_sym(value: Any, what: str) -> Sym:
    if not isinstance(value, Sym):
        raise TraceError(f"f.{what} takes a traced value, got {value!r}")
    return value


def trace(op: Op, variant: dict[str, str]) -> Step:
    """The step of ``op`` with its choice attributes fixed to ``variant``."""
    graph = _Graph()

    def sym(kind: str, name: str) -> Sym:
        return Sym(graph.leaf(kind, name), graph)

    state = SimpleNamespace(**{s: sym("state", s) for s in op.element_states})
    params: dict[str, Any] = {}
    for name in op.float_attributes:
        params[name] = sym("attr", name)
    for name in op.choice_attributes:
        params[name] = variant[name]
    for name in op.inputs:
        params[name] = sym("input", name)
    for name in op.step_inputs:
        params[name] = sym("step_input", name)
    x = sym("x", "x")
    result = op.step(_Primitives(graph), x, state, SimpleNamespace(**params))
    if not (isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], dict)):
        raise TraceError(f"op {op.name}: step must return (spike, {{state: new value}})")
    spike_value, changed = result
    unknown = set(changed) - set(op.states)
    if unknown:
        raise TraceError(f"op {op.name}: step returned unknown state(s) {sorted(unknown)}; declared: {op.states}")
    spike = _as_sym(spike_value, "fire").node
    new_states = {}
    for s in op.states:
        value = changed.get(s, getattr(state, s))
        if not isinstance(value, Sym) or not _depends_on_element(value.node):
            raise TraceError(f"op {op.name}: the new value of state '{s}' must depend on the input or a state "
                             "(one value per element), not only on numbers, attributes or per-neuron inputs")
        new_states[s] = value.node
    new_states[SPIKE_STATE] = spike
    needed = _reachable([spike, *new_states.values()])
    nodes = [n for n in graph.nodes if n.id in needed]
    return Step(op, dict(variant), nodes, spike, new_states,
                {k: n for k, n in graph.leaves.items() if n.id in needed})


#: primitives whose value each runtime computes with its own exp: equal to about an ulp, not bit for bit
TRANSCENDENTAL = ("sigmoid",)


def transcendental(op: Op) -> bool:
    """Whether ``op``'s step uses a primitive each runtime computes its own way (``f.sigmoid``): its states
    then agree between backends to about an ulp per step instead of bit for bit."""
    return any(n.kind in TRANSCENDENTAL for step in variants(op) for n in step.nodes)


def _depends_on_element(node: Node) -> bool:
    """Whether a value has one entry per element (it reads x or a state), not one per neuron or layer."""
    todo, seen = [node], set()
    while todo:
        n = todo.pop()
        if n.kind in ("x", "state"):
            return True
        if id(n) not in seen:
            seen.add(id(n))
            todo.extend(n.args)
    return False


def _reachable(outputs: list[Node]) -> set[int]:
    seen: set[int] = set()
    todo = list(outputs)
    while todo:
        n = todo.pop()
        if n.id not in seen:
            seen.add(n.id)
            todo.extend(n.args)
    return seen


@lru_cache(maxsize=None)
def _traced(op: Op) -> tuple[Step, ...]:
    return tuple(trace(op, v) for v in op.variants())


def variants(op: Op) -> tuple[Step, ...]:
    """Every variant of ``op`` traced (cached per op declaration)."""
    return _traced(op)


def variant_of(op: Op, attributes: dict[str, Any]) -> Step:
    """The traced variant an op node with ``attributes`` runs."""
    wanted = {k: str(attributes.get(k, op.all_attributes[k].default)) for k in op.choice_attributes}
    for step in variants(op):
        if step.variant == wanted:
            return step
    raise TraceError(f"op {op.name} has no variant {wanted}")


class Emitter:
    """One walk over a traced step, rendered by a backend: subclasses give the names of the leaves
    (``LEAVES`` formats with ``{name}``, ``{lower}`` and ``{index}``, the leaf's position in the op's
    list), a constant and an operation. ``reset`` and ``detach`` are the identity forward in every backend."""

    LEAVES: dict[str, str] = {}

    def __init__(self, step: Step) -> None:
        self.step = step
        op = step.op
        self.positions = {"state": op.element_states, "input": op.inputs, "step_input": op.step_inputs,
                          "attr": op.float_attributes, "x": ("x",)}

    def leaf(self, node: Node) -> str:
        return self.LEAVES[node.kind].format(name=node.name, lower=node.name.lower(),
                                             index=self.positions[node.kind].index(node.name))

    def constant(self, value: float) -> str:  # pragma: no cover - each backend renders its own
        raise NotImplementedError

    def operation(self, node: Node, args: list[str]) -> str:  # pragma: no cover - each backend
        raise NotImplementedError

    def walk(self) -> dict[int, str]:
        """Every node's value as the backend names it, in evaluation order."""
        names: dict[int, str] = {}
        for node in self.step.nodes:
            if node.kind == "const":
                names[node.id] = self.constant(node.value)
            elif node.is_leaf:
                names[node.id] = self.leaf(node)
            elif node.kind in ("reset", "detach"):
                names[node.id] = names[node.args[0].id]
            else:
                names[node.id] = self.operation(node, [names[a.id] for a in node.args])
        return names
