"""Adding a neuron is one file and one registry line (docs/adding_a_neuron.md): a toy neuron written
as a file here, registered as the registry line does, goes through every backend this machine has —
the PyTorch layer, the fused kernels' CPU build, training, export (ONNX op + Scan function, standard
ops, TorchScript), the numpy reference and onnx.reference, the NVRTC build and the TensorRT plugin
with its harness. And the generated C++ checked into plugins_trt/ is current."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from nsb.neurons import register, unregister

REPO = Path(__file__).resolve().parents[1]

TOY_FILE = '''
"""A toy neuron for the tests: a leak per neuron, the input divided by τ, and a mode.

    v[t] = λ·v[t−1] + x[t]/τ − θ·s[t−1]       (mode "subtract")
    v[t] = −(−λ·v[t−1]) + x[t]/τ              (mode "keep": no reset)
    s[t] = H(v[t] − θ),  λ = σ(w) per neuron
"""

from nsb.neurons.declare import Choice, Float, Learned, Neuron, Op


def toy_step(f, x, state, p):
    if p.mode == "subtract":
        v = p.LEAK * state.v + x / p.tau - p.theta * f.reset(state.s)
    else:
        v = -(-p.LEAK * state.v) + x / p.tau
    return f.fire(v - p.theta), {"v": v}


OP = Op("TOY", toy_step,
        attributes={"tau": Float(2.0, 0.0, None, open_lo=True), "theta": Float(0.4),
                    "mode": Choice("subtract", ("subtract", "keep"))},
        inputs=("LEAK",), states=("v",), doc="a toy neuron")

NEURON = Neuron(
    "toy", OP, __doc__,
    options={"tau": Float(2.0, 0.0, None, open_lo=True), "threshold": Float(0.4),
             "mode": Choice("subtract", ("subtract", "keep"))},
    learned={"w": Learned("neuron", lambda g, o: g.uniform(0.0, 2.0))},
    fold={"tau": "tau", "theta": "threshold", "mode": "mode", "LEAK": lambda f, w, o: f.sigmoid(w.w)},
    trace_decay=lambda f, w, o: f.sigmoid(w.w),
)
'''


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    """The toy's file, imported and registered: what a line in nsb/neurons/__init__.py does."""
    path = tmp_path_factory.mktemp("toy") / "toy_neuron.py"
    path.write_text(TOY_FILE)
    spec = importlib.util.spec_from_file_location("toy_neuron", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["toy_neuron"] = module
    spec.loader.exec_module(module)
    register(module.NEURON)
    yield module
    unregister("toy")
    sys.modules.pop("toy_neuron", None)


def test_the_generated_sources_checked_in_are_current():
    from nsb.ops.codegen import stale

    problems = stale(REPO / "plugins_trt")
    assert not problems, f"stale generated files {problems}: run `python -m nsb.ops.codegen`"


def test_the_toy_joins_the_op_set_and_its_r_variant(toy):
    from nsb.ops.registry import ops
    from nsb.ops.cpp import sources

    assert {"TOY", "RTOY"} <= set(ops())
    files = sources()
    assert "ops/toy.cuh" in files and "plugins/rtoy/rtoyPlugin.cu" in files
    assert "X(nsb::ops::Toy, toy)" in files["ops/all.cuh"]


@pytest.mark.parametrize("recurrent", [False, True])
@pytest.mark.parametrize("mode", ["subtract", "keep"])
def test_the_toy_trains_through_the_kernels_as_through_pytorch(toy, mode, recurrent):
    from nsb.kernels.fused import fused_forward
    from nsb.neurons import build_neuron

    if not any(shutil.which(c) for c in ("c++", "g++", "clang++")):
        pytest.skip("no C++ compiler for the CPU build")
    torch.manual_seed(0)
    m = build_neuron("toy", 10, mode=mode, recurrent=recurrent, surrogate="sigmoid", backend="torch")
    x = (torch.rand(33, 4, 10) * 1.2).requires_grad_()
    out = []
    for run in (lambda: m(x), lambda: fused_forward(m, x, m.initial_state(x[0]), device="cpu")):
        s, state = run()
        loss = s.sum() + state[0].square().sum()
        out.append((s.detach(), torch.autograd.grad(loss, [x, *m.parameters()])))
    (s1, g1), (s2, g2) = out
    assert torch.equal(s1, s2) and 0.02 < float(s1.mean()) < 0.95
    for a, b in zip(g1, g2):
        torch.testing.assert_close(b, a, rtol=2e-5, atol=2e-5 * max(1.0, float(a.abs().max())))


def test_the_toy_trains_exports_and_every_cpu_backend_reproduces_it(toy, tmp_path):
    from test_export import SMALL, assert_faithful, train_and_export

    bundle = train_and_export(tmp_path, SMALL + ['model.neuron="toy"', "model.recurrent=[true, false]",
                                                 "neuron.threshold=0.4", 'neuron.mode="subtract"'])
    import onnx

    nodes = [n for n in onnx.load(str(bundle / "model.onnx")).graph.node if n.domain == "nsb"]
    assert [n.op_type for n in nodes] == ["RTOY", "TOY"]
    assert_faithful(bundle)


def test_the_toy_numpy_kernel_equals_the_layer(toy):
    from nsb.neurons import build_neuron
    from nsb.ops.numpy_kernels import run
    from nsb.ops.registry import op

    torch.manual_seed(1)
    m = build_neuron("toy", 6, mode="keep").eval()
    x = torch.rand(20, 2, 6)
    with torch.no_grad():
        s, _ = m(x)
    exported = m.export_op()
    init = [t.numpy() for t in m.initial_state(x[0])]
    got = run(op("TOY"), x.numpy(), *(p.numpy() for p in exported.params), *init, **exported.attributes)
    np.testing.assert_array_equal(got[0], s.numpy())


def _nvrtc() -> bool:
    from nsb.errors import NsbError
    from nsb.kernels import nvrtc

    try:
        nvrtc.nvrtc()
        return True
    except NsbError:
        return False


@pytest.mark.skipif(not _nvrtc(), reason="NVRTC not installed (pip install nvidia-cuda-nvrtc)")
def test_the_toy_compiles_for_the_gpu_at_run_time(toy, tmp_path, monkeypatch):
    from nsb.kernels import nvrtc

    monkeypatch.setenv("NSB_CACHE", str(tmp_path))
    image = nvrtc.compile_kernels(90, half=False)
    assert b"nsb_toy_forward_f32" in image and b"nsb_rtoy_backward_f32" in image


def test_the_toy_has_a_tensorrt_plugin_that_passes_the_harness(toy, tmp_path):
    from test_plugins_trt import TOOLS, header_dirs

    from nsb.kernels.plugins import build, run_harness

    if not header_dirs() or not TOOLS:
        pytest.skip("needs TensorRT headers (../shared/tensorrt/<version>/include), nvcc and cmake")
    library = build(header_dirs()[-1][1], tmp_path / "build", archs=(90,))
    report = run_harness(library)
    for check in ("TOY created from fields", "TOY serialization round trip", "TOY keeps mode = keep",
                  "RTOY getOutputShapes", "RTOY refuses a mismatched state shape"):
        assert f"ok {check}" in report
