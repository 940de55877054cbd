"""The numpy kernels as ``onnx.reference`` ops, so ``model.onnx`` runs as it is on any CPU.

``ReferenceEvaluator(model, new_ops=reference_ops())`` executes each ``nsb`` node with its kernel
from :mod:`nsb.ops.numpy_kernels` (not with the model-local Scan function), which makes it an
independent check of the function bodies that onnxruntime runs.
"""

from __future__ import annotations

from onnx.reference.op_run import OpRun

from nsb.errors import NsbError
from nsb.ops.numpy_kernels import KERNELS
from nsb.ops.schema import DOMAIN, OPS


def _make(name: str) -> type[OpRun]:
    spec = OPS[name]
    kernel = KERNELS[name]

    def _run(self, *inputs, **attributes):
        # the node's attributes arrive as keywords; the TensorRT routing ones are not the kernel's
        missing = [k for k in spec.attributes if attributes.get(k) is None]
        if missing:
            raise NsbError(f"nsb.{name} node lacks attribute(s) {', '.join(missing)}; re-export the model")
        attrs = {k: attributes[k] for k in spec.attributes}
        for k, v in attrs.items():
            if isinstance(v, bytes):
                attrs[k] = v.decode()
        return tuple(kernel(*inputs, **attrs))

    return type(name, (OpRun,), {"op_domain": DOMAIN, "_run": _run})


def reference_ops() -> list[type[OpRun]]:
    return [_make(name) for name in OPS]
