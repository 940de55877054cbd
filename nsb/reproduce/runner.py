"""``nsb reproduce TABLE``: train the cells of a seed table and set ours beside the paper's.

Each cell is one ``nsb train`` of its shipped config (``configs/seed/<table>/<row>-<column>.toml``) in its own
process, into ``<out>/<cell>/``. A long table is many runs, so the runner resumes: a cell whose run finished is
read back, a cell that was interrupted continues from its checkpoint (``nsb train --resume``), and only the
rest start. Cells run ``jobs`` at a time, each with ``cores // jobs`` threads: two trainings with two threads
each on a 2-core machine ran about 60× slower than one alone; with one thread each, at full speed.

Budgets: ``full`` is the seed's schedule. ``short`` is a reduced schedule for a CPU that shows a table's
ordering early, never its numbers (``SHORT`` below says what each column trains on).
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nsb.errors import NsbError, unknown
from nsb.reproduce.configs import ARCH_CONFIGS, SEED_CONFIGS
from nsb.reproduce.tables import TABLES, Row, cell_name, cells
from nsb.reproduce.tables import columns as table_columns

#: the short budget per dataset: (overrides, what it means). PS-MNIST and PTB run on the real subsets a
#: machine without the full sets has (the MNIST test digits; PTB's valid/test text), see ../shared/data.
SHORT: dict[str, tuple[list[str], str]] = {
    "ba": (["train.epochs=15", "train.step_size=3", "data.train_size=5000", "train.batch_size=50", "train.lr=2e-3"],
           "15 epochs (StepLR every 3: the seed's five decays) on 5,000 training sequences in batches of 50 at lr 2e-3 "
           "(the seed: 50 epochs on 50,000 in batches of 250 at 5e-4 — the same number of decays, 5x the steps per "
           "sample), scored on the seed's 2,000 test sequences"),
    "psmnist": (["train.epochs=1", "data.train_from_test=8000", "train.limit_train_batches=8",
                 "train.limit_eval_batches=2"],
                "8 batches of 256 from the first 8,000 MNIST test digits, scored on 512 of the last 2,000"),
    "ptb": (["train.epochs=1", 'data.train_file="valid.txt"', 'data.valid_file="test.txt"',
             "train.limit_train_batches=100", "train.limit_eval_batches=20"],
            "100 batches of PTB's valid.txt, scored on 20 batches of test.txt"),
}
SUBFOLDER = {"psmnist": "mnist", "ptb": "ptb"}  # where ../shared/data keeps each real set


@dataclass
class Cell:
    table: str
    row: Row
    column: str

    @property
    def name(self) -> str:
        return cell_name(self.table, self.row, self.column)

    @property
    def config(self) -> Path:
        if self.table == "architectures":
            return ARCH_CONFIGS / f"{self.row.name}-{self.column}.toml"
        return SEED_CONFIGS / self.table / f"{self.row.name}-{self.column}.toml"

    @property
    def dataset(self) -> str:
        return self.column.split("-")[0]


def select(table: str, rows: list[str] | None, columns: list[str] | None) -> list[Cell]:
    if table not in TABLES:
        raise NsbError(unknown("table", table, TABLES))
    names = [r.name for r in TABLES[table]]
    for r in rows or []:
        if r not in names:
            raise NsbError(unknown(f"row of the {table} table", r, names))
    for c in columns or []:
        if c not in table_columns(table):
            raise NsbError(unknown(f"column of the {table} table", c, table_columns(table)))
    return [Cell(table, row, column) for row, column in cells(table)
            if (not rows or row.name in rows) and (not columns or column in columns)]


def overrides(cell: Cell, budget: str, device: str, data_root: Path | None, extra: list[str] = ()) -> list[str]:
    sets = [f'train.device="{device}"']
    if budget == "short":
        sets += SHORT[cell.dataset][0]
    sets += list(extra)
    if data_root is not None and cell.dataset in SUBFOLDER:
        folder = data_root / SUBFOLDER[cell.dataset]
        sets.append(f'data.root="{folder if folder.is_dir() else data_root}"')
    return sets


def _epochs_done(run: Path) -> int:
    lines = (run / "metrics.jsonl").read_text().splitlines() if (run / "metrics.jsonl").is_file() else []
    return len([line for line in lines if line.strip()])


def _planned_epochs(run: Path) -> int | None:
    import tomllib

    try:
        return int(tomllib.loads((run / "config.toml").read_text())["train"]["epochs"])
    except (OSError, KeyError, ValueError, tomllib.TOMLDecodeError):
        return None


def status(cell: Cell, out: Path) -> str:
    run = out / cell.name
    if not cell.config.is_file():
        return "unavailable"
    if not (run / "checkpoint.pt").is_file():
        return "todo"
    planned = _planned_epochs(run)
    return "done" if planned is not None and _epochs_done(run) >= planned else "partial"


def train_cell(cell: Cell, out: Path, budget: str, device: str, data_root: Path | None, threads: int,
               extra: list[str] = ()) -> dict:
    """Run (or continue) one cell's training in its own process; its log goes to ``<out>/<cell>.log``."""
    state = status(cell, out)
    sets = [f'out_dir="{out}"'] + overrides(cell, budget, device, data_root, extra)
    if state == "done":
        return result(cell, out, budget)
    if state == "partial":
        args = ["train", "-q", "--resume", "--name", cell.name] + [a for s in sets for a in ("--set", s)]
    else:
        args = ["train", "-q", "--config", str(cell.config), "--name", cell.name, "--overwrite"] + \
            [a for s in sets for a in ("--set", s)]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with open(out / f"{cell.name}.log", "a") as log:
        log.write(f"$ nsb {' '.join(args)}\n")
        log.flush()
        done = subprocess.run([sys.executable, "-m", "nsb.cli", *args], stdout=log, stderr=subprocess.STDOUT, env=env)
    elapsed = time.perf_counter() - started
    timing = out / cell.name / "reproduce.json"
    if done.returncode == 0 and timing.parent.is_dir():
        previous = json.loads(timing.read_text())["seconds"] if timing.is_file() else 0.0
        from nsb.train import resolve_device

        # the device it ran on, not the flag: "auto" says nothing in a report read on another machine
        timing.write_text(json.dumps({"seconds": previous + elapsed, "threads": threads,
                                      "device": str(resolve_device(device))}))
    row = result(cell, out, budget)
    if done.returncode != 0:
        tail = (out / f"{cell.name}.log").read_text().strip().splitlines()[-1:] or ["(no output)"]
        row["status"] = f"failed: {tail[0][:160]}"
    return row


