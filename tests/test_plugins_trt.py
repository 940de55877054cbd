"""libnsb_trt_plugins.so through its real entry points, built against TensorRT 10.3 (JetPack 6, the
oldest target, for Orin's sm_87) and 11.1 (the newest, for sm_90) from the tree nsb generates for the
registered ops, and checked by the harness: getCreators/setLoggerFinder, every creator's fields,
shapes, types, formats, serialization round trip, refusals — and, with NSB_PLUGIN_GPU=1 on a GPU,
enqueue against the kernels' host reference.

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
    library = build(headers, tmp_path / "build", archs=TARGETS.get(version, (90,)))
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


def test_missing_headers_are_named(tmp_path, monkeypatch):
    monkeypatch.delenv("TENSORRT_INCLUDE_DIR", raising=False)
    monkeypatch.delenv("TensorRT_ROOT", raising=False)
    with pytest.raises(NsbError, match="NvInferRuntime.h"):
        find_headers(tmp_path)
