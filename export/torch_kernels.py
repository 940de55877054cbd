"""The ``nsb`` ops as TorchScript functions for ``model.ts`` (runs without nsb installed), generated
from each op's trace (:mod:`nsb.ops.trace`).

A traced model keeps calls to scripted functions as calls, so the time loop survives tracing and the
saved module accepts any sequence length. One function per op variant computes the traced nodes in
their order; attributes arrive as 0-d tensors of the input's dtype so that attribute-only arithmetic
rounds in float32, as in every other backend.
"""

from __future__ import annotations

import warnings
from functools import lru_cache

import torch

from nsb.neurons.declare import Op
from nsb.ops.trace import Emitter, Node, Step, variant_of

# torch 2.13 marks TorchScript deprecated; it is still what deployment users load
warnings.filterwarnings("ignore", message=r"`torch\.jit\.\w+` is deprecated", category=DeprecationWarning)

_PY_OPS = {"add": "+", "sub": "-", "mul": "*", "div": "/"}


def function_name(step: Step) -> str:
    return "_".join([step.op.name.lower(), *(step.variant[k] for k in step.op.choice_attributes)])


def arguments(op: Op) -> list[str]:
    """The generated function's arguments, in the order callers pass them."""
    names = ["x", *(f"p_{n.lower()}" for n in (*op.inputs, *op.step_inputs))]
    if op.recurrent:
        names += ["w_rec", "b_rec"]
    names += list(op.element_states)
    if op.step_inputs:
        names.append("t0")
    return names + [f"attr_{a}" for a in op.float_attributes]


class _TorchScript(Emitter):
    """The loop body of one variant: ``nK = …`` lines."""

    LEAVES = {"x": "x_t", "state": "{name}", "input": "p_{lower}", "step_input": "p_{lower}_t", "attr": "attr_{name}"}

    def __init__(self, step: Step) -> None:
        super().__init__(step)
        self.lines: list[str] = []

    def constant(self, value: float) -> str:
        return repr(value)

    def operation(self, node: Node, args: list[str]) -> str:
        if node.kind == "fire":
            test = ">=" if self.step.fire_test == "greater_equal" else ">"
            expr = f"({args[0]} {test} 0).to({args[0]}.dtype)"
        elif node.kind == "neg":
            expr = f"-{args[0]}"
        elif node.kind == "sigmoid":
            expr = f"torch.sigmoid({args[0]})"
        else:
            expr = f"{args[0]} {_PY_OPS[node.kind]} {args[1]}"
        self.lines.append(f"        n{node.id} = {expr}")
        return f"n{node.id}"


def source(step: Step) -> str:
    """TorchScript source of one variant: the whole sequence, ``(S, *final states)``."""
    op = step.op
    args = ", ".join(f"{a}: Tensor" for a in arguments(op))
    outs = ", ".join(["Tensor"] * (1 + len(op.all_states)))
    lines = [f"def {function_name(step)}({args}) -> Tuple[{outs}]:"]
    if op.step_inputs:
        rows = f"p_{op.step_inputs[0].lower()}"
        lines += ["    start = int(t0.item())",
                  f"    if start < 0 or start + x.shape[0] > {rows}.shape[0]:",
                  f"        raise RuntimeError('{op.name}: more steps than its per-step inputs have rows')"]
    lines += ["    spikes: List[Tensor] = []", "    for t in range(x.shape[0]):", "        x_t = x[t]"]
    if op.recurrent:
        lines.append("        x_t = x_t + torch.nn.functional.linear(s, w_rec, b_rec)")
    for name in op.step_inputs:
        lines.append(f"        p_{name.lower()}_t = p_{name.lower()}[start + t]")
    emitter = _TorchScript(step)
    names = emitter.walk()
    lines += emitter.lines
    updates = [(s, names[step.new_states[s].id]) for s in op.element_states]
    lines.append(f"        {', '.join(s for s, _ in updates)} = {', '.join(v for _, v in updates)}")
    lines += ["        spikes.append(s)"]
    finals = ", ".join(op.element_states)
    tail = ", t0 + x.shape[0]" if op.step_inputs else ""
    lines.append(f"    return torch.stack(spikes), {finals}{tail}")
    return "\n".join(lines) + "\n"


@lru_cache(maxsize=None)
def _compiled(step_source: str, name: str):
    unit = torch.jit.CompilationUnit(step_source)
    return getattr(unit, name)


def sequence_function(op: Op, attributes: dict):
    """The scripted function of the variant of ``op`` a node with ``attributes`` runs."""
    step = variant_of(op, attributes)
    return _compiled(source(step), function_name(step))


def run(op: Op, attributes: dict, x: torch.Tensor, params: tuple[torch.Tensor, ...],
        state: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
    """Spikes and final states of ``op`` on ``x``; ``params`` in ``op.parameter_inputs`` order."""
    scalars = [torch.tensor(float(attributes[a]), dtype=x.dtype, device=x.device) for a in op.float_attributes]
    out = sequence_function(op, attributes)(x, *params, *state, *scalars)
    return out[0], tuple(out[1:])


__all__ = ["arguments", "function_name", "run", "sequence_function", "source"]
