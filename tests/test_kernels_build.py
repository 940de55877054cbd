"""The CUDA sources compile: with nvcc for the JetPack 6 (sm_87) and H100/H200 (sm_90) targets, and
at run time with NVRTC as training does, from the source tree nsb assembles (the shipped bodies with
the op code generated for the registered neurons). Running them needs a GPU
(tests/test_kernels_gpu.py); their bodies run on the CPU in tests/test_kernels_cpu.py."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from nsb.kernels import nvrtc
from nsb.kernels.sources import write_tree


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc not installed")
def test_training_kernels_compile_with_nvcc_for_jetson_and_hopper(tmp_path):
    tree = write_tree(tmp_path / "src")
    done = subprocess.run(["nvcc", "-std=c++17", "--fmad=false", f"-I{tree}", "-gencode", "arch=compute_87,code=sm_87",
                           "-gencode", "arch=compute_90,code=sm_90", "-c", str(tree / "kernels" / "training_kernels.cu"),
                           "-o", str(tmp_path / "k.o"), "-Werror", "all-warnings"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.mark.skipif(not nvrtc.available(), reason="NVRTC not installed (pip install nvidia-cuda-nvrtc)")
@pytest.mark.parametrize("arch,half", [(87, False), (90, True)])
def test_training_kernels_compile_at_run_time(tmp_path, monkeypatch, arch, half):
    from nsb.kernels import nvrtc
    from nsb.ops.registry import ops

    monkeypatch.setenv("NSB_CACHE", str(tmp_path))
    if half and not nvrtc._include_dirs():
        pytest.skip("cuda_fp16.h not found for NVRTC")
    image = nvrtc.compile_kernels(arch, half=half)
    assert image[:4] == b"\x7fELF"  # a cubin is an ELF image
    dtypes = ["f32", "f16", "bf16"] if half else ["f32"]
    for op in ops():
        for kind in ("forward", "backward"):
            for dtype in dtypes:
                assert f"nsb_{op.lower()}_{kind}_{dtype}".encode() in image
    assert nvrtc.compile_kernels(arch, half=half) == image and len(list(tmp_path.glob("*.cubin"))) == 1  # cached
