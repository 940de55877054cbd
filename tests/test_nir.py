"""nsb export --format nir: model.nir read back with ``nir.read`` and run by a real NIR consumer (snnTorch's
``import_from_nir``) and by an independent step-by-step reading of NIR's equations, against the trained
model's spikes in reference.h5 (docs/nir.md).

Two runners, because they check different things:

* ``nir_run`` (below) steps the file's nodes with NIR's forward-Euler semantics at dt = 1e-4 in float32: it
  checks that the file says what nsb computed, including what snnTorch 1.0.0 cannot import (a reset value
  other than 0, the IF node).
* ``snntorch_run`` (:mod:`nsb.eval.conformance.nir_consumer`, also the conformance matrix's judge) imports
  the file with snnTorch and runs the ``GraphModule`` it returns one step at a time, with the two upstream
  fixes of snnTorch 1.0.0's importer applied (that module's docstring); the raw importer's agreement is
  measured and printed too.

The bar for configurations the manifest calls exact is the project's fp32 bar (docs/architecture.md §9):
≥ 99.99 % of spikes and spike counts and every prediction. Measured: 100 % for every exact case here (where
BN, a recurrent bias or V_rest is folded into the synapse bias the float32 rounding differs from nsb's
order of operations, so a flip at the threshold is possible but was not seen).
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from nsb.errors import NsbError
from nsb.eval.bundle import Bundle
from test_export import CASES, CONFIGS, SMALL, conv_model, train_and_export

nir = pytest.importorskip("nir")

pytest.importorskip("snntorch")

from nsb.eval.conformance.nir_consumer import SPIKES_BAR, snntorch_run  # noqa: E402
from nsb.eval.conformance.nir_consumer import agreement as consumer_agreement  # noqa: E402
from nsb.export.nir_export import DT, NirLossyWarning, export_nir  # noqa: E402

EXACT = {
    "lif-hard": CASES["lif-hard"],
    "if": CASES["if"],
    "plif": CASES["plif"],
    "rlif-recurrent": CASES["rlif-recurrent"],
    "lif-bn": ["neuron.decay=0.9", 'model.norm="bn"'],
    "lif-gain": ["neuron.decay=0.9", "neuron.input_gain=1.5"],
    "lif-vrest-immediate": ["neuron.decay=0.9", "neuron.v_rest=-0.2", 'neuron.reset_timing="immediate"'],
    "lif-vrest-deferred-bn": CASES["lif-vreset-bn"],  # the deferred reset value (1 − λ)·V_rest/λ is not 0
}
LOSSY = {
    "lif-soft": (CASES["lif-soft"], "reset"),
    "lif-none": (CASES["lif-none"], "reset"),
    "lif-soft-immediate": (CASES["lif-soft-immediate"], "reset"),
    "lif-asgl": (["neuron.decay=0.9", 'surrogate.name="asgl"'], "spike_test"),
}
REFUSED = {
    "alif": (CASES["alif"], "the alif neuron (op ALIF) has no NIR node"),
    "adlif": (CASES["adlif"], "the adlif neuron (op ADLIF) has no NIR node"),
    "glif": (CASES["glif"], "the glif neuron (op GLIF) has no NIR node"),
    "tebn": (['model.norm="tebn"'], "TEBN cannot be written as NIR (its per-step scale"),
    "bntt": (['model.norm="bntt"'], "BNTT cannot be written as NIR (its per-step statistics"),
    "layernorm": (['model.norm="layernorm"'], "LayerNorm cannot be written as NIR (its per-sample statistics"),
}


# --- the two runners ----------------------------------------------------------------------------------------

def _order(graph) -> tuple[list[str], set[tuple[str, str]]]:
    """Nodes in execution order from the input, and the edges that close a cycle (read from the last step)."""
    order, delayed, colour = [], set(), {}

    def visit(name: str) -> None:
        colour[name] = "open"
        for src, dst in graph.edges:
            if src == name and colour.get(dst) == "open":
                delayed.add((src, dst))
            elif src == name and dst not in colour:
                visit(dst)
        colour[name] = "done"
        order.append(name)

    visit(next(k for k, v in graph.nodes.items() if isinstance(v, nir.Input)))
    return order[::-1], delayed


def nir_run(graph, x: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Step ``graph`` over ``x [T, B, ...]`` by NIR's equations (forward Euler at dt = DT, float32):
    LIF ``v ← (1 − dt/τ)·v + (dt/τ)·(v_leak + r·I)``, IF ``v ← v + r·I``, spike ``v > v_threshold``, then
    ``v ← v_reset``; a cycle's edge carries the previous step's value (0 at the first step)."""
    import torch.nn.functional as F

    order, delayed = _order(graph)
    f32 = lambda a: torch.as_tensor(np.asarray(a), dtype=torch.float32)  # noqa: E731
    membranes: dict[str, torch.Tensor] = {}
    previous: dict[str, torch.Tensor] = {}
    outputs, spikes = [], {k: [] for k, v in graph.nodes.items() if isinstance(v, (nir.LIF, nir.IF))}
    for t in range(x.shape[0]):
        values: dict[str, torch.Tensor] = {}
        for name in order:
            node = graph.nodes[name]
            if isinstance(node, nir.Input):
                values[name] = torch.from_numpy(np.ascontiguousarray(x[t]))
                continue
            parts = [previous.get(src, torch.zeros(())) if (src, name) in delayed else values[src]
                     for src, dst in graph.edges if dst == name]
            i = parts[0]
            for p in parts[1:]:
                i = i + p
            if isinstance(node, nir.Affine):
                values[name] = F.linear(i, f32(node.weight), f32(node.bias))
            elif isinstance(node, nir.Linear):
                values[name] = F.linear(i, f32(node.weight))
            elif isinstance(node, nir.Conv2d):
                values[name] = F.conv2d(i, f32(node.weight), f32(node.bias), tuple(node.stride), tuple(node.padding),
                                        tuple(node.dilation), int(node.groups))
            elif isinstance(node, nir.AvgPool2d):
                values[name] = F.avg_pool2d(i, tuple(node.kernel_size), tuple(node.stride), tuple(node.padding))
            elif isinstance(node, nir.Flatten):  # NIR's dims leave out the batch
                end = node.end_dim + 1 if node.end_dim >= 0 else node.end_dim
                values[name] = i.flatten(node.start_dim + 1, end)
            elif isinstance(node, (nir.LIF, nir.IF)):
                v = membranes.get(name, torch.zeros_like(i))
                if isinstance(node, nir.LIF):
                    step = DT / np.asarray(node.tau, np.float64)
                    v = f32(1 - step) * v + f32(step * node.r) * i
                    if np.any(node.v_leak != 0):
                        v = v + f32(step * node.v_leak)
                else:
                    v = v + f32(node.r) * i
                s = (v > f32(node.v_threshold)).float()
                membranes[name] = torch.where(s > 0, f32(node.v_reset).expand_as(v), v)
                values[name] = s
                spikes[name].append(s)
            elif isinstance(node, nir.Output):
                values[name] = i
                outputs.append(i)
            else:
                raise AssertionError(f"nir_run does not know {type(node).__name__}")
        previous = {src: values[src] for src, _ in delayed}
    return torch.stack(outputs).numpy(), {k: torch.stack(v).numpy() for k, v in spikes.items()}


