"""The seed's tables: one shipped config per cell (exactly what nsb.reproduce.configs writes, within the seed's
parameter budgets), and `nsb reproduce`, which trains cells, resumes interrupted ones and writes the report."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nsb.config import load_config
from nsb.reproduce import runner
from nsb.reproduce.configs import OVER_BUDGET, SEED_CONFIGS, expected_files, parameters
from nsb.reproduce.tables import BUDGETS, GENERATED, cells


@pytest.fixture(scope="module")
def expected():
    return expected_files()


def test_shipped_seed_configs_are_what_the_generator_writes(expected):
    files, missing = expected
    shipped = {p: p.read_text() for p in SEED_CONFIGS.rglob("*.toml")}
    stale = sorted(str(p) for p in shipped if p not in files)
    assert not stale, f"shipped but no longer generated: {stale}; run python -m nsb.reproduce.configs"
    for path, text in files.items():
        assert path in shipped, f"{path} missing; run python -m nsb.reproduce.configs"
        assert shipped[path] == text, f"{path} differs from the generator's; run python -m nsb.reproduce.configs"
    # every cell is either shipped or named as missing (its neuron is not in this nsb)
    assert len(files) + len(missing) == sum(len(cells(t)) for t in GENERATED)


@pytest.mark.parametrize("path", sorted(SEED_CONFIGS.rglob("*.toml")), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_seed_config_loads_and_keeps_the_budget(path):
    import tomllib

    cfg = load_config(path)
    column = "-".join(path.stem.split("-")[-2:])
    count = parameters(tomllib.loads(path.read_text()), column)
    budget = BUDGETS[column]
    assert 0.5 * budget <= count <= OVER_BUDGET * budget, f"{cfg.name}: {count:,} parameters, budget ~{budget:,}"
    assert f"{count:,} trainable parameters" in path.read_text()


def test_lif_budgets_are_the_seeds_reported_counts():
    """The seed reports 18,186 / 34,698 (BA), 85,130 / 155,082 (PS-MNIST) for LIF (reference §6.2)."""
    import tomllib

    counts = {c: parameters(tomllib.loads((SEED_CONFIGS / "neurons" / f"lif-{c}.toml").read_text()), c)
              for c in ("ba-ff", "ba-rec", "psmnist-ff", "psmnist-rec")}
    assert counts == {"ba-ff": 18_186, "ba-rec": 34_698, "psmnist-ff": 85_130, "psmnist-rec": 155_082}


def test_bad_selections_are_one_line():
    from nsb.errors import NsbError

    with pytest.raises(NsbError, match="unknown table 'nope'"):
        runner.select("nope", None, None)
    with pytest.raises(NsbError, match="did you mean 'lif'"):
        runner.select("neurons", ["lfi"], None)
    with pytest.raises(NsbError, match="unknown column"):
        runner.select("neurons", None, ["mnist-ff"])


TINY_BA = ["train.epochs=2", "train.step_size=1", "data.train_size=200", "data.test_size=100", "data.time_steps=20",
           "model.hidden=[16, 16]", "train.batch_size=50"]


def test_reproduce_trains_reports_and_resumes(tmp_path, monkeypatch):
    monkeypatch.setitem(runner.SHORT, "ba", (TINY_BA, "a test's tiny schedule"))
    report = tmp_path / "REPRODUCTION.md"
    out = tmp_path / "runs"
    results = runner.reproduce("neurons", ["lif"], ["ba-ff"], "short", "cpu", 1, out, None, report)
    (row,) = results
    assert row["status"] == "done" and row["epochs"] == 2 and 0 <= row["ours"] <= 100, row
    text = report.read_text()
    assert "| lif | BA FF | 29.60 % acc |" in text and f"{row['ours']:.2f}" in text
    checkpoint = out / "short" / "neurons-lif-ba-ff" / "checkpoint.pt"
    stamp = checkpoint.stat().st_mtime_ns
    again = runner.reproduce("neurons", ["lif"], ["ba-ff"], "short", "cpu", 1, out, None, report)
    assert again[0]["ours"] == row["ours"] and checkpoint.stat().st_mtime_ns == stamp  # read back, not retrained
    assert report.read_text().count("### neurons table, short budget") == 1


def test_an_interrupted_cell_continues_from_its_checkpoint(tmp_path):
    code = (
        "import sys\nfrom pathlib import Path\nfrom nsb.reproduce import runner\n"
        f"runner.SHORT['ba'] = ({TINY_BA[1:] + ['train.epochs=40']!r}, 'tiny')\n"
        f"runner.reproduce('neurons', ['lif'], ['ba-ff'], 'short', 'cpu', 1, Path({str(tmp_path / 'runs')!r}), None, "
        f"Path({str(tmp_path / 'R.md')!r}))\n")
    proc = subprocess.Popen([sys.executable, "-c", code], env=dict(os.environ, OMP_NUM_THREADS="1"),
                            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    run = tmp_path / "runs" / "short" / "neurons-lif-ba-ff"
    deadline = time.time() + 240
    while not (run / "checkpoint.pt").exists() and time.time() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the runner and its training
    proc.wait()
    assert (run / "checkpoint.pt").exists()
    cell = runner.select("neurons", ["lif"], ["ba-ff"])[0]
    assert runner.status(cell, tmp_path / "runs" / "short") == "partial"
    done_before = len((run / "metrics.jsonl").read_text().splitlines())
    runner.SHORT["ba"], saved = (TINY_BA[1:] + ["train.epochs=40"], "tiny"), runner.SHORT["ba"]
    try:
        # the resumed run keeps its saved config; only a few more epochs are needed to show it continued
        results = runner.reproduce("neurons", ["lif"], ["ba-ff"], "short", "cpu", 1, tmp_path / "runs", None,
                                   tmp_path / "R.md")
    finally:
        runner.SHORT["ba"] = saved
    history = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [h["epoch"] for h in history] == list(range(1, 41))
    assert done_before < 40 and results[0]["status"] == "done"
    assert "--resume" in (tmp_path / "runs" / "short" / "neurons-lif-ba-ff.log").read_text()


def test_architecture_cells_read_their_hand_written_configs():
    from nsb.reproduce.configs import ARCH_CONFIGS

    cells_ = runner.select("architectures", ["lif"], None)
    assert [c.config for c in cells_] == [ARCH_CONFIGS / f"lif-{c}.toml" for c in ("ptb", "psmnist", "ba")]
    for cell in cells_:
        cfg = load_config(cell.config)
        assert cfg.model.neuron == "lif"
    assert load_config(ARCH_CONFIGS / "lif-ba.toml").data.options["time_steps"] == 100
    import tomllib

    # the seed's 06-architecture LIF on Binary Adding: dims [220, 170], ~40K parameters
    assert parameters(tomllib.loads((ARCH_CONFIGS / "lif-ba.toml").read_text()), "ba-ff") == 39_940


def test_a_later_call_keeps_the_earlier_cells_in_the_report(tmp_path, monkeypatch):
    monkeypatch.setitem(runner.SHORT, "ba", (TINY_BA[1:] + ["train.epochs=1"], "tiny"))
    report, out = tmp_path / "R.md", tmp_path / "runs"
    runner.reproduce("neurons", ["lif"], ["ba-ff"], "short", "cpu", 1, out, None, report)
    runner.reproduce("neurons", ["plif"], ["ba-ff"], "short", "cpu", 1, out, None, report)
    text = report.read_text()
    assert "| lif | BA FF |" in text and "| plif | BA FF |" in text
    assert text.index("| lif | BA FF |") < text.index("| plif | BA FF |")


def test_overrides_get_their_own_runs_and_section(tmp_path, monkeypatch):
    monkeypatch.setitem(runner.SHORT, "ba", (TINY_BA[1:] + ["train.epochs=1"], "tiny"))
    report, out = tmp_path / "R.md", tmp_path / "runs"
    runner.reproduce("neurons", ["lif"], ["ba-ff"], "short", "cpu", 1, out, None, report, extra=["data.time_steps=12"])
    text = report.read_text()
    assert "### neurons table, short, data.time_steps=12 budget" in text
    (run,) = [p for p in out.iterdir() if p.is_dir()]
    assert "data.time_steps=12" in run.name
    import tomllib

    config = tomllib.loads((run / "neurons-lif-ba-ff" / "config.toml").read_text())
    assert config["data"]["time_steps"] == 12
    from nsb.errors import NsbError

    with pytest.raises(NsbError, match="section.key=value"):
        runner.reproduce("neurons", ["lif"], ["ba-ff"], "short", "cpu", 1, out, None, report, extra=["oops"])