def result(cell: Cell, out: Path, budget: str) -> dict[str, Any]:
    """What a cell's run reached: the test metric of the epoch selected on validation (test when the data
    set has no validation split, as the seed does), the epochs, the wall time and the device."""
    label, metric, higher = table_columns(cell.table)[cell.column]
    steps = cell.row.changes(cell.column).get("data.time_steps")
    if cell.table == "architectures" and steps:
        label = f"{label} (T = {steps:,})"
    row: dict[str, Any] = {"cell": cell.name, "row": cell.row.name, "column": cell.column, "label": label,
                           "paper": cell.row.paper[cell.column], "metric": metric, "budget": budget,
                           "status": status(cell, out), "ours": None}
    run = out / cell.name
    if not (run / "metrics.jsonl").is_file():
        return row
    history = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
    if not history:
        return row
    select = f"valid_{metric}" if f"valid_{metric}" in history[0] else f"test_{metric}"
    best = (max if higher else min)(history, key=lambda h: h[select])
    ours = best[f"test_{metric}"]
    row["ours"] = 100 * ours if metric == "acc" else ours
    row["epoch"], row["epochs"] = best["epoch"], len(history)
    row["selected_on"] = select.split("_")[0]
    config = (run / "config.toml").read_text() if (run / "config.toml").is_file() else ""
    import tomllib

    parsed = tomllib.loads(config) if config else {}
    ran_steps = parsed.get("data", {}).get("time_steps")
    if cell.table == "architectures" and cell.column == "ba" and ran_steps:  # the T it ran at (--set may change it)
        row["label"] = f"{table_columns(cell.table)[cell.column][0]} (T = {ran_steps:,})"
    row["seed"] = parsed.get("seed")
    timing = run / "reproduce.json"
    ran = json.loads(timing.read_text()) if timing.is_file() else {}
    row["device"] = ran.get("device") or parsed.get("train", {}).get("device")
    row["seconds"] = ran["seconds"] if "seconds" in ran else sum(h.get("seconds", 0.0) for h in history)
    return row


def variant(budget: str, extra: list[str]) -> str:
    """The budget and the user's ``--set`` overrides: names the runs' folder and the report's section."""
    return budget if not extra else f"{budget}, " + ", ".join(extra)


