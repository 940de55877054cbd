"""nsb train → nsb export → nsb eval: the bundle's files and what they promise. Every model kind on every
runtime is tests/test_conformance.py; ``CASES`` and ``train_and_export`` serve the format tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch

from nsb.config import load_config
from nsb.eval.bundle import Bundle
from nsb.eval.evaluate import evaluate
from nsb.export.run import export_run
from nsb.ops.schema import DOMAIN
from nsb.train import Trainer

from model_kinds import CONFIGS, SMALL, ptb_files  # SMALL, CONFIGS: the format tests import them from here too

BACKENDS = [("torch", "custom"), ("torchscript", "custom"), ("onnxruntime", "custom"), ("onnxruntime", "std"),
            ("onnx-reference", "custom"), ("onnx-reference", "std")]

CASES = {
    "lif-hard": ["neuron.decay=0.9"],
    "lif-soft": ["neuron.decay=0.9", 'neuron.reset="soft"'],
    "lif-none": ["neuron.decay=0.8", 'neuron.reset="none"', "neuron.threshold=0.3"],
    "lif-vreset-bn": ["neuron.decay=0.9", "neuron.v_rest=-0.2", 'model.norm="bn"'],
    "if": ['model.neuron="if"'],
    "plif": ['model.neuron="plif"', "neuron.init_decay=0.8"],
    "rlif-recurrent": ['model.neuron="rlif"', "neuron.decay=0.9", "model.recurrent=[true, false]"],
    "alif": ['model.neuron="alif"', "neuron.threshold=0.3"],
    "adlif": ['model.neuron="adlif"', "neuron.threshold=0.1"],
    "glif": ['model.neuron="glif"', "neuron.threshold=0.3"],
    "lif-soft-immediate": ["neuron.decay=0.9", 'neuron.reset="soft"', 'neuron.reset_timing="immediate"'],
    "alif-recurrent": ['model.neuron="alif"', "neuron.threshold=0.3", "model.recurrent=[true, false]"],
    "adlif-recurrent": ['model.neuron="adlif"', "neuron.threshold=0.1", "model.recurrent=[true, false]"],
    "glif-recurrent": ['model.neuron="glif"', "neuron.threshold=0.3", "model.recurrent=[true, false]"],
}


def train_and_export(tmp_path: Path, overrides: list[str], config: Path | None = None, formats=("onnx", "torchscript"),
                     samples: int = 40) -> Path:
    cfg = load_config(config, overrides + [f'out_dir="{tmp_path}"', 'name="run"'])
    Trainer(cfg, progress=False).fit()
    return export_run(tmp_path / "run", tmp_path / "bundle", formats, samples=samples)


def assert_faithful(bundle: Path, backends=BACKENDS) -> None:
    opened = Bundle(bundle)
    ref = opened.reference()
    rates = [c.mean() / ref.inputs.shape[0] for c in ref.spike_counts]
    assert any(0.005 < r < 0.95 for r in rates), f"the test model must spike to test anything, rates {rates}"
    for backend, graph in backends:
        report = evaluate(opened, backend, graph=graph, batch_size=16, repeats=1, warmup=0, batch_sizes=(1,))
        fid = report["fidelity"]
        where = f"{backend}/{graph}"
        assert fid["passed"], (where, fid)
        if "prediction_agreement" in fid:
            assert fid["prediction_agreement"] == 1.0, where
        assert all(layer["spike_agreement"] >= 0.9999 and layer["count_agreement"] >= 0.9999
                   for layer in fid["layers"]), (where, fid["layers"])
        assert fid["max_abs_error"] < 1e-4, (where, fid["max_abs_error"])


def test_regression_model_exports_per_step_outputs(tmp_path):
    bundle = train_and_export(tmp_path, ["train.epochs=1", "model.hidden=[32]", "train.limit_train_batches=3",
                                         "neuron.threshold=0.2"], CONFIGS / "mackey_glass.toml", samples=8)
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["outputs"][0]["shape"][0] == "T"
    assert_faithful(bundle, [("torchscript", "custom"), ("onnxruntime", "custom"), ("onnx-reference", "custom")])


def test_language_model_exports_tokens_in_logits_out(tmp_path):
    ptb_files(tmp_path)
    bundle = train_and_export(tmp_path, [f'data.root="{tmp_path}"', "data.time_steps=12", "model.embedding_dim=16",
                                         "model.hidden=[16, 16]", "train.epochs=1", "train.batch_size=4",
                                         "neuron.threshold=0.05"], CONFIGS / "ptb_rec.toml", samples=4)
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["input"]["dtype"] == "int64"
    assert_faithful(bundle, [("torchscript", "custom"), ("onnxruntime", "custom"), ("onnx-reference", "custom")])


def test_model_onnx_has_one_nsb_node_per_layer_and_dynamic_time(tmp_path):
    bundle = train_and_export(tmp_path, SMALL + CASES["rlif-recurrent"], formats=("onnx",))
    model = onnx.load(str(bundle / "model.onnx"))
    nodes = [n for n in model.graph.node if n.domain == DOMAIN]
    assert [n.op_type for n in nodes] == ["RLIF", "LIF"]
    for node in nodes:
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        assert attrs["plugin_namespace"] == b"nsb" and attrs["plugin_version"] == b"2"
        assert attrs["reset_mode"] == b"hard" and attrs["reset_timing"] == b"deferred" and abs(attrs["decay"] - 0.9) < 1e-7
        assert node.overload == "hard_deferred_greater"  # the function variant its choice attributes select
    assert {(f.name, f.overload) for f in model.functions} == {("RLIF", "hard_deferred_greater"),
                                                               ("LIF", "hard_deferred_greater")}
    assert model.ir_version <= 10 and {o.domain: o.version for o in model.opset_import}[""] == 20
    std = onnx.load(str(bundle / "model.std.onnx"))
    assert not any(n.domain == DOMAIN for n in std.graph.node) and not std.functions
    assert all(o.domain != DOMAIN for o in std.opset_import)
    dims = [d.dim_param or d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert dims[:2] == ["T", "B"]
    # a shorter sequence and another batch size than the export example run and match the trained model
    ref = Bundle(bundle).reference()
    x = np.ascontiguousarray(ref.inputs[:11, :7])
    session = ort.InferenceSession(str(bundle / "model.onnx"), providers=["CPUExecutionProvider"])
    got = session.run(None, {"input": x})
    from nsb.eval.backends.torch_backend import TorchBackend

    want = TorchBackend(Bundle(bundle), "cpu", "custom").run(x)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, atol=1e-5)
    assert len(got) == 3 and got[1].shape == (11, 7, 24)


def run_without_nsb(tmp_path: Path, load: str, x: np.ndarray) -> list[np.ndarray]:
    """Run ``load`` (Python that sets ``model`` from a file) on ``x`` in a fresh interpreter where nsb is not
    importable; the outputs come back as arrays."""
    import os
    import subprocess
    import sys

    np.save(tmp_path / "x.npy", x)
    # -S: no site processing, so the editable install's .pth does not run; torch's folder is added by hand
    site_packages = str(Path(torch.__file__).resolve().parents[1])
    script = f"""
