"""The numpy kernels as ``onnx.reference`` ops, so ``model.onnx`` runs as it is on any CPU.

``ReferenceEvaluator(strip_functions(model), new_ops=reference_ops())`` executes each ``nsb`` node
with its kernel from :mod:`nsb.ops.numpy_kernels` (not with the model-local Scan function), which
makes it an independent check of the function bodies that onnxruntime runs.
"""

from __future__ import annotations

import numpy as np
from onnx.reference.op_run import OpRun

from nsb.neurons.declare import Op
from nsb.ops.numpy_kernels import run
from nsb.ops.registry import ops
from nsb.ops.schema import DOMAIN


def _make(op: Op) -> type[OpRun]:
    def _run(self, *inputs, **attributes):
        # the node's attributes arrive as keywords; the TensorRT routing ones are not the kernel's
        elem = inputs[0].dtype
        if elem == np.float32:
            return tuple(run(op, *inputs, **attributes))
        # an fp16 model's op computes in float32 inside, as its Scan function does (nsb.ops.functions)
        outs = run(op, *(i.astype(np.float32) for i in inputs), **attributes)
        return tuple(o.astype(elem) for o in outs)

    return type(op.name, (OpRun,), {"op_domain": DOMAIN, "_run": _run})


def reference_ops() -> list[type[OpRun]]:
    return [_make(op) for op in ops().values()]
