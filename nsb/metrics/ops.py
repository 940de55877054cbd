"""Synaptic operations of one layer call: effective (non-zero weight × non-zero input) and dense.

For a stateless layer with binarised weights B(W) (non-zero → 1) and binarised input B(x)::

    effective = Σ_outputs Σ_j B(W)_ij · B(x)_j        bias never counts
    dense     = the same with W and x all ones        padding taps of a conv excluded

A call is *spiking* (its effective ops are accumulates, ACs) when every input value lies in
{−1, 0, 1}; otherwise they are multiply-accumulates (MACs). Counts are exact integers (float64),
where NeuroBench sums in the layer's float32 and loses units above 2^24.

Recurrent cells follow NeuroBench's element-wise accounting (see :func:`lstm_ops`,
:func:`gru_ops`) with one change: their dense count takes the hidden and cell states as all
ones too, so dense is a property of the architecture, not of the zero initial state.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from nsb.metrics.errors import MetricError
from nsb.metrics.layers import CELLS, RECURRENT, STATELESS, counts_itself
from nsb.neurons.synapses import ZeroDiagonalRecurrent

Ops = tuple[float, float, bool]  # effective, dense, spiking


def nz(t: Tensor) -> Tensor:
    """1 where non-zero, in float64 so that sums of counts stay exact."""
    return (t != 0).to(torch.float64)


def is_spiking(x: Tensor) -> bool:
    return bool(((x == 0) | (x == 1) | (x == -1)).all())


def product_ops(operand: Tensor, weight: Tensor) -> Ops:
    """One product ``W·operand`` inside a neuron's step (``weight [O, I]``, ``operand [..., I]``), counted
    as a Linear call: effective = Σ_rows Σ_j B(x)_j·(non-zero weights leaving j), dense = rows·numel(W)."""
    effective = float((nz(operand) @ nz(weight).sum(0)).sum())
    return effective, float(operand[..., 0].numel() * weight.numel()), is_spiking(operand)


def _stateless(layer: nn.Module, x: Tensor) -> tuple[float, float]:
    w = nz(layer.weight)
    xb = nz(x)
    if isinstance(layer, nn.Linear):
        # Σ_rows Σ_j B(x)_j · (non-zero weights leaving input j)
        effective = float((xb @ w.sum(0)).sum())
        dense = float(xb[..., 0].numel() * layer.weight.numel())
        return effective, dense
    # _conv_forward applies the layer's own stride, dilation, groups and padding mode to our tensors
    effective = float(layer._conv_forward(xb, w, None).sum())
    dense = float(layer._conv_forward(torch.ones_like(xb), torch.ones_like(w), None).sum())
    return effective, dense


def _zero_diagonal(layer: ZeroDiagonalRecurrent, x: Tensor) -> tuple[float, float]:
    n = layer.weight.shape[0]
    w = nz(layer.effective_weight())
    rows = x[..., 0].numel()
    # s @ W: input j reaches output i through W_ji; the masked diagonal is no connection at all
    return float((nz(x) @ w.sum(1)).sum()), float(rows * n * (n - 1))


def _gates(layer: nn.Module, x: Tensor, h: Tensor, suffix: str = "") -> tuple[Tensor, Tensor, Tensor]:
    """Binarised input and recurrent counts per gate ``[B, G·H]`` and the binarised bias sum."""
    w_ih, w_hh = getattr(layer, f"weight_ih{suffix}"), getattr(layer, f"weight_hh{suffix}")
    out_ih = nz(x) @ nz(w_ih).T
    out_hh = nz(h) @ nz(w_hh).T
    bias_ih = getattr(layer, f"bias_ih{suffix}", None)
    bias_hh = getattr(layer, f"bias_hh{suffix}", None)
    if bias_ih is None:
        zero = torch.zeros(w_ih.shape[0], dtype=torch.float64, device=w_ih.device)
        return out_ih, out_hh, torch.stack([zero, zero])
    return out_ih, out_hh, torch.stack([nz(bias_ih), nz(bias_hh)])


def rnn_ops(out_ih: Tensor, out_hh: Tensor) -> float:
    """RNN cell: Σ B(W_ih)·B(x) + Σ B(W_hh)·B(h)."""
    return float(out_ih.sum() + out_hh.sum())


def lstm_ops(out_ih: Tensor, out_hh: Tensor, biases: Tensor, c: Tensor) -> float:
    """LSTM cell, NeuroBench's accounting: the 4 gates' synapses, then the non-zero terms of
    c' = f⊙c + i⊙g and of o⊙c', with a gate zero where its binarised pre-activation (bias
    included) is zero."""
    pre = out_ih + out_hh
    ops = pre.sum()
    i, f, g, o = nz(pre + biases.sum(0)).chunk(4, dim=-1)
    c_new = f * nz(c) + i * g
    return float(ops + c_new.sum() + nz(o * nz(c_new)).sum())


def gru_ops(out_ih: Tensor, out_hh: Tensor, biases: Tensor, h: Tensor) -> float:
    """GRU cell, NeuroBench's accounting kept as is (two quirks documented in docs/metrics.md):
    the gates' synapses, the non-zero terms of r⊙(W_hn h + b_hn), of (1−z)⊙n and of z⊙h."""
    hidden = out_ih.shape[-1] // 3
    pre = out_ih + out_hh
    ops = pre.sum()
    pre = pre + biases.sum(0)
    r, z = nz(pre[..., :hidden]), pre[..., hidden:2 * hidden]
    hh_n = out_hh[..., 2 * hidden:]
    r_term = nz(r * nz(hh_n + biases[1, 2 * hidden:]))
    # NeuroBench builds n from the recurrent count, not the input count, and takes 1 − z on counts
    n = nz(hh_n + biases[0, 2 * hidden:] + r_term)
    keep = nz(1 - z)
    return float(ops + r_term.sum() + nz(keep * n).sum() + nz(nz(z) * nz(h)).sum())


