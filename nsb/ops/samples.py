"""Valid inputs for any op, drawn from its declaration: the test parametrisation and the plugin
harness cases come from here, so a new op is tested the moment it is declared."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nsb.neurons.declare import Float, Op
from nsb.ops.trace import Step, variants


def sample_float(spec: Float) -> float:
    """A valid value away from the default, so a test sees the attribute arrive (the declared
    ``sample`` where the range's own would make the op's dynamics diverge)."""
    if spec.sample is not None:
        return spec.sample
    lo = spec.lo if spec.lo is not None else -1.0
    hi = spec.hi if spec.hi is not None else 1.0
    if spec.lo is None and spec.hi is None and spec.default is not None:
        lo, hi = spec.default - 0.1, spec.default + 0.3
    value = lo + 0.625 * (hi - lo)
    return value if value != spec.default else lo + 0.375 * (hi - lo)


@dataclass
class OpSample:
    op: Op
    step: Step
    attributes: dict[str, float | str]
    x: np.ndarray
    tensors: list[np.ndarray]     # inputs, per-step inputs, W_rec/B_rec, initial states (ONNX order after X)

    @property
    def named(self) -> dict[str, np.ndarray]:
        return dict(zip(self.op.onnx_inputs[1:], self.tensors))


def sample(op: Op, step: Step, steps: int = 40, batch: int = 3, neurons: int = 8, seed: int = 0,
           start: int = 2) -> OpSample:
    rng = np.random.default_rng(seed)
    attributes: dict[str, float | str] = {k: sample_float(a) for k, a in op.all_attributes.items() if a.kind == "float"}
    attributes.update(step.variant)
    x = rng.uniform(-0.1, 0.7, (steps, batch, neurons)).astype(np.float32)
    tensors = [rng.uniform(0.05, 0.95, neurons).astype(np.float32) for _ in op.inputs]
    tensors += [rng.uniform(0.05, 0.95, (steps + start + 3, neurons)).astype(np.float32) for _ in op.step_inputs]
    if op.recurrent:
        tensors += [rng.normal(0.0, 0.3, (neurons, neurons)).astype(np.float32),
                    rng.normal(0.0, 0.05, neurons).astype(np.float32)]
    tensors += [np.zeros((batch, neurons), np.float32) for _ in op.element_states]
    if op.step_inputs:
        tensors.append(np.asarray(float(start), np.float32))
    return OpSample(op, step, attributes, x, tensors)


def all_samples(ops: dict[str, Op], **kw) -> list[OpSample]:
    return [sample(op, step, **kw) for op in ops.values() for step in variants(op)]


def neuron_cases() -> list[tuple[str, bool | None, dict[str, str]]]:
    """Every registered neuron with each combination of its choice options, feed-forward and
    recurrent where it can be both (None: the neuron decides): the tests' layer parametrisation."""
    from nsb.neurons import NEURONS

    cases = []
    for name, decl in NEURONS.items():
        choices: list[dict[str, str]] = [{}]
        for key, option in decl.options.items():
            if option.kind == "choice":
                choices = [{**c, key: v} for c in choices for v in option.choices]
        cases += [(name, recurrent, c) for recurrent in recurrences(decl) for c in choices]
    return cases


def recurrences(decl) -> list[bool | None]:
    """The ``recurrent`` options a layer of ``decl`` is built with: both where it can be either, else
    None (the neuron decides; passing False to a never-recurrent neuron is refused)."""
    return [False, True] if decl.recurrence == "optional" else [None]


def case_id(value) -> str:
    """A readable pytest id for a :func:`neuron_cases` entry's fields."""
    if isinstance(value, bool) or value is None:
        return {True: "rec", False: "ff", None: "fixed"}[value]
    if isinstance(value, dict):
        return "-".join(value.values()) or "default"
    return str(value)
