"""The non-spiking LSTM reference of the seed's architecture table (``reference/neuroseqbench.md`` §6.2,
§7.2): PyTorch's ``nn.LSTM`` (time-major) and a Linear readout per step.

Classification: ``x [T, B, F]`` → LSTM layers ``model.hidden`` → readout ``[T, B, C]``, reduced as the
task's readout says. PTB: the seed's tied embedding (uniform ±0.1) → locked dropout → LSTM → locked
dropout → decoder; ``(h, c)`` of every layer is the state the trainer carries (detached) across windows,
as the spiking PTB models carry their neurons'. The seed gives no sizes for its LSTM; the configs pick
``model.hidden`` to meet the table's budgets (PTB one layer of 400 under the 400-wide tied embedding,
5.3 M; PS-MNIST 144, 86 K; Binary Adding 96, 39 K).

It has no spiking layer. It trains, is measured (NeuroBench metrics: the LSTM's synapses per step,
:func:`nsb.metrics.ops.lstm_ops`) and exports: ONNX ``LSTM`` nodes, a ``scan`` per layer in ``model.pt2``,
gated by its outputs (:mod:`nsb.eval.fidelity`).
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from nsb.config import Config
from nsb.data.common import TaskData
from nsb.errors import ConfigError
from nsb.models.layers import LockedDropout


@dataclass
class Options:
    dropout: float = 0.0  # between stacked LSTM layers (nn.LSTM's dropout)


def _check(cfg: Config, options: Options) -> list[int]:
    hidden = list(cfg.model.hidden)
    if not hidden or any(h < 1 for h in hidden):
        raise ConfigError(f"model.hidden must list positive layer sizes, got {hidden}")
    if not 0.0 <= options.dropout < 1.0:
        raise ConfigError(f"model.kind = 'lstm': arch.dropout must be in [0, 1), got {options.dropout}")
    return hidden


class StackedLSTM(nn.Module):
    """LSTM layers of possibly different widths (one ``nn.LSTM`` each), state ``[(h, c), …]``."""

    def __init__(self, n_in: int, hidden: list[int], dropout: float) -> None:
        super().__init__()
        sizes = [n_in, *hidden]
        self.layers = nn.ModuleList(nn.LSTM(sizes[i], sizes[i + 1]) for i in range(len(hidden)))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, state: list | None) -> tuple[Tensor, list]:
        state = state or [None] * len(self.layers)
        new_state = []
        for i, (layer, st) in enumerate(zip(self.layers, state)):
            x, st = layer(x, st)
            new_state.append(st)
            if i + 1 < len(self.layers):
                x = self.dropout(x)
        return x, new_state


class LSTMClassifier(nn.Module):
    def __init__(self, n_in: int, hidden: list[int], output_size: int, dropout: float) -> None:
        super().__init__()
        self.lstm = StackedLSTM(n_in, hidden, dropout)
        self.readout = nn.Linear(hidden[-1], output_size)

    def forward(self, x: Tensor, state: list | None = None, t0: int = 0) -> tuple[Tensor, list]:
        h, state = self.lstm(x, state)
        return self.readout(h), state


class LSTMLanguageModel(nn.Module):
    def __init__(self, vocab: int, embedding_dim: int, hidden: list[int], dropout: float, dropout_embedding: float,
                 dropout_output: float, tie_weights: bool) -> None:
        super().__init__()
        if tie_weights and hidden[-1] != embedding_dim:
            raise ConfigError(f"tied weights need the last hidden size ({hidden[-1]}) to equal embedding_dim "
                              f"({embedding_dim}); change model.hidden or set model.tie_weights = false")
        self.embedding = nn.Embedding(vocab, embedding_dim)
        nn.init.uniform_(self.embedding.weight, -0.1, 0.1)
        self.embedding_dropout = LockedDropout(dropout_embedding)
        self.lstm = StackedLSTM(embedding_dim, hidden, dropout)
        self.output_dropout = LockedDropout(dropout_output)
        self.decoder = nn.Linear(hidden[-1], vocab)
        nn.init.zeros_(self.decoder.bias)
        if tie_weights:
            self.decoder.weight = self.embedding.weight

    def forward(self, tokens: Tensor, state: list | None = None, t0: int = 0) -> tuple[Tensor, list]:
        h, state = self.lstm(self.embedding_dropout(self.embedding(tokens)), state)
        return self.decoder(self.output_dropout(h)), state


def build(cfg: Config, task: TaskData, options: Options, make_neuron, make_norm) -> nn.Module:
    m = cfg.model
    hidden = _check(cfg, options)
    if task.task == "language":
        out = cfg.layer_flags(m.dropout, float, "dropout")[-1]
        return LSTMLanguageModel(task.num_classes, m.embedding_dim, hidden, options.dropout, m.dropout_embedding,
                                 out, m.tie_weights)
    if task.info.get("frame_shape") is not None:
        raise ConfigError(f"model.kind = 'lstm' takes vectors per step; '{cfg.data.name}' gives frames")
    return LSTMClassifier(task.input_size, hidden, task.num_classes, options.dropout)
