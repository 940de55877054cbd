"""SpikingTCN: the TCN of :mod:`nsb.models.tcn` with every ReLU replaced by an nsb neuron
(``reference/neuroseqbench.md`` §6.2).

The sequence is handled by the convolutions, so each neuron runs over an *inner* time axis of length
T_in = 1: at every position of every sequence it starts from its initial state, takes one step and
fires. The convolution's output ``[B, C, T]`` enters the neuron as ``[T_in = 1, T, B, C]`` (the
sequence axis sits where the neuron's batch would be), so each (position, sample) is its own inner
run and nothing leaks from one position to the next except through the convolutions. The neuron's
``spike_view`` hands the probes and the deploy twin its spikes as ``[T, B, C]`` (the inner axis
dropped), which is what reference data, metrics and runtimes record.

Per block: conv1 → neuron → dropout → conv2 → neuron → dropout, residual (the 1×1 downsampling conv
when the widths differ, with its own neuron), sum → neuron. Only neurons whose parameters are scalars
fit (LIF, IF, PLIF), as in the conv SNN; with T_in = 1 a LIF's decay never acts, so a spike is
``H(g·x + λ·V_rest − θ)``.
"""

from __future__ import annotations

from torch import Tensor, nn

from nsb.config import Config
from nsb.data.common import TaskData
from nsb.errors import ConfigError
from nsb.models.tcn import Options, build_network  # noqa: F401  (Options is this architecture's too)
from nsb.neurons import Neuron

SCALAR_NEURONS = ("lif", "if", "plif")


def outer_time(spikes: Tensor) -> Tensor:
    """``[T_in = 1, T, B, C]`` → ``[T, B, C]``: the spikes as the probes and the deploy twin record them."""
    return spikes[0]


class InnerTimeNeuron(nn.Module):
    """A neuron applied to ``[B, C, T]`` over an inner time axis T_in = 1; returns spikes ``[B, C, T]``."""

    def __init__(self, neuron: Neuron) -> None:
        super().__init__()
        self.neuron = neuron
        neuron.spike_view = outer_time  # read by nsb.models.probe and nsb.export.deploy

    def forward(self, x: Tensor) -> Tensor:
        spikes, _ = self.neuron(x.permute(2, 0, 1).unsqueeze(0))  # [1, T, B, C], a fresh state
        return spikes[0].permute(1, 2, 0)


def build(cfg: Config, task: TaskData, options: Options, make_neuron, make_norm) -> nn.Module:
    if cfg.model.neuron not in SCALAR_NEURONS or getattr(make_neuron, "owns_input", False):
        raise ConfigError(f"model.kind = 'spiking_tcn' takes feed-forward {', '.join(SCALAR_NEURONS)} neurons "
                          f"(scalar parameters, one step per position), got '{cfg.model.neuron}'")
    if any(cfg.layer_flags(cfg.model.recurrent, bool, "recurrent")):
        raise ConfigError("model.kind = 'spiking_tcn' has no recurrent neurons (T_in = 1); set model.recurrent = false")

    def act(size: int, role: str) -> nn.Module:
        return InnerTimeNeuron(make_neuron(size, False))

    return build_network("spiking_tcn", cfg, task, options, act)
