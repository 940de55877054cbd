"""NeuroBench's Mackey-Glass chaotic function prediction, end to end, for the LSTM and ESN baselines
and nsb spiking models.

    nsb mackey-glass --out DIR [--repeats N] [--model lstm|esn|snn|lsm|ttfs|all]
                               [--config configs/neurobench/mackey_glass.toml]

Per repeat k (protocol.py): take the series' slice at offset k·37.5 points; for a ridge-read model
with a ``ridge_grid``, choose λ on the validation window (``select_ridge``: fit on train points
0…599, closed loop over 600…749; the test points are never seen); train teacher-forced on the 750
train points, prime the model's state with them, then predict the 750 test points in closed loop and
score sMAPE. Footprint, connection/activation sparsity, synaptic operations and (spiking models)
membrane updates come from ``nsb.metrics.measure`` over that closed-loop run, so they are per
prediction step (the test batch holds 750 samples, one per step, as in NeuroBench where the batch
dimension is time); ``other_ops()`` of each model adds what no hook sees (activation functions,
scaling, traces, the output neuron). The summary is the mean over repeats (sMAPE also its
population std).
"""

from __future__ import annotations

import dataclasses
import platform
import shlex
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from nsb.data.mackey_glass import Options, jitcdde_samples, sample
from nsb.errors import NsbError, unknown
from nsb.metrics import measure
from nsb.tasks.mackey_glass.baselines import ESN, LSTMBaseline
from nsb.tasks.mackey_glass.lsm import SpikingReservoir
from nsb.tasks.mackey_glass.plots import plot_predictions
from nsb.tasks.mackey_glass.protocol import (MAX_REPEATS, POINTS_PER_LYAPUNOV, TEST_POINTS, TRAIN_POINTS, Split,
                                             autoregress, offset_points, run_teacher_forced, series_for, split)
from nsb.tasks.mackey_glass.report import write_report
from nsb.tasks.mackey_glass.settings import Settings, load_settings
from nsb.tasks.mackey_glass.snn import SpikingPredictor
from nsb.tasks.mackey_glass.ttfs import FirstSpikeNetwork

MODELS = ("lstm", "esn", "snn", "lsm", "ttfs")
NAMES = {"lstm": "LSTM (nsb run)", "esn": "ESN (nsb run)", "snn": "SNN (nsb LIF)",
         "lsm": "LSM (nsb LIF reservoir)", "ttfs": "SNN (nsb first-spike)"}
SPIKING = ("snn", "lsm", "ttfs")


def build(kind: str, settings: Settings, seed: int) -> tuple[nn.Module, Any]:
    """The model of ``kind`` and its training options."""
    torch.manual_seed(seed)
    if kind == "lstm":
        return LSTMBaseline(settings.lstm.window, settings.lstm.hidden), settings.lstm_fit
    if kind == "esn":
        return ESN(settings.esn, seed), None
    if kind == "snn":
        return SpikingPredictor(settings.snn), settings.snn_fit
    if kind == "lsm":
        return SpikingReservoir(settings.lsm, seed), None
    if kind == "ttfs":
        return FirstSpikeNetwork(settings.ttfs, seed), None
    raise NsbError(unknown("Mackey-Glass model kind", str(kind), MODELS))


def closed_loop(model: nn.Module, prime: Tensor, inputs: Tensor, targets: Tensor,
                metrics: list[str]) -> tuple[dict[str, Any], np.ndarray]:
    """Prime the state on ``prime`` (teacher-forced), then measure the closed loop that starts from
    ``inputs[0]`` and predicts ``targets``. Returns ``(metrics, predictions)``.

    The forward ignores every input but the first: that is the autoregressive protocol, and counting
    the ops inside ``measure`` makes them the ops of exactly that closed loop.
    """
    model.reset_state()
    model.eval()
    with torch.no_grad():
        run_teacher_forced(model, prime)
    kept = {}

    def forward(m: nn.Module, x: Tensor) -> Tensor:
        kept["preds"] = autoregress(m, x[:1], x.shape[0])
        return kept["preds"]

    res = measure(model, [(inputs, targets)], metrics, forward=forward, batch_dim=0, time_dim=None)
    return res, kept["preds"].double().numpy().ravel()


