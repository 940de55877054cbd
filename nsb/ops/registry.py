"""The op set: every registered neuron's op and, where the neuron can be recurrent, its R-variant.

Derived from :data:`nsb.neurons.NEURONS` on first use (and again after the registry changes), so
the schemas, kernels, Scan bodies and plugins always cover exactly the declared neurons.
"""

from __future__ import annotations

import importlib

from nsb.errors import NsbError
from nsb.neurons.declare import Op

_CACHE: dict[int, dict[str, Op]] = {}


def ops() -> dict[str, Op]:
    from nsb.neurons import NEURONS, OP_FILES, generation

    if generation() not in _CACHE:

        found: dict[str, Op] = {}
        for neuron in NEURONS.values():
            base = neuron.op
            _add(found, base)
            if neuron.recurrence != "never" and "R" + base.name not in found:
                found["R" + base.name] = base.with_recurrence()
        for module in OP_FILES:  # ops a layer runs without a neuron of their own (DH-LIF's stages)
            for extra in importlib.import_module(f"nsb.neurons.{module}").OPS:
                _add(found, extra)
        _CACHE.clear()
        _CACHE[generation()] = found
    return _CACHE[generation()]


def _add(found: dict[str, Op], op: Op) -> None:
    known = found.get(op.name)
    if known is None:
        found[op.name] = op
    elif known is not op:
        raise ValueError(f"two different ops are named {op.name}; give the new neuron's op its own name")


def op(name: str) -> Op:
    table = ops()
    if name not in table:
        from nsb.ops.schema import VERSION

        raise NsbError(f"unknown nsb op '{name}'; this nsb knows {', '.join(table)} (version {VERSION}); "
                       "export the bundle with this nsb version or upgrade nsb")
    return table[name]