def agreement(bundle: Path, outputs: np.ndarray, spikes: list[np.ndarray]) -> dict:
    return consumer_agreement(Bundle(bundle), outputs, spikes)


def _export(tmp_path: Path, overrides: list[str]) -> tuple[Path, dict, list]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bundle = train_and_export(tmp_path, SMALL + overrides, formats=("nir",))
    lossy = [w for w in caught if issubclass(w.category, NirLossyWarning)]
    return bundle, json.loads((bundle / "manifest.json").read_text())["nir"], lossy


def _report(case: str, runner: str, result: dict) -> None:
    layers = ", ".join(f"{x['spikes']:.4%} spikes/{x['counts']:.2%} counts" for x in result["layers"])
    print(f"NIR agreement {case} [{runner}]: {layers}; predictions {result['predictions']:.2%}")


# --- exact configurations -----------------------------------------------------------------------------------

@pytest.mark.parametrize("case", EXACT)
def test_exact_configs_reproduce_the_trained_spikes(tmp_path, case, record_property):
    bundle, info, lossy = _export(tmp_path, EXACT[case])
    assert not lossy and info["exact"] and info["lossy"] == []
    assert info["dt"] == DT and info["output"]["readout"] == "mean"
    graph = nir.read(bundle / "model.nir")
    ref = Bundle(bundle).reference()
    assert any(0.005 < c.mean() / ref.inputs.shape[0] < 0.95 for c in ref.spike_counts), "the model must spike"
    layers = [layer["nodes"][1] for layer in info["layers"]]

    outputs, by_node = nir_run(graph, ref.inputs)
    spec = agreement(bundle, outputs, [by_node[name] for name in layers])
    _report(case, "NIR equations", spec)
    record_property("nir_equations", spec)
    for layer in spec["layers"]:
        assert layer["spikes"] >= SPIKES_BAR and layer["counts"] >= SPIKES_BAR, (case, spec)
    assert spec["predictions"] == 1.0, (case, spec)

    consumer = agreement(bundle, *snntorch_run(graph, ref.inputs, layers))
    _report(case, "snnTorch", consumer)
    record_property("snntorch", consumer)
    if all(layer["nir"]["v_reset"] == 0 for layer in info["layers"]):
        for layer in consumer["layers"]:
            assert layer["spikes"] >= SPIKES_BAR and layer["counts"] >= SPIKES_BAR, (case, consumer)
        assert consumer["predictions"] == 1.0 and consumer["max_output_error"] < 1e-4, (case, consumer)
    else:  # snnTorch's Leaky always resets to 0 (it reads no v_reset): measured, not gated
        assert case == "lif-vrest-deferred-bn"
    if case in ("if", "rlif-recurrent"):  # what snnTorch 1.0.0's importer gives without the two fixes
        try:
            raw = agreement(bundle, *snntorch_run(graph, ref.inputs, layers, fixed=False))
            _report(case, "snnTorch, importer as shipped", raw)
        except Exception as err:  # noqa: BLE001  (the IF import crashes the graph)
            print(f"NIR agreement {case} [snnTorch, importer as shipped]: fails ({type(err).__name__}: {err})")


