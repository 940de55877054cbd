"""The neuron registry: what a config's ``model.neuron`` names.

Each neuron is one file here holding its declaration (:mod:`nsb.neurons.declare`): the op's step,
attributes and states, and the layer's options, learned tensors and folds. Adding a neuron is that
file plus its line in ``NEURON_FILES`` (``docs/adding_a_neuron.md``); everything else — the PyTorch
layer, the fused kernels, the ONNX op and its Scan body, the numpy and TorchScript kernels, the
TensorRT plugin and the tests' parametrisation — is generated from the declaration.

Importing this package does not import torch (the evaluator reads the op declarations on machines
without it); the PyTorch layer :class:`nsb.neurons.module.Neuron` loads on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from nsb.errors import ConfigError, unknown
from nsb.neurons.declare import Neuron as Declaration

#: one line per neuron file: the module holding its NEURON declaration
NEURON_FILES = (
    "lif",
    "if_neuron",
    "rlif",
    "plif",
    "alif",
    "adlif",
    "glif",
    # issue 16: the seed's elementwise zoo
    "tclif",
    "lmh",
    "celif",
    "asgl_lif",
    "leaky",
    "clif",
)

#: issue 16: the parallel neurons (whole-sequence convolutions/FFTs, no op; ``nsb/neurons/parallel.py``),
#: each file's ``NEURON`` a torch layer class, loaded on first use so that this package needs no torch
PARALLEL_FILES = ("spsn", "psn", "pmsn", "s4d")

#: issue 16: the dense-recurrence neurons (dense products inside the time loop, so no op;
#: ``nsb/neurons/dense.py``), each file's ``NEURON`` a ``LayerNeuron``, loaded on first use (torch)
LAYER_FILES = ("dhlif", "ltc", "gsn")

#: modules whose ``OPS`` are ops that no neuron declares but a layer runs through the fused kernels (DH-LIF's
#: feed-forward stages); torch-free, so the op set can be read without torch
OP_FILES = ("dhlif_ops",)

NEURONS: dict[str, Declaration] = {}
_GENERATION = [0]

#: options every neuron takes besides its own (the layer's, not the model's)
COMMON_OPTIONS = ("surrogate", "alpha", "recurrent", "backend")


def register(declaration: Declaration) -> Declaration:
    """Add a neuron (also an out-of-tree one) to the registry; its op joins the op set."""
    if declaration.name in NEURONS and NEURONS[declaration.name] is not declaration:
        raise ValueError(f"a neuron named '{declaration.name}' is registered already")
    NEURONS[declaration.name] = declaration
    _changed()
    return declaration


def unregister(name: str) -> None:
    """Remove a neuron added with :func:`register` (tests add a toy neuron and take it away again)."""
    NEURONS.pop(name, None)
    _changed()


def generation() -> int:
    """Counts registry changes, so derived tables (the op set, generated sources) know to rebuild."""
    return _GENERATION[0]


def _changed() -> None:
    _GENERATION[0] += 1


for _file in NEURON_FILES:
    register(importlib.import_module(f"nsb.neurons.{_file}").NEURON)


def declaration(name: str) -> Declaration:
    if name not in NEURONS and name in LAYER_FILES:  # issue 16: a dense-recurrence neuron
        return importlib.import_module(f"nsb.neurons.{name}").NEURON
    if name not in NEURONS:
        raise ConfigError(unknown("neuron", name, [*NEURONS, *PARALLEL_FILES]))
    return NEURONS[name]


def parallel_layer(name: str) -> Any:
    """The layer class of a parallel neuron (issue 16), or None for any other name."""
    if name not in PARALLEL_FILES:
        return None
    return importlib.import_module(f"nsb.neurons.{name}").NEURON


def neuron_parameters(name: str) -> dict[str, Any]:
    """The options a neuron accepts (its ``[neuron]`` config keys) with their specs, common ones last."""
    layer = parallel_layer(name)
    if layer is not None:  # issue 16: a parallel neuron takes recurrent only to refuse it in one line
        return {**layer.OPTIONS, **{key: None for key in COMMON_OPTIONS}}
    decl = declaration(name)
    options: dict[str, Any] = dict(decl.options)
    for key in COMMON_OPTIONS:
        if key == "recurrent" and decl.recurrence != "optional":
            continue
        options[key] = None
    return options


def build_neuron(name: str, size: int, **kwargs: Any):
    """A PyTorch layer of ``size`` neurons of the registered neuron ``name``."""
    layer = parallel_layer(name)
    if layer is not None:
        return layer(size, **kwargs)
    from nsb.neurons.module import Neuron

    decl = declaration(name)
    if hasattr(decl, "build"):  # issue 16: a dense-recurrence neuron builds its own layer
        return decl.build(size, **kwargs)
    return Neuron(decl, size, **kwargs)


def __getattr__(attr: str) -> Any:
    # the PyTorch side, imported on first use so that importing the registry needs no torch
    if attr in ("Neuron", "GradPolicy", "FULL_BPTT", "State"):
        return getattr(importlib.import_module("nsb.neurons.module"), attr)
    raise AttributeError(f"module 'nsb.neurons' has no attribute '{attr}'")


__all__ = ["COMMON_OPTIONS", "NEURONS", "NEURON_FILES", "build_neuron", "declaration", "neuron_parameters", "register",
           "unregister"]
