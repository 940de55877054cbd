"""The kernels built for the CPU with the system C++ compiler, loaded with ctypes.

One library holds two builds of every op's generated step and backward:

* the *reference* (``cpu_reference.cpp``): the GPU's kernel bodies in a loop over threads, which CI
  runs against the PyTorch loop (``nsb_<op>_forward`` / ``_backward``);
* the *training kernels* (``cpu_kernels.cpp``): the same per-element arithmetic in a CPU loop order —
  time outermost, a block of neurons innermost so the compiler vectorises across neurons — and
  threaded with OpenMP over blocks (element-wise ops) or samples (R-ops); ``neuron.backend = "auto"``
  trains through them on CPU tensors (``nsb_<op>_forward_cpu`` / ``_backward_cpu``). Their results
  are bit-identical to the reference's (tests/test_cpu_training.py).

Built once per source digest, compiler and machine into ``$NSB_CACHE`` (default ``~/.cache/nsb``);
``-ffp-contract=off`` keeps the compiler from fusing multiply-adds, as the device code's
``__fmul_rn``/``__fadd_rn`` do, and nothing is built with ``-ffast-math``, so vectorising changes no
result. ``-march=native`` is used where the compiler takes it (the library is built on the machine
that runs it; the machine's CPU flags are part of the cache key). OpenMP (``-fopenmp``) is used where
the compiler has it; the library then shares PyTorch's OpenMP runtime (the same ``libgomp.so.1``), and
each call runs on ``torch.get_num_threads()`` threads, so ``OMP_NUM_THREADS`` and
``torch.set_num_threads`` are honoured and the two never oversubscribe the cores.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import warnings
from functools import lru_cache
from pathlib import Path

from nsb.errors import NsbError
from nsb.kernels import abi
from nsb.kernels.sources import cache_dir, cached_tree

SOURCES = ("cpu_reference.cpp", "cpu_kernels.cpp")
BASE_FLAGS = ("-O3", "-std=c++17", "-fPIC", "-shared", "-ffp-contract=off")


def compiler() -> str:
    for name in (os.environ.get("CXX"), "c++", "g++", "clang++"):
        if name and shutil.which(name):
            return name
    raise NsbError("no C++ compiler found (tried $CXX, c++, g++, clang++); install one, e.g. apt install g++")


_WARNED: set[str] = set()
_FAILED: dict[int, str | None] = {}


def unavailable(quiet: bool = False) -> str | None:
    """Why the CPU kernels cannot run here (None when they can): no compiler, or the build failed.
    Builds the library on first use (cached on disk). Unless ``quiet``, says once per reason that the
    neuron layers fall back to the PyTorch loop (``neuron.backend = "auto"``)."""
    from nsb.neurons import generation

    key = generation()
    if key not in _FAILED:
        try:
            library()
            _FAILED[key] = None
        except (NsbError, OSError) as err:  # remembered: a failing build is not retried at every call
            _FAILED[key] = str(err)
    reason = _FAILED[key]
    if reason is not None:
        if not quiet and reason not in _WARNED:
            _WARNED.add(reason)
            warnings.warn(f"nsb: the CPU kernels are unavailable, so neuron layers on the CPU run the PyTorch "
                          f"loop (much slower to train): {reason}", RuntimeWarning, stacklevel=4)
        return f"the CPU kernels are unavailable: {reason}"
    return None


@lru_cache(maxsize=4)
def _accepts(cxx: str, flag: str) -> bool:
    """Whether the compiler builds a trivial shared object with ``flag``."""
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "probe.cpp"
        src.write_text("int nsb_probe() { return 0; }\n")
        done = subprocess.run([cxx, flag, "-fPIC", "-shared", str(src), "-o", str(Path(tmp) / "probe.so")],
                              capture_output=True, text=True)
        return done.returncode == 0


def _flags(cxx: str) -> list[str]:
    return [*BASE_FLAGS, *(f for f in ("-march=native", "-fopenmp") if _accepts(cxx, f))]


def _machine() -> str:
    """What a -march=native build depends on: the architecture and the CPU's feature flags."""
    flags = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                flags = line
                break
    except OSError:
        pass
    return f"{platform.machine()} {flags}"


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
    cxx = compiler()
    flags = _flags(cxx)
    build = hashlib.sha256(" ".join([key, cxx, *flags, _machine()]).encode()).hexdigest()[:16]
    target = cache_dir() / f"libnsb_kernels_cpu_{build}.so"
    if not target.exists():
        cache_dir().mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(suffix=".so", dir=cache_dir())
        os.close(fd)
        # each source compiled on its own (side by side), then linked: the training kernels are most of the time
        objects = [f"{tmp[:-3]}_{k}.o" for k in range(len(SOURCES))]
        compile_flags = [f for f in flags if f != "-shared"]
        commands = [[cxx, *compile_flags, f"-I{folder}", "-c", str(Path(folder) / "kernels" / src), "-o", obj]
                    for src, obj in zip(SOURCES, objects)]
        commands.append([cxx, *flags, *objects, "-o", tmp])
        try:
            running = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                       for c in commands[:-1]]
            results = [(c, *p.communicate(), p.returncode) for c, p in zip(commands, running)]
            if all(code == 0 for *_, code in results):
                done = subprocess.run(commands[-1], capture_output=True, text=True)
                results.append((commands[-1], done.stdout, done.stderr, done.returncode))
            for cmd, _, stderr, code in results:
                if code != 0:
                    Path(tmp).unlink(missing_ok=True)
                    first = next((line for line in stderr.splitlines() if "error" in line), stderr.strip()[:200])
                    raise NsbError(f"building the CPU kernels failed ({first[:300]}); command: {' '.join(cmd)}")
        finally:
            for obj in objects:
                Path(obj).unlink(missing_ok=True)
        os.replace(tmp, target)
    lib = ctypes.CDLL(str(target))
    abi.check_sizes(lib)
    lib.nsb_surrogate_grad.argtypes = [ctypes.c_int, ctypes.c_float, ctypes.c_float]
    lib.nsb_surrogate_grad.restype = ctypes.c_float
    lib.nsb_cpu_openmp.restype = ctypes.c_int
    lib.nsb_cpu_last_threads.restype = ctypes.c_int
    return lib


