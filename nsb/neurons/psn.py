"""PSN, the parallel spiking neuron (Fang et al. 2023; the seed's older ``lif.py``,
``reference/neuroseqbench.md`` §1.2):

    v = W·x_{1:T} + b      W ∈ R^{T×T} mixes every step of the sequence into every other (not causal)
    y = H(v − θ)           (the config's surrogate backward)

``W`` is Kaiming-uniform (``nn.init.kaiming_uniform_(a=√5)``, as the seed's ``nn.Linear``-style init),
``b ∈ R^T`` starts at 0 (the reference gives no initialisation). The sequence length is fixed at
``time_steps`` (the model's, filled in by the builder); there is no state to carry, as W sees the
whole sequence at once. One matrix product per layer; the deployed twin is a standard ``MatMul``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from nsb.errors import NsbError
from nsb.neurons.declare import Float, Int
from nsb.neurons.parallel import ParallelDeploy, ParallelNeuron, State, fire

OPTIONS = {
    "time_steps": Int(None, 1, "T, the sequence length W spans"),
    "threshold": Float(0.3, 0.0, open_lo=True, doc="θ, fixed"),
}


def mix(x: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    """``v[t] = Σ_s W[t, s]·x[s] + b[t]`` for ``x [T, B, N]``."""
    steps = x.shape[0]
    return torch.matmul(weight, x.reshape(steps, -1)).reshape(x.shape) + bias.view(steps, 1, 1)


class PSN(ParallelNeuron):
    name = "psn"
    OPTIONS = OPTIONS

    def __init__(self, size: int, **kwargs) -> None:
        super().__init__(size, **kwargs)
        steps = self.opts["time_steps"]
        self.weight = nn.Parameter(torch.empty(steps, steps))
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        self.bias = nn.Parameter(torch.zeros(steps))
        self.threshold = float(self.opts["threshold"])

    def run(self, x: Tensor, state: State | None) -> tuple[Tensor, State]:
        steps = self.opts["time_steps"]
        if x.shape[0] != steps:
            raise NsbError(f"psn mixes exactly {steps} steps (its W is {steps}×{steps}) but the input has "
                           f"{x.shape[0]}; set the model's time_steps to the sequence length")
        v = self.membrane_tap(mix(x, self.weight, self.bias))
        return self.tap(self.surrogate(v - self.threshold)), ()

    def deployable(self) -> nn.Module:
        return _DeployPSN(self)


class _DeployPSN(ParallelDeploy):
    def __init__(self, neuron: PSN) -> None:
        super().__init__()
        self.register_buffer("weight", neuron.weight.detach().clone())
        self.register_buffer("bias", neuron.bias.detach().clone())
        self.register_buffer("threshold", torch.tensor(neuron.threshold, dtype=torch.float32))
        self.spike_test = neuron.surrogate.spike_test
        self.t_max = int(neuron.weight.shape[0])

    def forward(self, x: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        # the graph keeps T dynamic (T ≤ T_max); the trained layer runs exactly T_max steps
        rows = torch.arange(x.shape[0], device=x.device)  # a Gather: slicing would pin T under torch.export
        v = mix(x, self.weight.index_select(0, rows).index_select(1, rows), self.bias.index_select(0, rows))
        return self.emit(fire(v - self.threshold, self.spike_test)), ()


NEURON = PSN