def cell_dense(layer: nn.Module, rows: int, suffix: str = "") -> float:
    """Dense ops of one step with every input, state and weight non-zero."""
    in_size = getattr(layer, f"weight_ih{suffix}").shape[1]
    h = layer.hidden_size
    if isinstance(layer, (nn.LSTMCell, nn.LSTM)):
        per_row = 4 * h * (in_size + h) + 3 * h
    elif isinstance(layer, (nn.GRUCell, nn.GRU)):
        per_row = 3 * h * (in_size + h) + 3 * h
    else:
        per_row = h * (in_size + h)
    return float(rows * per_row)


def _cell_step(layer: nn.Module, x: Tensor, h: Tensor, c: Tensor | None, suffix: str = "") -> float:
    out_ih, out_hh, biases = _gates(layer, x, h, suffix)
    if isinstance(layer, (nn.LSTMCell, nn.LSTM)):
        return lstm_ops(out_ih, out_hh, biases, c)
    if isinstance(layer, (nn.GRUCell, nn.GRU)):
        return gru_ops(out_ih, out_hh, biases, h)
    return rnn_ops(out_ih, out_hh)


def _cell(layer: nn.Module, args: tuple) -> Ops:
    x = args[0]
    single = x.dim() == 1
    if single:
        x = x.unsqueeze(0)
    state = args[1] if len(args) > 1 else None
    zeros = x.new_zeros(x.shape[0], layer.hidden_size)
    if isinstance(layer, nn.LSTMCell):
        h, c = (zeros, zeros) if state is None else state
    else:
        h, c = (zeros if state is None else state), None
    if single and state is not None:
        h = h.unsqueeze(0)
        c = c.unsqueeze(0) if c is not None else None
    return _cell_step(layer, x, h, c), cell_dense(layer, x.shape[0]), is_spiking(x)


