"""The TensorRT backend and engine builder, without TensorRT: mypy against ``tensorrt-stubs`` for every
TensorRT call, and the parts that run without it (errors, cache keys, function stripping, profiles).

Running an engine needs a GPU, TensorRT and the plugin library: see docs/tensorrt.md.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import re
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from nsb.errors import NsbError
from nsb.eval.backends.tensorrt import backend as tensorrt_backend
from nsb.eval.backends.tensorrt import engine as eng

REPO = Path(__file__).resolve().parents[1]
CHECKED = ("nsb.eval.backends.tensorrt.engine", "nsb.eval.backends.tensorrt.backend")
# where setuptools maps the nsb packages that the checked modules import (pyproject's package-dir)
PACKAGE_DIRS = {"eval": "eval", "export": "export"}


# --- type check -----------------------------------------------------------------------------------------


def _stub_tree(tmp: Path) -> Path:
    """tensorrt-stubs copied beside the sources. The wheel installs ``tensorrt/`` and ``tensorrt_bindings/``
    without py.typed (mypy would skip them) and names some parameters ``in`` (a syntax error); the copy gets
    ``in_``. Returns the folder to put on mypy_path."""
    try:
        dist = importlib.metadata.distribution("tensorrt-stubs")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("tensorrt-stubs is not installed (pip install --no-deps tensorrt-stubs)")
    stubs = tmp / "stubs"
    for file in dist.files or []:
        if file.suffix != ".pyi":
            continue
        text = Path(str(dist.locate_file(file))).read_text()
        text = "\n".join(_fix_signature(line) for line in text.splitlines())
        target = stubs / str(file)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    if not (stubs / "tensorrt" / "__init__.pyi").is_file():
        pytest.skip("tensorrt-stubs has no tensorrt/__init__.pyi")
    return stubs


def _split_top(text: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for i, c in enumerate(text):
        depth += c in "([{"
        depth -= c in ")]}"
        if c == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    return parts + [text[start:]]


def _fix_signature(line: str) -> str:
    """Repair the two stubgen slips in a one-line ``def``: a parameter named ``in``, and a parameter without a
    default after one with a default (it gets ``= ...``)."""
    match = re.match(r"^(\s*def \w+\()(.*)(\)\s*->.*:\s*)$", line)
    if not match:
        return line
    params, seen_default = [], False
    for param in _split_top(match.group(2)):
        param = re.sub(r"^(\s*)in(\s*:)", r"\1in_\2", param)
        name = param.strip()
        if "=" in name:
            seen_default = True
        elif seen_default and name and not name.startswith("*") and name != "/":
            param += " = ..."
        params.append(param)
    return match.group(1) + ",".join(params) + match.group(3)


def _source_tree(tmp: Path) -> Path:
    """The ``nsb`` package as it installs (``eval/`` is ``nsb.eval``), made of links to the checkout."""
    src = tmp / "src" / "nsb"
    src.mkdir(parents=True)
    for entry in (REPO / "nsb").iterdir():
        if entry.name != "__pycache__":
            (src / entry.name).symlink_to(entry)
    for package, folder in PACKAGE_DIRS.items():
        (src / package).symlink_to(REPO / folder)
    return src.parent


@pytest.mark.slow
def test_tensorrt_calls_type_check(tmp_path):
    if importlib.util.find_spec("mypy") is None:
        pytest.skip("mypy is not installed (pip install mypy)")
    stubs, src = _stub_tree(tmp_path), _source_tree(tmp_path)
    config = tmp_path / "mypy.ini"
    config.write_text(f"""[mypy]
python_version = 3.10
mypy_path = {stubs}:{src}
check_untyped_defs = True
warn_unused_ignores = True
follow_imports = silent
cache_dir = {tmp_path / 'cache'}

[mypy-tensorrt_libs.*,tensorrt_libs,cuda.*,h5py.*]
ignore_missing_imports = True

