"""nsb train end to end: the default, resume, online rules, every task kind, DDP, bad input."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from nsb.checkpoint import load_checkpoint
from nsb.config import load_config
from nsb.errors import ConfigError, NsbError
from nsb.train import Trainer

SMALL = ["data.train_per_class=30", "data.test_per_class=10", "data.time_steps=20", "model.hidden=[24, 16]",
         "train.batch_size=32", "train.epochs=2"]


def config(tmp_path, *extra, name="run"):
    return load_config(None, SMALL + [f'out_dir="{tmp_path}"', f'name="{name}"', *extra])


def weights(path):
    return load_checkpoint(path)["model"]


def test_default_config_learns_far_above_chance(tmp_path):
    """The shipped default, unchanged but for where it writes: randman, 10 classes (chance 10 %)."""
    cfg = load_config(Path(__file__).resolve().parents[1] / "configs" / "default.toml", [f'out_dir="{tmp_path}"'])
    result = Trainer(cfg).fit()
    best = result.best["test_acc"]
    assert best > 0.9, result.history
    run = tmp_path / "default"
    assert {p.name for p in run.iterdir()} == {"checkpoint.pt", "best.pt", "config.toml", "metrics.jsonl", "neurobench.json"}
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == cfg.train.epochs and rows[-1]["epoch"] == cfg.train.epochs
    assert load_config(run / "config.toml") == cfg


def test_resume_after_a_crash_is_bit_exact(tmp_path):
    extra = ["model.dropout=0.3", 'train.scheduler="step"', "train.step_size=1", "train.epochs=3"]
    Trainer(config(tmp_path, *extra, name="straight")).fit()

    class Crash(Exception):
        pass

    def crash_in_epoch_two(epoch, trainer):
        if epoch == 1:
            raise Crash

    with pytest.raises(Crash):
        Trainer(config(tmp_path, *extra, name="crashed")).fit(crash_in_epoch_two)
    assert load_checkpoint(tmp_path / "crashed" / "checkpoint.pt")["epoch"] == 1
    Trainer(config(tmp_path, *extra, name="crashed"), resume=True).fit()
    a, b = weights(tmp_path / "straight" / "checkpoint.pt"), weights(tmp_path / "crashed" / "checkpoint.pt")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_resume_refuses_a_changed_config_and_a_run_is_not_overwritten(tmp_path):
    Trainer(config(tmp_path, "train.epochs=1")).fit()
    with pytest.raises(ConfigError, match="differs in train.lr"):
        Trainer(config(tmp_path, "train.epochs=2", "train.lr=0.5"), resume=True)
    with pytest.raises(NsbError, match="already holds a checkpoint; continue it with --resume"):
        Trainer(config(tmp_path, "train.epochs=1"))
    Trainer(config(tmp_path, "train.epochs=2"), resume=True).fit()
    assert load_checkpoint(tmp_path / "run" / "checkpoint.pt")["epoch"] == 2


@pytest.mark.parametrize("rule,recurrent", [("ottt", "false"), ("sltt", "[true, false]"), ("eprop", "[true, false]"),
                                            ("tstbp", "[true, false]"), ("sdbp", "false"), ("notd", "false")])
def test_every_learning_rule_trains(tmp_path, rule, recurrent):
    cfg = config(tmp_path, f'train.learning_rule="{rule}"', "train.truncation=5", f"model.recurrent={recurrent}",
                 "train.epochs=3", "train.lr=5e-3")
    result = Trainer(cfg).fit()
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]


def test_regression_task_trains(tmp_path):
    cfg = load_config(Path(__file__).resolve().parents[1] / "configs" / "mackey_glass.toml",
                      [f'out_dir="{tmp_path}"', "train.epochs=2", "model.hidden=[32]", "train.limit_train_batches=5"])
    result = Trainer(cfg).fit()
    assert result.history[-1]["test_mse"] < 0.2


def test_language_task_carries_state_and_reports_perplexity(tmp_path):
    folder = tmp_path / "ptb"
    folder.mkdir()
    text = "\n".join(" ".join(["a b c d"] * 5) for _ in range(60))
    for split in ("train", "valid", "test"):
        (folder / f"{split}.txt").write_text(text)
    cfg = load_config(Path(__file__).resolve().parents[1] / "configs" / "ptb_rec.toml",
                      [f'out_dir="{tmp_path}"', f'data.root="{tmp_path}"', "data.time_steps=10",
                       "model.embedding_dim=16", "model.hidden=[24, 16]", "train.epochs=3", "train.batch_size=4",
                       "train.lr=1.0"])
    result = Trainer(cfg).fit()
    ppl = [row["test_ppl"] for row in result.history]
    assert ppl[-1] < ppl[0] and ppl[-1] < 5  # vocabulary of 5: a learnt cycle is far below uniform
    assert "valid_ppl" in result.history[0] and result.best["selected_on"] == "valid"


def test_psmnist_on_real_digits_runs(tmp_path, shared_data):
    cfg = load_config(Path(__file__).resolve().parents[1] / "configs" / "psmnist_rec.toml",
                      [f'out_dir="{tmp_path}"', f'data.root="{shared_data / "mnist"}"', "data.train_from_test=8000",
                       "train.epochs=1", "train.limit_train_batches=2", "train.limit_eval_batches=1",
                       "train.batch_size=16"])
    result = Trainer(cfg).fit()
    assert result.parameters == 155_082 and 0 <= result.history[0]["test_acc"] <= 1


def test_asgl_noise_rate_follows_its_schedule(tmp_path):
    cfg = config(tmp_path, 'surrogate.name="asgl"', "train.epochs=4")
    trainer = Trainer(cfg)
    trainer.fit()
    rates = [float(m.noise_rate) for m in trainer.model.modules() if hasattr(m, "noise_rate")]
    # the last epoch (index 3 of 4) is past all four marks int(0.3·4), int(0.7·4), int(0.9·4), int(0.95·4)
    assert len(rates) == 2 and rates == [pytest.approx(0.1 * 0.9**4)] * 2


def test_unknown_neuron_and_wrong_readout(tmp_path):
    with pytest.raises(ConfigError, match="unknown neuron 'lfi'"):
        Trainer(config(tmp_path, 'model.neuron="lfi"'))
    with pytest.raises(ConfigError, match="readout"):
        Trainer(config(tmp_path, 'model.readout="all"'))


def cli(args, cwd):
    return subprocess.run([sys.executable, "-m", "nsb.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600, env=dict(os.environ, COLUMNS="200"))


def test_cli_train_resume_and_corrupt_checkpoint(tmp_path):
    args = ["train", "-q", *[a for s in SMALL for a in ("--set", s)], "--epochs", "1"]
    done = cli(args, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "final test_acc" in done.stdout
    assert cli(args, tmp_path).returncode == 2  # the run exists: refused, not overwritten
    done = cli(["train", "-q", "--resume", "--epochs", "2"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert load_checkpoint(tmp_path / "runs" / "default" / "checkpoint.pt")["epoch"] == 2
    ckpt = tmp_path / "runs" / "default" / "checkpoint.pt"
    ckpt.write_bytes(ckpt.read_bytes()[:1000])
    done = cli(["train", "-q", "--resume", "--epochs", "3"], tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "corrupt" in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_cli_missing_data_is_one_line(tmp_path):
    done = cli(["train", "--config", "psmnist_ff", "--set", f'data.root="{tmp_path}"'], tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "MNIST files not found" in done.stderr and "nsb data download psmnist" in done.stderr


def test_distributed_data_parallel_on_two_cpu_processes(tmp_path):
    import socket

    torchrun = Path(sys.executable).with_name("torchrun")
    with socket.socket() as probe:  # a free port: a fixed one fails when another run (a second checkout) holds it
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    args = [str(torchrun), "--nproc_per_node", "2", "--master_port", str(port), "-m", "nsb.cli", "train", "-q",
            *[a for s in SMALL for a in ("--set", s)], "--name", "ddp"]
    done = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert done.returncode == 0, done.stderr[-2000:]
    ckpt = load_checkpoint(tmp_path / "runs" / "ddp" / "checkpoint.pt")
    assert ckpt["processes"] == 2 and ckpt["epoch"] == 2
    rows = (tmp_path / "runs" / "ddp" / "metrics.jsonl").read_text().splitlines()
    assert len(rows) == 2  # written by rank 0 only
