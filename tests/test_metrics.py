"""nsb.metrics against hand-computed values on tiny models (no oracle needed)."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from torch import nn

from nsb.errors import NsbError
from nsb.metrics import (MetricError, connection_sparsity, footprint, layer_ops, measure, parameter_count)
from nsb.models import SpikingClassifier
from nsb.neurons import build_neuron
from nsb.neurons.synapses import ZeroDiagonalRecurrent
from nsb.norm import build_norm


def spiking(hidden=(3,), recurrent=(False,), n_in=2, n_out=2, **lif) -> SpikingClassifier:
    def make_neuron(size, rec):
        return build_neuron("lif", size, recurrent=rec, **lif)
    return SpikingClassifier(n_in, hidden, n_out, make_neuron, lambda n, i: build_norm("none", n, time_steps=1),
                             recurrent)


def set_(linear: nn.Linear, weight, bias=None) -> None:
    with torch.no_grad():
        linear.weight.copy_(torch.tensor(weight, dtype=torch.float32))
        linear.bias.copy_(torch.zeros(linear.out_features) if bias is None else torch.tensor(bias))


def test_metric_error_is_an_nsb_error():
    assert issubclass(MetricError, NsbError)


def test_import_nsb_stays_free_of_torch():
    code = "import sys, nsb; assert 'torch' not in sys.modules, 'import nsb pulled in torch'"
    subprocess.run([sys.executable, "-c", code], check=True)


# --- static ---------------------------------------------------------------------------------------

def test_footprint_counts_parameters_and_every_buffer():
    net = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3))
    net[1].register_buffer("window", torch.zeros(5), persistent=False)
    # (12 + 3 + 3 + 3) fp32 params, running mean/var fp32, num_batches_tracked int64, window fp32
    assert footprint(net) == 21 * 4 + 6 * 4 + 8 + 5 * 4
    assert footprint(net.double()) == 21 * 8 + 6 * 8 + 8 + 5 * 8
    assert parameter_count(net) == 21


def test_footprint_counts_a_tied_tensor_once():
    emb, dec = nn.Embedding(10, 4), nn.Linear(4, 10)
    dec.weight = emb.weight
    assert footprint(nn.ModuleList([emb, dec])) == (40 + 10) * 4


def test_connection_sparsity_counts_weights_only_for_every_layer_type():
    net = nn.Sequential(nn.Linear(4, 2), nn.LSTMCell(2, 3))
    with torch.no_grad():
        net[0].weight[0] = 0          # 4 zeros of 8
        net[0].bias.zero_()           # biases never count
        net[1].bias_ih.zero_()
        net[1].weight_hh[:2] = 0      # 6 zeros of 36
    # weights: 8 + 12·2 + 12·3 = 68, zeros: 4 + 6
    assert connection_sparsity(net) == round(10 / 68, 4)


def test_connection_sparsity_sees_a_bare_layer_and_the_masked_diagonal():
    assert connection_sparsity(nn.Linear(3, 3)) == 0.0
    rec = ZeroDiagonalRecurrent(4)
    assert connection_sparsity(rec) == round(4 / 16, 4)


def test_static_metrics_refuse_a_model_without_connections():
    with pytest.raises(MetricError, match="no connection layer"):
        connection_sparsity(nn.Sequential(nn.ReLU()))


# --- synaptic operations per layer --------------------------------------------------------------

def test_linear_ops_split_spikes_from_values():
    lin = nn.Linear(4, 2)
    assert layer_ops(lin, (torch.tensor([[1.0, 0, -1, 1]]),)) == [(6.0, 8.0, True)]
    assert layer_ops(lin, (torch.tensor([[1.0, 0, 0.5, 1]]),)) == [(6.0, 8.0, False)]
    with torch.no_grad():
        lin.weight[0, 0] = 0
    assert layer_ops(lin, (torch.ones(3, 4),)) == [(21.0, 24.0, True)]


def test_conv_dense_excludes_padding_taps():
    conv = nn.Conv2d(2, 4, 3, padding=1)
    (effective, dense, spiking), = layer_ops(conv, (torch.randn(1, 2, 5, 5),))
    # valid taps per output position on 5×5 with padding 1: 4 corners·4 + 12 edges·6 + 9 inner·9 = 169
    assert dense == effective == 169 * 2 * 4
    assert not spiking
    assert layer_ops(nn.Conv1d(5, 1, 5), (torch.ones(1, 5, 10),))[0][1] == 150


@pytest.mark.parametrize("cell, expected", [(nn.LSTMCell(25, 5), 615), (nn.GRUCell(25, 5), 465),
                                            (nn.RNNCell(25, 5), 150)])
def test_cells_with_all_ones_inputs_and_states(cell, expected):
    x, h = torch.ones(1, 25), torch.ones(1, 5)
    state = (h, h) if isinstance(cell, nn.LSTMCell) else h
    assert layer_ops(cell, (x, state)) == [(expected, expected, True)]


def test_cell_dense_does_not_depend_on_the_zero_initial_state():
    cell = nn.LSTMCell(3, 5)
    (effective, dense, _), = layer_ops(cell, (torch.randn(2, 3),))
    assert dense == 2 * (4 * 5 * (3 + 5) + 3 * 5)
    # zero h and c: the gates' input synapses (4·5·3), i⊙g (5) and o⊙c' (5)
    assert effective == 2 * (60 + 5 + 5)


def test_full_lstm_counts_every_step_like_its_cell():
    torch.manual_seed(0)
    lstm = nn.LSTM(3, 4, num_layers=2)
    cells = [nn.LSTMCell(3, 4), nn.LSTMCell(4, 4)]
    for k, cell in enumerate(cells):
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, name).data.copy_(getattr(lstm, f"{name}_l{k}"))
    x = torch.randn(5, 2, 3)
    with torch.no_grad():
        lstm.weight_ih_l0[:3] = 0
        cells[0].weight_ih[:3] = 0
    expected = []
    with torch.no_grad():
        layer_in = x
        for cell in cells:
            h = c = torch.zeros(2, 4)
            outs = []
            for t in range(5):
                expected += layer_ops(cell, (layer_in[t], (h, c)))
                h, c = cell(layer_in[t], (h, c))
                outs.append(h)
            layer_in = torch.stack(outs)
    got = layer_ops(lstm, (x,))
    assert len(got) == 10
    assert got == expected


# --- measure on nsb models ----------------------------------------------------------------------

def test_spiking_feed_forward_model_by_hand():
    model = spiking(decay=1.0, threshold=0.5, reset="none")
    set_(model.layers[0].synapse, [[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    set_(model.readout, [[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    x = torch.tensor([[[1.0, 0.0]], [[0.0, 1.0]], [[0.0, 0.0]]])  # T=3, B=1
    res = measure(model, [(x, None)], ["activation_sparsity", "synaptic_operations", "membrane_updates"])
    # currents [1,0,0], [0,1,0], [0,0,0]; integrated v [1,0,0], [1,1,0], [1,1,0]; spikes where v > 0.5
    spikes = torch.tensor([[1, 0, 0], [1, 1, 0], [1, 1, 0]])
    assert res["activation_sparsity"] == pytest.approx(1 - spikes.sum().item() / 9)
    # layer 1: 1 input × 1 weight at t0 and t1; readout: each neuron has 1 non-zero outgoing weight,
    # so 1, 2, 2 ops for the spikes of t0, t1, t2
    acs = 1 + 1 + 1 + 2 + 2
    assert res["synaptic_operations"] == {"dense": 3 * (6 + 6), "effective_macs": 0.0, "effective_acs": acs,
                                          "steps": 3.0}
    # step 0: all 3; step 1: neuron 1 changes; step 2: nothing
    assert res["membrane_updates"] == 3 + 1 + 0


def test_recurrent_weights_count_at_every_step():
    model = spiking(hidden=(2,), recurrent=(True,), n_in=1, n_out=1, decay=0.0, threshold=0.5)
    set_(model.layers[0].synapse, [[1.0], [0.0]])
    rec = model.layers[0].neuron.recurrent
    set_(rec, [[0.0, 0.0], [1.0, 0.0]])
    x = torch.tensor([[[1.0], [1.0]], [[0.0], [0.0]], [[0.0], [0.0]]])  # T=3, B=2
    res = measure(model, [(x, None)], ["synaptic_operations"])
    ops = res["synaptic_operations"]
    # per sample: input synapse 1 op at t0; recurrent: s0 = [1, 0] → 1 op at t1, s1 = [0, 1] → 0 at t2;
    # readout (weights all non-zero): 1 spike at t0 and t1
    assert ops["effective_acs"] == 1 + 1 + 2
    assert ops["dense"] == 3 * (2 + 4 + 2)


def test_membrane_updates_continue_a_stream_without_counting_a_restart():
    model = spiking(decay=1.0, threshold=10.0, reset="none")
    set_(model.layers[0].synapse, [[1.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
    x = torch.tensor([[[1.0, 0.0]], [[1.0, 0.0]]])
    state = [(torch.zeros(1, 3), torch.zeros(1, 3))]  # (v, s)
    fresh = measure(model, [(x, None)], ["membrane_updates"])
    cont = measure(model, [(x, None)], ["membrane_updates"], forward=lambda m, xb: m(xb, state)[0])
    assert fresh["membrane_updates"] == 3 + 1
    assert cont["membrane_updates"] == 1 + 1


def test_membrane_updates_are_counted_on_the_loop_whatever_the_backend():
    """A fused kernel has no per-step call to count: measured layers run their PyTorch loop, then get
    their backend back ('cuda' here would refuse to run on this CPU outside the measurement)."""
    model = spiking(decay=1.0, threshold=0.5, reset="none")
    set_(model.layers[0].synapse, [[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    x = torch.tensor([[[1.0, 0.0]], [[0.0, 1.0]], [[0.0, 0.0]]])
    model.layers[0].neuron.backend = "cuda"
    assert measure(model, [(x, None)], ["membrane_updates"])["membrane_updates"] == 3 + 1 + 0
    assert model.layers[0].neuron.backend == "cuda"


def test_measure_removes_its_hooks_and_restores_the_mode():
    model = spiking(recurrent=(True,))
    model.train()
    x = torch.rand(4, 2, 2)
    measure(model, [(x, None)], ["activation_sparsity", "synaptic_operations", "membrane_updates"])
    assert model.training
    for m in model.modules():
        assert not m._forward_pre_hooks and not m._forward_hooks
        assert "step" not in vars(m)


def test_measure_runs_without_grad():
    lin = nn.Linear(2, 1)
    seen = []
    measure(lin, [(torch.ones(3, 2), None)], ["synaptic_operations"], batch_dim=0,
            forward=lambda m, x: seen.append(torch.is_grad_enabled()) or m(x))
    assert seen == [False]


def test_a_bare_linear_is_measurable():
    res = measure(nn.Linear(4, 2), [(torch.ones(5, 4), None)], ["synaptic_operations"], batch_dim=0, time_dim=None)
    assert res["synaptic_operations"]["dense"] == 8


def test_model_without_visible_layers_raises():
    class Functional(nn.Module):
        def forward(self, x):
            return torch.relu(x)
    for metric in ("synaptic_operations", "activation_sparsity", "membrane_updates"):
        with pytest.raises(MetricError, match="has no"):
            measure(Functional(), [(torch.ones(2, 3), None)], [metric], batch_dim=0)
    with pytest.raises(MetricError, match="no nsb spiking neuron"):
        measure(nn.Sequential(nn.Linear(2, 2), nn.ReLU()), [(torch.ones(2, 2), None)], ["membrane_updates"],
                batch_dim=0)


def test_bad_inputs_and_predictions_raise():
    net = nn.Linear(2, 3)
    with pytest.raises(MetricError, match="do not match targets"):
        measure(net, [(torch.ones(4, 2), torch.zeros(4))], ["accuracy"], batch_dim=0)
    with pytest.raises(MetricError, match="no batch dimension"):
        measure(net, [(torch.ones(2), None)], ["synaptic_operations"], batch_dim=1)
    with pytest.raises(MetricError, match="expected"):
        measure(net, [(torch.ones(4, 2), torch.zeros(4), 1)], ["accuracy"], batch_dim=0)
    with pytest.raises(MetricError, match="empty"):
        measure(net, [], ["accuracy"], batch_dim=0)
    with pytest.raises(MetricError, match="did you mean"):
        measure(net, [], ["acuracy"])


# --- correctness ----------------------------------------------------------------------------------

def identity_batches(preds, targets, size=2):
    return [((p, t)) for p, t in zip(preds.split(size), targets.split(size))]


def correctness(metric, preds, targets):
    return measure(nn.Identity(), identity_batches(preds, targets), [metric], batch_dim=0)[metric]


def test_accuracy_and_mse_by_hand():
    assert correctness("accuracy", torch.tensor([0, 1, 2, 2, 1]), torch.tensor([0, 1, 1, 2, 0])) == 3 / 5
    assert correctness("mse", torch.tensor([1.0, 2.0, 3.0]), torch.tensor([1.0, 0.0, 0.0])) == pytest.approx(13 / 3)


def test_smape_by_hand():
    got = correctness("smape", torch.tensor([1.0, 3.0, 0.0]), torch.tensor([1.0, 1.0, 0.0]))
    assert got == pytest.approx(200 / 3 * (0 + 2 / 4 + 0))
    assert correctness("smape", torch.tensor([float("nan"), 1.0]), torch.tensor([1.0, 1.0])) == pytest.approx(100)


def test_r2_by_hand():
    y = torch.tensor([[1.0, 0.0], [2.0, 2.0], [3.0, 4.0]])
    p = torch.tensor([[1.0, 1.0], [2.0, 2.0], [4.0, 4.0]])
    # x: SSE 1, SST 2 → 0.5; y: SSE 1, SST 8 → 0.875
    assert correctness("r2", p, y) == pytest.approx((0.5 + 0.875) / 2)
    assert correctness("r2", p[:, 0], y[:, 0]) == pytest.approx(0.5)
    with pytest.raises(MetricError, match="constant"):
        correctness("r2", p, torch.ones(3, 2))


def test_input_trace_layers_are_refused():
    model = spiking()
    model.layers[0].input_trace = True
    with pytest.raises(MetricError, match="input_trace"):
        measure(model, [(torch.rand(3, 2, 2), None)], ["synaptic_operations"])


def test_counting_restores_each_layers_backend():
    model = spiking(hidden=(2,), recurrent=(True,), n_in=1, n_out=1, decay=0.0, threshold=0.5)
    neuron = model.layers[0].neuron
    neuron.backend = "auto"
    x = torch.rand(3, 2, 1)
    measure(model, [(x, None)], ["synaptic_operations", "membrane_updates"])
    assert neuron.backend == "auto" and "step" not in vars(neuron)