def evaluate(model: nn.Module, data: Split, metrics: list[str]) -> tuple[dict[str, Any], np.ndarray]:
    """The test: primed on the 750 train inputs, closed loop over the 750 test points."""
    return closed_loop(model, data.train_inputs, data.test_inputs, data.test_targets, metrics)


def select_ridge(kind: str, settings: Settings, data: Split, seed: int) -> tuple[Settings, dict[str, float]]:
    """Choose the readout's ridge λ from ``ridge_grid`` on the validation window, never on test points.

    With V = ``validation_points``: fit on train points 0 … 749−V (targets up to 750−V), prime on
    them, run the closed loop from the true u[750−V] over the last V train targets and score sMAPE;
    the λ with the lowest score wins (the first on ties). Returns the settings with that λ and the
    score per candidate (empty when the grid is empty).
    """
    opts = getattr(settings, kind)
    grid = list(getattr(opts, "ridge_grid", []))
    if not grid:
        return settings, {}
    if any(isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0 for v in grid):
        raise NsbError(f"{kind}.ridge_grid must hold numbers >= 0, got {grid}")
    v = settings.validation_points
    if not 1 <= v <= TRAIN_POINTS - 100:
        raise NsbError(f"validation_points must be in 1..{TRAIN_POINTS - 100}, got {v}")
    n = TRAIN_POINTS - v
    scores: dict[str, float] = {}
    for lam in grid:
        trial = dataclasses.replace(settings, **{kind: dataclasses.replace(opts, ridge=float(lam))})
        model, fit_opts = build(kind, trial, seed)
        model.fit(data.train_inputs[:n], data.train_targets[:n], fit_opts, seed)
        res, _ = closed_loop(model, data.train_inputs[:n], data.train_inputs[n:], data.train_targets[n:], ["smape"])
        scores[repr(float(lam))] = res["smape"]
    best = min(scores, key=scores.get)
    return dataclasses.replace(settings, **{kind: dataclasses.replace(opts, ridge=float(best))}), scores


def _metrics_for(kind: str) -> list[str]:
    base = ["footprint", "connection_sparsity", "synaptic_operations", "smape"]
    if kind in SPIKING:
        base.append("membrane_updates")
    # the ESN has no activation module (tanh is functional): the metric would have nothing to see
    return base if kind == "esn" else [*base, "activation_sparsity"]


