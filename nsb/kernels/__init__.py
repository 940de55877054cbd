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