def test_recurrent_layer_is_a_lif_linear_cycle(tmp_path):
    bundle, info, _ = _export(tmp_path, EXACT["rlif-recurrent"])
    graph = nir.read(bundle / "model.nir")
    assert {("layers_0.neuron", "layers_0.w_rec"), ("layers_0.w_rec", "layers_0.neuron")} <= set(graph.edges)
    assert isinstance(graph.nodes["layers_0.w_rec"], nir.Linear)
    assert isinstance(graph.nodes["layers_0.neuron"], nir.LIF) and isinstance(graph.nodes["layers_1.neuron"], nir.LIF)
    first, second = info["layers"]
    assert first["recurrent"] and not second["recurrent"]
    assert any("b_rec" in f for f in first["folded"])
    lif = graph.nodes["layers_0.neuron"]
    # the conversion: 1 − dt/τ = λ (as float32), (dt/τ)·r = g, v_threshold = θ
    assert np.all(np.float32(1 - DT / lif.tau) == np.float32(0.9))
    np.testing.assert_allclose(DT / lif.tau * lif.r, 1.0, rtol=1e-12)
    assert np.all(lif.v_threshold == np.float32(0.5)) and np.all(lif.v_reset == 0) and np.all(lif.v_leak == 0)
    assert graph.metadata["dt"] == DT


def test_if_layers_are_nir_if_nodes(tmp_path):
    bundle, info, _ = _export(tmp_path, EXACT["if"])
    graph = nir.read(bundle / "model.nir")
    node = graph.nodes["layers_0.neuron"]
    assert isinstance(node, nir.IF) and np.all(node.r == 1.0) and np.all(node.v_threshold == np.float32(0.5))
    assert [layer["nir_node"] for layer in info["layers"]] == ["IF", "IF"]


# --- lossy and refused configurations -----------------------------------------------------------------------

@pytest.mark.parametrize("case", LOSSY)
def test_lossy_configs_are_flagged_in_the_manifest_and_a_warning(tmp_path, case, record_property):
    overrides, what = LOSSY[case]
    bundle, info, lossy = _export(tmp_path, overrides)
    assert len(lossy) == 1
    message = str(lossy[0].message)
    assert "\n" not in message and "layers.0.neuron" in message and what in message
    assert not info["exact"]
    assert {(x["layer"], x["what"]) for x in info["lossy"]} == {("layers.0.neuron", what), ("layers.1.neuron", what)}
    assert all(not layer["exact"] for layer in info["layers"])
    # written all the same, and loadable: how far the consumer is from the trained model, measured
    graph = nir.read(bundle / "model.nir")
    ref = Bundle(bundle).reference()
    layers = [layer["nodes"][1] for layer in info["layers"]]
    consumer = agreement(bundle, *snntorch_run(graph, ref.inputs, layers))
    _report(case, "snnTorch", consumer)
    record_property("snntorch", consumer)


def _model(overrides: list[str], config: Path | None = None):
    from nsb.config import load_config
    from nsb.data.common import TaskData
    from nsb.models.build import build_model

    cfg = load_config(config, overrides)
    empty = torch.empty(0)
    task = TaskData("classification", empty, empty, input_size=32, num_classes=10, time_steps=25)
    torch.manual_seed(0)
    return build_model(cfg, task).eval(), cfg


