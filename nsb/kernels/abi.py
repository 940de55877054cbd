"""The kernels' argument structs (``plugins_trt/kernels/op_abi.cuh`` and ``neuron_kernels.cuh``) as
ctypes structures, filled from tensors' addresses: the same bytes reach a CUDA kernel (by value) and
the CPU build (by pointer). :func:`check_sizes` holds them to the compiled library's ``sizeof``.
"""

from __future__ import annotations

import ctypes
from typing import Any

from nsb.neurons.declare import Op

MAX_INPUTS, MAX_ROWS, MAX_STATES, MAX_FLOATS, MAX_CHOICES = 16, 4, 8, 16, 8
_P = ctypes.c_void_p


class Attributes(ctypes.Structure):
    _fields_ = [("f", ctypes.c_float * MAX_FLOATS), ("e", ctypes.c_int * MAX_CHOICES), ("soft", ctypes.c_float)]


class SurrogateSpec(ctypes.Structure):
    _fields_ = [("id", ctypes.c_int), ("alpha", ctypes.c_float), ("detach_reset", ctypes.c_int)]


class KernelArgs(ctypes.Structure):
    _fields_ = [("inputs", _P * MAX_INPUTS), ("rows", _P * MAX_ROWS), ("row_count", ctypes.c_int), ("t0", _P),
                ("t_out", _P), ("state_in", _P * MAX_STATES), ("state_out", _P * MAX_STATES),
                ("checkpoints", _P * MAX_STATES), ("attrs", Attributes), ("keep", _P)]


class GradArgs(ctypes.Structure):
    _fields_ = [("grad_state_out", _P * MAX_STATES), ("grad_state_in", _P * MAX_STATES),
                ("grad_inputs", _P * MAX_INPUTS), ("grad_rows", _P * MAX_ROWS), ("grad_attrs", _P * MAX_FLOATS),
                ("surrogate", SurrogateSpec)]


class RecurrentArgs(ctypes.Structure):
    _fields_ = [("w_rec", _P), ("b_rec", _P), ("currents", _P), ("states_seq", _P * MAX_STATES)]


def address(t: Any) -> int | None:
    """A tensor's or array's data address (None for None)."""
    if t is None:
        return None
    if hasattr(t, "data_ptr"):
        return t.data_ptr()
    return t.ctypes.data


def fill(array, values) -> None:
    for k, v in enumerate(values):
        array[k] = address(v)


def attributes(op: Op, values: dict[str, Any]) -> Attributes:
    """The node's attributes: floats in declaration order, choices as the index of their value."""
    out = Attributes()
    for k, name in enumerate(op.float_attributes):
        out.f[k] = float(values[name])
    for k, name in enumerate(op.choice_attributes):
        out.e[k] = op.all_attributes[name].choices.index(str(values[name]))
    return out


def check_sizes(lib: ctypes.CDLL) -> None:
    for fn, struct in (("nsb_sizeof_kernel_args", KernelArgs), ("nsb_sizeof_grad_args", GradArgs),
                       ("nsb_sizeof_recurrent_args", RecurrentArgs)):
        getattr(lib, fn).restype = ctypes.c_long
        size = getattr(lib, fn)()
        if size != ctypes.sizeof(struct):
            raise RuntimeError(f"{struct.__name__} is {ctypes.sizeof(struct)} bytes in Python but {size} in the "
                               "kernels; this is a bug in nsb (nsb/kernels/abi.py and op_abi.cuh disagree)")
