"""The ``nsb`` ONNX op set (DESIGN §5): schemas, Scan bodies and numpy kernels, without torch.

Both sides of a deployment import this package: the exporter (``nsb.export``) writes nodes and
model-local functions from it, the evaluator (``nsb.eval``) checks and runs them. It needs numpy and
onnx only, so a target machine without torch can read and execute every op.
"""

from nsb.ops.schema import DOMAIN, OPS, VERSION, OpSpec, op_spec

__all__ = ["DOMAIN", "OPS", "VERSION", "OpSpec", "op_spec"]