@pytest.mark.parametrize("case", REFUSED)
def test_refused_configs_raise_one_line_naming_the_layer(case):
    overrides, fragment = REFUSED[case]
    model, cfg = _model(["model.hidden=[8, 8]"] + overrides)
    with pytest.raises(NsbError) as err:
        export_nir(model, cfg)
    text = str(err.value)
    assert "\n" not in text and fragment in text and "layers.0." in text, text
    assert "--format onnx" in text, text


def test_language_model_is_refused():
    from nsb.data.common import TaskData
    from nsb.config import load_config
    from nsb.models.build import build_model

    cfg = load_config(CONFIGS / "ptb_rec.toml", ["model.embedding_dim=8", "model.hidden=[8, 8]"])
    empty = torch.empty(0)
    model = build_model(cfg, TaskData("language", empty, empty, input_size=20, num_classes=20, time_steps=5)).eval()
    with pytest.raises(NsbError, match="token embedding has no NIR node"):
        export_nir(model, cfg)


def _train_and_export_nir_cli(tmp_path: Path, case: str) -> tuple[subprocess.CompletedProcess, list[str]]:
    """Train ``case`` and run ``nsb export --format nir`` as a user would; the run and stderr's lines."""
    from nsb.config import load_config
    from nsb.train import Trainer

    cfg = load_config(None, SMALL + CASES[case] + [f'out_dir="{tmp_path}"', 'name="run"'])
    Trainer(cfg, progress=False).fit()
    done = subprocess.run([sys.executable, "-m", "nsb.cli", "export", str(tmp_path / "run"), "--format", "nir",
                           "--out", str(tmp_path / "bundle"), "--samples", "4"],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    return done, [line for line in done.stderr.splitlines() if line.strip()]


def test_cli_refusal_is_one_line_exit_2(tmp_path):
    done, lines = _train_and_export_nir_cli(tmp_path, "glif")
    assert done.returncode == 2, done.stdout + done.stderr
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert lines[0].startswith("nsb: error: layers.0.neuron: the glif neuron (op GLIF) has no NIR node"), lines[0]
    assert not (tmp_path / "bundle").exists()


def test_cli_lossy_export_warns_in_one_line(tmp_path):
    done, lines = _train_and_export_nir_cli(tmp_path, "lif-soft")
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(lines) == 1 and "NirLossyWarning: model.nir is not exact: reset in layers.0.neuron, layers.1.neuron" \
        in lines[0], done.stderr
    manifest = json.loads((tmp_path / "bundle" / "manifest.json").read_text())
    assert manifest["nir"]["exact"] is False and len(manifest["nir"]["lossy"]) == 2
    assert "model.nir" in manifest["files"]


# --- the conv model -----------------------------------------------------------------------------------------

def test_conv_model_maps_conv_pool_flatten_exactly():
    from nsb.models.probe import recorded_spikes

    model, cfg = conv_model()
    with torch.no_grad():  # trained-looking BN statistics, so that folding them is tested
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm1d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.8, 1.2)
                m.bias.uniform_(-0.05, 0.05)
    model.eval()
    x = (torch.rand(6, 3, 2, 16, 16) < 0.3).float()
    with torch.no_grad(), recorded_spikes(model) as captured:
        want, _ = model(x)
    data, info = export_nir(model, cfg)
    assert info["exact"] and info["input"]["shape"] == [2, 16, 16]
    assert [n["type"] for n in info["nodes"]] == ["Input", "Conv2d", "LIF", "AvgPool2d", "Conv2d", "LIF", "AvgPool2d",
                                                  "Flatten", "Affine", "LIF", "Affine", "Output"]
    graph = nir.read(io.BytesIO(data))
    layers = [layer["nodes"][1] for layer in info["layers"]]
    assert np.mean([c.mean().item() for c in captured]) > 0.01, "the conv test model must spike"

    outputs, by_node = nir_run(graph, x.numpy())
    for name, c in zip(layers, captured):
        assert (by_node[name] == c.numpy()).mean() >= SPIKES_BAR, name
    np.testing.assert_allclose(outputs, want.numpy(), atol=1e-4)
    # snnTorch applies NIR's Flatten(start_dim=0) to the batched tensor as written: run it one sample at a time
    for b in range(x.shape[1]):
        out, spikes = snntorch_run(graph, x[:, b].numpy(), layers)
        for name, got, c in zip(layers, spikes, captured):
            assert (got == c[:, b].numpy()).mean() >= SPIKES_BAR, (b, name)
        np.testing.assert_allclose(out, want[:, b].numpy(), atol=1e-4)
