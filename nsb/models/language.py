"""The PTB spiking language model of the seed (``reference/neuroseqbench.md`` §6.2).

Embedding (uniform ±0.1, word dropout: whole rows dropped) → locked dropout → spiking layers
(Linear → neuron → locked dropout) → decoder tied to the embedding, with its own bias (zero at
init). Seed sizes: 10k × 400 embedding, layers 400 → 1100 → 400, dropouts 0.4 (embedding),
0.1 (words), 0.25 and 0.4 after the layers; 4,891,500 parameters, 6,263,000 with both layers
recurrent. Input and output are token ids ``[T, B]`` → logits ``[T, B, V]``; the neuron state is
carried across windows by the trainer (detached at each window).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from nsb.errors import ConfigError
from nsb.models.layers import LockedDropout, SpikingLayer
from nsb.neurons import Neuron


class SpikingLanguageModel(nn.Module):
    def __init__(self, vocab_size: int, embedding_dim: int, hidden: Sequence[int],
                 make_neuron: Callable[[int, bool], Neuron], make_norm: Callable[[int, int], nn.Module],
                 recurrent: Sequence[bool], dropouts: Sequence[float], dropout_embedding: float = 0.4,
                 dropout_words: float = 0.1, tie_weights: bool = True) -> None:
        super().__init__()
        if tie_weights and hidden[-1] != embedding_dim:
            raise ConfigError(f"tied weights need the last hidden size ({hidden[-1]}) to equal embedding_dim "
                              f"({embedding_dim}); change model.hidden or set model.tie_weights = false")
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        nn.init.uniform_(self.embedding.weight, -0.1, 0.1)
        self.dropout_words = float(dropout_words)
        self.embedding_dropout = LockedDropout(dropout_embedding)
        sizes = [embedding_dim, *hidden]
        owns = getattr(make_neuron, "owns_input", False)  # a neuron holding its input layer (DH-LIF, GSN)
        self.layers = nn.ModuleList(
            SpikingLayer(nn.Identity() if owns else nn.Linear(sizes[i], sizes[i + 1]), make_norm(sizes[i + 1], i),
                         make_neuron(sizes[i + 1], recurrent[i], *([sizes[i]] if owns else [])), dropouts[i])
            for i in range(len(hidden))
        )
        self.decoder = nn.Linear(sizes[-1], vocab_size)
        nn.init.zeros_(self.decoder.bias)
        if tie_weights:
            self.decoder.weight = self.embedding.weight

    def embed(self, tokens: Tensor) -> Tensor:
        weight = self.embedding.weight
        if self.training and self.dropout_words > 0:
            keep = torch.empty(weight.shape[0], 1, device=weight.device).bernoulli_(1 - self.dropout_words)
            weight = weight * keep / (1 - self.dropout_words)
        return nn.functional.embedding(tokens, weight)

    def forward(self, tokens: Tensor, state: list | None = None, t0: int = 0) -> tuple[Tensor, list]:
        x = self.embedding_dropout(self.embed(tokens))
        state = state or [None] * len(self.layers)
        new_state = []
        for layer, st in zip(self.layers, state):
            x, st = layer(x, st, t0)
            new_state.append(st)
        return self.decoder(x), new_state
