"""The bundle is written atomically and trusted by nothing: tampering is refused with one line."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import onnx
import pytest

from nsb.config import load_config
from nsb.eval.bundle import Bundle, BundleError
from nsb.eval.evaluate import evaluate
from nsb.export.run import export_run
from nsb.train import Trainer

SMALL = ["data.train_per_class=20", "data.test_per_class=4", "data.time_steps=20", "model.hidden=[16]",
         "train.batch_size=32", "train.epochs=1", "neuron.decay=0.9", "neuron.threshold=0.5"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("bundle")
    Trainer(load_config(None, SMALL + [f'out_dir="{root}"', 'name="run"']), progress=False).fit()
    export_run(root / "run", root / "pristine", ("onnx", "torchscript"), samples=16)
    return root


@pytest.fixture
def bundle(trained, tmp_path) -> Path:
    copy = tmp_path / "bundle"
    shutil.copytree(trained / "pristine", copy)
    return copy


def rehash(bundle: Path, name: str) -> None:
    """Update the manifest after an edit, as a careless or malicious editor would."""
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["files"][name]["sha256"] = hashlib.sha256((bundle / name).read_bytes()).hexdigest()
    (bundle / "manifest.json").write_text(json.dumps(manifest))


def nsb(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "nsb.cli", *args], capture_output=True, text=True, cwd=cwd)


def test_pristine_bundle_opens(bundle):
    opened = Bundle(bundle)
    assert {"model.onnx", "model.std.onnx", "model.ts", "reference.h5", "weights.h5", "config.toml"} <= set(
        opened.manifest["files"])
    assert [op["name"] for op in opened.manifest["ops"]] == ["LIF"]
    assert opened.reference().inputs.shape[1] == 16


def test_changed_file_is_refused(bundle):
    data = bytearray((bundle / "model.onnx").read_bytes())
    data[-1] ^= 1
    (bundle / "model.onnx").write_bytes(bytes(data))
    with pytest.raises(BundleError, match="model.onnx does not match its sha256"):
        Bundle(bundle)


def test_missing_file_is_refused(bundle):
    (bundle / "reference.h5").unlink()
    with pytest.raises(BundleError, match="reference.h5 is missing"):
        Bundle(bundle)


def test_reference_of_the_wrong_shape_is_refused(bundle):
    with h5py.File(bundle / "reference.h5", "r+") as f:
        x = f["inputs"][()]
        del f["inputs"]
        f["inputs"] = np.concatenate([x, x], axis=2)
    rehash(bundle, "reference.h5")
    with pytest.raises(BundleError, match="reference inputs have shape"):
        Bundle(bundle).reference()


@pytest.mark.parametrize("version", [1, 3])
def test_another_op_set_version_is_refused(bundle, version):
    """A newer op set is unknown; an older one has other semantics (op set 1's LIF reset after the
    spike and carried no spike state), so both are refused with one line naming the re-export."""
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["ops"][0]["version"] = version
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match=f"nsb::LIF version {version}.*re-export"):
        Bundle(bundle)


def test_unknown_op_inside_the_model_is_refused(bundle):
    model = onnx.load(str(bundle / "model.onnx"))
    for node in model.graph.node:
        if node.domain == "nsb":
            node.op_type = "QIF"
    onnx.save(model, str(bundle / "model.onnx"))
    rehash(bundle, "model.onnx")
    with pytest.raises(BundleError, match="unknown op nsb::QIF"):
        evaluate(Bundle(bundle), "onnxruntime")


def test_manifest_naming_a_path_outside_is_refused(bundle):
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["files"]["../../etc/passwd"] = {"sha256": "0", "bytes": 0}
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="outside the bundle"):
        Bundle(bundle)


def test_cli_tampered_bundle_is_one_line_exit_2(bundle):
    (bundle / "config.toml").write_text("tampered")
    done = nsb("eval", str(bundle), "--backend", "onnxruntime")
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "config.toml does not match its sha256" in done.stderr
    assert "Traceback" not in done.stderr


def test_cli_missing_bundle_and_unknown_backend(tmp_path, bundle):
    done = nsb("eval", str(tmp_path / "nope"))
    assert done.returncode == 2 and "not found" in done.stderr and "Traceback" not in done.stderr
    done = nsb("eval", str(bundle), "--backend", "onnxrt")
    assert done.returncode == 2 and "onnxruntime" in done.stderr  # the suggestion


def test_cli_export_then_eval_writes_reports(trained, tmp_path):
    out = tmp_path / "b"
    done = nsb("export", str(trained / "run"), "--format", "onnx", "--out", str(out), "--samples", "8")
    assert done.returncode == 0, done.stderr
    done = nsb("eval", str(out), "--backend", "onnxruntime", "--repeats", "1")
    assert done.returncode == 0, done.stderr
    report = json.loads((out / "reports" / "onnxruntime-cpu" / "report.json").read_text())
    assert report["fidelity"]["passed"] and report["fidelity"]["prediction_agreement"] == 1.0
    assert "| prediction agreement | 100.0000 % |" in (out / "reports" / "onnxruntime-cpu" / "report.md").read_text()
    done = nsb("eval", str(out), "--backend", "torchscript")
    assert done.returncode == 2 and "no model.ts" in done.stderr and "--format torchscript" in done.stderr


def test_reexport_replaces_the_bundle_cleanly(trained, tmp_path):
    out = tmp_path / "b"
    export_run(trained / "run", out, ("onnx", "torchscript"), samples=8)
    assert (out / "model.ts").exists()
    export_run(trained / "run", out, ("onnx",), samples=8)
    assert not (out / "model.ts").exists()
    assert "model.ts" not in json.loads((out / "manifest.json").read_text())["files"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b"]  # no staging or old copies left behind
    Bundle(out)


def test_failed_export_keeps_the_old_bundle(trained, tmp_path):
    out = tmp_path / "b"
    export_run(trained / "run", out, ("onnx",), samples=8)
    before = (out / "manifest.json").read_text()
    with pytest.raises(Exception):
        export_run(trained / "run", out, ("onnx",), samples=0)
    assert (out / "manifest.json").read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b"]


def test_export_of_a_missing_or_corrupt_run_is_one_line(tmp_path):
    done = nsb("export", str(tmp_path / "nope"))
    assert done.returncode == 2 and "run directory" in done.stderr and "Traceback" not in done.stderr
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "checkpoint.pt").write_bytes(b"garbage")
    done = nsb("export", str(tmp_path / "run"))
    assert done.returncode == 2 and "corrupt" in done.stderr and "Traceback" not in done.stderr


def test_report_has_sweep_startup_memory_plots_and_compare(trained, tmp_path):
    out = tmp_path / "b"
    export_run(trained / "run", out, ("onnx",), samples=16)
    for graph in ("custom", "std"):
        done = nsb("eval", str(out), "--backend", "onnxruntime", "--graph", graph, "--repeats", "3", "--sweep", "1",
                   "--sweep", "4")
        assert done.returncode == 0, done.stderr
    a = out / "reports" / "onnxruntime-cpu"
    b = out / "reports" / "onnxruntime-std-cpu"
    report = json.loads((a / "report.json").read_text())
    assert report["schema"] == "nsb-eval-report" and report["schema_version"] == 1
    assert [r["batch_size"] for r in report["latency"]] == [1, 4]  # batch 1 first
    assert all(r["p50_ms"] <= r["p99_ms"] and len(r["times_ms"]) == 3 for r in report["latency"])
    assert report["startup"]["first_output_s"] > 0 and report["startup"]["load_s"] > 0
    assert report["memory"]["neurobench_footprint_bytes"] == 4 * (20 * 16 + 16 + 16 * 10 + 10) or \
        report["memory"]["neurobench_footprint_bytes"] > 0
    assert (a / "latency.png").stat().st_size > 1000 and (a / "layers.png").stat().st_size > 1000
    assert "![latency](latency.png)" in (a / "report.md").read_text()
    done = nsb("compare", str(a / "report.json"), str(b / "report.json"))
    assert done.returncode == 0, done.stderr
    assert "throughput" in done.stdout and "onnxruntime (cpu," in done.stdout and "A = " in done.stdout
    done = nsb("compare", str(a / "report.json"))
    assert done.returncode == 2 and "Missing argument" in done.stderr and "Traceback" not in done.stderr
    done = nsb("compare", str(a / "report.json"), str(out / "manifest.json"))
    assert done.returncode == 2 and "not an nsb eval report" in done.stderr and len(done.stderr.splitlines()) == 1
    done = nsb("eval", "--compare", str(a / "report.json"), str(b / "report.json"))
    assert done.returncode == 2 and "nsb compare A.json B.json" in done.stderr and len(done.stderr.splitlines()) == 1


def test_wrong_device_and_precision_are_one_line(bundle):
    for args, message in ((["--backend", "onnx-reference", "--device", "cuda"], "CPU only"),
                          (["--precision", "fp16"], "--precision fp16 needs --device cuda"),
                          (["--device", "tpu"], "cpu or cuda")):
        done = nsb("eval", str(bundle), *args)
        assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr, (args, done.stderr)


def test_fp16_graph_for_onnxruntime_is_valid(bundle):
    pytest.importorskip("onnxconverter_common")
    from nsb.eval.backends.onnxruntime_backend import to_fp16

    model = to_fp16(onnx.load(str(bundle / "model.std.onnx")))
    onnx.checker.check_model(model)
    types = {i.data_type for i in model.graph.initializer}
    assert onnx.TensorProto.FLOAT16 in types
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT  # fp32 at the edges


def test_tensorrt_without_tensorrt_is_one_line(bundle, trained, tmp_path):
    done = nsb("eval", str(bundle), "--backend", "tensorrt")
    assert done.returncode == 2 and "--device cuda" in done.stderr and "Traceback" not in done.stderr
    done = nsb("eval", str(bundle), "--backend", "tensorrt", "--device", "cuda")
    assert done.returncode == 2 and "Traceback" not in done.stderr and done.stderr.count("\n") == 1
    done = nsb("export", str(trained / "run"), "--format", "engine", "--out", str(tmp_path / "e"))
    assert done.returncode == 2 and "Traceback" not in done.stderr and "tensorrt" in done.stderr.lower()
    assert not (tmp_path / "e").exists()  # nothing half-written
