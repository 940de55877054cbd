"""NeuroBench Mackey-Glass harness (nsb.tasks.mackey_glass): protocol, closed loop, ESN ridge, report, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from nsb.tasks.mackey_glass import protocol
from nsb.tasks.mackey_glass.baselines import ESN, ESNOptions, LSTMBaseline, ridge_fit
from nsb.tasks.mackey_glass.run import command_line, evaluate, main, run_mackey_glass, write_outputs
from nsb.tasks.mackey_glass.settings import load_settings, settings_from_dict
from nsb.tasks.mackey_glass.training import FitOptions, register_windows
from nsb.errors import NsbError


class Affine(nn.Module):
    """Stateless step model y = a·x + b, with one Linear so the metrics have a layer to see."""

    def __init__(self, a: float, b: float) -> None:
        super().__init__()
        self.lin = nn.Linear(1, 1, dtype=torch.float64)
        with torch.no_grad():
            self.lin.weight.fill_(a)
            self.lin.bias.fill_(b)

    def reset_state(self) -> None:
        pass

    def step(self, x: torch.Tensor) -> torch.Tensor:
        return self.lin(x.double())


def _smape(p: np.ndarray, y: np.ndarray) -> float:
    return float(200 * np.mean(np.abs(p - y) / (np.abs(p) + np.abs(y))))


@pytest.fixture(scope="module")
def series0() -> np.ndarray:
    return protocol.series_for(0)


def test_offsets_and_split_sizes(series0):
    assert [protocol.offset_points(k) for k in (0, 1, 2, 29)] == [0, 37, 75, 1087]
    assert series0.shape == (1501,)
    s = protocol.split(series0)
    assert s.train_inputs.shape == s.train_targets.shape == s.test_inputs.shape == s.test_targets.shape == (750, 1)
    assert s.train_targets[-1, 0] == s.test_inputs[0, 0] == series0[750]
    assert s.test_targets[-1, 0] == series0[1500]
    # repeat 1 is repeat 0's grid shifted by 37 points (same solver, so equal up to interpolation)
    s1 = protocol.series_for(1)
    assert np.max(np.abs(s1[:100] - series0[37:137])) < 1e-6


def test_constant_prediction_gives_known_smape(series0):
    s = protocol.split(series0)
    res, preds = evaluate(Affine(0.0, 1.0), s, ["smape", "synaptic_operations"])
    y = s.test_targets.numpy().ravel()
    assert np.all(preds == 1.0)
    assert res["smape"] == pytest.approx(_smape(np.ones_like(y), y), rel=1e-12)
    assert res["synaptic_operations"]["dense"] == 1.0  # one 1→1 synapse per step


def test_closed_loop_feeds_predictions_back(series0):
    s = protocol.split(series0)
    _, preds = evaluate(Affine(1.0, 0.01), s, ["smape"])
    x0 = series0[750]
    # open loop would give u[i] + 0.01; closed loop drifts linearly from the one true input
    np.testing.assert_allclose(preds, x0 + 0.01 * np.arange(1, 751), rtol=1e-12)


def test_register_windows_and_lstm_footprint():
    u = torch.arange(1.0, 5.0).unsqueeze(-1)
    np.testing.assert_array_equal(register_windows(u, 3).numpy(), [[0, 0, 1], [0, 1, 2], [1, 2, 3], [2, 3, 4]])
    m = LSTMBaseline()
    from nsb.metrics import footprint
    assert footprint(m) == 490_008  # NeuroBench's 4.90E5


def test_ridge_fit_recovers_linear_system():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(2, 5, generator=g, dtype=torch.float64)
    f = torch.randn(400, 5, generator=g, dtype=torch.float64)
    w = ridge_fit(f, f @ a.T, 1e-10)
    torch.testing.assert_close(w, a, atol=1e-8, rtol=1e-8)
    with pytest.raises(NsbError):
        ridge_fit(f, torch.zeros(3, 1), 1e-6)


def test_esn_matches_neurobench_sizes(series0):
    esn = ESN(ESNOptions(), seed=0)
    s = protocol.split(series0)
    esn.fit(s.train_inputs, s.train_targets)
    res, _ = evaluate(esn, s, ["footprint", "synaptic_operations", "smape"])
    assert res["footprint"] == 281_248
    assert res["synaptic_operations"]["dense"] == 35_156
    assert res["smape"] < 40


def test_run_and_report_files(tmp_path):
    settings = load_settings()
    settings.snn_fit = FitOptions(epochs=2, chunk=10, burn_in=2, batch_size=512)
    settings.snn.window, settings.snn.hidden = 8, 16
    settings.esn.reservoir = 20  # small: the metric hooks cost per layer call
    results = {"esn": run_mackey_glass("esn", 1, settings), "snn": run_mackey_glass("snn", 1, settings)}
    for r in results.values():
        assert r["smape"] and 0 <= r["smape_mean"] <= 200 and r["footprint"] > 0
        assert r["synaptic_operations"]["dense"] > 0
    paths = write_outputs(tmp_path, results, {"repeats": 1, "machine": "test", "command": "pytest"})
    data = json.loads((tmp_path / "results.json").read_text())
    assert set(data["results"]) == {"ESN (nsb run)", "SNN (nsb LIF)"}
    assert len(data["results"]["SNN (nsb LIF)"]["predictions"]) == 750
    md = (tmp_path / "results.md").read_text()
    assert "13.37" in md and "14.79" in md and "SNN (nsb LIF)" in md
    assert paths["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("call", [
    lambda: run_mackey_glass("gru", 1),
    lambda: run_mackey_glass("esn", 0),
    lambda: run_mackey_glass("esn", 31),
    lambda: protocol.split(np.zeros(100)),
    lambda: protocol.split(np.zeros((1501, 2))),
    lambda: protocol.autoregress(Affine(1, 0), torch.zeros(2, 3), 5),
    lambda: protocol.offset_points(30),
    lambda: settings_from_dict({"snn": {"hiden": 3}}),
    lambda: settings_from_dict({"model": {}}),
    lambda: settings_from_dict({"lstm": {"fit": {"epochs": "many"}}}),
])
def test_errors_are_loud_one_line(call):
    with pytest.raises(NsbError) as err:
        call()
    assert "\n" not in str(err.value) and str(err.value)


def test_main_rejects_unknown_model(tmp_path):
    with pytest.raises(NsbError, match="did you mean 'lstm'"):
        main(tmp_path, model="lstn", repeats=1)
    assert not any(tmp_path.iterdir())


def test_command_line_reproduces_the_options():
    assert command_line("runs/mg") == "nsb mackey-glass --out runs/mg"
    assert command_line("o", 10, "ttfs", None, 3, 1, False) == \
        "nsb mackey-glass --out o --repeats 10 --model ttfs --ops-repeats 3 --no-series-check"


def test_default_settings_are_package_data():
    """The shipped TOML is read through importlib.resources (nsb.configs), not found beside the sources."""
    from importlib.resources import files

    from nsb.tasks.mackey_glass.settings import DEFAULT_CONFIG, default_config_text

    package, name = DEFAULT_CONFIG
    assert default_config_text() == files(package).joinpath(name).read_text()
    assert load_settings().repeats == 30


def test_lsm_deterministic_spiking_and_shapes(series0):
    from nsb.tasks.mackey_glass.lsm import LSMOptions, SpikingReservoir

    opts = LSMOptions(reservoir=30, window=4, substeps=2, readout="both", ridge=1e-3)
    a, b = SpikingReservoir(opts, seed=3), SpikingReservoir(opts, seed=3)
    for name, p in a.state_dict().items():
        torch.testing.assert_close(p, b.state_dict()[name])
    assert not torch.equal(a.w_rec.weight, SpikingReservoir(opts, seed=4).w_rec.weight)
    s = protocol.split(series0)
    loss = a.fit(s.train_inputs[:200], s.train_targets[:200])
    assert np.isfinite(loss[0])
    assert a.readout.weight.shape == (1, 4 + 2 * 30)
    seen = []
    a.w_rec.register_forward_hook(lambda m, args, out: seen.append(args[0].clone()))
    a.reset_state()
    with torch.no_grad():
        y = protocol.run_teacher_forced(a, s.train_inputs[:50])
    assert y.shape == (50, 1) and torch.isfinite(y).all()
    spikes = torch.cat(seen)
    assert ((spikes == 0) | (spikes == 1)).all() and spikes.sum() > 0  # the recurrent synapse sees spikes
    a.reset_state()
    res, preds = evaluate(a, s, ["synaptic_operations", "smape"])
    ops = res["synaptic_operations"]
    assert preds.shape == (750,)
    assert ops["effective_acs"] > 0  # spikes through W_rec count as accumulates
    # real-valued inputs: input layer (window·R) and readout (window + 2R) only
    assert ops["effective_macs"] <= 4 * 30 + 4 + 2 * 30


def test_lsm_settings_from_toml():
    s = load_settings()
    assert s.lsm.reservoir == 150 and s.lsm.window == 16
    with pytest.raises(NsbError):
        settings_from_dict({"lsm": {"resevoir": 3}})


def _small_ttfs(**kw):
    from nsb.tasks.mackey_glass.ttfs import FirstSpikeNetwork, TTFSOptions

    opts = TTFSOptions(**{"neurons": 40, "window": 6, "fan_in": 2, "substeps": 32, **kw})
    return FirstSpikeNetwork(opts, seed=5)


def test_ttfs_one_spike_codes_the_logistic_feature():
    from nsb.tasks.mackey_glass.ttfs import ramp

    m = _small_ttfs()
    g = torch.Generator().manual_seed(0)
    regs = torch.randn(64, 6, generator=g, dtype=torch.float64)
    spikes = m.spikes(regs)  # the nsb LIF neuron's output
    assert spikes.shape == (32, 64, 40)
    assert ((spikes == 0) | (spikes == 1)).all()
    assert spikes.sum(0).max() == 1  # first spike only: the hard reset to −∞ silences the neuron
    c = m.w_in(regs) - m.neuron.options.threshold  # the bias carries +θ (θ = 1): the spike test is c + r > 0
    r = ramp(m.phases, 32, 2.0)
    # the neuron fires at the first substep where the ramp lifts c above θ = 0, so the integrated
    # readout feature (K − k*)/K counts the ramp quantiles above −c: a K-level logistic CDF
    expected = (c[None] + r[:, None, :] > 0).double().mean(0)
    features = m.first_spike_features(spikes)
    torch.testing.assert_close(features, expected, rtol=0, atol=1e-12)
    assert (features - torch.sigmoid(2.0 * c)).abs().max() <= 1 / 32 + 1e-12
    assert m.phases.std() > 0.1  # each neuron its own ramp phase: the K levels interleave across neurons


def test_ttfs_fit_readout_matches_teacher_forced_steps_and_ops(series0):
    s = protocol.split(series0)
    a, b = _small_ttfs(), _small_ttfs()
    for name, p in a.state_dict().items():
        torch.testing.assert_close(p, b.state_dict()[name])
    assert ((a.w_in.weight != 0).sum(1) == 2).all()  # fan_in non-zero weights per neuron
    loss = a.fit(s.train_inputs, s.train_targets)
    assert loss[0] < 1e-3  # one-step fit in standardised units
    # the step path (readout synapse per substep, cumulative current, integrating membrane) gives
    # what the fit's features·weights give
    a.reset_state()
    with torch.no_grad():
        y = protocol.run_teacher_forced(a, s.train_inputs)
    from nsb.tasks.mackey_glass.training import register_windows
    z = (s.train_inputs - a.mu) / a.sigma
    regs = register_windows(z, 6)
    feats = a.first_spike_features(a.spikes(regs))
    direct = a.mu + a.sigma * (feats @ a.w_out.weight.T + a.skip(regs))
    torch.testing.assert_close(y, direct, rtol=0, atol=1e-10)
    a.reset_state()
    res, preds = evaluate(a, s, ["synaptic_operations", "smape"])
    ops = res["synaptic_operations"]
    assert preds.shape == (750,) and np.isfinite(preds).all()
    assert ops["effective_macs"] == 2 * 40 + 6  # sparse input synapse + register skip, real inputs
    assert 0 < ops["effective_acs"] <= 40  # readout: one accumulate per spike, at most one per neuron


def test_ttfs_settings_and_errors():
    from nsb.tasks.mackey_glass.ttfs import FirstSpikeNetwork, TTFSOptions

    s = load_settings()
    assert (s.ttfs.neurons, s.ttfs.fan_in, s.ttfs.substeps) == (1000, 3, 256)
    for bad in ({"ttfs": {"neuron": 3}}, {"ttfs": {"substeps": "many"}}):
        with pytest.raises(NsbError) as err:
            settings_from_dict(bad)
        assert "\n" not in str(err.value)
    for opts in (TTFSOptions(fan_in=11), TTFSOptions(substeps=1), TTFSOptions(gain=0.0), TTFSOptions(neurons=0)):
        with pytest.raises(NsbError) as err:
            FirstSpikeNetwork(opts, seed=0)
        assert "\n" not in str(err.value)


# --- issue 14: reproducible fits, validation-only tuning, every operation counted -------------------------

def _small_settings():
    s = load_settings()
    s.ttfs.neurons, s.ttfs.window, s.ttfs.fan_in, s.ttfs.substeps = 60, 6, 2, 16
    s.ttfs.ridge_grid = [1e-8, 1e-4]
    s.esn.reservoir = 40
    return s


@pytest.fixture(scope="module")
def small_ttfs_run():
    return run_mackey_glass("ttfs", 1, _small_settings())


def test_identical_fits_give_identical_smape(small_ttfs_run):
    """The same command twice: the same readout and the same sMAPE per repeat, bit for bit."""
    s = _small_settings()
    for kind in ("ttfs", "esn"):
        a = small_ttfs_run if kind == "ttfs" else run_mackey_glass(kind, 1, s)
        b = run_mackey_glass(kind, 1, s)
        assert a["smape"] == b["smape"] and a["ridge_chosen"] == b["ridge_chosen"]
        assert a["validation_smape"] == b["validation_smape"]
        np.testing.assert_array_equal(a["predictions"], b["predictions"])


def test_ridge_fit_is_the_svd_solution_when_underdetermined():
    """More unknowns than rows with a tiny λ (the first-spike readout's case): the SVD solution
    W = Σ_i s_i/(s_i² + λ)·(u_iᵀ y)·v_i, to 1e-9 relative."""
    g = torch.Generator().manual_seed(1)
    f = torch.randn(80, 200, generator=g, dtype=torch.float64) @ torch.diag(torch.logspace(0, -6, 200,
                                                                                        dtype=torch.float64))
    y = torch.randn(80, 1, generator=g, dtype=torch.float64)
    lam = 1e-6
    u, sv, vh = torch.linalg.svd(f, full_matrices=False)
    expected = (vh.T @ torch.diag(sv / (sv**2 + lam)) @ u.T @ y).T
    w = ridge_fit(f, y, lam)
    assert torch.linalg.norm(w - expected) <= 1e-9 * torch.linalg.norm(expected)


def test_ridge_is_chosen_on_the_training_segment_only(series0):
    """select_ridge scores candidates by a closed loop over the last train points; test points may be NaN."""
    from nsb.tasks.mackey_glass.run import select_ridge

    s = _small_settings()
    s.esn.ridge_grid = [1e-9, 1e-5, 1e-1]
    data = protocol.split(series0)
    data.test_inputs = torch.full_like(data.test_inputs, float("nan"))
    data.test_targets = torch.full_like(data.test_targets, float("nan"))
    chosen, scores = select_ridge("esn", s, data, seed=0)
    assert set(scores) == {"1e-09", "1e-05", "0.1"} and all(np.isfinite(v) for v in scores.values())
    assert chosen.esn.ridge == float(min(scores, key=scores.get))
    assert len(set(scores.values())) == 3  # the candidates do differ on the validation window
    s.esn.ridge_grid = [1e-3, "big"]
    with pytest.raises(NsbError):
        select_ridge("esn", s, data, seed=0)


def test_ttfs_full_cost_is_counted(series0, small_ttfs_run):
    """Membranes: every IF neuron at every substep (K·R); the ramp table is in the footprint; the output
    neuron and scaling are other_ops; total = MACs + ACs + membrane updates + other ops."""
    m = _small_ttfs()  # R = 40, K = 32, window 6
    s = protocol.split(series0)
    m.fit(s.train_inputs, s.train_targets)
    from nsb.metrics import footprint

    assert m.ramp_current.shape == (32, 40)
    assert footprint(m) >= 8 * 32 * 40  # the precomputed ramp is held, not recomputed per point
    res, _ = evaluate(m, s, ["synaptic_operations", "membrane_updates", "smape"])
    assert res["membrane_updates"] == 32 * 40
    assert m.other_ops() == 2 * 32 + 5
    r = small_ttfs_run
    ops = r["synaptic_operations"]
    assert r["membrane_updates"] == 16 * 60
    assert r["total_ops"] == ops["effective_macs"] + ops["effective_acs"] + 16 * 60 + 2 * 16 + 5


def test_every_model_reports_other_ops():
    from nsb.tasks.mackey_glass.run import build

    s = load_settings()
    expected = {"lstm": 6 * 100 + 5 * 50, "esn": 4 * 186, "snn": 2 * 32 + 2, "lsm": 4 + 2 * 150 * 5,
                "ttfs": 2 * 256 + 5}
    for kind, value in expected.items():
        model, _ = build(kind, s, 0)
        assert model.other_ops() == value, kind


def test_report_names_the_series_and_total_ops(tmp_path, small_ttfs_run):
    results = {"ttfs": small_ttfs_run}
    write_outputs(tmp_path, results, {"repeats": 1, "machine": "test", "command": "pytest",
                                      "series": {"solver": "jitcdde", "seed": 0, "dt": 0.1}})
    md = (tmp_path / "results.md").read_text()
    assert "Series: jitcdde (seed 0)" in md and "total ops" in md and "÷ LSTM" in md
    assert "ridge chosen on validation" in md


def test_protocol_settings_default_to_neurobench_series():
    s = load_settings()
    assert (s.solver, s.series_seed, s.validation_points) == ("jitcdde", 0, 150)
    assert s.ttfs.ridge_grid and s.esn.ridge_grid and s.lsm.ridge_grid
    with pytest.raises(NsbError):
        settings_from_dict({"protocol": {"solver": 3}})
    with pytest.raises(NsbError):
        settings_from_dict({"protocol": {"validation": 100}})
