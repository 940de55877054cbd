"""The M5 network of NeuroBench's keyword FSCIL baseline, and a spiking variant with nsb LIF neurons.

M5 (Dai et al. 2017, tuned by NeuroBench) reads MFCC ``[B, 20, frames]`` and convolves over time::

    Conv1d(20→256, k=4, s=2) · BN · ReLU · Dropout(0.2) · MaxPool(2)
    Conv1d(256→256, k=3)     · BN · ReLU · Dropout(0.2) · MaxPool(2)
    Conv1d(256→512, k=3)     · BN · ReLU · Dropout(0.2) · MaxPool(2)
    Conv1d(512→512, k=3)     · BN · ReLU · Dropout(0.2) · MaxPool(2)
    global average pool over time → embedding e ∈ R^512 → Linear(512→classes)

With 200 outputs this is NeuroBench's 1,503,944 parameters. ``width`` scales every channel count
for quick runs. The spiking variant keeps the convolutions and replaces ReLU by LIF neurons that
integrate over the frame axis (time-major ``[T, B, C]``); its embedding is the spike rate of the
last block, ``e = (1/T) Σ_t s[t]``.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from nsb.errors import NsbError
from nsb.neurons import build_neuron

CHANNELS = (256, 256, 512, 512)


def scaled(channels: Sequence[int], width: float) -> list[int]:
    if width <= 0:
        raise NsbError(f"M5 width must be > 0, got {width}")
    return [max(4, round(c * width)) for c in channels]


class M5(nn.Module):
    """NeuroBench's M5 ANN; ``embed`` gives the features the prototypes are built from."""

    def __init__(self, n_input: int = 20, n_output: int = 200, channels: Sequence[int] = CHANNELS,
                 dropout: float = 0.2) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        previous = n_input
        for i, c in enumerate(channels):
            kernel, stride = (4, 2) if i == 0 else (3, 1)
            layers += [nn.Conv1d(previous, c, kernel, stride=stride), nn.BatchNorm1d(c), nn.ReLU(),
                       nn.Dropout(dropout), nn.MaxPool1d(2)]
            previous = c
        self.features = nn.Sequential(*layers)
        self.n_input = n_input
        self.embedding_size = previous
        self.fc = nn.Linear(previous, n_output)

    def check(self, x: Tensor) -> None:
        if x.dim() != 3 or x.shape[1] != self.n_input:
            raise NsbError(f"{type(self).__name__} expects MFCC [B, {self.n_input}, frames], got {tuple(x.shape)}")

    def embed(self, x: Tensor) -> Tensor:
        self.check(x)
        return self.features(x).mean(dim=-1)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.embed(x))


class SpikingBlock(nn.Module):
    """Conv1d over frames · BN · LIF over frames · MaxPool; spikes stay ``[B, C, T]`` between blocks."""

    def __init__(self, n_in: int, n_out: int, kernel: int, stride: int, dropout: float, **lif: float) -> None:
        super().__init__()
        self.conv = nn.Conv1d(n_in, n_out, kernel, stride=stride)
        self.norm = nn.BatchNorm1d(n_out)
        self.neuron = build_neuron("lif", n_out, **lif)
        self.dropout = nn.Dropout(dropout)
        self.pool = nn.MaxPool1d(2)

    def forward(self, x: Tensor) -> Tensor:
        current = self.norm(self.conv(x))  # [B, C, T]
        spikes, _ = self.neuron(current.permute(2, 0, 1))  # LIF is time-major: [T, B, C]
        # max-pooling binary spikes over time is an OR of neighbouring steps: still spikes
        return self.pool(self.dropout(spikes.permute(1, 2, 0)))


class SpikingM5(nn.Module):
    """M5's convolutions with LIF neurons; embedding = spike rate of the last block over time."""

    def __init__(self, n_input: int = 20, n_output: int = 200, channels: Sequence[int] = CHANNELS,
                 dropout: float = 0.1, decay: float = 0.5, threshold: float = 0.5) -> None:
        super().__init__()
        blocks = []
        previous = n_input
        for i, c in enumerate(channels):
            kernel, stride = (4, 2) if i == 0 else (3, 1)
            # the soft reset right after the spike (the seed's RLIF timing), as the measured runs used it
            blocks.append(SpikingBlock(previous, c, kernel, stride, dropout, decay=decay, threshold=threshold,
                                       reset="soft", reset_timing="immediate"))
            previous = c
        self.features = nn.Sequential(*blocks)
        self.n_input = n_input
        self.embedding_size = previous
        self.fc = nn.Linear(previous, n_output)

    check = M5.check

    def embed(self, x: Tensor) -> Tensor:
        self.check(x)
        return self.features(x).mean(dim=-1)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.embed(x))


MODELS = {"m5": M5, "snn": SpikingM5}


def build_model(name: str, n_input: int, n_output: int, width: float = 1.0) -> nn.Module:
    from nsb.errors import unknown

    if name not in MODELS:
        raise NsbError(unknown("FSCIL model", name, MODELS))
    return MODELS[name](n_input=n_input, n_output=n_output, channels=scaled(CHANNELS, width))


def parameter_total(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