import sys
sys.path.append({site_packages!r})
try:
    import nsb
    raise SystemExit('nsb is still importable')
except ImportError:
    pass
import numpy as np, torch
{load}
out = model(torch.from_numpy(np.load({str(tmp_path / 'x.npy')!r})))
assert not any(name.startswith('nsb') for name in sys.modules), 'loading the model imported nsb'
for i, o in enumerate(out):
    np.save({str(tmp_path)!r} + f'/out{{i}}.npy', o.numpy())
"""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-S", "-c", script], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    return [np.load(f) for f in sorted(tmp_path.glob("out*.npy"), key=lambda f: int(f.stem[3:]))]


def conv_model(seed: int = 0):
    """An untrained conv SNN for 2×16×16 event frames (channels 4, 8; 16 hidden), in eval mode, and its config."""
    from nsb.data.common import TaskData
    from nsb.models.build import build_model

    cfg = load_config(CONFIGS / "dvs_gesture.toml", ["model.channels=[4, 8]", "model.hidden=[16]",
                                                     "neuron.threshold=0.2"])
    empty = torch.empty(0)
    task = TaskData("classification", empty, empty, input_size=2 * 16 * 16, num_classes=11, time_steps=6,
                    info={"frame_shape": (2, 16, 16)})
    torch.manual_seed(seed)
    return build_model(cfg, task).eval(), cfg


def test_torchscript_runs_without_nsb(tmp_path):
    bundle = train_and_export(tmp_path, SMALL + CASES["rlif-recurrent"], formats=("torchscript",))
    ref = Bundle(bundle).reference()
    out = run_without_nsb(tmp_path, f"model = torch.jit.load({str(bundle / 'model.ts')!r})", ref.inputs)
    np.testing.assert_allclose(out[0], ref.outputs, atol=1e-5)


def test_conv_model_exports(tmp_path):
    """The conv SNN for event frames: per-step Conv2d and pooling around LIF ops, time and batch dynamic."""
    from nsb.export.deploy import DeployModel
    from nsb.export.onnx_export import export_onnx, inline_functions

    model, cfg = conv_model()
    deploy = DeployModel(model, "classification", cfg.model.readout)
    x = (torch.rand(6, 3, 2, 16, 16) < 0.3).float()
    proto = export_onnx(deploy, x[:, :2])
    with torch.no_grad():
        want = [t.numpy() for t in deploy(x)]
    assert want[1].mean() > 0.01, "the conv test model must spike"
    for graph in (proto, inline_functions(proto)):
        got = ort.InferenceSession(graph.SerializeToString(), providers=["CPUExecutionProvider"]).run(
            None, {"input": x.numpy()})
        assert len(got) == 4
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, atol=1e-5)