def openmp() -> bool:
    """Whether the training kernels were built with OpenMP (else they run on one thread)."""
    return bool(library().nsb_cpu_openmp())


def last_threads() -> int:
    """How many threads the training kernels' last parallel loop ran on."""
    return int(library().nsb_cpu_last_threads())


_FORWARD = [ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(abi.KernelArgs), ctypes.c_int, ctypes.c_long,
            ctypes.c_int, ctypes.POINTER(abi.RecurrentArgs)]
_BACKWARD = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(abi.KernelArgs),
             ctypes.POINTER(abi.GradArgs), ctypes.c_int, ctypes.c_long, ctypes.c_int,
             ctypes.POINTER(abi.RecurrentArgs)]


def forward_function(op_name: str, reference: bool = False):
    """``nsb_<op>_forward`` (reference) or ``nsb_<op>_forward_cpu`` (training kernels: one more
    argument, the thread count)."""
    return _function(library(), f"nsb_{op_name.lower()}_forward" + ("" if reference else "_cpu"),
                     tuple(_FORWARD if reference else [*_FORWARD, ctypes.c_int]))


def backward_function(op_name: str, reference: bool = False):
    return _function(library(), f"nsb_{op_name.lower()}_backward" + ("" if reference else "_cpu"),
                     tuple(_BACKWARD if reference else [*_BACKWARD, ctypes.c_int]))


@lru_cache(maxsize=128)
def _function(lib: ctypes.CDLL, name: str, argtypes: tuple):
    fn = getattr(lib, name)
    fn.argtypes = list(argtypes)
    fn.restype = None
    return fn


def surrogate_grad(name: str, alpha: float, u: float) -> float:
    from nsb.kernels import SURROGATE_IDS

    return library().nsb_surrogate_grad(SURROGATE_IDS[name], alpha, u)
