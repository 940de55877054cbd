"""The kernel bodies built for the CPU with the system C++ compiler, loaded with ctypes.

Built once per source digest into ``$NSB_CACHE`` (default ``~/.cache/nsb``); ``-ffp-contract=off``
keeps the compiler from fusing multiply-adds, as the device code's ``__fmul_rn``/``__fadd_rn`` do.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path

from nsb.errors import NsbError
from nsb.kernels import abi
from nsb.kernels.sources import cache_dir, cached_tree


def compiler() -> str:
    for name in (os.environ.get("CXX"), "c++", "g++", "clang++"):
        if name and shutil.which(name):
            return name
    raise NsbError("no C++ compiler found (tried $CXX, c++, g++, clang++); install one, e.g. apt install g++")


def library() -> ctypes.CDLL:
    """The CPU build for the registered ops (rebuilt when a neuron is registered)."""
    from nsb.neurons import generation

    return _library(generation())


@lru_cache(maxsize=8)
def _library(registry_generation: int) -> ctypes.CDLL:
    # reading, generating and hashing the sources costs a millisecond: once per registry state, not per call
    folder, key = cached_tree()
    return _load(str(folder), key)


@lru_cache(maxsize=8)
def _load(folder: str, key: str) -> ctypes.CDLL:
    target = cache_dir() / f"libnsb_kernels_cpu_{key}.so"
    if not target.exists():
        fd, tmp = tempfile.mkstemp(suffix=".so", dir=cache_dir())
        os.close(fd)
        cmd = [compiler(), "-O2", "-std=c++17", "-fPIC", "-shared", "-ffp-contract=off", f"-I{folder}",
               str(Path(folder) / "kernels" / "cpu_reference.cpp"), "-o", tmp]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            Path(tmp).unlink(missing_ok=True)
            first = next((line for line in done.stderr.splitlines() if "error" in line), done.stderr.strip()[:200])
            raise NsbError(f"building the CPU kernels failed ({first[:300]}); command: {' '.join(cmd)}")
        os.replace(tmp, target)
    lib = ctypes.CDLL(str(target))
    abi.check_sizes(lib)
    lib.nsb_surrogate_grad.argtypes = [ctypes.c_int, ctypes.c_float, ctypes.c_float]
    lib.nsb_surrogate_grad.restype = ctypes.c_float
    return lib


def forward_function(op_name: str):
    return _forward(library(), op_name)


@lru_cache(maxsize=64)
def _forward(lib: ctypes.CDLL, op_name: str):
    fn = getattr(lib, f"nsb_{op_name.lower()}_forward")
    fn.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(abi.KernelArgs), ctypes.c_int, ctypes.c_long,
                   ctypes.c_int, ctypes.POINTER(abi.RecurrentArgs)]
    fn.restype = None
    return fn


def backward_function(op_name: str):
    return _backward(library(), op_name)


@lru_cache(maxsize=64)
def _backward(lib: ctypes.CDLL, op_name: str):
    fn = getattr(lib, f"nsb_{op_name.lower()}_backward")
    fn.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(abi.KernelArgs),
                   ctypes.POINTER(abi.GradArgs), ctypes.c_int, ctypes.c_long, ctypes.c_int,
                   ctypes.POINTER(abi.RecurrentArgs)]
    fn.restype = None
    return fn


def surrogate_grad(name: str, alpha: float, u: float) -> float:
    from nsb.kernels import SURROGATE_IDS

    return library().nsb_surrogate_grad(SURROGATE_IDS[name], alpha, u)
