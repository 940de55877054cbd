"""nsb train writes neurobench.json; nsb metrics RUN_DIR shows it (and computes it when it is missing)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from nsb.config import load_config
from nsb.train import Trainer

SMALL = ["data.units=20", "data.train_per_class=20", "data.test_per_class=5", "data.time_steps=20", "model.hidden=[16]",
         "train.batch_size=32", "train.epochs=1"]


def test_train_writes_neurobench_json_and_metrics_shows_it(tmp_path):
    Trainer(load_config(None, SMALL + [f'out_dir="{tmp_path}"', 'name="run"']), progress=False).fit()
    file = tmp_path / "run" / "neurobench.json"
    results = json.loads(file.read_text())
    assert results["checkpoint"] == "best.pt"
    # 20 inputs → 16 LIF → 10 outputs: parameters and fp32 bytes follow from the shapes alone
    assert results["parameter_count"] == 20 * 16 + 16 + 16 * 10 + 10
    assert results["footprint"] == 4 * results["parameter_count"]
    sops = results["synaptic_operations"]
    assert sops["dense"] == 20 * (20 * 16 + 16 * 10)  # every weight at each of the 20 steps
    assert 0 < sops["effective_acs"] <= sops["dense"] and sops["effective_macs"] == 0  # inputs and hidden are spikes
    assert 0 <= results["activation_sparsity"] <= 1 and 0 <= results["accuracy"] <= 1

    done = nsb("metrics", str(tmp_path / "run"))
    assert done.returncode == 0, done.stderr
    assert "synaptic_operations.effective_acs" in done.stdout and "footprint" in done.stdout

    file.unlink()
    done = nsb("metrics", str(tmp_path / "run"))
    assert done.returncode == 0, done.stderr
    assert json.loads(file.read_text())["synaptic_operations"] == sops

    file.write_text("{")  # damaged: one line saying how to measure it again, which --recompute does
    done = nsb("metrics", str(tmp_path / "run"))
    assert done.returncode == 2 and "--recompute" in done.stderr and len(done.stderr.splitlines()) == 1
    done = nsb("metrics", str(tmp_path / "run"), "--recompute")
    assert done.returncode == 0, done.stderr
    assert json.loads(file.read_text())["synaptic_operations"] == sops

    # a run is not a bundle: nsb eval refuses it in one line naming nsb metrics
    done = nsb("eval", str(tmp_path / "run"))
    assert done.returncode == 2 and "Traceback" not in done.stderr and len(done.stderr.splitlines()) == 1
    assert f"nsb metrics {tmp_path / 'run'}" in done.stderr


def test_metrics_refuses_what_is_not_a_run(tmp_path):
    done = nsb("metrics", str(tmp_path))
    assert done.returncode == 2 and "neither neurobench.json nor checkpoint.pt" in done.stderr
    (tmp_path / "manifest.json").write_text("{}")
    done = nsb("metrics", str(tmp_path))
    assert done.returncode == 2 and "nsb eval" in done.stderr and len(done.stderr.splitlines()) == 1


def nsb(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nsb.cli", *args], capture_output=True, text=True,
                          env=dict(os.environ, COLUMNS="200", NO_COLOR="1"))
