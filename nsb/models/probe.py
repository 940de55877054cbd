"""Record every spiking layer's output spikes while a model runs (reference data, the torch backend)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from torch import Tensor, nn

from nsb.neurons import Neuron


def spiking_layers(model: nn.Module) -> list[tuple[str, Neuron]]:
    """(name, neuron) of every neuron module, in the order the model runs them."""
    from nsb.neurons.parallel import ParallelNeuron

    return [(n, m) for n, m in model.named_modules() if isinstance(m, (Neuron, ParallelNeuron))]


def _spike_hook(module: nn.Module, captured: list[Tensor]):
    """A parallel neuron's spikes pass through its tap (S4D's output is not its spikes); a neuron returns them."""
    from nsb.neurons.parallel import ParallelNeuron

    if isinstance(module, ParallelNeuron):
        return module.tap.register_forward_hook(lambda _m, _i, out: captured.append(out))
    # a neuron run over an inner time axis (SpikingTCN) gives its spikes as [T, B, ...] through its spike_view
    view = getattr(module, "spike_view", None)
    if view is not None:
        return module.register_forward_hook(lambda _m, _i, out: captured.append(view(out[0])))
    return module.register_forward_hook(lambda _m, _i, out: captured.append(out[0]))


@contextmanager
def recorded_spikes(model: nn.Module) -> Iterator[list[Tensor]]:
    """A list that fills with each neuron's spikes ``[T, B, ...]`` per call; the hooks go with the block."""
    captured: list[Tensor] = []
    hooks = [_spike_hook(m, captured) for _, m in spiking_layers(model)]
    try:
        yield captured
    finally:
        for h in hooks:
            h.remove()
