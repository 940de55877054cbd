"""Build ``libnsb_trt_plugins.so`` and its harness with CMake (``nsb plugins build``), and run the harness.

The build compiles a fresh source tree (:mod:`nsb.kernels.sources`: the shipped files with the op
code generated for the registered neurons) written into ``<out>/src``, so the library holds exactly
the ops this nsb knows. Only TensorRT's headers are needed (``NvInferRuntime.h``): pass their folder,
or a TensorRT install, with ``--tensorrt`` or ``TensorRT_ROOT``/``TENSORRT_INCLUDE_DIR``. Missing
tools or headers are named with how to get them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from nsb.errors import NsbError


def write_sources(out: Path) -> Path:
    """The plugin sources for the registered ops, written into ``out/src`` (stale files removed)."""
    from nsb.kernels.sources import write_tree

    src = Path(out) / "src"
    if src.exists():
        shutil.rmtree(src)
    return write_tree(src)


def find_headers(tensorrt: Path | None = None) -> Path:
    candidates = [tensorrt, os.environ.get("TENSORRT_INCLUDE_DIR"), os.environ.get("TensorRT_ROOT")]
    for c in [Path(c) for c in candidates if c]:
        for folder in (c, c / "include"):
            if (folder / "NvInferRuntime.h").is_file():
                return folder.resolve()  # CMake runs in the build folder: a relative path would break
    raise NsbError("TensorRT headers (NvInferRuntime.h) not found; pass --tensorrt PATH (a TensorRT install or its "
                   "include folder) or set TensorRT_ROOT. The headers are in the public NVIDIA/TensorRT repository "
                   "(git archive release/10.3 include | tar -x -C .trt/10.3)")


def build(tensorrt: Path | None = None, out: Path = Path("build/trt"), archs: tuple[int, ...] = (87, 90),
          jobs: int = 2) -> Path:
    for tool, hint in (("cmake", "pip install cmake"), ("nvcc", "install the CUDA toolkit and put nvcc on PATH")):
        if shutil.which(tool) is None:
            raise NsbError(f"{tool} not found; {hint}")
    headers = find_headers(tensorrt)
    arch_list = ";".join(str(a) for a in archs)
    src = write_sources(out)
    configure = ["cmake", "-S", str(src), "-B", str(out), f"-DTENSORRT_INCLUDE_DIR={headers}", f"-DNSB_GENERATED_DIR={src}",
                 f"-DCMAKE_CUDA_ARCHITECTURES={arch_list}"]
    for cmd in (configure, ["cmake", "--build", str(out), "-j", str(jobs)]):
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            lines = [l for l in (done.stdout + done.stderr).splitlines() if "error" in l.lower()] or ["?"]
            raise NsbError(f"plugin build failed at `{' '.join(cmd[:3])}`: {lines[0].strip()[:300]}")
    library = Path(out) / "libnsb_trt_plugins.so"
    if not library.is_file():
        raise NsbError(f"the build finished but {library} is missing; see {out}/CMakeFiles/CMakeError.log")
    return library


def run_harness(library: Path, gpu: bool = False) -> str:
    harness = Path(library).parent / "nsb_trt_harness"
    if not harness.is_file():
        raise NsbError(f"{harness} not found; build it with nsb plugins build")
    done = subprocess.run([str(harness), str(library), *(["--gpu"] if gpu else [])], capture_output=True, text=True)
    if done.returncode != 0:
        failed = [l for l in done.stdout.splitlines() if l.startswith("FAIL")] or [done.stderr.strip()[:200]]
        raise NsbError(f"plugin harness failed: {failed[0]}")
    return done.stdout