def reproduce(table: str, rows: list[str] | None = None, columns: list[str] | None = None, budget: str = "short",
              device: str = "cpu", jobs: int = 1, out: Path = Path("runs/reproduce"), data_root: Path | None = None,
              report: Path = Path("benchmarks/REPRODUCTION.md"), on_cell=None,
              extra: list[str] = ()) -> list[dict[str, Any]]:
    if budget not in ("full", "short"):
        raise NsbError(f"--budget must be full or short, got '{budget}'")
    if jobs < 1:
        raise NsbError(f"--jobs must be at least 1, got {jobs}")
    from nsb.paths import check_writable

    from nsb.config import parse_override

    for text in extra:
        parse_override(text)  # a malformed --set is one line before any cell starts
    label = variant(budget, list(extra))
    # a short run never counts as a finished full one, nor a run with other overrides as this one
    out = Path(out) / re.sub(r"[^A-Za-z0-9._=-]+", "_", label)
    check_writable(out, "--out")
    check_writable(report.parent, "--report")
    chosen = select(table, rows, columns)
    runnable = [c for c in chosen if status(c, out) != "unavailable"]
    threads = max(1, (os.cpu_count() or 1) // jobs)
    # the report's section holds every cell of the table this output folder has a run of, not only this call's
    ran_before = [c for c in select(table, None, None) if c not in chosen and status(c, out) in ("done", "partial")]
    results: dict[str, dict[str, Any]] = {c.name: result(c, out, label) for c in ran_before + chosen}
    order = {c.name: i for i, c in enumerate(select(table, None, None))}

    def ordered() -> list[dict[str, Any]]:
        return sorted(results.values(), key=lambda r: order[r["cell"]])

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(train_cell, c, out, budget, device, data_root, threads, list(extra)): c
                   for c in runnable}
        for future, cell in futures.items():
            results[cell.name] = future.result()
            if on_cell is not None:
                on_cell(results[cell.name])
            write_report(report, table, ordered(), label, out)
    write_report(report, table, ordered(), label, out)
    return [results[c.name] for c in chosen]


# --- the report ------------------------------------------------------------------------------------------------

BEGIN, END = "<!-- reproduce:{table}:{budget}:begin -->", "<!-- reproduce:{table}:{budget}:end -->"


def render(table: str, results: list[dict[str, Any]], budget: str) -> str:
    lines = [f"### {table} table, {budget} budget", ""]
    if budget.startswith("short"):
        lines += ["Short budget (a CPU schedule that shows the ordering early, not the paper's numbers): "
                  + "; ".join(f"{d}: {what}" for d, (_, what) in SHORT.items()) + ".", ""]
    lines += [f"Machine: {platform.machine()}, {os.cpu_count()} cores; written "
              f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.", "",
              "| row | column | paper | ours | selected epoch / epochs | seed | wall time (s) | device | status |",
              "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- |"]
    for r in results:
        ours = "–" if r["ours"] is None else f"{r['ours']:.2f}"
        epochs = f"{r['epoch']} / {r['epochs']} ({r['selected_on']})" if "epoch" in r else "–"
        seconds = f"{r['seconds']:.0f}" if r.get("seconds") is not None else "–"
        unit = "% acc" if r["metric"] == "acc" else "ppl"
        lines.append(f"| {r['row']} | {r['label']} | {r['paper']:.2f} {unit} | {ours} | {epochs} | "
                     f"{r.get('seed', '–')} | {seconds} | {r.get('device') or '–'} | {r['status']} |")
    return "\n".join(lines) + "\n"


def write_report(report: Path, table: str, results: list[dict[str, Any]], budget: str, out: Path) -> None:
    """Replace this table's section of the report (other tables and budgets stay), atomically."""
    from nsb.checkpoint import atomic_write_bytes

    begin, end = BEGIN.format(table=table, budget=budget), END.format(table=table, budget=budget)
    text = report.read_text() if report.is_file() else (
        "# Reproduction of the seed's tables\n\nWritten by `nsb reproduce TABLE` (nsb/reproduce/). Each cell is one "
        "`nsb train` of its shipped config in `configs/seed/`; the paper's numbers are NeuroSeqBench's "
        "(arXiv 2502.09449) as its README gives them.\n")
    section = f"{begin}\n{render(table, results, budget)}{end}"
    if begin in text and end in text:
        text = text[: text.index(begin)] + section + text[text.index(end) + len(end):]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    atomic_write_bytes(report, text.encode())
