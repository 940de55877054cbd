"""SPSN, the sliding parallel spiking neuron (Fang et al. 2023; the seed's
``parallel_spiking_neural_model.py``, ``reference/neuroseqbench.md`` §1.2):

    v_t = Σ_{j=0}^{k−1} w_j·x_{t−k+1+j} + bias·θ      (a causal conv1d over time, x_{<0} = 0)
    y_t = H(v_t − θ)                                   (the config's surrogate backward)

No reset and no recurrence. One kernel ``w`` of length k and one scalar ``bias`` per layer, shared by
its neurons; init w_{k−1} = 1 halving towards the past (w_j = 2^{−(k−1−j)}), bias = 0; k = 32.
The state is the last k − 1 inputs, so a stream cut into chunks gives the spikes of one pass.
The whole sequence is one depthwise ``conv1d``; so is the deployed twin (a standard ONNX ``Conv``).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from nsb.neurons.declare import Float, Int
from nsb.neurons.parallel import ParallelDeploy, ParallelNeuron, State, fire

OPTIONS = {
    "kernel_size": Int(32, 1, "k, the steps the sliding kernel spans (the seed's NSA runs use 16, 128, 500)"),
    "threshold": Float(0.3, 0.0, open_lo=True, doc="θ, fixed"),
}


def sliding_conv(x: Tensor, kernel: Tensor, history: Tensor | None) -> Tensor:
    """``Σ_j w_j·x_{t−k+1+j}`` for ``x [T, B, N]`` and the layer's kernel repeated per neuron ``[N, 1, k]``,
    after the k − 1 earlier inputs ``history`` (zeros when None): one depthwise ``conv1d`` (a grouped
    ``Conv``; 3.5× faster on the CPU than one channel over B·N rows, and the same sums)."""
    k = kernel.shape[-1]
    seq = x.permute(1, 2, 0)                                                   # [B, N, T]
    if history is None:
        seq = nn.functional.pad(seq, (k - 1, 0))
    else:
        seq = torch.cat([history.permute(1, 2, 0), seq], dim=-1)
    return nn.functional.conv1d(seq, kernel, groups=kernel.shape[0]).permute(2, 0, 1)


class SPSN(ParallelNeuron):
    name = "spsn"
    OPTIONS = OPTIONS

    def __init__(self, size: int, **kwargs) -> None:
        super().__init__(size, **kwargs)
        k = self.opts["kernel_size"]
        self.weight = nn.Parameter(torch.tensor([0.5 ** (k - 1 - j) for j in range(k)], dtype=torch.float32))
        self.bias = nn.Parameter(torch.zeros(()))
        self.threshold = float(self.opts["threshold"])

    @property
    def state_names(self) -> tuple[str, ...]:
        return ("history",)

    def initial_state(self, x: Tensor) -> State:
        return (x.new_zeros((self.opts["kernel_size"] - 1, *x.shape)),)

    def kernel(self) -> Tensor:
        """The shared kernel, one row per neuron ``[N, 1, k]``."""
        return self.weight.view(1, 1, -1).expand(self.size, 1, -1)

    def membrane(self, x: Tensor, history: Tensor | None = None) -> Tensor:
        return sliding_conv(x, self.kernel(), history) + self.bias * self.threshold

    def run(self, x: Tensor, state: State | None) -> tuple[Tensor, State]:
        history = None if state is None else state[0]
        v = self.membrane_tap(self.membrane(x, history))
        spikes = self.tap(self.surrogate(v - self.threshold))
        k = self.opts["kernel_size"]
        before = self.initial_state(x[0])[0] if history is None else history
        final = torch.cat([before, x], dim=0)[x.shape[0]:] if k > 1 else before
        return spikes, (final,)

    def deployable(self) -> nn.Module:
        return _DeploySPSN(self)


class _DeploySPSN(ParallelDeploy):
    def __init__(self, neuron: SPSN) -> None:
        super().__init__()
        self.register_buffer("kernel", neuron.kernel().detach().contiguous())
        # the same float32 operations as the trained layer: (conv + bias·θ) − θ, then the spike test
        self.register_buffer("bias_term", (neuron.bias.detach() * neuron.threshold).clone())
        self.register_buffer("threshold", torch.tensor(neuron.threshold, dtype=torch.float32))
        self.spike_test = neuron.surrogate.spike_test

    def forward(self, x: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        u = sliding_conv(x, self.kernel, None) + self.bias_term - self.threshold
        return self.emit(fire(u, self.spike_test)), ()


NEURON = SPSN
