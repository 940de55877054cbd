"""The non-spiking Transformer reference of the seed's architecture table (``reference/neuroseqbench.md``
§6.2, §7.2): PyTorch's ``nn.TransformerEncoder`` (post-LayerNorm, ReLU feed-forward, as PyTorch's
defaults and the seed's spike-driven variant) over a sinusoidal positional encoding.

Classification: ``x [T, B, F]`` → Linear encoder to ``d_model`` → + positional encoding → encoder layers
→ Linear readout per step ``[T, B, C]``, reduced as the task's readout says. With ``arch.causal`` every
step attends to itself and the steps before it only (the seed's causal mask); without, to the whole
sequence. PTB: embedding ``d_model`` (uniform ±0.1) → + positional encoding → causal encoder → decoder
tied to the embedding; a language model is always causal (it would read the word it predicts) and each
window is on its own (no state). Seed: PTB d_emb 300, feed-forward 256, 4 layers, 2 heads
(5.08 M parameters); the PS-MNIST and Binary Adding sizes are not given and are chosen for the
budgets (d 48, ff 192, 3 layers, 2 heads: 85 K; d 32, ff 128, 3 layers, 2 heads: 38 K).

No spiking layer: it exports as standard operators and is gated by its outputs, as the LSTM reference.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from nsb.config import Config
from nsb.data.common import TaskData
from nsb.errors import ConfigError


@dataclass
class Options:
    d_model: int = 48
    heads: int = 2
    layers: int = 3
    feedforward: int = 192
    dropout: float = 0.0
    causal: bool = False  # classification only; a language model is always causal


def positional_encoding(steps: int, d_model: int, device=None, dtype=None) -> Tensor:
    """Vaswani et al.'s sinusoids ``[T, 1, d]``: sin on even, cos on odd features."""
    position = torch.arange(steps, device=device, dtype=torch.float32).unsqueeze(1)
    rate = torch.exp(torch.arange(0, d_model, 2, device=device, dtype=torch.float32) * (-math.log(10000.0) / d_model))
    pe = torch.zeros(steps, d_model, device=device)
    pe[:, 0::2] = torch.sin(position * rate)
    pe[:, 1::2] = torch.cos(position * rate[: d_model // 2])
    return pe.unsqueeze(1).to(dtype or torch.float32)


def causal_mask(steps: int, device=None) -> Tensor:
    """``-inf`` above the diagonal: step t attends to steps ≤ t."""
    return torch.triu(torch.full((steps, steps), float("-inf"), device=device), diagonal=1)


class MultiheadAttention(nn.MultiheadAttention):
    """PyTorch's multi-head attention, which also counts its synaptic operations (NeuroBench's metric,
    :func:`nsb.metrics.layers.counts_itself`): its products are functional calls no hook sees. Per call
    on ``x [T, B, d]`` with H heads of width d_h = d/H, every product a MAC (real-valued operands)::

        in-projection   3·T·B·d·d     (Q, K, V; effective: non-zero inputs × non-zero weights)
        Q·Kᵀ            B·H·P·d_h     P = T² pairs, T(T+1)/2 under the causal mask (masked pairs never count)
        A·V             B·H·P·d_h     (effective: non-zero q·k, resp. a·v, operand pairs)
        out-projection  T·B·d·d
    """

    causal = False  # set by the encoder

    def weight_matrices(self) -> list[Tensor]:
        return [self.in_proj_weight, self.out_proj.weight]

    def synaptic_ops(self, args: tuple) -> list[tuple[float, float, bool]]:
        from nsb.metrics.ops import is_spiking, nz

        x = args[0].detach()
        steps, batch, d = x.shape
        h, dh = self.num_heads, self.head_dim
        w_in, b_in = self.in_proj_weight.detach(), self.in_proj_bias.detach()
        xb = nz(x)
        ops = [(float((xb @ nz(w_in).T).sum()), float(3 * steps * batch * d * d), is_spiking(x))]
        q, k, v = torch.nn.functional.linear(x, w_in, b_in).chunk(3, dim=-1)

        def heads(t: Tensor) -> Tensor:  # [T, B, d] -> [B, H, T, d_h]
            return t.reshape(steps, batch, h, dh).permute(1, 2, 0, 3)

        q, k, v = heads(q), heads(k), heads(v)
        keep = torch.ones(steps, steps, dtype=torch.float64, device=x.device)
        if self.causal:
            keep = torch.tril(keep)
        pairs = float(keep.sum())
        qk = (nz(q) @ nz(k).transpose(-1, -2)) * keep
        scores = (q @ k.transpose(-1, -2)) / dh ** 0.5
        scores = scores.masked_fill(keep == 0, float("-inf"))
        a = torch.softmax(scores, dim=-1)
        av = nz(a) @ nz(v)
        ops.append((float(qk.sum()), float(batch * h * pairs * dh), False))
        ops.append((float(av.sum()), float(batch * h * pairs * dh), False))
        out = (a @ v).permute(2, 0, 1, 3).reshape(steps, batch, d)
        ops.append((float((nz(out) @ nz(self.out_proj.weight.detach()).T).sum()), float(steps * batch * d * d),
                    is_spiking(out)))
        return ops


class EncoderLayer(nn.TransformerEncoderLayer):
    """``nn.TransformerEncoderLayer`` (post-LN, ReLU) always on its module path, never the fused fast path,
    so every Linear, the attention and the ReLU (a module) are called as modules (and measured)."""

    def __init__(self, o: Options) -> None:
        super().__init__(o.d_model, o.heads, o.feedforward, o.dropout, activation=nn.ReLU())  # [T, B, d]
        self.self_attn = MultiheadAttention(o.d_model, o.heads, dropout=o.dropout)
        self.self_attn.causal = o.causal

    def forward(self, src: Tensor, src_mask: Tensor | None = None, src_key_padding_mask: Tensor | None = None,
                is_causal: bool = False) -> Tensor:
        x = self.norm1(src + self._sa_block(src, src_mask, src_key_padding_mask, is_causal=is_causal))
        return self.norm2(x + self._ff_block(x))


class Encoder(nn.Module):
    def __init__(self, o: Options) -> None:
        super().__init__()
        self.encoder = nn.TransformerEncoder(EncoderLayer(o), o.layers, enable_nested_tensor=False)
        self.causal = o.causal
        self.d_model = o.d_model

    def forward(self, x: Tensor) -> Tensor:
        x = x + positional_encoding(x.shape[0], self.d_model, x.device, x.dtype)
        mask = causal_mask(x.shape[0], x.device) if self.causal else None
        return self.encoder(x, mask=mask, is_causal=self.causal)


class TransformerClassifier(nn.Module):
    def __init__(self, n_in: int, output_size: int, o: Options) -> None:
        super().__init__()
        self.input = nn.Linear(n_in, o.d_model)
        self.encoder = Encoder(o)
        self.readout = nn.Linear(o.d_model, output_size)

    def forward(self, x: Tensor, state: list | None = None, t0: int = 0) -> tuple[Tensor, list]:
        return self.readout(self.encoder(self.input(x))), []


class TransformerLanguageModel(nn.Module):
    def __init__(self, vocab: int, o: Options, tie_weights: bool) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab, o.d_model)
        nn.init.uniform_(self.embedding.weight, -0.1, 0.1)
        self.encoder = Encoder(o)
        self.decoder = nn.Linear(o.d_model, vocab)
        nn.init.zeros_(self.decoder.bias)
        if tie_weights:
            self.decoder.weight = self.embedding.weight

    def forward(self, tokens: Tensor, state: list | None = None, t0: int = 0) -> tuple[Tensor, list]:
        return self.decoder(self.encoder(self.embedding(tokens))), []


def build(cfg: Config, task: TaskData, options: Options, make_neuron, make_norm) -> nn.Module:
    if options.d_model % options.heads:
        raise ConfigError(f"model.kind = 'transformer': arch.d_model ({options.d_model}) must be a multiple of "
                          f"arch.heads ({options.heads})")
    if options.d_model % 2:
        raise ConfigError(f"model.kind = 'transformer': arch.d_model must be even (sinusoidal positions), "
                          f"got {options.d_model}")
    if not 0.0 <= options.dropout < 1.0:
        raise ConfigError(f"model.kind = 'transformer': arch.dropout must be in [0, 1), got {options.dropout}")
    if task.task == "language":
        if not options.causal:
            raise ConfigError("model.kind = 'transformer' on a language task must be causal (it would attend to "
                              "the word it predicts); set arch.causal = true")
        return TransformerLanguageModel(task.num_classes, options, cfg.model.tie_weights)
    if task.info.get("frame_shape") is not None:
        raise ConfigError(f"model.kind = 'transformer' takes vectors per step; '{cfg.data.name}' gives frames")
    return TransformerClassifier(task.input_size, task.num_classes, options)
