"""``python -m nsb.fscil --out DIR --data synthetic|mswc --root PATH --model m5|snn``.

Writes ``DIR/results.json`` (per-session accuracies, summary, timings) and ``DIR/sessions.png``.
``--quick`` shrinks everything (synthetic data, 1/8-width network, a few epochs) for a smoke run;
explicit flags override it. ``--config FILE`` reads an nsb TOML config such as
``configs/fscil_m5.toml`` (FSCIL keys under ``[data]``, sizes under ``[train]``). Input errors
print one line and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import fields
from pathlib import Path

from nsb.errors import NsbError

QUICK_RUN = dict(width=0.125, sessions=4, ways=5, shots=5, support_pool=15, query_per_class=15, epochs=6,
                 batch_size=32, eval_batch_size=64, lr=3e-3, step_size=100)
QUICK_DATA = dict(base_classes=20, groups=4, ways=5, train_per_class=40, test_per_class=10, eval_per_class=30,
                  sample_rate=8000, seconds=0.5)
RUN_FLAGS = ("width", "sessions", "ways", "shots", "support_pool", "query_per_class", "epochs", "batch_size",
             "eval_batch_size", "lr", "step_size", "gamma", "seed", "device", "limit_train_batches",
             "metrics_batches")


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m nsb.fscil", description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True, help="folder for results.json and sessions.png")
    p.add_argument("--data", choices=("synthetic", "mswc"), default="synthetic")
    p.add_argument("--root", default="data", help="folder holding MSWC/ (mswc only)")
    p.add_argument("--model", choices=("m5", "snn"), default="m5")
    p.add_argument("--config", help="nsb TOML config (e.g. configs/fscil_m5.toml)")
    p.add_argument("--quick", action="store_true", help="reduced sizes for a smoke run (synthetic data)")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    p.add_argument("--cache", choices=("on", "off"), default="on", help="reuse test embeddings across sessions")
    for name in RUN_FLAGS:
        kind = {"lr": float, "width": float, "gamma": float, "device": str}.get(name, int)
        p.add_argument("--" + name.replace("_", "-"), dest=name, type=kind, default=None)
    p.add_argument("--data-option", action="append", default=[], metavar="KEY=VALUE",
                   help="synthetic data option, e.g. base_classes=10 (repeatable)")
    return p.parse_args(argv)


def from_config(path: str) -> tuple[dict, dict]:
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


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    try:
        import torch

        from nsb.fscil.plots import plot_sessions
        from nsb.fscil.protocol import FSCILConfig, run_fscil

        if args.threads:
            torch.set_num_threads(args.threads)
        run: dict = dict(QUICK_RUN) if args.quick else {}
        data_options: dict = dict(QUICK_DATA) if args.quick else {}
        data_name, root = args.data, args.root
        if args.config:
            extra, extra_data = from_config(args.config)
            data_name = extra.pop("data", data_name) if extra.get("data") in ("synthetic", "mswc") else data_name
            root = extra.pop("root", root)
            extra.pop("data", None)
            run.update(extra)
            data_options.update(extra_data)
        run.update({k: getattr(args, k) for k in RUN_FLAGS if getattr(args, k) is not None})
        for item in args.data_option:
            key, _, value = item.partition("=")
            data_options[key] = float(value) if "." in value else int(value)
        known = {f.name for f in fields(FSCILConfig)}
        unknown = sorted(set(run) - known)
        if unknown:
            raise NsbError(f"unknown FSCIL setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        cfg = FSCILConfig(**{**run, "model": args.model, "data": data_name,
                             "cache_embeddings": args.cache == "on"})
        if data_name == "mswc":
            from nsb.data import mswc

            data = mswc.load_fscil(root)
        else:
            from nsb.data import keywords_synthetic as ks

            try:
                options = ks.Options(**data_options)
            except TypeError as err:
                raise NsbError(f"bad synthetic data option ({err})") from None
            data = ks.load_fscil(options, seed=cfg.seed)
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        results = run_fscil(data, cfg, log=lambda line: print(line, file=sys.stderr, flush=True))
        (out / "results.json").write_text(json.dumps(results, indent=2))
        plot_sessions(results, out / "sessions.png")
    except NsbError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    s = results["summary"]
    print(f"base {100 * s['base_accuracy']:.2f}%  session avg {100 * s['session_average']:.2f}%  "
          f"new avg {100 * s['new_average']:.2f}%  -> {out / 'results.json'}" if s["new_average"] is not None else
          f"base {100 * s['base_accuracy']:.2f}% -> {out / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
