"""The command line as a user meets it: help, and one-line errors with exit code 2, no traceback."""

import os
import subprocess
import sys

import pytest

NSB = [sys.executable, "-m", "nsb.cli"]


def run(args, cwd, timeout=300):
    env = dict(os.environ, COLUMNS="200", NO_COLOR="1")
    return subprocess.run(NSB + args, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)


def one_line_error(done, *fragments):
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    for f in fragments:
        assert f in lines[0], lines[0]


def test_help_lists_the_commands(tmp_path):
    done = run(["--help"], tmp_path)
    assert done.returncode == 0
    for command in ("train", "configs", "summary", "neurons", "data"):
        assert command in done.stdout


def test_import_nsb_does_not_import_torch():
    code = "import sys, nsb, nsb.eval, nsb.export, nsb.cli, nsb.config; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"


@pytest.mark.parametrize("args,fragments", [
    (["train", "--set", "train.learning_rat=0.1"], ["unknown key 'train.learning_rat'", "did you mean 'learning_rule'"]),
    (["train", "--set", "train.epochs=ten"], ["'train.epochs' must be int"]),
    (["train", "--config", "nope.toml"], ["nope.toml not found"]),
    (["train", "--config", "psmnist_recc"], ["unknown config 'psmnist_recc'", "did you mean 'psmnist_rec'"]),
    (["train", "--set", "train.device=cuda"] , ["no CUDA GPU", "--device cpu"]),
])
def test_bad_input_is_one_line(tmp_path, args, fragments):
    one_line_error(run(args, tmp_path), *fragments)


def test_malformed_toml_is_one_line(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[train]\nepochs = = 3\n")
    one_line_error(run(["train", "--config", str(bad)], tmp_path), "malformed TOML")


def test_resume_without_a_run_is_one_line(tmp_path):
    one_line_error(run(["train", "--resume"], tmp_path), "checkpoint", "not found")