def _recurrent(layer: nn.RNNBase, args: tuple) -> list[Ops]:
    """A full RNN/LSTM/GRU, re-run step by step (the fused kernel hides the per-step states) so
    that every step of every layer and direction is counted as its cell would be."""
    x = args[0]
    if not isinstance(x, Tensor):
        raise MetricError(f"{type(layer).__name__} got a {type(x).__name__}; synaptic operations need a padded "
                          "tensor input, not a PackedSequence")
    if layer.proj_size:
        raise MetricError(f"{type(layer).__name__} with proj_size > 0 is not supported by synaptic operations")
    batched = x.dim() == 3
    if not batched:
        x = x.unsqueeze(1)
    elif layer.batch_first:
        x = x.transpose(0, 1)
    dirs = 2 if layer.bidirectional else 1
    steps, batch = x.shape[0], x.shape[1]
    hx = args[1] if len(args) > 1 else None
    is_lstm = isinstance(layer, nn.LSTM)
    zeros = x.new_zeros(layer.num_layers * dirs, batch, layer.hidden_size)
    if hx is None:
        h0, c0 = zeros, zeros
    else:
        h0, c0 = hx if is_lstm else (hx, None)
        if not batched:
            h0 = h0.unsqueeze(1)
            c0 = c0.unsqueeze(1) if c0 is not None else None
    records: list[Ops] = []
    layer_in = x
    for k in range(layer.num_layers):
        outs = []
        for d in range(dirs):
            suffix = f"_l{k}" + ("_reverse" if d else "")
            w_ih, w_hh = getattr(layer, f"weight_ih{suffix}"), getattr(layer, f"weight_hh{suffix}")
            b_ih, b_hh = getattr(layer, f"bias_ih{suffix}", None), getattr(layer, f"bias_hh{suffix}", None)
            h = h0[k * dirs + d]
            c = c0[k * dirs + d] if is_lstm else None
            order = range(steps - 1, -1, -1) if d else range(steps)
            out = [None] * steps
            for t in order:
                xt = layer_in[t]
                records.append((_cell_step(layer, xt, h, c, suffix), cell_dense(layer, batch, suffix), is_spiking(xt)))
                h, c = _step(layer, xt, h, c, w_ih, w_hh, b_ih, b_hh)
                out[t] = h
            outs.append(torch.stack(out))
        layer_in = torch.cat(outs, dim=-1)
    return records


def _step(layer: nn.Module, x: Tensor, h: Tensor, c: Tensor | None, w_ih: Tensor, w_hh: Tensor,
          b_ih: Tensor | None, b_hh: Tensor | None) -> tuple[Tensor, Tensor | None]:
    if isinstance(layer, nn.LSTM):
        return torch.lstm_cell(x, (h, c), w_ih, w_hh, b_ih, b_hh)
    if isinstance(layer, nn.GRU):
        return torch.gru_cell(x, h, w_ih, w_hh, b_ih, b_hh), None
    cell = torch.rnn_tanh_cell if layer.nonlinearity == "tanh" else torch.rnn_relu_cell
    return cell(x, h, w_ih, w_hh, b_ih, b_hh), None


def layer_ops(layer: nn.Module, args: tuple) -> list[Ops]:
    """``(effective, dense, spiking)`` for one call of a connection layer, one entry per step
    (a full recurrent layer yields one per step, layer and direction)."""
    if counts_itself(layer):  # issue 17: DCLS's delayed convolution, SDSA's products (their own rules)
        return layer.synaptic_ops(args)
    if isinstance(layer, STATELESS):
        return [(*_stateless(layer, args[0]), is_spiking(args[0]))]
    if isinstance(layer, ZeroDiagonalRecurrent):
        return [(*_zero_diagonal(layer, args[0]), is_spiking(args[0]))]
    if isinstance(layer, CELLS):
        return [_cell(layer, args)]
    if isinstance(layer, RECURRENT):
        return _recurrent(layer, args)
    raise MetricError(f"no synaptic-operation rule for {type(layer).__name__}")
