"""Compile the kernel sources at run time with NVRTC and launch them with the CUDA driver API.

No nvcc is needed: a CUDA build of PyTorch installs NVRTC (the ``nvidia-cuda-nvrtc`` wheel), and the
driver (``libcuda``) comes with the GPU. Both are reached with ctypes; compiled images are cached
per source hash, GPU architecture and NVRTC version in ``$NSB_CACHE`` (default ``~/.cache/nsb``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import glob
import hashlib
import os
import sys
from functools import lru_cache

from nsb.errors import NsbError
from nsb.kernels.sources import cache_dir, digest, tree

SOURCE = "kernels/training_kernels.cu"
def _site_dirs() -> list[str]:
    return [p for p in sys.path if p.endswith("site-packages")]


@lru_cache(maxsize=1)
def nvrtc() -> ctypes.CDLL:
    candidates = []
    for site in _site_dirs():
        candidates += sorted(glob.glob(os.path.join(site, "nvidia", "*", "lib", "libnvrtc.so*")), reverse=True)
        candidates += sorted(glob.glob(os.path.join(site, "nvidia", "cuda_nvrtc", "lib", "libnvrtc.so*")), reverse=True)
    home = os.environ.get("CUDA_HOME", "/usr/local/cuda")
    candidates += sorted(glob.glob(os.path.join(home, "lib64", "libnvrtc.so*")), reverse=True)
    found = ctypes.util.find_library("nvrtc")
    if found:
        candidates.append(found)
    for path in candidates:
        if "builtins" in path:
            continue
        try:
            return ctypes.CDLL(path)
        except OSError:
            continue
    raise NsbError("NVRTC (libnvrtc) not found; a CUDA build of PyTorch brings it (pip install nvidia-cuda-nvrtc), "
                   "or set CUDA_HOME to a CUDA toolkit")


def available() -> bool:
    """Whether NVRTC can be loaded here (the tests compile the kernels with it where it can)."""
    try:
        nvrtc()
        return True
    except NsbError:
        return False


def nvrtc_version() -> tuple[int, int]:
    major, minor = ctypes.c_int(), ctypes.c_int()
    nvrtc().nvrtcVersion(ctypes.byref(major), ctypes.byref(minor))
    return major.value, minor.value


def _include_dirs() -> list[str]:
    """Where cuda_fp16.h / cuda_bf16.h live: the toolkit, or the pip wheels' include folders."""
    dirs = []
    home = os.environ.get("CUDA_HOME", "/usr/local/cuda")
    for d in [os.path.join(home, "include"), *(p for s in _site_dirs() for p in glob.glob(os.path.join(s, "nvidia", "*", "include")))]:
        if os.path.isfile(os.path.join(d, "cuda_fp16.h")):
            dirs.append(d)
    return dirs


def _check(status: int, what: str, program=None) -> None:
    if status == 0:
        return
    lib = nvrtc()
    lib.nvrtcGetErrorString.restype = ctypes.c_char_p
    message = lib.nvrtcGetErrorString(status).decode()
    log = ""
    if program is not None:
        size = ctypes.c_size_t()
        lib.nvrtcGetProgramLogSize(program, ctypes.byref(size))
        buf = ctypes.create_string_buffer(size.value)
        lib.nvrtcGetProgramLog(program, buf)
        log = buf.value.decode(errors="replace").strip().splitlines()[:3]
        log = " | ".join(log)
    raise NsbError(f"NVRTC {what} failed: {message}{(': ' + log[:300]) if log else ''}")


def headers(files: dict[str, bytes]) -> dict[str, bytes]:
    """Every header of the tree by its path from the root, which is how every ``#include "…"`` of the
    kernel sources names it (NVRTC matches include names literally)."""
    return {path: data for path, data in files.items() if path.endswith(".cuh")}


