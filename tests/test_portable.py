"""The graph rules that make a bundle portable, T_max, fp16 export, the OpenVINO backend's precisions,
and the one-line refusals around them (docs/deployment.md)."""

from __future__ import annotations

import json
import sys

import numpy as np
import onnx
import pytest

from nsb.errors import NsbError
from nsb.eval.bundle import Bundle
from nsb.eval.evaluate import evaluate
from nsb.export.run import export_run
from model_kinds import make_bundle
from test_cli import one_line_error, run


@pytest.fixture(scope="module")
def glif(tmp_path_factory):
    """A recurrent GLIF bundle: per-step conductance rows (T_max), a recurrent op, three states."""
    return make_bundle("GLIF recurrent", tmp_path_factory.mktemp("glif"), formats=("onnx",), nir=False)[0]


def _nodes(graph: onnx.GraphProto):
    for node in graph.node:
        yield node
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                yield from _nodes(attr.g)


def _bodies(graph: onnx.GraphProto):
    for node in graph.node:
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                yield attr.g


def test_graph_rules(glif):
    model, std = onnx.load(str(glif / "model.onnx")), onnx.load(str(glif / "model.std.onnx"))
    names = [n.name for n in _nodes(std.graph)]
    assert all(names) and len(names) == len(set(names)), "every node of model.std.onnx has its own name"
    assert not any(n.op_type == "CastLike" for n in _nodes(std.graph))
    strings = [t for t in std.graph.initializer if t.data_type == onnx.TensorProto.STRING]
    strings += [n for n in _nodes(std.graph) for a in n.attribute
                if a.type == onnx.AttributeProto.TENSOR and a.t.data_type == onnx.TensorProto.STRING]
    assert not strings
    for body in _bodies(std.graph):  # self-contained: every value a body reads is made in it or is its input
        own = {i.name for i in body.input} | {o for n in body.node for o in n.output}
        assert all(i in own for n in body.node for i in n.input if i), "a Scan body reads an outer value"
        assert all(v.type.tensor_type.elem_type == onnx.TensorProto.FLOAT for v in [*body.input, *body.output])
    inits = [t.name for t in model.graph.initializer]
    assert not any(n.startswith("val_") for n in inits), inits
    assert "layers.0.synapse.weight.T" in inits and "layers.0.neuron.W_rec" in inits
    layers = [n.name for n in model.graph.node if n.domain == "nsb"]
    assert layers == ["layers.0.neuron", "layers.1.neuron"]
    props = {p.key: p.value for p in model.metadata_props}
    assert props == {p.key: p.value for p in std.metadata_props}
    assert props["T_max"] == "25" and props["precision"] == "fp32" and props["task"] == "classification"
    assert {"nsb_version", "layout", "opsets", "readout", "graph_format"} <= set(props)
    manifest = json.loads((glif / "manifest.json").read_text())
    assert manifest["input"]["T_max"] == 25 and manifest["precision"] == "fp32"


def test_longer_input_than_t_max_is_refused(glif, tmp_path):
    done = run(["eval", str(glif), "--time-steps", "26", "--repeats", "1", "--sweep", "1"], tmp_path)
    one_line_error(done, "at most T_max = 25 steps", "cut the input")
    report = evaluate(Bundle(glif), "onnxruntime", time_steps=20, repeats=1, warmup=0, batch_sizes=(1,))
    assert report["latency_time_steps"] == 20 and report["fidelity"]["passed"]


def test_openvino_runs_f32_by_default_and_reports_other_precisions(glif):
    import openvino as ov

    report = evaluate(Bundle(glif), "openvino", repeats=1, warmup=0, batch_sizes=(1,))
    assert report["graph"] == "std" and report["precision"] == "fp32" and report["fidelity"]["passed"]
    capabilities = ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    if "BF16" in capabilities:
        low = evaluate(Bundle(glif), "openvino", precision="bf16", repeats=1, warmup=0, batch_sizes=(1,))
        assert low["precision"] == "bf16" and "passed" not in low["fidelity"]
        assert "first_divergent_step" in low["fidelity"]
    else:
        with pytest.raises(NsbError, match="cannot infer in bf16"):
            evaluate(Bundle(glif), "openvino", precision="bf16", repeats=1, warmup=0, batch_sizes=(1,))


@pytest.mark.parametrize("args, message", [
    (["--backend", "openvino", "--graph", "custom"], "OpenVINO runs the standard-op graph"),
    (["--backend", "onnxruntime", "--precision", "bf16"], "bf16 is OpenVINO's CPU inference precision"),
    (["--backend", "onnxruntime", "--precision", "fp16"], "--precision fp16 needs --device cuda"),
    (["--backend", "openvino", "--device", "cuda"], "runs on --device cpu"),
])
def test_unsupported_combinations_are_one_line(glif, tmp_path, args, message):
    one_line_error(run(["eval", str(glif), *args, "--repeats", "1", "--sweep", "1"], tmp_path), message)


def test_missing_openvino_names_the_install(glif, monkeypatch):
    from nsb.eval.backends import load_backend

    monkeypatch.setitem(sys.modules, "openvino", None)  # import openvino now raises ImportError
    with pytest.raises(NsbError, match=r"needs openvino, which is not installed here; pip install 'nsb\[openvino\]'"):
        load_backend("openvino", Bundle(glif))


def test_older_graph_format_is_refused(glif, tmp_path):
    import shutil

    old = tmp_path / "old"
    shutil.copytree(glif, old)
    manifest = json.loads((old / "manifest.json").read_text())
    del manifest["graph_format"]  # as bundles written before the graph rules
    (old / "manifest.json").write_text(json.dumps(manifest))
    one_line_error(run(["eval", str(old), "--repeats", "1"], tmp_path), "graph format 1", "re-export the run")


def test_fp16_export(glif, tmp_path):
    run = glif.parent / "run"
    out = export_run(run, tmp_path / "fp16", ("onnx",), samples=40, precision="fp16")
    for name in ("model.onnx", "model.std.onnx"):
        model = onnx.load(str(out / name))
        assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT16
        assert {p.key: p.value for p in model.metadata_props}["precision"] == "fp16"
    bundle = Bundle(out)
    for backend, graph in (("onnxruntime", "custom"), ("onnxruntime", "std"), ("openvino", None),
                           ("onnx-reference", "custom")):
        report = evaluate(bundle, backend, graph=graph, repeats=1, warmup=0, batch_sizes=(1,))
        fid = report["fidelity"]
        assert report["precision"] == "fp16" and "passed" not in fid, backend  # reported, not gated
        assert fid["prediction_agreement"] >= 0.9 and min(l["spike_agreement"] for l in fid["layers"]) > 0.98
    with pytest.raises(NsbError, match="fp16 already"):
        evaluate(bundle, "openvino", precision="fp16", repeats=1, warmup=0, batch_sizes=(1,))
    with pytest.raises(NsbError, match="writes ONNX files only, not torchscript"):
        export_run(run, tmp_path / "x", ("onnx", "torchscript"), precision="fp16")
