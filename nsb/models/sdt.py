"""The spike-driven transformer, as the seed builds it (``reference/neuroseqbench.md`` §6.2).

``x [T, B, F]`` → Linear encoder (token ids ``[T, B]`` → Embedding for a language model) → sinusoidal
positional encoding over the T tokens → repeated ``arch.t_in`` times along a new inner time axis →
``arch.layers`` encoder layers, each::

    s = LIF_head(x);  q, k, v = LIF_q(W_q s), LIF_k(W_k s), LIF_v(W_v s)         (per head, d/heads wide)
    a = q·(kᵀ·v)·0.125                         no mask (classification)
    a = ((q·kᵀ) ⊙ M)·v·0.125                   causal mask M[t, s] = [s ≤ t] (language model)
    x = LayerNorm(x + W_o·LIF_attn(a))                                            post-LayerNorm
    x = LayerNorm(x + W_2·LIF_2(W_1·LIF_1(x)))                                    spiking MLP, W_1: d → 4d

→ Linear head, averaged over the inner axis → per-token outputs ``[T, B, C]`` (the trainer reduces them
over the tokens as ``model.readout`` says). Every neuron runs over the inner axis: its input is
``[T_in, T, B, N]`` (the sequence itself is the attention's token axis, where a neuron's batch would be), so
with T_in = 1 each neuron fires on one step; only neurons with scalar parameters fit (LIF, IF, PLIF), as in
the conv SNN. A neuron's ``spike_view`` hands the probes and the deploy twin its spikes as
``[T, B, T_in, N]``. The
products of SDSA are :class:`SpikeAttention` calls, which the NeuroBench synaptic operations count
(``docs/architectures.md``). No state is carried between windows: attention sees one window.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import torch
from torch import Tensor, nn

from nsb.errors import ConfigError

SCALAR_NEURONS = ("lif", "if", "plif")


@dataclasses.dataclass
class Options:
    d_model: int = 48  # token width d
    layers: int = 1  # encoder layers
    heads: int = 2  # attention heads (d must be a multiple)
    t_in: int = 4  # T_in: repetitions of each token along the neurons' inner time axis (the seed: 1 or 4)
    mlp_ratio: int = 4  # the spiking MLP's hidden width, times d
    scale: float = 0.125  # SDSA's constant scale


def positional_encoding(steps: int, d: int, like: Tensor) -> Tensor:
    """The sinusoidal encoding ``[T, 1, d]`` (Vaswani et al.): sin on even features, cos on odd."""
    position = torch.arange(steps, dtype=like.dtype, device=like.device).unsqueeze(1)
    freq = torch.exp(torch.arange(0, d, 2, dtype=like.dtype, device=like.device) * (-math.log(10000.0) / d))
    angles = position * freq  # [T, ceil(d/2)]
    pe = torch.stack([torch.sin(angles), torch.cos(angles)], dim=-1).flatten(1)[:, :d]
    return pe.unsqueeze(1)


class SpikeAttention(nn.Module):
    """SDSA's products on spike tensors ``q, k, v [N, T, h]`` (N = inner steps × samples × heads).

    No mask: ``q·(kᵀ·v)·scale``; causal: ``((q·kᵀ) ⊙ M)·v·scale``. Parameter-free; a module so that
    the synaptic-operation count sees each call (:meth:`synaptic_ops`)."""

    def __init__(self, causal: bool, scale: float) -> None:
        super().__init__()
        self.causal = causal
        self.scale = float(scale)

    def mask(self, steps: int, like: Tensor) -> Tensor:
        idx = torch.arange(steps, device=like.device)
        return (idx.unsqueeze(1) >= idx.unsqueeze(0)).to(like.dtype)

    def forward(self, q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        if self.causal:
            scores = (q @ k.transpose(-2, -1)) * self.mask(q.shape[-2], q)
            return (scores @ v) * self.scale
        return (q @ (k.transpose(-2, -1) @ v)) * self.scale

    def weight_matrices(self) -> list[Tensor]:
        return []  # no weights: both operands are activations

    def synaptic_ops(self, args: tuple) -> list[tuple[float, float, bool]]:
        """Two products per call, each an entry ``(effective, dense, spiking)``: a product of spikes with
        spikes, or with the integer result of one, is accumulates (ACs). effective counts the terms whose
        both factors are non-zero; dense every term (the causal mask's removed terms are no connection)."""
        from nsb.metrics.ops import is_spiking, nz

        q, k, v = (nz(t.detach()) for t in args[:3])
        n, steps, h = q.shape
        spiking = all(is_spiking(t) for t in args[:3])
        if self.causal:
            mask = self.mask(steps, q)
            scores = (q @ k.transpose(-2, -1)) * mask  # term counts of q·kᵀ, kept where s ≤ t
            pairs = float(mask.sum())
            first = (float(scores.sum()), float(n * h) * pairs, spiking)
            second = (float((nz(scores) @ v).sum()), float(n * h) * pairs, spiking)
            return [first, second]
        kv = k.transpose(-2, -1) @ v  # [n, h, h]: Σ_t k_ti·v_tj
        first = (float(kv.sum()), float(n * steps * h * h), spiking)
        second = (float((q @ nz(kv)).sum()), float(n * steps * h * h), spiking)
        return [first, second]


def outer_time(spikes: Tensor) -> Tensor:
    """``[T_in, T, B, N]`` → ``[T, B, T_in, N]``: the spikes as the probes and the deploy twin record them."""
    return spikes.permute(1, 2, 0, 3)


def _inner(make_neuron: Any) -> Any:
    def make(size: int, recurrent: bool) -> nn.Module:
        neuron = make_neuron(size, recurrent)
        neuron.spike_view = outer_time  # read by nsb.models.probe and nsb.export.deploy
        return neuron
    return make


class EncoderLayer(nn.Module):
    def __init__(self, d: int, heads: int, mlp_ratio: int, make_neuron: Any, causal: bool, scale: float) -> None:
        super().__init__()
        self.heads = heads
        make_neuron = _inner(make_neuron)
        self.head_lif = make_neuron(d, False)
        self.q, self.k, self.v = nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d)
        self.q_lif, self.k_lif, self.v_lif = make_neuron(d, False), make_neuron(d, False), make_neuron(d, False)
        self.attention = SpikeAttention(causal, scale)
        self.attn_lif = make_neuron(d, False)
        self.out = nn.Linear(d, d)
        self.norm1 = nn.LayerNorm(d)
        self.mlp_lif1 = make_neuron(d, False)
        self.fc1 = nn.Linear(d, mlp_ratio * d)
        self.mlp_lif2 = make_neuron(mlp_ratio * d, False)
        self.fc2 = nn.Linear(mlp_ratio * d, d)
        self.norm2 = nn.LayerNorm(d)

    def split(self, s: Tensor) -> Tensor:
        """``[T_in, T, B, d]`` → ``[T_in·B·heads, T, d/heads]``."""
        t_in, steps, batch, d = s.shape
        s = s.reshape(t_in, steps, batch, self.heads, d // self.heads)
        return s.permute(0, 2, 3, 1, 4).flatten(0, 2)

    def forward(self, x: Tensor) -> Tensor:
        t_in, steps, batch, d = x.shape
        s, _ = self.head_lif(x)
        q, _ = self.q_lif(self.q(s))
        k, _ = self.k_lif(self.k(s))
        v, _ = self.v_lif(self.v(s))
        a = self.attention(self.split(q), self.split(k), self.split(v))
        a = a.reshape(t_in, batch, self.heads, steps, d // self.heads).permute(0, 3, 1, 2, 4).flatten(3)
        a, _ = self.attn_lif(a)
        x = self.norm1(x + self.out(a))
        h, _ = self.mlp_lif1(x)
        h, _ = self.mlp_lif2(self.fc1(h))
        return self.norm2(x + self.fc2(h))


class SpikeDrivenTransformer(nn.Module):
    def __init__(self, input_size: int, output_size: int, o: Options, make_neuron: Any, causal: bool,
                 vocab: int | None = None, tie_weights: bool = False) -> None:
        super().__init__()
        self.t_in, self.d = o.t_in, o.d_model
        self.embedding: nn.Embedding | None
        self.encoder: nn.Linear | None
        if vocab is not None:
            self.embedding = nn.Embedding(vocab, o.d_model)
            nn.init.uniform_(self.embedding.weight, -0.1, 0.1)
            self.encoder = None
        else:
            self.embedding = None
            self.encoder = nn.Linear(input_size, o.d_model)
        self.layers = nn.ModuleList(EncoderLayer(o.d_model, o.heads, o.mlp_ratio, make_neuron, causal, o.scale)
                                    for _ in range(o.layers))
        self.head = nn.Linear(o.d_model, output_size)
        if self.embedding is not None and tie_weights:
            nn.init.zeros_(self.head.bias)
            self.head.weight = self.embedding.weight

    def forward(self, x: Tensor, state: list | None = None, t0: int = 0) -> tuple[Tensor, list]:
        encode = self.embedding if self.embedding is not None else self.encoder
        assert encode is not None
        h = encode(x)  # [T, B, d]
        steps, batch, d = h.shape
        h = h + positional_encoding(steps, d, h)
        h = h.unsqueeze(0).expand(self.t_in, -1, -1, -1)  # [T_in, T, B, d]
        for layer in self.layers:
            h = layer(h)
        return self.head(h).mean(0), []  # averaged over T_in: [T, B, C]


def build(cfg: Any, task: Any, options: Options, make_neuron: Any, make_norm: Any) -> nn.Module:
    m = cfg.model
    where = "model.kind = 'sdt'"
    if options.d_model % options.heads:
        raise ConfigError(f"{where}: 'arch.d_model' ({options.d_model}) must be a multiple of 'arch.heads' "
                          f"({options.heads})")
    if m.neuron not in SCALAR_NEURONS:
        raise ConfigError(f"{where} runs its neurons over the inner T_in axis with the tokens where a batch would "
                          f"be, so it takes {', '.join(SCALAR_NEURONS)} neurons (scalar parameters), got '{m.neuron}'")
    if any(cfg.layer_flags(m.recurrent, bool, "recurrent")):
        raise ConfigError(f"{where}: the neurons run over the inner T_in axis, never recurrent; set "
                          "model.recurrent = false")
    if task.task == "language":
        if m.readout != "all":
            raise ConfigError("a language model scores every step; set model.readout = 'all'")
        tie = bool(m.tie_weights)
        if tie and m.embedding_dim != options.d_model:
            raise ConfigError(f"{where}: tied weights need model.embedding_dim ({m.embedding_dim}) = 'arch.d_model' "
                              f"({options.d_model}); change one or set model.tie_weights = false")
        return SpikeDrivenTransformer(task.input_size, task.num_classes, options, make_neuron, causal=True,
                                      vocab=task.num_classes, tie_weights=tie)
    return SpikeDrivenTransformer(task.input_size, task.num_classes, options, make_neuron, causal=False)
