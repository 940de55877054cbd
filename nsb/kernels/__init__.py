"""The fused neuron kernels from PyTorch (DESIGN §9).

The CUDA sources live in ``plugins_trt/kernels/`` (installed as ``nsb.kernels.cuda``), shared with the
TensorRT plugins. :mod:`nsb.kernels.cpu` builds their kernel bodies for the CPU so tests can hold
them to the PyTorch reference anywhere; :mod:`nsb.kernels.nvrtc` compiles them at run time for the
GPU; :mod:`nsb.kernels.lif` is the autograd function the LIF layers call on CUDA tensors.
"""

from __future__ import annotations

from pathlib import Path

SURROGATE_IDS = {"rectangle": 0, "triangle": 1, "sigmoid": 2, "multigauss": 3, "atan": 4, "fast_sigmoid": 5}
RESET_IDS = {"hard": 0, "soft": 1, "none": 2}
SEGMENT = 16  # kSegment in neuron_kernels.cuh: steps between membrane checkpoints


def source_dir() -> Path:
    """``plugins_trt/kernels`` in a checkout, or its installed copy ``nsb/kernels/cuda``."""
    from importlib.resources import files

    from nsb.errors import NsbError

    candidates = [Path(__file__).resolve().parents[2] / "plugins_trt" / "kernels"]
    try:
        candidates.append(Path(str(files("nsb.kernels.cuda"))))
    except ModuleNotFoundError:
        pass
    for folder in candidates:
        if (folder / "neuron_kernels.cuh").is_file():
            return folder
    raise NsbError("the nsb kernel sources (plugins_trt/kernels) are missing from this installation; "
                   "reinstall nsb from a complete checkout")
