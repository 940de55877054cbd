"""A small convolutional spiking network for event frames ``[T, B, C, H, W]`` (DVS Gesture).

Per block: Conv2d 3×3 → norm → neuron → 2×2 average pooling; then flatten → Linear → neuron →
Linear readout per step. The neurons act element-wise on feature maps, so only neurons whose
parameters are scalars (LIF, IF, PLIF) fit here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from torch import Tensor, nn

from nsb.models.layers import SpikingLayer, TimeDistributed
from nsb.neurons import Neuron


class ConvSpikingNet(nn.Module):
    def __init__(self, in_channels: int, height: int, width: int, channels: Sequence[int], hidden: int,
                 output_size: int, make_neuron: Callable[[int, bool], Neuron],
                 make_norm: Callable[[int, int], nn.Module], dropout: float = 0.0) -> None:
        super().__init__()
        blocks = []
        c_in = in_channels
        for i, c in enumerate(channels):
            conv = TimeDistributed(nn.Conv2d(c_in, c, 3, padding=1, bias=False))
            blocks.append(SpikingLayer(conv, make_norm(c, i), make_neuron(c, False)))
            blocks.append(TimeDistributed(nn.AvgPool2d(2)))
            c_in, height, width = c, height // 2, width // 2
        self.features = nn.ModuleList(blocks)
        flat = c_in * height * width
        self.hidden = SpikingLayer(nn.Linear(flat, hidden), make_norm(hidden, len(channels)), make_neuron(hidden, False), dropout)
        self.readout = nn.Linear(hidden, output_size)

    def forward(self, x: Tensor, state: list | None = None, t0: int = 0) -> tuple[Tensor, list]:
        spiking = [m for m in self.features if isinstance(m, SpikingLayer)] + [self.hidden]
        state = state or [None] * len(spiking)
        new_state, i = [], 0
        for m in self.features:
            if isinstance(m, SpikingLayer):
                x, st = m(x, state[i], t0)
                new_state.append(st)
                i += 1
            else:
                x = m(x)
        x, st = self.hidden(x.flatten(2), state[i], t0)
        new_state.append(st)
        return self.readout(x), new_state
