"""One shipped config per table cell, written from :mod:`nsb.reproduce.tables` into ``configs/seed/``.

``python -m nsb.reproduce.configs`` (re)writes them; ``tests/test_reproduce.py`` checks that the shipped files
are exactly what this module writes, that each loads, and that each model is within the seed's parameter
budget. A row whose neuron this nsb does not have yet gets no file (and ``nsb reproduce`` lists it).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from nsb.config import from_dict, read_toml
from nsb.reproduce.tables import BUDGETS, COLUMNS, GENERATED, Row, cell_name, cells

def _configs_folder() -> Path:
    from importlib.resources import files

    return Path(str(files("nsb.configs")))  # the repository's configs/ (installed as nsb.configs)


REPO_CONFIGS = _configs_folder()
SEED_CONFIGS = REPO_CONFIGS / "seed"
# a model more than this over the seed's budget has its hidden sizes scaled down until it fits
OVER_BUDGET = 1.3

# sizes of each column's task, to count parameters without loading the data
TASK_SIZES = {"ptb": ("language", 10_000, 10_000, 70), "psmnist": ("classification", 1, 10, 784),
              "ba": ("classification", 2, 10, 100)}
ARCH_CONFIGS = REPO_CONFIGS / "architectures"


def _set(raw: dict[str, Any], key: str, value: Any) -> None:
    *path, last = key.split(".")
    node = raw
    for part in path:
        node = node.setdefault(part, {})
    node[last] = value


def parameters(raw: dict[str, Any], column: str) -> int:
    """Trainable parameters of the model ``raw`` builds for ``column``'s task."""
    import torch

    from nsb.data.common import TaskData
    from nsb.models.build import build_model, count_parameters

    kind, inputs, classes, steps = TASK_SIZES[column.split("-")[0]]
    steps = raw.get("data", {}).get("time_steps", steps) if kind != "language" else steps
    empty = torch.zeros(0)
    task = TaskData(kind, empty, empty, input_size=inputs, num_classes=classes, time_steps=steps)
    torch.manual_seed(0)
    return count_parameters(build_model(from_dict(copy.deepcopy(raw), "seed config"), task))


def cell_config(table: str, row: Row, column: str) -> tuple[dict[str, Any], list[str]]:
    """The config of one cell and the notes its file starts with."""
    from nsb.neurons import neuron_parameters

    base = COLUMNS[column][0]
    raw = read_toml(REPO_CONFIGS / f"{base}.toml")
    notes = [f"NeuroSeqBench {table} table, row {row.name}, column {COLUMNS[column][1]}: paper "
             f"{row.paper[column]} ({COLUMNS[column][2]}); written by python -m nsb.reproduce.configs from "
             f"configs/{base}.toml (the seed's LIF hyperparameters, reference §6.3) with the row's changes"]
    raw["name"] = cell_name(table, row, column)
    for key, value in row.changes(column).items():
        _set(raw, key, value)
    accepted = neuron_parameters(raw["model"]["neuron"])
    dropped = sorted(k for k in raw.get("neuron", {}) if k not in accepted)
    for key in dropped:
        del raw["neuron"][key]
    if dropped:
        notes.append(f"{raw['model']['neuron']} takes no {', '.join(dropped)}: dropped from the base config")
    budget = BUDGETS[column]
    count = parameters(raw, column)
    if count > OVER_BUDGET * budget:
        original = list(raw["model"]["hidden"])
        # a language model with tied weights keeps its last size: the decoder is the embedding transposed
        fixed = len(original) - 1 if raw["model"].get("kind") == "language" and raw["model"].get("tie_weights", True) \
            else len(original)

        def scaled(factor: float) -> list[int]:
            return [max(4, int(round(h * factor / 4)) * 4) if i < fixed else h for i, h in enumerate(original)]

        lo, hi = 0.05, 1.0
        for _ in range(20):  # the largest uniform scale of the hidden sizes that fits the budget
            mid = (lo + hi) / 2
            raw["model"]["hidden"] = scaled(mid)
            lo, hi = (mid, hi) if parameters(raw, column) <= budget else (lo, mid)
        raw["model"]["hidden"] = scaled(lo)
        count = parameters(raw, column)
        notes.append(f"hidden sizes scaled from {original} to {raw['model']['hidden']} to stay in the seed's budget "
                     f"of ~{budget:,} parameters")
    notes.append(f"{count:,} trainable parameters (the seed's budget: ~{budget:,})")
    return raw, notes


def render(raw: dict[str, Any], notes: list[str]) -> str:
    import tomli_w

    return "".join(f"# {n}\n" for n in notes) + tomli_w.dumps(raw)


def expected_files() -> tuple[dict[Path, str], list[str]]:
    """Every cell's file and text, and the cells this nsb cannot build (their neuron or rule is missing)."""
    from nsb.errors import NsbError

    files: dict[Path, str] = {}
    missing: list[str] = []
    for table in GENERATED:
        for row, column in cells(table):
            try:
                raw, notes = cell_config(table, row, column)
            except NsbError as err:
                missing.append(f"{cell_name(table, row, column)}: {err}")
                continue
            files[SEED_CONFIGS / table / f"{row.name}-{column}.toml"] = render(raw, notes)
    return files, missing


def write_all() -> None:
    files, missing = expected_files()
    for path in SEED_CONFIGS.rglob("*.toml"):
        if path not in files:
            path.unlink()
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    print(f"wrote {len(files)} configs into {SEED_CONFIGS}")
    for line in missing:
        print(f"not written: {line}")


if __name__ == "__main__":
    write_all()
