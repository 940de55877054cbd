"""SIGKILL at the worst moments (docs/reliability.md): during training, during export (inside the staging
and between the two renames of the bundle swap, reached with NSB_TEST_KILL), during evaluation. After each,
the next command works and nothing finished is lost."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from badinput import TINY, changed, copy_tree, snapshot

NSB = [sys.executable, "-m", "nsb.cli"]


def nsb(args: list[str], cwd: Path, env: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    environment = dict(os.environ, OMP_NUM_THREADS="1", COLUMNS="200", NO_COLOR="1", **(env or {}))
    return subprocess.run(NSB + args, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=environment)


def _train_args(name: str, epochs: int) -> list[str]:
    sets = [a for o in TINY if not o.startswith("train.epochs") for a in ("--set", o)]
    return ["train", "-q", "--name", name, "--epochs", str(epochs), "--set", "data.train_per_class=40", *sets]


def test_training_killed_then_resumed_is_bit_exact(tmp_path):
    done = nsb(_train_args("whole", 3), tmp_path)
    assert done.returncode == 0, done.stderr
    environment = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.Popen(NSB + _train_args("cut", 3), cwd=tmp_path, env=environment, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    checkpoint = tmp_path / "runs" / "cut" / "checkpoint.pt"
    deadline = time.time() + 240
    while not checkpoint.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    if proc.returncode == 0:
        pytest.skip("the run finished before the kill landed (a faster machine); nothing to resume")
    resumed = nsb(["train", "-q", "--resume", "--name", "cut"], tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    a = torch.load(tmp_path / "runs" / "whole" / "checkpoint.pt", weights_only=True)
    b = torch.load(checkpoint, weights_only=True)
    assert a["epoch"] == b["epoch"] == 3
    for key, value in a["model"].items():
        assert torch.equal(value, b["model"][key]), key


@pytest.fixture
def exported(tmp_path, tiny_run) -> Path:
    copy_tree(tiny_run, tmp_path / "runs" / "tiny")
    done = nsb(["export", "runs/tiny", "--out", "b", "--samples", "4"], tmp_path)
    assert done.returncode == 0, done.stderr
    return tmp_path


def _evaluates(workspace: Path) -> None:
    done = nsb(["eval", "b", "--sweep", "1", "--repeats", "1", "--report-dir", "rep"], workspace)
    assert done.returncode == 0, done.stderr
    assert json.loads((workspace / "rep" / "report.json").read_text())["fidelity"]["passed"] is True


def test_export_killed_while_staging_leaves_the_old_bundle(exported):
    before = snapshot(exported / "b")
    killed = nsb(["export", "runs/tiny", "--out", "b", "--samples", "8"], exported, env={"NSB_TEST_KILL": "bundle-staged"})
    assert killed.returncode == -signal.SIGKILL
    assert changed(before, snapshot(exported / "b")) == []
    assert list(exported.glob(".b.*.tmp")), "the kill should have left the staging folder the next command cleans"
    _evaluates(exported)
    again = nsb(["export", "runs/tiny", "--out", "b", "--samples", "8"], exported)
    assert again.returncode == 0, again.stderr
    assert not list(exported.glob(".b.*")), "a later export cleans what the killed one left"


def test_export_killed_between_the_renames_loses_nothing(exported):
    before = snapshot(exported / "b")
    killed = nsb(["export", "runs/tiny", "--out", "b", "--samples", "8"], exported, env={"NSB_TEST_KILL": "bundle-swap"})
    assert killed.returncode == -signal.SIGKILL
    assert not (exported / "b").exists() and list(exported.glob(".b.*.old")), "the kill landed between the renames"
    _evaluates(exported)  # the next command puts the old bundle back first
    assert changed(before, snapshot(exported / "b")) == []
    assert not list(exported.glob(".b.*"))


def test_eval_killed_then_run_again_works(exported):
    environment = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.Popen(NSB + ["eval", "b", "--sweep", "1", "--sweep", "64", "--repeats", "100000",
                                   "--report-dir", "rep"], cwd=exported, env=environment,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(4)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not (exported / "rep" / "report.json").exists()
    before = snapshot(exported / "b")
    _evaluates(exported)
    assert changed(before, snapshot(exported / "b")) == []
