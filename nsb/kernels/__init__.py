"""The fused neuron kernels from PyTorch (``docs/kernels.md``).

The C++/CUDA sources are the hand-written bodies in ``plugins_trt/kernels/`` (shipped as the package
data ``nsb.plugins_trt``) and the op code generated from the neuron declarations
(:mod:`nsb.ops.cpp`); :mod:`nsb.kernels.sources` assembles them. :mod:`nsb.kernels.cpu` builds them
for the CPU so tests can hold them to the PyTorch reference anywhere; :mod:`nsb.kernels.nvrtc`
compiles them at run time for the GPU; :mod:`nsb.kernels.fused` is the autograd function a layer
calls on CUDA tensors, with :mod:`nsb.kernels.abi` describing the kernels' argument structs.
"""

from __future__ import annotations

#: surrogate ids of nsb_math.cuh's ``surrogate_grad``, by nsb/surrogate.py's registry names
SURROGATE_IDS = {"rectangle": 0, "triangle": 1, "sigmoid": 2, "multigauss": 3, "atan": 4, "fast_sigmoid": 5,
                 "superspike": 5, "asgl": 6}  # asgl: its noisy training spike's clamp (in eval: rectangle, as ASGL.grad)
SEGMENT = 16  # kSegment in neuron_kernels.cuh: steps between state checkpoints


def tensor_unsupported(x, backend: str) -> str | None:
    """Why the kernels cannot take ``x`` under ``neuron.backend`` (its device, dtype, or a trace), or None.
    Builds nothing: :func:`cpu_unavailable` comes last, once every other check of the layer has passed."""
    import torch

    if x.is_cuda:
        if backend == "cpu":
            return "the input is on a CUDA device (backend 'cpu' runs the CPU kernels on CPU tensors)"
        if x.dtype not in (torch.float32, torch.float16, torch.bfloat16):
            return f"the dtype {x.dtype} has no kernel"
        return None
    if backend == "cuda":
        return "the input is not on a CUDA device"
    if x.device.type != "cpu":
        return f"the input is on a {x.device.type} device (the kernels run on CUDA and CPU tensors)"
    if torch.jit.is_tracing() or torch.jit.is_scripting() or torch.compiler.is_compiling():
        return "the layer is being traced or compiled (the CPU kernels are a ctypes call)"
    if x.dtype != torch.float32:
        return f"the dtype {x.dtype} has no CPU kernel (float32 only)"
    return None


def cpu_unavailable(x, backend: str) -> str | None:
    """For a CPU tensor, why the CPU build cannot run (building it on first use, cached on disk); else None."""
    if x.is_cuda:
        return None
    from nsb.kernels.cpu import unavailable

    return unavailable(quiet=backend == "cpu")
