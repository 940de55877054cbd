"""Spiking neurons, one file each; the registry maps a config's ``model.neuron`` to a class.

A new neuron is one file (a step function holding its math, a :class:`Neuron` subclass) plus one
line below.
"""

from __future__ import annotations

import inspect
from typing import Any

from nsb.errors import ConfigError, closest, unknown
from nsb.neurons.adlif import AdLIF
from nsb.neurons.alif import ALIF
from nsb.neurons.base import FULL_BPTT, GradPolicy, Neuron, State
from nsb.neurons.glif import GLIF
from nsb.neurons.if_neuron import IF
from nsb.neurons.lif import LIF
from nsb.neurons.plif import PLIF
from nsb.neurons.rlif import RLIF

NEURONS: dict[str, type[Neuron]] = {
    "lif": LIF,
    "if": IF,
    "rlif": RLIF,
    "plif": PLIF,
    "alif": ALIF,
    "adlif": AdLIF,
    "glif": GLIF,
}

__all__ = ["FULL_BPTT", "GradPolicy", "NEURONS", "Neuron", "State", "build_neuron", "neuron_parameters"]


def neuron_parameters(name: str) -> dict[str, inspect.Parameter]:
    """The keyword arguments a neuron accepts (its config keys), ``size`` excluded."""
    if name not in NEURONS:
        raise ConfigError(unknown("neuron", name, NEURONS))
    params = inspect.signature(NEURONS[name].__init__).parameters
    return {k: p for k, p in params.items() if k not in ("self", "size")}


def build_neuron(name: str, size: int, **kwargs: Any) -> Neuron:
    """Build a registered neuron, refusing unknown keyword arguments with a suggestion."""
    accepted = neuron_parameters(name)
    for key in kwargs:
        if key not in accepted:
            raise ConfigError(f"neuron '{name}' has no parameter '{key}'{closest(key, accepted)}; "
                              f"it accepts: {', '.join(accepted)}")
    missing = [k for k, p in accepted.items() if p.default is inspect.Parameter.empty and k not in kwargs]
    if missing:
        raise ConfigError(f"neuron '{name}' needs {', '.join(missing)}")
    return NEURONS[name](size, **kwargs)