def compile_kernels(arch: int, *, half: bool | None = None) -> bytes:
    """A cubin of ``training_kernels.cu`` with every registered op, for ``sm_<arch>``, cached on disk."""
    files = tree()
    includes = _include_dirs()
    half = bool(includes) if half is None else half
    key = hashlib.sha256(f"{digest(files)}{arch}{nvrtc_version()}{half}".encode()).hexdigest()[:16]
    cached = cache_dir() / f"nsb_kernels_sm{arch}_{key}.cubin"
    if cached.exists():
        return cached.read_bytes()
    found = headers(files)
    lib = nvrtc()
    program = ctypes.c_void_p()
    names = (ctypes.c_char_p * len(found))(*(h.encode() for h in found))
    bodies = (ctypes.c_char_p * len(found))(*found.values())
    _check(lib.nvrtcCreateProgram(ctypes.byref(program), files[SOURCE], b"training_kernels.cu", len(found), bodies,
                                  names), "create")
    options = [f"--gpu-architecture=sm_{arch}", "--std=c++17", "--fmad=false", "-default-device"]
    options += [f"--include-path={d}" for d in includes]
    if not half:
        options.append("-DNSB_NO_HALF")
    opts = (ctypes.c_char_p * len(options))(*(o.encode() for o in options))
    try:
        _check(lib.nvrtcCompileProgram(program, len(options), opts), "compile", program)
        size = ctypes.c_size_t()
        _check(lib.nvrtcGetCUBINSize(program, ctypes.byref(size)), "get cubin size")
        image = ctypes.create_string_buffer(size.value)
        _check(lib.nvrtcGetCUBIN(program, image), "get cubin")
    finally:
        lib.nvrtcDestroyProgram(ctypes.byref(program))
    data = image.raw
    cached.parent.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, cached)
    return data


class Module:
    """The compiled kernels loaded into the current CUDA context (driver API)."""

    def __init__(self, image: bytes) -> None:
        self.cuda = _driver()
        self.module = ctypes.c_void_p()
        self._check(self.cuda.cuModuleLoadData(ctypes.byref(self.module), image), "cuModuleLoadData")
        self.functions: dict[str, ctypes.c_void_p] = {}

    def _check(self, status: int, what: str) -> None:
        if status != 0:
            text = ctypes.c_char_p()
            self.cuda.cuGetErrorString(status, ctypes.byref(text))
            raise NsbError(f"CUDA {what} failed: {text.value.decode() if text.value else status}")

    def function(self, name: str) -> ctypes.c_void_p:
        if name not in self.functions:
            fn = ctypes.c_void_p()
            self._check(self.cuda.cuModuleGetFunction(ctypes.byref(fn), self.module, name.encode()), f"get {name}")
            self.functions[name] = fn
        return self.functions[name]

    def launch(self, name: str, grid: int, block: int, stream: int, *args: ctypes._SimpleCData | ctypes.Structure,
               shared: int = 0) -> None:
        """Launch kernel ``name``; each argument is passed by value (structs included), as the kernel declares it."""
        params = (ctypes.c_void_p * len(args))(*(ctypes.cast(ctypes.pointer(a), ctypes.c_void_p) for a in args))
        self._check(self.cuda.cuLaunchKernel(self.function(name), grid, 1, 1, block, 1, 1, shared,
                                             ctypes.c_void_p(stream), params, None), f"launch {name}")


@lru_cache(maxsize=1)
def _driver() -> ctypes.CDLL:
    try:
        return ctypes.CDLL("libcuda.so.1")
    except OSError:
        raise NsbError("the CUDA driver (libcuda.so.1) is not available; the fused kernels need an NVIDIA GPU") from None


def module_for(device_index: int) -> Module:
    """The kernels of the registered ops, loaded on a device (recompiled when a neuron is registered)."""
    from nsb.neurons import generation

    return _module(device_index, generation())


@lru_cache(maxsize=None)
def _module(device_index: int, registry_generation: int) -> Module:
    import torch

    major, minor = torch.cuda.get_device_capability(device_index)
    with torch.cuda.device(device_index):
        torch.cuda.synchronize()  # makes the primary context current for the driver API calls
        return Module(compile_kernels(major * 10 + minor))
