"""`nsb eval` on the onnxruntime and onnx-reference backends in a virtual environment without torch."""

from __future__ import annotations

import os
import subprocess
import venv
from pathlib import Path

import pytest

from nsb.config import load_config
from nsb.export.run import export_run
from nsb.train import Trainer

REPO = Path(__file__).resolve().parents[1]
RUNTIME = ["numpy", "h5py", "onnx", "onnxruntime", "typer", "rich", "tomli-w", "setuptools>=68", "wheel"]


@pytest.mark.slow
def test_eval_runs_where_torch_is_not_installed(tmp_path):
    cfg = load_config(None, ["data.train_per_class=20", "data.test_per_class=3", "data.time_steps=20",
                             "model.hidden=[16]", "train.epochs=1", f'out_dir="{tmp_path}"', 'name="run"'])
    Trainer(cfg, progress=False).fit()
    bundle = export_run(tmp_path / "run", tmp_path / "bundle", ("onnx",), samples=12)

    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    py = env_dir / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    pip = [str(py), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    done = subprocess.run(pip + RUNTIME, capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    # the package itself, not editable and without its optional dependencies
    done = subprocess.run(pip + ["--no-deps", "--no-build-isolation", str(REPO)], capture_output=True, text=True,
                          env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    no_torch = subprocess.run([str(py), "-c", "import torch"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert no_torch.returncode != 0, "the test environment must not have torch"
    # an installed nsb finds its shipped files as package data, not beside a checkout
    shipped = ("from importlib.resources import files; import nsb.eval.backends.tensorrt; "
               "print(files('nsb.configs').joinpath('neurobench/mackey_glass.toml').is_file())")
    done = subprocess.run([str(py), "-c", shipped], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert done.stdout.strip() == "True", done.stdout + done.stderr
    nsb = str(env_dir / "bin" / "nsb")
    for backend in ("onnxruntime", "onnx-reference"):
        done = subprocess.run([nsb, "eval", str(bundle), "--backend", backend, "--repeats", "1"], capture_output=True,
                              text=True, env=env, cwd=tmp_path)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "PASS" in done.stdout
    done = subprocess.run([nsb, "eval", str(bundle), "--backend", "torch"], capture_output=True, text=True, env=env,
                          cwd=tmp_path)
    assert done.returncode == 2 and "needs torch" in done.stderr and "Traceback" not in done.stderr
