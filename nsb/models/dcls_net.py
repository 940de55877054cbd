"""LIF with learnable delays (DCLS), as the seed builds it (``reference/neuroseqbench.md`` §6.2).

``x [T, B, F]`` (or token ids ``[T, B]`` → Embedding) → per hidden layer: Dcls1d → norm (the seed's BN)
→ LIF; then Dcls1d → the non-spiking leaky readout (nsb's ``leaky`` neuron, the seed's ``NonSpikingLIF``),
whose membrane is the per-step output. Each Dcls1d is the ``dcls`` package's (Khalfaoui-Hassani et al.):
one weight, one position P and one width σ per connection (``kernel_count = 1``, Gaussian version),
interpolated into a dilated kernel of D = ``arch.max_delay`` taps::

    K[o, i, n] = W[o, i] · g_n / Σ_m g_m,   g_n = exp(−½ ((n − P[o, i] − ⌊D/2⌋) / (|σ[o, i]| + 0.27))²)

applied to the sequence padded with D − 1 steps on the left (so tap n reads a delay of D − 1 − n steps:
causal) and ⌊(D − 1)/2⌋ on the right, the seed's paddings: every layer lengthens the sequence by
⌊(D − 1)/2⌋ steps, in which spikes still arriving through long delays are read. The seed's
``output_mode`` is ``model.readout``: ``sum`` (sum_time_steps) and ``last`` (last_time_step) read
the lengthened sequence; ``all`` (all_time_steps, a language model) scores one output per input step,
so no right padding is added and the output has T steps — the same values as the first T of the
padded run, since every tap is causal. The positions are clamped to the kernel (|P| ≤ ⌊D/2⌋) before each
training forward, as the package's ``clamp_parameters`` after each step.

State, for a stream cut into windows (the trainer carries it for PTB): per layer the last D − 1 steps
of its input (zeros at the start: the left padding) and each neuron's state, so consecutive windows
give the result of one pass in ``all`` mode.

Export: :meth:`DelayedConv.frozen_for_export` materialises each kernel into a plain ``nn.Conv1d`` weight — the
learned delays frozen, a fixed dilated convolution (``tests/test_architectures.py`` checks it equals
the trained model). ``docs/architectures.md`` has the details.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nsb.errors import ConfigError
from nsb.models.layers import LockedDropout


@dataclasses.dataclass
class Options:
    max_delay: int = 100  # D: taps of the dilated kernel (the longest delay is D − 1 steps)


def _dcls1d(cin: int, cout: int, max_delay: int) -> nn.Module:
    try:
        from DCLS.construct.modules import Dcls1d
    except ImportError:
        raise ConfigError("model.kind = 'dcls' needs the dcls package: pip install 'nsb[dcls]' "
                          "(or pip install dcls)") from None
    return Dcls1d(cin, cout, kernel_count=1, dilated_kernel_size=max_delay, bias=False, version="gauss")


class DelayedConv(nn.Module):
    """A Dcls1d over a time-major sequence ``[T, B, C]`` with the seed's paddings; returns ``[T', B, C_out]``
    and the last D − 1 input steps (the next window's left context)."""

    def __init__(self, cin: int, cout: int, max_delay: int, right_padding: bool) -> None:
        super().__init__()
        self.conv = _dcls1d(cin, cout, max_delay)
        self.max_delay = max_delay
        self.left = max_delay - 1
        self.right = (max_delay - 1) // 2 if right_padding else 0

    def kernel(self) -> Tensor:
        """The materialised dilated kernel ``[C_out, C_in, D]`` (what the layer convolves with)."""
        c: Any = self.conv
        if isinstance(c, nn.Conv1d):  # frozen for export
            return c.weight
        return c.DCK(c.weight, c.P, c.SIG)

    def padded(self, x: Tensor, history: Tensor | None) -> Tensor:
        """``[B, C, D − 1 + T + right]``: the left context (zeros or the carried steps), x, the right zeros."""
        xb = x.permute(1, 2, 0)
        if history is None:
            return F.pad(xb, (self.left, self.right))
        xb = torch.cat([history.permute(1, 2, 0), xb], dim=-1)
        return F.pad(xb, (0, self.right)) if self.right else xb

    def forward(self, x: Tensor, history: Tensor | None = None) -> tuple[Tensor, Tensor]:
        conv: Any = self.conv
        if self.training and hasattr(conv, "clamp_parameters"):  # not once frozen for export
            conv.clamp_parameters()
        xb = self.padded(x, history)
        y = self.conv(xb).permute(2, 0, 1)
        steps = xb.shape[-1] - self.right
        new_history = xb[..., steps - self.left:steps].permute(2, 0, 1)
        return y, new_history

    def frozen_for_export(self) -> DelayedConv:
        """The same layer with the delays frozen: the kernel materialised into a plain Conv1d."""
        twin = DelayedConv.__new__(DelayedConv)
        nn.Module.__init__(twin)
        twin.max_delay, twin.left, twin.right = self.max_delay, self.left, self.right
        w = self.kernel().detach()
        conv = nn.Conv1d(w.shape[1], w.shape[0], w.shape[2], bias=False)
        with torch.no_grad():
            conv.weight.copy_(w)
        conv.weight.requires_grad_(False)
        twin.conv = conv
        return twin.train(self.training)

    # --- NeuroBench synaptic operations (nsb.metrics.ops): the materialised kernel, as deployed ----------
    def weight_matrices(self) -> list[Tensor]:
        return [self.kernel()]

    def synaptic_ops(self, args: tuple) -> list[tuple[float, float, bool]]:
        """effective = Σ over outputs of non-zero kernel taps × non-zero inputs; dense = every tap that reads
        an input step (the zero padding excluded, as NeuroBench excludes a conv's padding taps)."""
        from nsb.metrics.ops import is_spiking, nz

        x = args[0]
        history = args[1] if len(args) > 1 else None
        w = nz(self.kernel().detach())
        xb = nz(self.padded(x, history).detach())
        real = torch.ones_like(x).to(torch.float64)
        present = self.padded(real, None if history is None else torch.ones_like(history).to(torch.float64))
        effective = float(F.conv1d(xb, w).sum())
        dense = float(F.conv1d(present, torch.ones_like(w)).sum())
        return [(effective, dense, is_spiking(x))]


class FirstSteps:
    """A lengthened layer's spikes ``[T + extra, B, N]`` as the probes and the bundle record them: the first T
    steps, aligned with the input (the trailing steps reach the task's output through the readout)."""

    def __init__(self, extra: int) -> None:
        self.extra = extra

    def __call__(self, spikes: Tensor) -> Tensor:
        return spikes[: spikes.shape[0] - self.extra]


class DelayNet(nn.Module):
    def __init__(self, input_size: int, hidden: list[int], output_size: int, max_delay: int, make_neuron: Any,
                 make_norm: Any, readout_neuron: nn.Module, right_padding: bool, vocab: int | None = None,
                 dropout_embedding: float = 0.0) -> None:
        super().__init__()
        self.embedding = None
        if vocab is not None:
            self.embedding = nn.Embedding(vocab, input_size)
            nn.init.uniform_(self.embedding.weight, -0.1, 0.1)
            self.embedding_dropout = LockedDropout(dropout_embedding)
        sizes = [input_size, *hidden, output_size]
        self.delays = nn.ModuleList(DelayedConv(sizes[i], sizes[i + 1], max_delay, right_padding)
                                    for i in range(len(sizes) - 1))
        self.norms = nn.ModuleList(make_norm(h, i) for i, h in enumerate(hidden))
        self.neurons = nn.ModuleList([*(make_neuron(h, False) for h in hidden), readout_neuron])
        pad = (max_delay - 1) // 2 if right_padding else 0
        if pad:  # layer i runs over T + (i + 1)·pad steps; the probes and the bundle record its first T
            for i, neuron in enumerate(self.neurons):
                # read by nsb.models.probe and nsb.export.deploy
                setattr(neuron, "spike_view", FirstSteps((i + 1) * pad))

    def forward(self, x: Tensor, state: list | None = None, t0: int = 0) -> tuple[Tensor, list]:
        if self.embedding is not None:
            x = self.embedding_dropout(self.embedding(x))
        state = state or [(None, None)] * len(self.delays)
        new_state = []
        for i, (delay, neuron) in enumerate(zip(self.delays, self.neurons)):
            history, neuron_state = state[i]
            current, history = delay(x, history)
            if i < len(self.norms):
                current = self.norms[i](current, t0=t0)
            x, neuron_state = neuron(current, neuron_state)
            new_state.append((history, neuron_state))
        return x, new_state


def build(cfg: Any, task: Any, options: Options, make_neuron: Any, make_norm: Any) -> nn.Module:
    from nsb.neurons import build_neuron

    m = cfg.model
    if options.max_delay < 2:
        raise ConfigError(f"model.kind = 'dcls': 'arch.max_delay' must be at least 2, got {options.max_delay}")
    if not m.hidden or any(h < 1 for h in m.hidden):
        raise ConfigError(f"model.hidden must list positive layer sizes, got {m.hidden}")
    if getattr(make_neuron, "owns_input", False):
        raise ConfigError(f"model.kind = 'dcls' feeds each neuron from a delayed convolution; neuron "
                          f"'{m.neuron}' owns its input layer")
    if any(cfg.layer_flags(m.recurrent, bool, "recurrent")):
        raise ConfigError("model.kind = 'dcls' is feed-forward (its delays are the memory); "
                          "set model.recurrent = false")
    language = task.task == "language"
    if language and m.readout != "all":
        raise ConfigError("a language model scores every step; set model.readout = 'all'")
    readout = build_neuron("leaky", task.num_classes)
    if language:
        return DelayNet(m.embedding_dim, list(m.hidden), task.num_classes, options.max_delay, make_neuron, make_norm,
                        readout, False, vocab=task.num_classes, dropout_embedding=m.dropout_embedding)
    return DelayNet(task.input_size, list(m.hidden), task.num_classes, options.max_delay, make_neuron, make_norm,
                    readout, m.readout != "all")
