"""The seed paper's tables (NeuroSeqBench, arXiv 2502.09449, as its README gives them; reference §7.2) and
how each cell is trained (§6.3): which neuron or learning rule, on which base config, with which changes.

A cell is one number of a table: a row (a neuron or a learning rule) on a column (PTB, PS-MNIST or Binary
Adding at T = 100, feed-forward or recurrent). Its config is the column's base config — the seed's LIF
hyperparameters, shipped in ``configs/`` — with the row's changes; ``python -m nsb.reproduce.configs`` writes
one file per cell into ``configs/seed/`` from this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: column -> (base config in configs/, dataset label, metric, higher is better)
COLUMNS: dict[str, tuple[str, str, str, bool]] = {
    "ptb-ff": ("ptb_ff", "PTB FF", "ppl", False),
    "ptb-rec": ("ptb_rec", "PTB Rec", "ppl", False),
    "psmnist-ff": ("psmnist_ff", "PS-MNIST FF", "acc", True),
    "psmnist-rec": ("psmnist_rec", "PS-MNIST Rec", "acc", True),
    "ba-ff": ("binary_adding_ff", "BA FF", "acc", True),
    "ba-rec": ("binary_adding_rec", "BA Rec", "acc", True),
}

#: the seed's parameter budgets per column (reference §7.2: "~5M / ~6M; ~90K / ~160K; ~20K / ~40K")
BUDGETS: dict[str, int] = {"ptb-ff": 5_000_000, "ptb-rec": 6_000_000, "psmnist-ff": 90_000,
                           "psmnist-rec": 160_000, "ba-ff": 20_000, "ba-rec": 40_000}


@dataclass(frozen=True)
class Row:
    """One row: the paper's numbers per column (None: the paper has no number) and the changes to the base
    config, for every column (``sets``) or per column (``per_column``)."""

    name: str
    paper: dict[str, float | None]
    sets: dict[str, Any] = field(default_factory=dict)
    per_column: dict[str, dict[str, Any]] = field(default_factory=dict)

    def changes(self, column: str) -> dict[str, Any]:
        return {**self.sets, **self.per_column.get(column, {})}


def _paper(*values: float | None) -> dict[str, float | None]:
    return dict(zip(COLUMNS, values))


def _neuron(name: str, values: tuple, **per_column: dict[str, Any]) -> Row:
    return Row(name, _paper(*values), {"model.neuron": name}, {k.replace("_", "-"): v for k, v in per_column.items()})


# --- the neuron table (PTB FF, PTB Rec, PS-MNIST FF, PS-MNIST Rec, BA FF, BA Rec) -----------------------------
NEURON_ROWS = [
    _neuron("lif", (129.96, 111.96, 57.45, 72.97, 29.60, 53.35)),
    _neuron("plif", (123.76, 105.64, 55.86, 77.32, 29.40, 53.25)),
    # PS-MNIST ALIF FF and PTB ALIF FF: θ 0.3 (§6.3)
    _neuron("alif", (113.67, 102.25, 73.90, 85.78, 40.30, 68.00),
            ptb_ff={"neuron.threshold": 0.3}, psmnist_ff={"neuron.threshold": 0.3}),
    _neuron("adlif", (118.52, 97.22, 85.93, 89.53, 42.00, 99.05)),
    # BA GLIF FF: lr 1e-3 and dims [64, 64] to stay in budget (§6.3)
    _neuron("glif", (111.58, 103.07, 95.42, 95.04, 90.15, 63.60),
            ba_ff={"train.lr": 1e-3, "model.hidden": [64, 64]}),
    _neuron("ltc", (104.10, 99.09, 86.33, 90.94, 100.00, 100.00)),
    _neuron("spsn", (120.43, None, 83.88, None, 45.70, None)),
    _neuron("tclif", (286.71, 255.67, 86.81, 92.08, 19.10, 19.90)),
    _neuron("lmh", (122.69, 102.05, 77.70, 83.14, 99.25, 96.10)),
    _neuron("clif", (128.28, 108.21, 43.90, 70.44, 19.10, 64.30)),
    _neuron("dhlif", (115.61, 100.55, 79.12, 91.07, 98.85, 99.35)),
    _neuron("celif", (112.35, 106.52, 97.76, 97.66, 48.40, 100.00)),
    _neuron("pmsn", (113.24, None, 96.28, None, 100.00, None)),
]

# --- the learning-rule table ---------------------------------------------------------------------------------
RULE_ROWS = [
    Row("stbp", _paper(129.96, 111.96, 57.45, 72.97, 29.60, 53.35), {"train.learning_rule": "stbp"}),
    # T-STBP: K = 196 on PS-MNIST, 25 on Binary Adding; PTB trains on T = 18 windows instead (§3)
    Row("tstbp", _paper(137.8, 120.58, 53.00, 71.03, 23.00, 51.50), {"train.learning_rule": "tstbp"},
        {"psmnist-ff": {"train.truncation": 196}, "psmnist-rec": {"train.truncation": 196},
         "ba-ff": {"train.truncation": 25}, "ba-rec": {"train.truncation": 25},
         "ptb-ff": {"train.learning_rule": "stbp", "data.time_steps": 18, "train.scheduler": "cosine"},
         "ptb-rec": {"train.learning_rule": "stbp", "data.time_steps": 18, "train.scheduler": "cosine"}}),
    Row("eprop", _paper(None, 125.54, None, 52.88, None, 50.85), {"train.learning_rule": "eprop"}),
    # PS-MNIST OTTT FF: lr 3e-3, λ 0.8, a 0.6, no scheduler (§6.3)
    Row("ottt", _paper(141.77, None, 44.61, None, 17.20, None), {"train.learning_rule": "ottt"},
        {"psmnist-ff": {"train.lr": 3e-3, "neuron.decay": 0.8, "surrogate.alpha": 0.6, "train.scheduler": "none"}}),
    Row("sltt", _paper(149.86, None, 40.53, None, 15.50, None), {"train.learning_rule": "sltt"}),
]

# --- the architecture table (PTB perplexity, PS-MNIST accuracy, Binary Adding accuracy at the row's T) -----------
#: column -> (label, metric, higher is better); each row's configs are hand-written from §6.2/§6.3 in
#: configs/architectures/<row>-<column>.toml (the Binary Adding T is the row's, in its config)
ARCH_COLUMNS: dict[str, tuple[str, str, bool]] = {"ptb": ("PTB", "ppl", False), "psmnist": ("PS-MNIST", "acc", True),
                                                   "ba": ("BA", "acc", True)}
ARCH_BUDGETS = {"ptb": 5_000_000, "psmnist": 90_000, "ba": 40_000}


def _arch(name: str, ptb: float, psmnist: float, ba_t: int, ba: float) -> Row:
    return Row(name, {"ptb": ptb, "psmnist": psmnist, "ba": ba}, {}, {"ba": {"data.time_steps": ba_t}})


ARCH_ROWS = [
    _arch("lif", 129.96, 57.45, 100, 34.15),
    _arch("dcls", 89.87, 68.98, 100, 51.85),
    _arch("tcn", 102.20, 95.10, 1200, 69.95),
    _arch("spiking_tcn", 114.46, 93.76, 1200, 61.95),
    _arch("lstm", 88.08, 92.41, 2400, 100.0),
    _arch("gsn", 99.98, 80.13, 1200, 29.85),
    _arch("transformer", 112.43, 97.64, 2400, 100.0),
    _arch("sdt4", 152.41, 96.21, 2400, 98.15),
    _arch("sdt1", 327.82, 95.01, 2400, 88.05),
]

TABLES: dict[str, list[Row]] = {"neurons": NEURON_ROWS, "rules": RULE_ROWS, "architectures": ARCH_ROWS}
#: the tables whose configs nsb.reproduce.configs writes (the architecture table's are hand-written)
GENERATED = ("neurons", "rules")


def columns(table: str) -> dict[str, tuple[str, str, bool]]:
    """A table's columns: (label, metric, higher is better)."""
    if table == "architectures":
        return ARCH_COLUMNS
    return {k: v[1:] for k, v in COLUMNS.items()}


def budget(table: str, column: str) -> int:
    return ARCH_BUDGETS[column] if table == "architectures" else BUDGETS[column]


def cells(table: str) -> list[tuple[Row, str]]:
    """Every (row, column) of ``table`` the paper has a number for."""
    return [(row, column) for row in TABLES[table] for column in columns(table) if row.paper.get(column) is not None]


def cell_name(table: str, row: Row, column: str) -> str:
    return f"{table}-{row.name}-{column}"
