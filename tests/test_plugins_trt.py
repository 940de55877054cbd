"""libnsb_trt_plugins.so through its real entry points, built against TensorRT 10.3 (JetPack 6, the
oldest target, for Orin's sm_87; with ``nsb plugins build``) and 11.1 (the newest, for sm_90; with
plain CMake, which runs nsb's generator itself), and checked by the harness: getCreators/setLoggerFinder,
every creator's fields, shapes, types, formats, serialization round trip, refusals — and, with
NSB_PLUGIN_GPU=1 on a GPU, enqueue against the kernels' host reference.

The headers live at ../shared/tensorrt/<version>/include on every development and CI machine (never
copied into the repository; .ci/run refuses to start without them), or wherever TENSORRT_INCLUDE_DIR
points. A user's clone without them skips, saying why.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from nsb.errors import NsbError
from nsb.kernels.plugins import build, find_headers, run_harness
from nsb.ops.registry import ops

REPO = Path(__file__).resolve().parents[1]
#: TensorRT version -> the GPU architectures its build targets here
TARGETS = {"10.3": (87,), "11.1": (90,)}


def header_dirs() -> list[tuple[str, Path]]:
    found = [(v, REPO.parent / "shared" / "tensorrt" / v / "include") for v in TARGETS]
    found = [(v, p) for v, p in found if (p / "NvInferRuntime.h").is_file()]
    env = os.environ.get("TENSORRT_INCLUDE_DIR")
    if env and (Path(env) / "NvInferRuntime.h").is_file():
        found.append(("env", Path(env)))
    return found


TOOLS = bool(shutil.which("nvcc") and shutil.which("cmake"))


@pytest.mark.skipif(not header_dirs() or not TOOLS,
                    reason="needs TensorRT headers (../shared/tensorrt/<version>/include or TENSORRT_INCLUDE_DIR), "
                           "nvcc and cmake")
@pytest.mark.parametrize("version,headers", header_dirs(), ids=[v for v, _ in header_dirs()])
def test_plugins_build_and_pass_the_harness(tmp_path, version, headers):
    archs = TARGETS.get(version, (90,))
    library = build(headers, tmp_path / "build", archs=archs) if version != "11.1" else cmake_build(headers, tmp_path,
                                                                                                   archs)
    exported = subprocess.run(["nm", "-D", "--defined-only", str(library)], capture_output=True, text=True).stdout
    assert {line.split()[-1] for line in exported.splitlines() if " T " in line} == {"getCreators", "setLoggerFinder"}
    undefined = subprocess.run(["nm", "-D", "--undefined-only", str(library)], capture_output=True, text=True).stdout
    assert "nvinfer" not in undefined.lower()  # no libnvinfer symbol: TensorRT loads it with loadLibrary
    report = run_harness(library, gpu=os.environ.get("NSB_PLUGIN_GPU") == "1")
    assert report.strip().endswith(("checks passed", "(including enqueue on the GPU)"))
    assert f"ok {len(ops())} creators, one per op of ops/all.cuh" in report
    for name in ops():  # every op's plugin, generated from its declaration, went through every check
        assert f"ok {name} serialization round trip" in report and f"ok {name} keeps spike_test" in report
    assert "ok LIF refuses reset_mode 'bogus'" in report and "ok LIF refuses decay 1.5" in report


def cmake_build(headers: Path, tmp_path: Path, archs) -> Path:
    """The plain CMake route of docs/kernels.md: the checkout's plugins_trt/, op sources generated
    by ``python -m nsb.ops.codegen`` from inside CMake."""
    import sys

    out = tmp_path / "cmake"
    for cmd in (["cmake", "-S", str(REPO / "plugins_trt"), "-B", str(out), f"-DTENSORRT_INCLUDE_DIR={headers}",
                 f"-DCMAKE_CUDA_ARCHITECTURES={';'.join(map(str, archs))}", f"-DPython3_EXECUTABLE={sys.executable}"],
                ["cmake", "--build", str(out), "-j", "2"]):
        done = subprocess.run(cmd, capture_output=True, text=True)
        assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    assert (out / "generated" / "ops" / "all.cuh").is_file()
    return out / "libnsb_trt_plugins.so"


def test_missing_headers_are_named(tmp_path, monkeypatch):
    monkeypatch.delenv("TENSORRT_INCLUDE_DIR", raising=False)
    monkeypatch.delenv("TensorRT_ROOT", raising=False)
    with pytest.raises(NsbError, match="NvInferRuntime.h"):
        find_headers(tmp_path)
