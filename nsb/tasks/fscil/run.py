"""``nsb fscil``: NeuroBench's keyword FSCIL task end to end, from options to ``results.json`` and ``sessions.png``.

:func:`main` is what the command runs (``nsb/cli.py`` declares its options; ``python -m nsb.tasks.fscil``
runs the same command). ``quick`` shrinks everything (synthetic data, 1/8-width network, a few epochs)
for a smoke run; explicit settings override it. ``config`` reads an nsb TOML config such as
``configs/fscil_m5.toml`` (FSCIL keys under ``[data]``, sizes under ``[train]``). ``seeds`` > 1 runs
seeds seed … seed + n − 1 on the same data (pre-training, session order and shots differ) and writes
their mean and spread per session (:func:`nsb.tasks.fscil.protocol.aggregate`). Input errors raise
:class:`nsb.errors.NsbError` (one line).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

from nsb.errors import NsbError

# the schedule's lr, weight decay and γ come from the pretrain preset; its step (20 of 50 epochs) scaled to 10 epochs
QUICK_RUN = dict(width=0.125, sessions=4, ways=5, shots=5, support_pool=15, query_per_class=15, epochs=10,
                 batch_size=32, eval_batch_size=64, step_size=4)
QUICK_DATA = dict(base_classes=20, groups=4, ways=5, train_per_class=40, test_per_class=10, eval_per_class=30,
                  sample_rate=8000, seconds=0.5)


def from_config(path: str | Path) -> tuple[dict, dict]:
    """(run settings, data options) from an nsb config: [data] FSCIL keys, [train] sizes."""
    from nsb.config import load_config

    cfg = load_config(Path(path))
    run = dict(cfg.data.options)
    data_options = run.pop("synthetic", {})
    run.update(epochs=cfg.train.epochs, batch_size=cfg.train.batch_size, lr=cfg.train.lr,
               weight_decay=cfg.train.weight_decay, step_size=cfg.train.step_size, gamma=cfg.train.gamma,
               seed=cfg.seed, device="auto" if cfg.train.device == "auto" else cfg.train.device)
    run["data"] = cfg.data.name
    run["root"] = cfg.data.root
    return run, data_options


def parse_data_options(items: Iterable[str]) -> dict[str, int | float]:
    """``KEY=VALUE`` strings (``--data-option``) as synthetic data options: a value with a dot is a float."""
    options: dict[str, int | float] = {}
    for item in items:
        key, sep, value = item.partition("=")
        try:
            if not sep or not key:
                raise ValueError
            options[key] = float(value) if "." in value else int(value)
        except ValueError:
            raise NsbError(f"--data-option takes KEY=NUMBER, e.g. base_classes=10; got '{item}'") from None
    return options


def main(out: Path | str, *, data: str = "synthetic", root: str = "data", model: str = "m5",
         config: Path | str | None = None, quick: bool = False, threads: int = 0, cache: bool = True,
         settings: Mapping[str, Any] | None = None, data_options: Iterable[str] = (), seeds: int = 1,
         log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run FSCIL and write ``out/results.json`` and ``out/sessions.png``; returns the results.

    ``settings``: FSCILConfig values given on the command line (None means not given), applied
    over ``quick`` and ``config``. ``data_options``: ``KEY=VALUE`` synthetic data options.
    """
    import torch

    from nsb.tasks.fscil.plots import plot_sessions
    from nsb.tasks.fscil.protocol import FSCILConfig, aggregate, resolve_schedule, run_fscil

    if threads:
        torch.set_num_threads(threads)
    run: dict = dict(QUICK_RUN) if quick else {}
    synthetic: dict = dict(QUICK_DATA) if quick else {}
    data_name = data
    if config:
        extra, extra_data = from_config(config)
        data_name = extra.pop("data", data_name) if extra.get("data") in ("synthetic", "mswc") else data_name
        root = extra.pop("root", root)
        extra.pop("data", None)
        run.update(extra)
        synthetic.update(extra_data)
    run.update({k: v for k, v in (settings or {}).items() if v is not None})
    synthetic.update(parse_data_options(data_options))
    known = {f.name for f in fields(FSCILConfig)}
    unknown = sorted(set(run) - known)
    if unknown:
        raise NsbError(f"unknown FSCIL setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise NsbError(f"seeds must be an integer >= 1, got {seeds!r}")
    cfg = resolve_schedule(FSCILConfig(**{**run, "model": model, "data": data_name, "cache_embeddings": cache}))
    if data_name == "mswc":
        from nsb.data import mswc

        dataset = mswc.load_fscil(root)
    else:
        from nsb.data import keywords_synthetic as ks

        try:
            options = ks.Options(**synthetic)
        except TypeError as err:
            raise NsbError(f"bad synthetic data option ({err})") from None
        dataset = ks.load_fscil(options, seed=cfg.seed)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    log = log or (lambda line: print(line, file=sys.stderr, flush=True))
    runs = []
    for i in range(seeds):
        log(f"seed {cfg.seed + i} ({i + 1} of {seeds})")
        runs.append(run_fscil(dataset, replace(cfg, seed=cfg.seed + i), log=log))
    results = aggregate(runs) if seeds > 1 else runs[0]
    (out / "results.json").write_text(json.dumps(results, indent=2))
    plot_sessions(results, out / "sessions.png")
    return results


def summary_line(results: dict[str, Any], out: Path | str) -> str:
    """One line for the terminal: base accuracy, session and new-class averages, where the results went."""
    s = results["summary"]
    where = Path(out) / "results.json"

    def pct(key: str) -> str:
        spread = s.get(f"{key}_std")
        return f"{100 * s[key]:.2f}%" + (f" ± {100 * spread:.2f}" if spread is not None else "")

    seeds = f" over {results['seeds']} seeds" if results.get("seeds", 1) > 1 else ""
    if s["new_average"] is None:
        return f"base {pct('base_accuracy')}{seeds} -> {where}"
    return f"base {pct('base_accuracy')}  session avg {pct('session_average')}  new avg {pct('new_average')}{seeds}  -> {where}"