def run_mackey_glass(model_kind: str, repeats: int = 30, settings: Settings | None = None,
                     ops_repeats: int | None = None, log=None) -> dict[str, Any]:
    """Run NeuroBench's protocol for ``model_kind`` (one of ``MODELS``) over the first ``repeats``
    offsets; returns sMAPE per repeat, mean, std, and the complexity metrics averaged over repeats.

    ``ops_repeats``: how many of the repeats also count synaptic operations and activation sparsity
    (default all). The hooks cost ~10 s per closed loop on a CPU core and do not change the
    predictions, so the other repeats only score sMAPE.
    """
    if model_kind not in MODELS:
        raise NsbError(unknown("Mackey-Glass model kind", str(model_kind), MODELS))
    if not isinstance(repeats, int) or not 1 <= repeats <= MAX_REPEATS:
        raise NsbError(f"repeats must be an integer in 1..{MAX_REPEATS}, got {repeats!r}")
    settings = settings or load_settings()
    ops_repeats = repeats if ops_repeats is None else ops_repeats
    if not isinstance(ops_repeats, int) or not 1 <= ops_repeats <= repeats:
        raise NsbError(f"ops_repeats must be an integer in 1..repeats ({repeats}), got {ops_repeats!r}")
    scores, ops, acts, updates, times_fit, times_test, ridges, validation = [], [], [], [], [], [], [], []
    first: dict[str, Any] = {}
    for k in range(repeats):
        data = split(series_for(k, settings.dt, settings.solver, settings.series_seed))
        t0 = time.perf_counter()
        chosen, val_scores = select_ridge(model_kind, settings, data, k)
        model, fit_opts = build(model_kind, chosen, k)
        losses = model.fit(data.train_inputs, data.train_targets, fit_opts, k)
        t1 = time.perf_counter()
        metrics = _metrics_for(model_kind) if k < ops_repeats else ["smape"]
        res, preds = evaluate(model, data, metrics)
        t2 = time.perf_counter()
        scores.append(res["smape"])
        if val_scores:
            ridges.append(getattr(chosen, model_kind).ridge)
            validation.append(val_scores)
        if k < ops_repeats:
            ops.append(res["synaptic_operations"])
            acts.append(res.get("activation_sparsity"))
            updates.append(res.get("membrane_updates", 0.0))
        times_fit.append(t1 - t0)
        times_test.append(t2 - t1)
        if k == 0:
            first = {"footprint": res["footprint"], "connection_sparsity": res["connection_sparsity"],
                     "predictions": preds, "truth": data.test_targets.numpy().ravel(), "final_loss": losses[-1],
                     "other_ops": model.other_ops()}
        if log:
            picked = f", ridge {ridges[-1]:g} (validation)" if val_scores else ""
            log(f"{model_kind} repeat {k}: sMAPE {res['smape']:.4f}{picked}, train loss {losses[-1]:.2e}, "
                f"fit {t1 - t0:.1f} s, test {t2 - t1:.1f} s")
    mean_ops = {key: float(np.mean([o[key] for o in ops])) for key in ("dense", "effective_macs", "effective_acs")}
    membrane = float(np.mean(updates))
    return {
        "model": model_kind, "repeats": repeats, "smape": scores,
        "smape_mean": float(np.mean(scores)), "smape_std": float(np.std(scores)),
        "footprint": first["footprint"], "connection_sparsity": first["connection_sparsity"],
        "activation_sparsity": None if acts[0] is None else float(np.mean(acts)),
        "synaptic_operations": mean_ops, "membrane_updates": membrane, "other_ops": first["other_ops"],
        # every operation per prediction: synapses (MACs, ACs), membranes, and what no hook sees
        "total_ops": mean_ops["effective_macs"] + mean_ops["effective_acs"] + membrane + first["other_ops"],
        "ridge_chosen": ridges, "validation_smape": validation,
        "ops_repeats": ops_repeats, "final_train_loss_repeat0": first["final_loss"],
        "train_seconds": float(np.mean(times_fit)), "test_seconds": float(np.mean(times_test)),
        "predictions": first["predictions"], "truth": first["truth"],
    }


def series_check(settings: Settings) -> dict[str, Any]:
    """The task's series (the long one that every repeat slices) against nsb's RK4 at the same
    times: max |Δx| over the first 1 and 5 Lyapunov times, the time at which they first differ by
    1e-2; the series' mean/std/min/max over repeat 0's window and jitcdde's Lyapunov exponent.
    Chaos makes any two solvers part after a few L, so the statistics, not the points, are what to
    compare with NeuroBench's file."""
    count = TRAIN_POINTS + TEST_POINTS + 1 + offset_points(MAX_REPEATS - 1)
    check: dict[str, Any] = {"solver": settings.solver}
    if settings.solver == "jitcdde":
        series, info = jitcdde_samples(Options(solver="jitcdde", seed=settings.series_seed), count)
        check.update(seed=settings.series_seed, backend=info["backend"], lyapunov_exponent=info["lyapunov_exponent"])
        other = sample(Options(solver="rk4", dt=settings.dt, start_offset=info["t0"]), count)
        check["against"] = f"rk4 dt={settings.dt}"
    else:
        series = sample(Options(solver="rk4", dt=settings.dt), count)
        other = sample(Options(solver="rk4", dt=settings.dt / 2), count)
        check["against"] = f"rk4 dt={settings.dt / 2}"
    dev = np.abs(series - other)
    L = POINTS_PER_LYAPUNOV
    above = np.nonzero(dev > 1e-2)[0]
    window = series[:TRAIN_POINTS + TEST_POINTS + 1]
    check.update({"max_dev_1L": float(dev[:L + 1].max()), "max_dev_5L": float(dev[:5 * L + 1].max()),
                  "lyapunov_times_to_1e-2": float(above[0] / L) if above.size else None,
                  "mean": float(window.mean()), "std": float(window.std()), "min": float(window.min()),
                  "max": float(window.max())})
    return check


