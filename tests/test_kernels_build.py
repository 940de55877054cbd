"""The CUDA sources compile: with nvcc for the JetPack 6 (sm_87) and H100 (sm_90) targets, and at
run time with NVRTC as training does. Running them needs a GPU (tests/test_kernels_gpu.py)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from nsb.kernels import source_dir


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc not installed")
@pytest.mark.parametrize("arch", ["sm_87", "sm_90"])
def test_training_kernels_compile_with_nvcc(tmp_path, arch):
    done = subprocess.run(["nvcc", "-std=c++17", "--fmad=false", f"-arch={arch}", "-c",
                           str(source_dir() / "training_kernels.cu"), "-o", str(tmp_path / "k.o"),
                           "-Werror", "all-warnings"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def _nvrtc_available() -> bool:
    from nsb.errors import NsbError
    from nsb.kernels import nvrtc

    try:
        nvrtc.nvrtc()
        return True
    except NsbError:
        return False


@pytest.mark.skipif(not _nvrtc_available(), reason="NVRTC not installed (pip install nvidia-cuda-nvrtc)")
@pytest.mark.parametrize("arch,half", [(87, True), (90, True), (90, False)])
def test_training_kernels_compile_at_run_time(tmp_path, monkeypatch, arch, half):
    from nsb.kernels import nvrtc

    monkeypatch.setenv("NSB_CACHE", str(tmp_path))
    if half and not nvrtc._include_dirs():
        pytest.skip("cuda_fp16.h not found for NVRTC")
    image = nvrtc.compile_kernels(arch, half=half)
    assert image[:4] == b"\x7fELF"  # a cubin is an ELF image
    names = [b"lif_forward_f32", b"lif_backward_f32"] + ([b"lif_forward_f16", b"lif_backward_bf16"] if half else [])
    assert all(name in image for name in names)
    assert nvrtc.compile_kernels(arch, half=half) == image and len(list(tmp_path.glob("*.cubin"))) == 1  # cached
