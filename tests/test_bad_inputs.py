"""The bad-input suite, part 1: configs, the command line, output folders and the file system
(docs/reliability.md). Data files, checkpoints, bundles and ONNX files: test_bad_inputs_files.py; kills:
test_kill.py.

Every case runs ``nsb`` as a user would and asserts the contract: its exit code, exactly one
``nsb: error:`` line on stderr naming the problem, no traceback, and no file in the workspace changed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import torch
from badinput import assert_refused, changed, check_case, copy_tree, run_nsb, snapshot

# --- configs: every value checked, with its range, before any work -------------------------------------------

# (--set override, a fragment the one line must hold)
CONFIG_CASES = [
    ("train.epochs=0", "at least 1"),
    ("train.epochs=-3", "at least 1"),
    ('train.epochs="ten"', "must be int"),
    ("train.epochs=1.5", "must be int"),
    ("train.epochs=true", "must be int"),
    ("train.batch_size=0", "'train.batch_size' must be at least 1"),
    ("train.batch_size=-8", "at least 1"),
    ("train.eval_batch_size=-1", "at least 0"),
    ("train.lr=0", "'train.lr' must be a finite number > 0"),
    ("train.lr=-1e-3", "> 0"),
    ("train.lr=nan", "got nan"),
    ("train.lr=inf", "got inf"),
    ('train.lr="fast"', "must be float"),
    ("train.momentum=1.0", "in [0, 1)"),
    ("train.momentum=-0.1", "in [0, 1)"),
    ("train.weight_decay=-1", ">= 0"),
    ("train.weight_decay=nan", ">= 0"),
    ("train.grad_clip=-1", "0 disables"),
    ("train.step_size=0", "at least 1 epoch"),
    ("train.gamma=0", "in (0, 1]"),
    ("train.gamma=1.5", "in (0, 1]"),
    ("train.label_smoothing=1.0", "in [0, 1)"),
    ("train.truncation=-1", "at least 0"),
    ("train.limit_train_batches=-1", "0: no limit"),
    ("train.limit_eval_batches=-2", "0: no limit"),
    ("train.num_workers=-1", "in [0, 256]"),
    ("train.num_workers=100000", "in [0, 256]"),
    ('train.optimizer="rmsprop"', "train.optimizer"),
    ('train.scheduler="linear"', "train.scheduler"),
    ('train.learning_rule="hebb"', "hebb"),
    ('train.device="tpu"', "tpu"),
    ("model.hidden=[]", "at least one size"),
    ("model.hidden=[0]", "size >= 1"),
    ("model.hidden=[-5, 3]", "size >= 1"),
    ("model.hidden=64", "must be list"),
    ("model.hidden=[64.5]", "must be list"),
    ("model.dropout=1.0", "in [0, 1)"),
    ("model.dropout=-0.1", "in [0, 1)"),
    ("model.dropout=[0.1, 0.2, 0.3]", "3 entries"),
    ("model.recurrent=[true, false, true]", "3 entries"),
    ('model.neuron="hodgkin_huxley"', "hodgkin_huxley"),
    ('model.readout="max"', "model.readout"),
    ('model.kind="mlp"', "model.kind"),
    ('model.norm="weird"', "weird"),
    ("model.embedding_dim=0", "at least 1"),
    ("surrogate.alpha=0", "'surrogate.alpha' must be a finite number > 0"),
    ("surrogate.alpha=nan", "> 0"),
    ('surrogate.name="sigmoidal"', "sigmoidal"),
    ("seed=-1", "[0, 2^32)"),
    ("seed=1099511627776", "[0, 2^32)"),
    ('seed="abc"', "'seed' must be int"),
    ("neuron.decay=1.5", "decay"),
    ("neuron.threshold=-1", "threshold"),
    ("neuron.threshold=nan", "threshold"),
    ('neuron.threshold="high"', "threshold"),
    ("neuron.foo=1", "no option 'foo'"),
    ('data.name="imagenet"', "imagenet"),
    ("data.time_steps=0", "'data.time_steps' must be a whole number >= 1"),
    ('data.time_steps="long"', "must be int"),
    ("data.jitter=nan", "finite number >= 0"),
    ("data.jitter=-1.0", "finite number >= 0"),
    ("data.classes=0", ">= 1"),
    ("data.bogus=1", "no option 'data.bogus'"),
    ('name="../escape"', "not a plain name"),
    ('name="a/b"', "not a plain name"),
    ('name="/abs"', "not a plain name"),
    ('name=".."', "not a plain name"),
    ('name=""', "non-empty name"),
    ('name="~user"', "not a plain name"),
    ('out_dir=""', "out_dir"),
    ("foo.bar=1", "unknown key 'foo'"),
    ("train.learning_rat=0.1", "did you mean 'learning_rule'"),
    ("train", "must look like section.key=value"),
    ("model.hidden=[100000000]", "GiB"),
    ("data.train_per_class=100000000", "GiB"),
]


@pytest.mark.parametrize("override,fragment", CONFIG_CASES, ids=[c[0][:40] for c in CONFIG_CASES])
def test_config_value_is_checked_before_work(tmp_path, override, fragment):
    check_case(tmp_path, ["train", "-q", "--set", override], 2, (fragment,))


# options of nsb train that write to a config key go through the same checks
OPTION_CASES = [
    (["--epochs", "0"], "at least 1"),
    (["--name", "../x"], "not a plain name"),
    (["--name", "a/b"], "not a plain name"),
    (["--seed", "-5"], "[0, 2^32)"),
    (["--device", "quantum"], "quantum"),
    (["--config", "nope.toml"], "not found"),
    (["--config", "psmnist_recc"], "did you mean 'psmnist_rec'"),
]


@pytest.mark.parametrize("args,fragment", OPTION_CASES, ids=[" ".join(c[0]) for c in OPTION_CASES])
def test_train_option_is_checked(tmp_path, args, fragment):
    check_case(tmp_path, ["train", "-q", *args], 2, (fragment,))


@pytest.mark.parametrize("text,fragment", [
    ("[train]\nepochs = = 3\n", "malformed TOML"),
    ("[train]\nepochs = 0\n", "at least 1"),
    ("train = 3\n", "must be a table"),
    ("[train]\n[train]\n", "malformed TOML"),
    ("name = 5\n", "'name' must be str"),
])
def test_config_file_is_checked(tmp_path, text, fragment):
    (tmp_path / "bad.toml").write_text(text)
    check_case(tmp_path, ["train", "-q", "--config", "bad.toml"], 2, (fragment,))


def test_config_that_is_not_text_is_one_line(tmp_path):
    (tmp_path / "bin.toml").write_bytes(b"\xff\xfe\x00binary")
    check_case(tmp_path, ["train", "-q", "--config", "bin.toml"], 2, ("not a UTF-8 text file",))


# --- the command line: usage errors speak like input errors -------------------------------------------------

USAGE_CASES = [
    (["frob"], "No such command 'frob'"),
    (["train", "--bogus"], "No such option: --bogus"),
    (["train", "--epochs", "x"], "--epochs"),
    (["eval", "b", "--repeats", "x"], "--repeats"),
    (["mackey-glass"], "--out"),
    (["mackey-glass", "--out", "o", "--repeats", "x"], "--repeats"),
    (["fscil"], "--out"),
    (["fscil", "--out", "o", "--model", "lstm"], "--model"),
    (["fscil", "--out", "o", "--data", "imagenet"], "--data"),
    (["export"], "RUN_DIR"),
    (["export", "r", "--format"], "--format"),
    (["metrics"], "RUN_DIR"),
    (["compare", "a.json"], "B"),
    (["plugins", "build", "--arch", "x"], "--arch"),
    (["data", "download"], "NAME"),
    (["summary", "--bogus"], "--bogus"),
]


@pytest.mark.parametrize("args,fragment", USAGE_CASES, ids=[" ".join(c[0]) for c in USAGE_CASES])
def test_usage_error_is_one_line(tmp_path, args, fragment):
    outcome = check_case(tmp_path, args, 2, (fragment,))
    assert "--help" in outcome.lines[0]  # the line says where the usage is


@pytest.mark.parametrize("args,fragment", [
    (["doctor", "--device", "tpu"], "--device must be auto, cpu or cuda"),
    (["data", "download", "imagenet"], "imagenet"),
    (["data", "download", "randman"], "generated in code"),
    (["eval", "b", "--compare", "x.json"], "nsb compare"),
    (["eval"], "needs a BUNDLE"),
    (["compare", "a.json", "b.json"], "not found"),
    (["metrics", "nowhere"], "nowhere"),
    (["mackey-glass", "--out", "o", "--model", "transformer"], "transformer"),
    (["doctor", "--json", "/proc/nsb/report.json"], "system folder"),
    (["plugins", "build", "--out", "/proc/nsb-build"], "system folder"),
])
def test_command_input_error_is_one_line(tmp_path, args, fragment):
    check_case(tmp_path, args, 2, (fragment,))


def test_bare_nsb_prints_its_help(tmp_path):
    outcome = run_nsb([], tmp_path)
    assert outcome.code == 0 and "train" in outcome.stdout and not outcome.stderr


def test_a_bug_in_nsb_says_so_and_exits_3(tmp_path, monkeypatch):
    import nsb.config

    def broken(*args, **kwargs):
        raise ZeroDivisionError("an internal invariant")

    monkeypatch.setattr(nsb.config, "load_config", broken)
    outcome = check_case(tmp_path, ["train", "-q"], 3, ("this is a bug in nsb", "ZeroDivisionError"))
    trace = Path(outcome.lines[0].split("traceback is in ")[1].split(";")[0])
    assert "ZeroDivisionError" in trace.read_text()
    trace.unlink()


def test_a_user_error_is_never_reported_as_a_bug(tmp_path):
    outcome = check_case(tmp_path, ["train", "-q", "--set", "train.epochs=0"], 2)
    assert "bug" not in outcome.lines[0]


# --- nsb export never destroys what it did not create --------------------------------------------------------

@pytest.fixture
def workspace(tmp_path, tiny_run) -> Path:
    copy_tree(tiny_run, tmp_path / "runs" / "tiny")
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "thesis.tex").write_text("months of work\n")
    (tmp_path / "plain.txt").write_text("a file\n")
    return tmp_path


EXPORT_CASES = [
    (["--out", "runs/tiny"], "is the run being exported"),
    (["--out", "runs"], "is the run being exported"),
    (["--out", "."], "is the run being exported"),
    (["--out", "notes"], "not an nsb bundle"),
    (["--out", "plain.txt"], "is a file"),
    (["--out", "plain.txt/bundle"], "which is a file"),
    (["--out", "/proc/nsb-bundle"], "system folder"),
    (["--format", "xyz"], "unknown export format xyz"),
    (["--precision", "fp8"], "fp32 or fp16"),
    (["--precision", "fp16", "--format", "torchscript"], "ONNX files only"),
    (["--checkpoint", "middle"], "'best' or 'last'"),
]


@pytest.mark.parametrize("args,fragment", EXPORT_CASES, ids=[" ".join(c[0]) for c in EXPORT_CASES])
def test_export_refuses_a_target_it_does_not_own(workspace, args, fragment):
    check_case(workspace, ["export", "runs/tiny", *args], 2, (fragment,))


def test_export_refuses_a_link_as_target(workspace):
    (workspace / "link").symlink_to(workspace / "notes")
    check_case(workspace, ["export", "runs/tiny", "--out", "link"], 2, ("symbolic link",))


def test_export_of_a_missing_run_is_one_line(workspace):
    check_case(workspace, ["export", "runs/none"], 2, ("not found",))


def test_export_of_a_folder_without_checkpoint_is_one_line(workspace):
    check_case(workspace, ["export", "notes"], 2, ("holds no checkpoint.pt",))


@pytest.mark.parametrize("name", ["../../escaped", "/tmp/abs", "a/b"])
def test_a_checkpoint_name_cannot_escape_bundle(workspace, name):
    path = workspace / "runs" / "tiny" / "checkpoint.pt"
    ckpt = torch.load(path, weights_only=True)
    ckpt["config"]["name"] = name
    torch.save(ckpt, path)
    (workspace / "runs" / "tiny" / "best.pt").unlink(missing_ok=True)
    check_case(workspace, ["export", "runs/tiny"], 2, ("not a plain name",))


def test_export_replaces_its_own_bundle_and_nothing_else(workspace):
    first = run_nsb(["export", "runs/tiny", "--out", "out/b", "--samples", "4"], workspace)
    assert first.code == 0, first.stderr
    (workspace / "out" / "mine.txt").write_text("beside the bundle\n")
    before = snapshot(workspace)
    again = run_nsb(["export", "runs/tiny", "--out", "out/b", "--samples", "4"], workspace)
    assert again.code == 0, again.stderr
    moved = changed(before, snapshot(workspace))
    assert moved and all(p.startswith("out/b") for p in moved), moved
    assert (workspace / "out" / "mine.txt").exists()


def test_export_into_an_empty_folder_is_fine(workspace):
    (workspace / "empty").mkdir()
    done = run_nsb(["export", "runs/tiny", "--out", "empty", "--samples", "4"], workspace)
    assert done.code == 0, done.stderr
    assert (workspace / "empty" / "manifest.json").is_file()


# --- nsb eval: its arguments and where its report goes -------------------------------------------------------

@pytest.fixture
def bundle_space(tmp_path, tiny_bundle) -> Path:
    copy_tree(tiny_bundle, tmp_path / "b")
    (tmp_path / "plain.txt").write_text("a file\n")
    return tmp_path


EVAL_CASES = [
    (["--repeats", "0"], "--repeats must be at least 1"),
    (["--repeats", "-1"], "--repeats must be at least 1"),
    (["--batch-size", "0"], "at least 1"),
    (["--sweep", "0"], "at least 1"),
    (["--time-steps", "0"], "--time-steps must be at least 1"),
    (["--backend", "tflite"], "tflite"),
    (["--device", "tpu"], "tpu"),
    (["--precision", "fp8"], "fp8"),
    (["--graph", "weird"], "weird"),
    (["--report-dir", "plain.txt/r"], "which is a file"),
    (["--report-dir", "/proc/nsb-report"], "system folder"),
]


@pytest.mark.parametrize("args,fragment", EVAL_CASES, ids=[" ".join(c[0]) for c in EVAL_CASES])
def test_eval_argument_is_checked(bundle_space, args, fragment):
    check_case(bundle_space, ["eval", "b", "--sweep", "1", "--repeats", "1", *args], 2, (fragment,))


def test_eval_of_a_run_directory_says_export_first(workspace):
    check_case(workspace, ["eval", "runs/tiny"], 2, ("is a training run", "nsb export"))


def test_eval_of_a_missing_bundle_is_one_line(tmp_path):
    check_case(tmp_path, ["eval", "nothing"], 2, ("not found",))


# --- the file system: read-only, full, impossible paths ----------------------------------------------------------

def _mount(folder: Path, options: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({done.stderr.strip() or 'needs root'}); the full-disk and "
                    "read-only cases need one")


@pytest.fixture
def mounts():
    made: list[Path] = []

    def mount(folder: Path, options: str) -> Path:
        _mount(folder, options)
        made.append(folder)
        return folder

    yield mount
    for folder in reversed(made):
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def _fill(folder: Path) -> None:
    """Take every free byte of the file system under ``folder``: the next write fails with ENOSPC."""
    chunk = 1 << 16
    with open(folder / ".filler", "wb", buffering=0) as f:
        while chunk:
            try:
                f.write(b"\0" * chunk)
            except OSError:
                chunk //= 2


def _read_only(mounts, folder: Path, fill=None) -> Path:
    mounts(folder, "size=64m")
    if fill is not None:
        fill(folder)
    if subprocess.run(["mount", "-o", "remount,ro", str(folder)], capture_output=True).returncode != 0:
        pytest.skip("cannot remount the tmpfs read-only here")
    return folder


def test_training_into_a_read_only_folder_is_one_line(tmp_path, mounts):
    ro = _read_only(mounts, tmp_path / "ro")
    check_case(tmp_path, ["train", "-q", "--set", f'out_dir="{ro}"'], 2, ("read-only",))


def test_export_onto_a_read_only_medium_is_one_line(workspace, mounts):
    ro = _read_only(mounts, workspace / "ro")
    check_case(workspace, ["export", "runs/tiny", "--out", str(ro / "b")], 2, ("read-only",))


def test_report_of_a_read_only_bundle_needs_report_dir(tmp_path, tiny_bundle, mounts):
    ro = _read_only(mounts, tmp_path / "ro", lambda f: copy_tree(tiny_bundle, f / "b"))
    check_case(tmp_path, ["eval", str(ro / "b"), "--sweep", "1", "--repeats", "1"], 2,
               ("read-only", "--report-dir"))
    done = run_nsb(["eval", str(ro / "b"), "--sweep", "1", "--repeats", "1", "--report-dir", "rep"], tmp_path)
    assert done.code == 0, done.stderr
    assert (tmp_path / "rep" / "report.json").is_file()


def test_training_onto_a_full_disk_leaves_no_half_made_run(tmp_path, mounts):
    full = mounts(tmp_path / "full", "size=1m")
    _fill(full)
    check_case(tmp_path, ["train", "-q", "--set", f'out_dir="{full}"', "--set", "data.train_per_class=8",
                          "--set", "data.test_per_class=2"], 2, ("disk is full",))
    assert [p.name for p in full.iterdir()] == [".filler"], "a fresh run that cannot write left files behind"


def test_export_onto_a_full_disk_keeps_the_old_bundle(workspace, mounts):
    full = mounts(workspace / "full", "size=4m")
    first = run_nsb(["export", "runs/tiny", "--out", str(full / "b"), "--samples", "4"], workspace)
    assert first.code == 0, first.stderr
    _fill(full)
    before = snapshot(full)
    check_case(workspace, ["export", "runs/tiny", "--out", str(full / "b"), "--samples", "8"], 2, ("disk is full",))
    assert changed(before, snapshot(full)) == [], "the old bundle changed or a staging folder was left"
    done = run_nsb(["eval", str(full / "b"), "--sweep", "1", "--repeats", "1", "--report-dir", "rep"], workspace)
    assert done.code == 0, done.stderr


def test_report_onto_a_full_disk_leaves_no_half_report(bundle_space, mounts):
    full = mounts(bundle_space / "full", "size=1m")
    _fill(full)
    check_case(bundle_space, ["eval", "b", "--sweep", "1", "--repeats", "1", "--report-dir", str(full / "r")], 2,
               ("disk is full",))


def test_training_under_a_regular_file_is_one_line(tmp_path):
    (tmp_path / "file").write_text("x")
    check_case(tmp_path, ["train", "-q", "--set", f'out_dir="{tmp_path / "file" / "runs"}"'], 2, ("is a file",))


def test_training_under_proc_is_one_line(tmp_path):
    check_case(tmp_path, ["train", "-q", "--set", 'out_dir="/proc/self/runs"'], 2, ("system folder",))


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through folder permissions")
def test_training_into_an_unwritable_folder_is_one_line(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    try:
        check_case(tmp_path, ["train", "-q", "--set", f'out_dir="{locked}"'], 2, ("not writable",))
    finally:
        locked.chmod(0o700)


# --- no silent nonsense ---------------------------------------------------------------------------------------

def test_existing_run_is_not_overwritten_silently(workspace):
    check_case(workspace, ["train", "-q", "--name", "tiny", "--set", 'out_dir="runs"'], 2, ("already holds a checkpoint",))


def test_cpu_report_does_not_claim_cuda_events(bundle_space):
    import json

    done = run_nsb(["eval", "b", "--backend", "torchscript", "--sweep", "1", "--repeats", "2", "--report-dir", "r"],
                   bundle_space)
    assert done.code == 0, done.stderr
    report = json.loads((bundle_space / "r" / "report.json").read_text())
    assert all(row["timer"] == "host clock" and row["repeats"] == 2 for row in report["latency"])


def test_labels_past_the_model_outputs_are_refused(tmp_path):
    from nsb.config import load_config
    from nsb.errors import DataError
    from nsb.tasks.kinds import task_kind

    kind = task_kind("classification")
    with pytest.raises(DataError, match="label 10 but the model has 10 classes"):
        kind.check_targets(torch.tensor([0, 3, 10]), 10, "train")
    with pytest.raises(DataError, match="label -1"):
        kind.check_targets(torch.tensor([-1, 3]), 10, "test")
    kind.check_targets(torch.tensor([0, 9]), 10, "train")
    assert load_config(None).train.epochs >= 1


def test_shipped_configs_pass_their_own_checks():
    from nsb.cli import shipped_configs
    from nsb.config import load_config

    for name, path in shipped_configs().items():
        load_config(path)  # a shipped config that broke its own ranges would fail every user


def test_stale_swap_leftovers_are_cleaned_and_never_mistaken(tmp_path, tiny_bundle):
    from nsb.paths import recover_bundle

    # killed between the two renames: the old bundle waits beside a missing target and is put back
    copy_tree(tiny_bundle, tmp_path / ".b.x1.old")
    (tmp_path / ".b.x2.tmp").mkdir()
    recover_bundle(tmp_path / "b")
    assert (tmp_path / "b" / "manifest.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b"]
    shutil.rmtree(tmp_path / "b")
    (tmp_path / ".b.x3.old").mkdir()  # not a bundle: never promoted
    recover_bundle(tmp_path / "b")
    assert not (tmp_path / "b").exists()


def test_assert_refused_fails_on_a_traceback():
    from badinput import Outcome

    with pytest.raises(AssertionError):
        assert_refused(Outcome(2, "", "Traceback (most recent call last):\nnsb: error: x\n"), 2)
    with pytest.raises(AssertionError):
        assert_refused(Outcome(2, "", "nsb: error: a\nnsb: error: b\n"), 2)
    with pytest.raises(AssertionError):
        assert_refused(Outcome(1, "", "nsb: error: a\n"), 2)


def test_unset_removes_a_key_another_neuron_rejects(tmp_path):
    refused = check_case(tmp_path, ["summary", "-c", "binary_adding_ff", "--set", 'model.neuron="plif"'], 2,
                         ("no option 'decay'", "--unset neuron.decay"))
    assert refused.code == 2
    done = run_nsb(["summary", "-c", "binary_adding_ff", "--set", 'model.neuron="plif"', "--set",
                    "data.train_size=100", "--set", "data.test_size=100", "--unset", "neuron.decay"], tmp_path)
    assert done.code == 0, done.stderr
    check_case(tmp_path, ["summary", "-c", "binary_adding_ff", "--unset", "neuron.nope"], 2, ("does not set",))


def test_a_diverged_model_is_never_saved(tmp_path):
    """Weights that became NaN without a NaN loss (the last step of an epoch) stop the run before the
    checkpoint, so the last good one survives."""
    from badinput import TINY

    from nsb.config import load_config
    from nsb.errors import NsbError
    from nsb.train import Trainer

    cfg = load_config(None, TINY + [f'out_dir="{tmp_path}"', 'name="nan"', "train.epochs=2"])
    trainer = Trainer(cfg, progress=False)
    step, calls = trainer.optimizer.step, []

    def poisoned(*args, **kwargs):
        result = step(*args, **kwargs)
        calls.append(1)
        if len(calls) == 10:  # the last of the second epoch's 5 steps
            next(trainer.model.parameters()).data.fill_(float("nan"))
        return result

    trainer.optimizer.step = poisoned
    with pytest.raises(NsbError, match="diverged in epoch 2"):
        trainer.fit()
    saved = torch.load(tmp_path / "nan" / "checkpoint.pt", weights_only=True)
    assert saved["epoch"] == 1 and all(torch.isfinite(v).all() for v in saved["model"].values())
