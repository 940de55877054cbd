"""TCN: Bai, Kolter & Koltun's temporal convolutional network (2018), as the seed builds it
(``reference/neuroseqbench.md`` §6.2, architecture table §7.2).

A stack of temporal blocks, block i with dilation 2^i::

    h   = dropout(act₁(CausalConv1d(x)))          weight-normed, kernel k, dilation 2^i
    h   = dropout(act₂(CausalConv1d(h)))
    out = act_out(h + residual(x))                residual: x, or a 1×1 Conv1d when the widths differ

A causal convolution pads ``(k − 1)·2^i`` zeros on the left only, the same arithmetic as Bai's
"pad both sides, chomp the right" (the chomped outputs are never computed, so they are never counted
as synaptic operations). Initialisation as Bai: conv weights ~ N(0, 0.01) before weight norm.

The sequence is the convolutions' axis: ``x [T, B, F]`` → ``[B, F, T]`` → blocks → per-step outputs
``[T, B, C]`` → Linear readout, which the task's readout reduces (PS-MNIST mean, Binary Adding last).
For PTB: embedding (N(0, 0.01)) → dropout → blocks → decoder (tied to the embedding when
``model.tie_weights``, so the last level's width must equal ``model.embedding_dim``, as Bai's
``[nhid]·(levels−1) + [emsize]``). Each window is processed on its own: no state is carried (the
receptive field is inside the window).

Seed sizes: PS-MNIST 8 levels × 25 channels, k = 7; PTB 2 levels (hidden 240, the last one the
embedding width 400), k = 3; Binary Adding (not given by the seed) 7 levels × 20 channels, k = 7, whose
receptive field 1 + 2·6·127 = 1,525 covers T = 1,200.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.nn.utils.parametrizations import weight_norm

from nsb.config import Config
from nsb.data.common import TaskData
from nsb.errors import ConfigError


@dataclass
class Options:
    channels: list[int] = field(default_factory=lambda: [25] * 8)  # one width per level; level i dilates 2^i
    kernel_size: int = 7
    dropout: float = 0.0  # after each activation (Bai: 0.05 sequential MNIST, 0.45 word PTB)


class CausalConv1d(nn.Conv1d):
    """A Conv1d that pads ``(k − 1)·dilation`` zeros on the left only: output t sees inputs ≤ t.
    ``causal_padding`` tells the synaptic-operation count those taps are padding (:mod:`nsb.metrics.ops`)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, dilation: int = 1) -> None:
        super().__init__(in_channels, out_channels, kernel_size, dilation=dilation)
        self.causal_padding = (kernel_size - 1) * dilation

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(F.pad(x, (self.causal_padding, 0)))

    # NeuroBench's synaptic operations (nsb.metrics.layers.counts_itself): the MACs of this convolution as it
    # runs, the left padding's taps excluded as a Conv1d's own padding taps are
    def weight_matrices(self) -> list[Tensor]:
        return [self.weight]

    def synaptic_ops(self, args: tuple) -> list[tuple[float, float, bool]]:
        """effective = Σ_outputs |{taps: W ≠ 0 ∧ x ≠ 0}| (non-zero inputs only: spikes count where they are
        1), dense = Σ_outputs |{taps that read an input step}| = B·C_out·C_in·Σ_t min(k, ⌊t/d⌋ + 1) (every
        weight, so one output at step t with all k taps inside the sequence is C_in·k MACs)."""
        from nsb.metrics.ops import is_spiking, nz

        x = args[0].detach()
        w = nz(self.weight.detach())
        pad = (self.causal_padding, 0)
        effective = float(F.conv1d(F.pad(nz(x), pad), w, None, 1, 0, self.dilation).sum())
        ones = torch.ones_like(x, dtype=torch.float64)
        dense = float(F.conv1d(F.pad(ones, pad), torch.ones_like(w), None, 1, 0, self.dilation).sum())
        return [(effective, dense, is_spiking(x))]


def conv(in_channels: int, out_channels: int, kernel_size: int, dilation: int) -> nn.Module:
    layer = CausalConv1d(in_channels, out_channels, kernel_size, dilation)
    nn.init.normal_(layer.weight, 0.0, 0.01)
    return weight_norm(layer)


class TemporalBlock(nn.Module):
    """One level: two weight-normed causal convolutions and the residual; ``act(size, role)`` makes each
    activation (a ReLU here, a neuron in :mod:`nsb.models.spiking_tcn`); every tensor is ``[B, C, T]``."""

    def __init__(self, n_in: int, n_out: int, kernel_size: int, dilation: int, dropout: float,
                 act: Callable[[int, str], nn.Module]) -> None:
        super().__init__()
        self.conv1 = conv(n_in, n_out, kernel_size, dilation)
        self.act1 = act(n_out, "conv1")
        self.conv2 = conv(n_out, n_out, kernel_size, dilation)
        self.act2 = act(n_out, "conv2")
        self.dropout = nn.Dropout(dropout)
        self.downsample: nn.Module | None = None
        self.act_downsample: nn.Module | None = None
        if n_in != n_out:
            self.downsample = nn.Conv1d(n_in, n_out, 1)
            nn.init.normal_(self.downsample.weight, 0.0, 0.01)
            self.act_downsample = act(n_out, "downsample")  # Identity for the TCN: Bai's residual is linear
        self.act_out = act(n_out, "out")

    def forward(self, x: Tensor) -> Tensor:
        h = self.dropout(self.act1(self.conv1(x)))
        h = self.dropout(self.act2(self.conv2(h)))
        res = x
        if self.downsample is not None and self.act_downsample is not None:
            res = self.act_downsample(self.downsample(x))
        return self.act_out(h + res)


