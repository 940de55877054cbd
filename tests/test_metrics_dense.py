"""Synaptic operations of the neurons that own their weights and multiply them inside the time loop (DH-LIF,
LTC, the GSN cell; issue 16) against the ``neurobench`` 2.3.0 harness. The oracle measures the seed's cell as
written: the seed transcriptions of tests/test_seed_equations_dense.py, whose dense layers are modules called
at every step, where NeuroBench's hooks see them. nsb runs its own layer (the input's products as one GEMM
before the loop) and counts each step's products from the step's input and previous state. Both runs spike
alike, so the counts must agree exactly; so must connection sparsity over the same weight matrices."""

from __future__ import annotations

import pytest
import torch
from torch import nn

pytest.importorskip("neurobench")
from neurobench.models import TorchModel  # noqa: E402
from neurobench.metrics.workload import SynapticOperations  # noqa: E402

from nsb.neurons import build_neuron  # noqa: E402
from test_metrics_oracle import drop_steps, oracle, ours, synops  # noqa: E402
from test_seed_equations_dense import seed_dhlif, seed_ltc  # noqa: E402

N, N_IN, T, B = 8, 5, 12, 6


class SeedCell(nn.Module):
    """The seed's step loop over batch-first input (NeuroBench's layout); its Linears are its children."""

    def __init__(self, linears: dict[str, nn.Module], run) -> None:
        super().__init__()
        self.linears = nn.ModuleDict(linears)
        self.run = run

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.run(x.transpose(0, 1))[0].transpose(0, 1)


def seed_gsn_modules(layer) -> SeedCell:
    """The GSN cell with its products as modules: [W_u; W_c]·x + b and [U_u; U_c]·h, per step."""
    w_x = nn.Linear(layer.input_size, 2 * layer.size)
    w_h = nn.Linear(layer.size, 2 * layer.size, bias=False)
    with torch.no_grad():
        w_x.weight.copy_(layer.weight_x), w_x.bias.copy_(layer.bias), w_h.weight.copy_(layer.weight_h)
    theta = layer.options.threshold

    def run(x):
        c = x.new_zeros(x.shape[1], layer.size)
        h = torch.zeros_like(c)
        out = []
        for xt in x:
            gu, gc = w_x(xt).chunk(2, dim=-1)
            ru, rc = w_h(h).chunk(2, dim=-1)
            u = torch.sigmoid(gu + ru)
            c = u * c + (1 - u) * (gc + rc)
            h = (c - theta >= 0).to(c.dtype)
            out.append(h)
        return torch.stack(out), {"c": c}

    return SeedCell({"w_x": w_x, "w_h": w_h}, run)


def cell(kind: str, recurrent: bool):
    torch.manual_seed(7)
    if kind == "dhlif":
        layer = build_neuron("dhlif", N, input_size=N_IN, threshold=0.3, branches=3, recurrent=recurrent)
        with torch.no_grad():
            layer.dense.weight[:, :2] = 0  # pruned synapses are no operations
        return layer, SeedCell({"dense": layer.dense}, seed_dhlif(layer, 0.3, 3, recurrent, "triangle", 1.0))
    if kind == "ltc":
        layer = build_neuron("ltc", N_IN, threshold=0.3, recurrent=recurrent)
        with torch.no_grad():
            layer.gate_m.weight[:3] = 0
        linears = {"gate_m": layer.gate_m, "gate_a": layer.gate_a}
        if recurrent:
            linears["recurrent"] = layer.recurrent
        return layer, SeedCell(linears, seed_ltc(layer, 0.3, 0.3, recurrent, "triangle", 1.0))
    layer = build_neuron("gsn", N, input_size=N_IN, threshold=0.1)
    with torch.no_grad():
        layer.weight_h[:, :3] = 0
    return layer, seed_gsn_modules(layer)


CASES = [("dhlif", False), ("dhlif", True), ("ltc", False), ("ltc", True), ("gsn", True)]


