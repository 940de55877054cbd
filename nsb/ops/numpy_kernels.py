"""numpy kernels of every ``nsb`` op: the CPU reference a deployment is checked with, no torch needed.

A kernel runs the op's own step function (its declaration, ``nsb/neurons/``) over the whole
sequence with float32 arrays: ``X [T, B, N...]``, then the op's inputs and initial states in the
order of its ONNX inputs, attributes as keywords; it returns ``(S, *final_states)``. Attributes
become float32 scalars before any arithmetic, as in every other backend, so the spikes match the
trained model bit for bit.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np

from nsb.errors import NsbError
from nsb.neurons.declare import SPIKE_STATE, STEP_STATE, Op, state_input


class _Primitives:
    def __init__(self, spike_test: str) -> None:
        self.inclusive = spike_test == "greater_equal"

    def fire(self, u: np.ndarray) -> np.ndarray:
        return ((u >= 0) if self.inclusive else (u > 0)).astype(u.dtype)

    def reset(self, s: np.ndarray) -> np.ndarray:
        return s

    def detach(self, value: np.ndarray) -> np.ndarray:
        return value

    @staticmethod
    def sigmoid(value: np.ndarray) -> np.ndarray:
        one = value.dtype.type(1)
        return one / (one + np.exp(-value))


def check_attributes(op: Op, attributes: dict[str, Any]) -> dict[str, Any]:
    """Every declared attribute present and valid; the routing ones (plugin_*) are not the kernel's."""
    out: dict[str, Any] = {}
    for name, spec in op.all_attributes.items():
        value = attributes.get(name)
        if isinstance(value, bytes):
            value = value.decode()
        if value is None:
            if name == "spike_test":
                value = spec.default
            else:
                raise NsbError(f"nsb.{op.name} node lacks attribute '{name}'; re-export the model with this nsb")
        try:
            out[name] = spec.check(name, value)
        except NsbError as err:
            raise NsbError(f"nsb.{op.name}: {err}; re-export the model") from None
    return out


def run(op: Op, x: np.ndarray, *tensors: np.ndarray, **attributes: Any) -> tuple[np.ndarray, ...]:
    attrs = check_attributes(op, attributes)
    expected = len(op.onnx_inputs) - 1
    if len(tensors) != expected:
        raise NsbError(f"nsb.{op.name} takes {expected + 1} inputs ({', '.join(op.onnx_inputs)}), got {len(tensors) + 1}")
    named = dict(zip(op.onnx_inputs[1:], tensors))
    dtype = x.dtype.type
    params: dict[str, Any] = {k: dtype(v) if op.all_attributes[k].kind == "float" else v for k, v in attrs.items()}
    for name in op.inputs:
        params[name] = named[name]
    state = {s: named[state_input(s)] for s in op.element_states}
    start = 0
    if op.step_inputs:
        start = int(named[state_input(STEP_STATE)])
        rows = min(named[n].shape[0] for n in op.step_inputs)
        if start < 0 or start + x.shape[0] > rows:
            raise NsbError(f"{op.name} was built for {rows} steps (its {', '.join(op.step_inputs)} has one row per "
                           f"step); steps {start} to {start + x.shape[0]} were requested")
    prims = _Primitives(attrs["spike_test"])
    spikes = np.empty_like(x)
    for t in range(x.shape[0]):
        x_t = x[t]
        if op.recurrent:
            x_t = x_t + (state[SPIKE_STATE] @ named["W_rec"].T + named["B_rec"])
        for name in op.step_inputs:
            params[name] = named[name][start + t]
        s, changed = op.step(prims, x_t, SimpleNamespace(**state), SimpleNamespace(**params))
        state.update(changed)
        state[SPIKE_STATE] = s
        spikes[t] = s
    finals = [np.asarray(state[s], dtype=x.dtype) for s in op.element_states]
    if op.step_inputs:
        finals.append(np.asarray(named[state_input(STEP_STATE)] + x.shape[0], dtype=x.dtype))
    return (spikes, *finals)


__all__ = ["STEP_STATE", "check_attributes", "run"]
