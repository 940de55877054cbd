"""Which modules the metrics see: connection layers (synapses) and activation layers (neurons).

Connection layers hold the weights that synaptic operations and connection sparsity count:
Linear, Conv1d/2d/3d, RNN/LSTM/GRU (full layers, counted per time step), their cells, and
adLIF's zero-diagonal recurrent matrix. Activation layers are ReLU, Sigmoid and every nsb
:class:`~nsb.neurons.Neuron`, plus any class a caller adds.

Unlike NeuroBench, the walk includes the model itself, so a bare ``nn.Linear`` is measurable, and
layers are keyed by their full module path, so two blocks that each own an ``act`` stay apart.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from nsb.neurons import Neuron
from nsb.neurons.parallel import SpikeTap
from nsb.neurons.synapses import ZeroDiagonalRecurrent

STATELESS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
CELLS = (nn.RNNCell, nn.LSTMCell, nn.GRUCell)
RECURRENT = (nn.RNN, nn.LSTM, nn.GRU)
CONNECTIONS = STATELESS + CELLS + RECURRENT + (ZeroDiagonalRecurrent,)
ACTIVATIONS: tuple[type[nn.Module], ...] = (nn.ReLU, nn.Sigmoid, Neuron, SpikeTap)  # a parallel neuron's spikes


def counts_itself(module: nn.Module) -> bool:
    """A synapse nsb defines that counts its own operations (issue 17: DCLS's delayed convolution, the
    spike-driven transformer's attention products): ``synaptic_ops(args) -> [(effective, dense, spiking)]``
    per call and ``weight_matrices() -> [Tensor]``."""
    return callable(getattr(module, "synaptic_ops", None))


def counts_per_step(module: nn.Module) -> bool:
    """A neuron that owns its weights and multiplies them inside its time loop (issue 16: GSN, DH-LIF, LTC):
    ``step_synapses(x_t, state, params) -> [(operand, weight)]`` names the products of one step, as the seed's
    cell computes them, and ``weight_matrices() -> [Tensor]`` its weights. The recorder counts it per step."""
    return callable(getattr(module, "step_synapses", None))


def _walk(model: nn.Module, kinds: tuple[type[nn.Module], ...]) -> dict[str, nn.Module]:
    found: dict[str, nn.Module] = {}

    def visit(name: str, module: nn.Module) -> None:
        owns = counts_itself(module) or counts_per_step(module)
        if isinstance(module, kinds) or (kinds is CONNECTIONS and owns):
            found[name or type(module).__name__] = module
        # a connection layer's own children are part of it; a neuron may own a recurrent synapse
        if isinstance(module, CONNECTIONS) or owns:
            return
        for child_name, child in module.named_children():
            visit(f"{name}.{child_name}" if name else child_name, child)

    visit("", model)
    return found


def connection_layers(model: nn.Module) -> dict[str, nn.Module]:
    """Every synapse the metrics count, by module path, each shared module once."""
    unique: dict[str, nn.Module] = {}
    seen: set[int] = set()
    for name, layer in _walk(model, CONNECTIONS).items():
        if id(layer) not in seen:
            seen.add(id(layer))
            unique[name] = layer
    return unique


def activation_layers(model: nn.Module, extra: Sequence[type[nn.Module]] = ()) -> dict[str, nn.Module]:
    """Every activation whose outputs are counted, by module path."""
    return _walk(model, ACTIVATIONS + tuple(extra))