[mypy-tensorrt,tensorrt.*,tensorrt_bindings,tensorrt_bindings.*]
ignore_errors = True
""")
    # a canary: proves the stubs are read (an unknown method or a wrong argument type is an error)
    (src / "nsb" / "trt_canary.py").write_text(
        "import tensorrt as trt\n\n\n"
        "def f(context: trt.IExecutionContext, config: trt.IBuilderConfig) -> None:\n"
        "    context.execute_async_v4(0)\n"
        "    config.set_flag(trt.MemoryPoolType.WORKSPACE)\n")
    args = [sys.executable, "-m", "mypy", "--config-file", str(config), "-m", "nsb.trt_canary"]
    for module in CHECKED:
        args += ["-m", module]
    done = subprocess.run(args, capture_output=True, text=True, cwd=tmp_path,
                          env={k: v for k, v in os.environ.items() if k != "MYPYPATH"})
    errors = [l for l in done.stdout.splitlines() if ": error:" in l]
    ours = [l for l in errors if "trt_canary" not in l]
    assert not ours and "checked 3 source files" in done.stdout, done.stdout[-4000:] + done.stderr[-2000:]
    canary = " ".join(errors)
    assert "execute_async_v4" in canary and "set_flag" in canary, done.stdout[-4000:]


# --- runtime errors -----------------------------------------------------------------------------------


def _one_line(err: pytest.ExceptionInfo) -> str:
    message = str(err.value)
    assert "\n" not in message and message
    return message


def _fake_tensorrt(monkeypatch, version: str = "10.3.0") -> types.ModuleType:
    fake = types.ModuleType("tensorrt")
    fake.__version__ = version  # type: ignore[attr-defined]
    fake.Builder = object  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "tensorrt", fake)
    return fake


def test_missing_tensorrt_is_one_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorrt", None)  # import raises ImportError
    with pytest.raises(NsbError) as err:
        tensorrt_backend.load(None, "cuda", "custom")
    message = _one_line(err)
    assert "needs tensorrt" in message and "pip install tensorrt" in message


def test_tensorrt_stubs_alone_count_as_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorrt", types.ModuleType("tensorrt"))  # what tensorrt-stubs leaves
    with pytest.raises(NsbError) as err:
        eng.require_tensorrt()
    assert "pip install tensorrt" in _one_line(err) and "stubs" in str(err.value)


def test_missing_cuda_python_is_one_line(monkeypatch):
    _fake_tensorrt(monkeypatch)
    for name in ("cuda", "cuda.bindings", "cuda.bindings.runtime", "cuda.cudart"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(NsbError) as err:
        tensorrt_backend.load(None, "cuda", "custom")
    assert "pip install cuda-python" in _one_line(err)


def test_cpu_is_refused():
    with pytest.raises(NsbError) as err:
        tensorrt_backend.load(None, "cpu", "custom")
    assert "--device cuda" in _one_line(err)


@pytest.mark.parametrize("options, needle", [({"precision": "int8"}, "--precision"), ({}, "--graph")])
def test_bad_options_are_one_line(options, needle):
    with pytest.raises(NsbError) as err:
        tensorrt_backend.load(None, "cuda", "custom" if options else "scan", **options)
    assert needle in _one_line(err)


def test_plugin_library_lookup(monkeypatch, tmp_path):
    monkeypatch.setenv(eng.PLUGIN_ENV, str(tmp_path / "missing.so"))
    with pytest.raises(NsbError) as err:
        eng.find_plugin_library()
    assert "nsb plugins build" in _one_line(err)
    library = tmp_path / eng.PLUGIN_FILE
    library.write_bytes(b"")
    monkeypatch.setenv(eng.PLUGIN_ENV, str(library))
    assert eng.find_plugin_library() == library
    monkeypatch.delenv(eng.PLUGIN_ENV)
    monkeypatch.chdir(tmp_path)  # only ./build/trt/ is searched, never the checkout nsb was installed from
    assert eng.find_plugin_library(required=False) is None
    with pytest.raises(NsbError) as err:
        eng.find_plugin_library()
    assert "nsb plugins build" in _one_line(err)
    (tmp_path / "build" / "trt").mkdir(parents=True)
    library.rename(tmp_path / "build" / "trt" / eng.PLUGIN_FILE)
    assert eng.find_plugin_library() == tmp_path / "build" / "trt" / eng.PLUGIN_FILE


def test_prebuilt_engine_must_be_a_plan(tmp_path):
    with pytest.raises(NsbError) as err:
        eng.read_engine_file(tmp_path / "model.onnx")
    assert ".engine" in _one_line(err)
    plan = tmp_path / "m.plan"
    plan.write_bytes(b"plan")
    assert eng.read_engine_file(plan) == b"plan"


# --- cache key ----------------------------------------------------------------------------------------


class FakeBundle:
    def __init__(self, path: Path, sha: str = "0" * 64, time_steps: int = 20) -> None:
        self.path = path
        self.manifest = {"files": {"model.onnx": {"sha256": sha}, "model.std.onnx": {"sha256": "1" * 64}},
                         "input": {"name": "input", "shape": ["T", "B", 4], "time_steps": time_steps}}

    def file(self, name: str) -> Path:
        return self.path / name


def test_engine_cache_key(tmp_path, monkeypatch):
    monkeypatch.delenv(eng.CACHE_ENV, raising=False)
    bundle = FakeBundle(tmp_path)
    base = dict(gpu_name="NVIDIA H100 80GB HBM3 sm90", trt_version="10.3.0", precision="fp32")
    path = eng.engine_cache_path(bundle, **base)  # type: ignore[arg-type]
    assert path == eng.engine_cache_path(bundle, **base)  # type: ignore[arg-type]
    assert path.parent == tmp_path / "engines" and path.suffix == ".engine"
    assert "fp32" in path.name and "sm90" in path.name and "trt10.3.0" in path.name
    variants = [dict(base, gpu_name="Orin sm87"), dict(base, trt_version="10.13.3.9"), dict(base, precision="fp16")]
    paths = {eng.engine_cache_path(bundle, **v) for v in variants}  # type: ignore[arg-type]
    paths |= {eng.engine_cache_path(bundle, **base, max_batch=8),  # type: ignore[arg-type]
              eng.engine_cache_path(bundle, **base, time_steps=(1, 20, 50)),  # type: ignore[arg-type]
              eng.engine_cache_path(bundle, **base, graph="std"),  # type: ignore[arg-type]
              eng.engine_cache_path(FakeBundle(tmp_path, sha="f" * 64), **base)}  # type: ignore[arg-type]
    assert len(paths) == 7 and path not in paths
    library = tmp_path / "lib.so"
    library.write_bytes(b"a")
    with_plugins = eng.engine_cache_path(bundle, **base, plugin_library=library)  # type: ignore[arg-type]
    library.write_bytes(b"b")
    assert with_plugins != eng.engine_cache_path(bundle, **base, plugin_library=library)  # type: ignore[arg-type]
    assert eng.engine_cache_path(bundle, **base, cache_dir=tmp_path / "c").parent == tmp_path / "c"  # type: ignore[arg-type]
    monkeypatch.setenv(eng.CACHE_ENV, str(tmp_path / "env"))
    assert eng.engine_cache_path(bundle, **base).parent == tmp_path / "env"  # type: ignore[arg-type]


# --- ONNX ---------------------------------------------------------------------------------------------


def _model(features: int = 4, time_dim: str | int = "T", feature_dim: str | int | None = None) -> onnx.ModelProto:
    """input [T, B, N] → nsb::LIF (with its function) → MatMul; plus an unrelated local function."""
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, [time_dim, "B", feature_dim or features])
    out = helper.make_tensor_value_info("output", TensorProto.FLOAT, [time_dim, "B", 2])
    spikes = helper.make_tensor_value_info("spikes_0", TensorProto.FLOAT, [time_dim, "B", features])
    v0 = helper.make_tensor("v0", TensorProto.FLOAT, [1, features], np.zeros(features, np.float32))
    w = helper.make_tensor("w", TensorProto.FLOAT, [features, 2], np.ones(features * 2, np.float32))
    lif = helper.make_node("LIF", ["input", "v0"], ["spikes_0", "vT"], domain="nsb", decay=0.5,
                           plugin_namespace="nsb", plugin_version="2")
    graph = helper.make_graph([lif, helper.make_node("MatMul", ["spikes_0", "w"], ["output"])], "g", [x],
                              [out, spikes], [v0, w])
    body = [helper.make_node("Identity", ["X"], ["S"]), helper.make_node("Identity", ["V0"], ["VT"])]
    functions = [helper.make_function("nsb", "LIF", ["X", "V0"], ["S", "VT"], body,
                                      [helper.make_opsetid("", 20)], ["decay"]),
                 helper.make_function("other", "Keep", ["X"], ["S"], body[:1], [helper.make_opsetid("", 20)])]
    return helper.make_model(graph, functions=functions,
                             opset_imports=[helper.make_opsetid("", 20), helper.make_opsetid("nsb", 1),
                                            helper.make_opsetid("other", 1)])


def test_strip_removes_exactly_the_nsb_functions():
    model = _model()
    stripped = eng.strip_nsb_functions(model)
    assert [(f.domain, f.name) for f in stripped.functions] == [("other", "Keep")]
    assert [(f.domain, f.name) for f in model.functions] == [("nsb", "LIF"), ("other", "Keep")]  # a copy
    assert stripped.graph == model.graph and list(stripped.opset_import) == list(model.opset_import)
    assert stripped.ir_version == model.ir_version


def test_strip_matches_the_exporter():
    pytest.importorskip("torch")
    from nsb.export.onnx_export import strip_functions

    model = _model()
    assert eng.strip_nsb_functions(model) == strip_functions(model)


def test_profile_shapes():
    assert eng.profile_shapes(_model(), 64, 20) == ("input", ((20, 1, 4), (20, 64, 4), (20, 64, 4)))
    assert eng.profile_shapes(_model(), 8, (1, 10, 50), opt_batch=4)[1] == ((1, 1, 4), (10, 4, 4), (50, 8, 4))
    with pytest.raises(NsbError) as err:
        eng.profile_shapes(_model(feature_dim="N"), 8, 20)
    assert "symbolic" in _one_line(err)
    with pytest.raises(NsbError) as err:
        eng.profile_shapes(_model(time_dim=20), 8, (1, 20, 50))
    assert "fixed dimension of 20" in _one_line(err)
    assert eng.profile_shapes(_model(time_dim=20), 8, 20)[1][2] == (20, 8, 4)


def test_fp16_on_tensorrt_11_needs_an_fp16_onnx(monkeypatch, tmp_path):
    _fake_tensorrt(monkeypatch, "11.1.0")
    path = tmp_path / "model.onnx"
    onnx.save(_model(), str(path))
    with pytest.raises(NsbError) as err:
        eng.build_engine(path, None, "fp16", 8, 20)
    assert "strongly typed" in _one_line(err) and "fp16" in str(err.value)


def test_custom_graph_needs_the_plugin_library(monkeypatch, tmp_path):
    _fake_tensorrt(monkeypatch, "10.3.0")
    path = tmp_path / "model.onnx"
    onnx.save(_model(), str(path))
    with pytest.raises(NsbError) as err:
        eng.build_engine(path, None, "fp32", 8, 20)
    assert "nsb plugins build" in _one_line(err)
