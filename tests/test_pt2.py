"""``nsb export --format pt2`` → ``model.pt2`` (a ``torch.export`` program with each neuron as a ``scan``
over time) → ``nsb eval --backend pt2``: faithful to the trained model, any sequence length, no nsb needed."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from test_export import CASES, SMALL, assert_faithful, conv_model, run_without_nsb, train_and_export

from nsb.errors import NsbError
from nsb.eval.bundle import Bundle

PT2 = [("pt2", "custom")]


@pytest.mark.parametrize("case", ["lif-hard", "lif-soft-immediate", "rlif-recurrent", "glif", "adlif-recurrent"])
def test_pt2_reproduces_the_trained_model(tmp_path, case):
    assert_faithful(train_and_export(tmp_path, SMALL + CASES[case], formats=("pt2",)), PT2)


def test_pt2_time_and_batch_are_dynamic(tmp_path):
    """Shorter and longer sequences and other batch sizes than the export's run, spike for spike as model.ts."""
    from nsb.eval.backends.pt2_backend import PT2Backend
    from nsb.eval.backends.torchscript_backend import TorchScriptBackend

    bundle = Bundle(train_and_export(tmp_path, SMALL + CASES["rlif-recurrent"], formats=("pt2", "torchscript")))
    x = bundle.reference().inputs  # T = 25
    pt2, ts = PT2Backend(bundle, "cpu", "custom"), TorchScriptBackend(bundle, "cpu", "custom")
    for sample in (x[:1, :1], x[:11, :7], np.concatenate([x, x])[:, :5]):
        got, want = pt2.run(np.ascontiguousarray(sample)), ts.run(np.ascontiguousarray(sample))
        assert len(got) == 3 and got[1].shape == (*sample.shape[:2], 24)
        np.testing.assert_allclose(got[0], want[0], atol=1e-6)
        for g, w in zip(got[1:], want[1:]):
            np.testing.assert_array_equal(g, w)


def test_pt2_per_step_op_takes_at_most_its_rows(tmp_path):
    """GLIF has one conductance row per step: T stays dynamic up to the rows, a longer input is one line."""
    from nsb.eval.backends.pt2_backend import PT2Backend

    bundle = Bundle(train_and_export(tmp_path, SMALL + CASES["glif-recurrent"], formats=("pt2",)))
    x = bundle.reference().inputs
    backend = PT2Backend(bundle, "cpu", "custom")
    assert [o.shape for o in backend.run(np.ascontiguousarray(x[:7, :3]))][1:] == [(7, 3, 24), (7, 3, 16)]
    with pytest.raises(NsbError, match=r"model.pt2 does not take an input of shape \[26, 2, 32\].*<= 25"):
        backend.run(np.concatenate([x, x[:1]])[:, :2])


def test_conv_model_exports_pt2():
    """Per-step Conv2d and pooling around LIF scans, time and batch dynamic."""
    from nsb.export.deploy import DeployModel
    from nsb.export.pt2_export import export_program

    model, cfg = conv_model()
    deploy = DeployModel(model, "classification", cfg.model.readout)
    x = (torch.rand(6, 3, 2, 16, 16) < 0.3).float()
    program = export_program(deploy, x[:, :2]).module()
    for sample in (x, (torch.rand(9, 5, 2, 16, 16) < 0.3).float()):
        with torch.no_grad():
            want, got = deploy(sample), program(sample)
        assert want[1].mean() > 0.01, "the conv test model must spike"
        assert len(got) == 4
        for g, w in zip(got, want):
            torch.testing.assert_close(g, w, atol=1e-6, rtol=0)


def test_pt2_runs_without_nsb(tmp_path):
    bundle = train_and_export(tmp_path, SMALL + CASES["glif-recurrent"], formats=("pt2",))
    ref = Bundle(bundle).reference()
    load = f"model = torch.export.load({str(bundle / 'model.pt2')!r}).module()"
    out = run_without_nsb(tmp_path, load, ref.inputs)
    np.testing.assert_allclose(out[0], ref.outputs, atol=1e-5)
    for spikes, counts in zip(out[1:], ref.spike_counts):
        np.testing.assert_array_equal(spikes.sum(0), counts)


def test_cli_eval_pt2_and_a_corrupt_model_pt2(tmp_path):
    bundle = train_and_export(tmp_path, SMALL + CASES["lif-hard"], formats=("pt2",))
    env = dict(os.environ, COLUMNS="200", NO_COLOR="1")

    def nsb(*args):
        return subprocess.run([sys.executable, "-m", "nsb.cli", *args], capture_output=True, text=True, env=env,
                              cwd=tmp_path, timeout=300)

    done = nsb("eval", str(bundle), "--backend", "pt2", "--repeats", "1")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads((bundle / "reports" / "pt2-cpu" / "report.json").read_text())
    assert report["backend"] == "pt2" and report["model_file"] == "model.pt2" and report["fidelity"]["passed"]
    # a damaged file whose hash was updated with it: the backend, not the bundle check, refuses it
    (bundle / "model.pt2").write_bytes(b"PK\x03\x04 not a torch.export archive" * 4)
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["files"]["model.pt2"]["sha256"] = hashlib.sha256((bundle / "model.pt2").read_bytes()).hexdigest()
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    done = nsb("eval", str(bundle), "--backend", "pt2")
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "model.pt2 does not load" in lines[0], done.stderr
    assert "nsb export RUN --format pt2" in lines[0]