def write_outputs(out: Path, results: dict[str, dict[str, Any]], meta: dict[str, Any]) -> dict[str, Path]:
    """results.json, results.md and prediction.png (repeat 0, every model) into ``out``."""
    paths = write_report(out, {NAMES[k]: v for k, v in results.items()},
                         meta)
    truth = next(iter(results.values()))["truth"]
    paths["png"] = plot_predictions(Path(out) / "prediction.png", truth,
                                    {NAMES[k]: v["predictions"] for k, v in results.items()},
                                    f"Mackey-Glass tau=17 ({meta.get('series', {}).get('solver', '?')} series), "
                                    "repeat 0, autoregressive test (750 points)")
    return paths


def command_line(out: Path | str, repeats: int | None = None, model: str = "all", config: Path | str | None = None,
                 ops_repeats: int | None = None, threads: int = 1, check_series: bool = True) -> str:
    """The ``nsb mackey-glass`` command that reproduces a run (recorded in results.json/.md)."""
    parts = ["nsb mackey-glass", "--out", shlex.quote(str(out))]
    if repeats is not None:
        parts += ["--repeats", str(repeats)]
    if model != "all":
        parts += ["--model", shlex.quote(model)]
    if config is not None:
        parts += ["--config", shlex.quote(str(config))]
    if ops_repeats is not None:
        parts += ["--ops-repeats", str(ops_repeats)]
    if threads != 1:
        parts += ["--threads", str(threads)]
    if not check_series:
        parts.append("--no-series-check")
    return " ".join(parts)


def main(out: Path | str, *, repeats: int | None = None, model: str = "all", config: Path | str | None = None,
         ops_repeats: int | None = None, threads: int = 1, check_series: bool = True,
         log: Callable[[str], None] | None = None) -> dict[str, Path]:
    """Run the benchmark for ``model`` (one of ``MODELS`` or ``all``) and write results.json, results.md and
    prediction.png into ``out``; returns their paths. What ``nsb mackey-glass`` runs (its options are declared
    in ``nsb/cli.py``); input errors raise :class:`nsb.errors.NsbError` (one line)."""
    settings = load_settings(config)
    kinds = list(MODELS) if model == "all" else [model]
    for kind in kinds:
        if kind not in MODELS:
            raise NsbError(unknown("Mackey-Glass model kind", kind, [*MODELS, "all"]))
    runs = repeats if repeats is not None else settings.repeats
    # small serial workloads: extra intra-op threads only contend (LSTM training measured ~20x
    # slower with 2 threads than with 1 on two busy cores)
    torch.set_num_threads(threads)
    log = log or (lambda m: print(m, flush=True))
    results = {k: run_mackey_glass(k, runs, settings, ops_repeats, log=log) for k in kinds}
    meta = {"repeats": runs,
            "command": command_line(out, repeats, model, config, ops_repeats, threads, check_series),
            "machine": f"{platform.machine()} {platform.processor() or ''}, torch threads "
                       f"{torch.get_num_threads()}".strip(),
            "torch": torch.__version__}
    meta["series"] = {"solver": settings.solver, "seed": settings.series_seed, "dt": settings.dt}
    if check_series:
        meta["series_check"] = series_check(settings)
    return write_outputs(Path(out), results, meta)
