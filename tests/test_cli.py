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
    for command in ("train", "configs", "summary", "neurons", "data", "export", "eval", "metrics", "compare",
                    "mackey-glass", "fscil"):
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


# --- eval, metrics and compare are three commands ------------------------------------------------------------


def test_eval_of_a_run_points_to_metrics(tmp_path):
    run_dir = tmp_path / "runs" / "default"
    run_dir.mkdir(parents=True)
    (run_dir / "neurobench.json").write_text('{"format": "nsb-neurobench", "parameter_count": 3}')
    one_line_error(run(["eval", str(run_dir)], tmp_path), "is a training run", f"nsb metrics {run_dir}")
    done = run(["metrics", str(run_dir)], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "parameter_count" in done.stdout


def test_eval_compare_points_to_compare(tmp_path):
    one_line_error(run(["eval", "--compare", "a.json", "b.json"], tmp_path), "nsb compare A.json B.json")


@pytest.mark.parametrize("args,fragments", [
    (["compare", "a.json", "b.json"], ["report a.json not found"]),
    (["metrics", "nowhere"], ["neither neurobench.json nor checkpoint.pt"]),
    (["eval"], ["needs a BUNDLE"]),
])
def test_eval_metrics_compare_input_errors_are_one_line(tmp_path, args, fragments):
    one_line_error(run(args, tmp_path), *fragments)


# --- the NeuroBench tasks are typed commands -------------------------------------------------------------------


@pytest.mark.parametrize("command,options", [
    ("mackey-glass", ["--out", "--repeats", "--model", "--config", "--ops-repeats", "--threads", "--no-series-check"]),
    ("fscil", ["--out", "--data", "--root", "--model", "--config", "--quick", "--threads", "--cache", "--width",
               "--sessions", "--ways", "--shots", "--support-pool", "--query-per-class", "--epochs", "--batch-size",
               "--eval-batch-size", "--lr", "--step-size", "--gamma", "--seed", "--device", "--limit-train-batches",
               "--metrics-batches", "--data-option"]),
])
def test_task_commands_list_their_options(tmp_path, command, options):
    done = run([command, "--help"], tmp_path)
    assert done.returncode == 0, done.stderr
    for option in options:
        assert option in done.stdout, option
    module = {"mackey-glass": "nsb.tasks.mackey_glass", "fscil": "nsb.tasks.fscil"}[command]
    alone = subprocess.run([sys.executable, "-m", module, "--help"], cwd=tmp_path, capture_output=True, text=True,
                           env=dict(os.environ, COLUMNS="200", NO_COLOR="1"))
    assert alone.returncode == 0 and "--out" in alone.stdout and f"python -m {module}" in alone.stdout


@pytest.mark.parametrize("args,message", [
    (["mackey-glass", "--out", "x", "--bogus"], "No such option"),
    (["mackey-glass", "--out", "x", "--repeats", "many"], "Invalid value"),
    (["mackey-glass", "--model", "lstm"], "Missing option"),
    (["fscil", "--out", "x", "--data", "imagenet"], "Invalid value"),
    (["fscil", "--out", "x", "--epochs", "1.5"], "Invalid value"),
])
def test_task_command_usage_errors_exit_2(tmp_path, args, message):
    done = run(args, tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert message in done.stderr


@pytest.mark.parametrize("args,fragments", [
    (["mackey-glass", "--out", "x", "--model", "lstn", "--repeats", "1"], ["did you mean 'lstm'"]),
    (["mackey-glass", "--out", "x", "--model", "esn", "--repeats", "31"], ["repeats must be an integer in 1..30"]),
    (["mackey-glass", "--out", "x", "--config", "nope.toml"], ["config file not found: nope.toml"]),
    (["fscil", "--out", "x", "--data", "mswc", "--root", "nowhere"], ["MSWC FSCIL files not found"]),
    (["fscil", "--out", "x", "--quick", "--data-option", "base_classes"], ["--data-option takes KEY=NUMBER"]),
])
def test_task_command_input_errors_are_one_line(tmp_path, args, fragments):
    one_line_error(run(args, tmp_path), *fragments)