@pytest.mark.parametrize("spikes_in", [False, True], ids=["real input", "spike input"])
@pytest.mark.parametrize("kind,recurrent", CASES)
def test_synaptic_operations_match_neurobench_on_the_seeds_cell(kind, recurrent, spikes_in):
    layer, seed = cell(kind, recurrent)
    torch.manual_seed(8)
    x = (torch.rand(T, B, N_IN) < 0.4).float() if spikes_in else torch.randn(T, B, N_IN) * 1.5 + 0.3
    with torch.no_grad():
        spikes = layer(x)[0]
        assert torch.equal(spikes, seed(x.transpose(0, 1)).transpose(0, 1)), "the two runs must spike alike"
    assert 0.02 < float(spikes.mean()) < 0.95, "the case must exercise both spiking and silence"
    y = torch.zeros(B, T, N)
    ref = oracle(TorchModel(seed), x.transpose(0, 1), y, [SynapticOperations], batch_size=3)
    got = ours(layer, x, y, ["synaptic_operations"], batch_size=3, batch_dim=1)
    assert got["connection_sparsity"] == ref["ConnectionSparsity"] > 0
    ops = got["synaptic_operations"]
    assert drop_steps(ops) == pytest.approx(synops(ref), rel=1e-12)
    assert ops["steps"] == T
    # a product whose operand is all spikes is accumulates, any real value in it makes it multiply-accumulates:
    # DH-LIF's one dense layer reads [x; s], LTC's gates read [x̃; v] and [x̃; b] (at step 0, v = 0: spike
    # input makes [x; v] spikes), its W_rec and GSN's U read s
    acs = {"dhlif": spikes_in, "ltc": recurrent or spikes_in, "gsn": True}[kind]
    macs = {"dhlif": not spikes_in, "ltc": True, "gsn": not spikes_in}[kind]
    assert (ops["effective_acs"] > 0, ops["effective_macs"] > 0) == (acs, macs)


@pytest.mark.parametrize("neuron", ["dhlif", "ltc", "gsn"])
def test_a_dense_neuron_network_reports_every_metric(neuron):
    """A config's whole network: every NeuroBench metric is a number (none "not measured"), its synapses the
    neuron's own products plus the readout's."""
    from nsb.config import load_config
    from nsb.data import load_task
    from nsb.metrics.report import benchmark_metrics
    from nsb.models.build import build_model

    cfg = load_config(None, [f'model.neuron="{neuron}"', "model.hidden=[8]", "data.train_per_class=2",
                             "data.test_per_class=2", "data.time_steps=6"])
    task = load_task(cfg.data.name, cfg.data.root, cfg.data.options, 0)
    model = build_model(cfg, task)
    x, y = torch.rand(6, 4, task.input_size), torch.zeros(4, dtype=torch.long)
    out = benchmark_metrics(model, [(x, y)], "classification", "mean")
    assert not [k for k, v in out.items() if isinstance(v, dict) and "not_measured" in v], out
    assert out["synaptic_operations"]["dense"] > 0 and out["membrane_updates"] > 0


def test_a_model_without_neurons_reports_what_it_has_nothing_for_as_not_measured():
    """The LSTM reference has no activation module and no neuron: neurobench.json says so for those two
    metrics (NothingToCount) and measures the rest; any other metric error still stops the run."""
    from nsb.metrics.errors import MetricError
    from nsb.metrics.report import benchmark_metrics

    model = LSTMOnly()
    x, y = torch.rand(6, 4, 3), torch.zeros(4, dtype=torch.long)
    out = benchmark_metrics(model, [(x, y)], "classification", "mean")
    assert set(k for k, v in out.items() if isinstance(v, dict) and "not_measured" in v) == {
        "activation_sparsity", "membrane_updates"}
    assert "activation sparsity:" in out["activation_sparsity"]["not_measured"]
    assert out["synaptic_operations"]["dense"] > 0 and 0 <= out["accuracy"] <= 1
    with pytest.raises(MetricError, match="no batches to measure"):
        benchmark_metrics(model, [], "classification", "mean")
    with pytest.raises(MetricError, match="connection sparsity: Sequential has no connection layer"):
        benchmark_metrics(nn.Sequential(), [(x, y)], "classification", "mean")


class LSTMOnly(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lstm, self.out = nn.LSTM(3, 5), nn.Linear(5, 2)

    def forward(self, x):
        return self.out(self.lstm(x)[0]), None