class TemporalConvNet(nn.Module):
    def __init__(self, n_in: int, channels: Sequence[int], kernel_size: int, dropout: float,
                 act: Callable[[int, str], nn.Module]) -> None:
        super().__init__()
        sizes = [n_in, *channels]
        self.blocks = nn.ModuleList(TemporalBlock(sizes[i], sizes[i + 1], kernel_size, 2 ** i, dropout, act)
                                    for i in range(len(channels)))

    def forward(self, x: Tensor) -> Tensor:  # [B, C, T]
        for block in self.blocks:
            x = block(x)
        return x


def check(kind: str, options: Options, cfg: Config) -> None:
    if not options.channels:
        raise ConfigError(f"model.kind = '{kind}': arch.channels must list at least one level's width")
    if options.kernel_size < 2:
        raise ConfigError(f"model.kind = '{kind}': arch.kernel_size must be at least 2, got {options.kernel_size}")
    if not 0.0 <= options.dropout < 1.0:
        raise ConfigError(f"model.kind = '{kind}': arch.dropout must be in [0, 1), got {options.dropout}")
    norms = cfg.model.norm if isinstance(cfg.model.norm, list) else [cfg.model.norm]
    if any(n != "none" for n in norms):
        raise ConfigError(f"model.kind = '{kind}' has weight-normed convolutions and no other norm; "
                          f"set model.norm = 'none'")


class TCNClassifier(nn.Module):
    """``x [T, B, F]`` → per-step outputs ``[T, B, C]``; no state (the convolutions see the whole sequence)."""

    def __init__(self, tcn: TemporalConvNet, width: int, output_size: int) -> None:
        super().__init__()
        self.tcn = tcn
        self.readout = nn.Linear(width, output_size)

    def forward(self, x: Tensor, state: list | None = None, t0: int = 0) -> tuple[Tensor, list]:
        h = self.tcn(x.permute(1, 2, 0))  # [B, C, T]
        return self.readout(h.permute(2, 0, 1)), []


class TCNLanguageModel(nn.Module):
    """Token ids ``[T, B]`` → logits ``[T, B, V]``; each window on its own (no state across windows)."""

    def __init__(self, vocab: int, embedding_dim: int, tcn: TemporalConvNet, width: int, dropout_embedding: float,
                 tie_weights: bool) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab, embedding_dim)
        nn.init.normal_(self.embedding.weight, 0.0, 0.01)
        self.embedding_dropout = nn.Dropout(dropout_embedding)
        self.tcn = tcn
        self.decoder = nn.Linear(width, vocab)
        nn.init.zeros_(self.decoder.bias)
        if tie_weights:
            self.decoder.weight = self.embedding.weight
        else:
            nn.init.normal_(self.decoder.weight, 0.0, 0.01)

    def forward(self, tokens: Tensor, state: list | None = None, t0: int = 0) -> tuple[Tensor, list]:
        x = self.embedding_dropout(self.embedding(tokens))  # [T, B, E]
        h = self.tcn(x.permute(1, 2, 0))
        return self.decoder(h.permute(2, 0, 1)), []


def build_network(kind: str, cfg: Config, task: TaskData, options: Options,
                  act: Callable[[int, str], nn.Module]) -> nn.Module:
    check(kind, options, cfg)
    m = cfg.model
    width = options.channels[-1]
    if task.task == "language":
        if m.tie_weights and width != m.embedding_dim:
            raise ConfigError(f"model.kind = '{kind}': tied weights need the last level's width "
                              f"(arch.channels[-1] = {width}) to equal model.embedding_dim ({m.embedding_dim}); "
                              "change one or set model.tie_weights = false")
        tcn = TemporalConvNet(m.embedding_dim, options.channels, options.kernel_size, options.dropout, act)
        return TCNLanguageModel(task.num_classes, m.embedding_dim, tcn, width, m.dropout_embedding, m.tie_weights)
    if task.info.get("frame_shape") is not None:
        raise ConfigError(f"model.kind = '{kind}' takes vectors per step; '{cfg.data.name}' gives frames")
    tcn = TemporalConvNet(task.input_size, options.channels, options.kernel_size, options.dropout, act)
    return TCNClassifier(tcn, width, task.num_classes)


def _relu(size: int, role: str) -> nn.Module:
    return nn.Identity() if role == "downsample" else nn.ReLU()


def build(cfg: Config, task: TaskData, options: Options, make_neuron, make_norm) -> nn.Module:
    return build_network("tcn", cfg, task, options, _relu)


def receptive_field(options: Options) -> int:
    """Steps one output sees: 1 + 2·(k − 1)·(2^levels − 1)."""
    return 1 + 2 * (options.kernel_size - 1) * (2 ** len(options.channels) - 1)

