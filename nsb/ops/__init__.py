"""The ``nsb`` ONNX op set (``docs/architecture.md``), without torch: the op registry derived from the
neuron declarations, their traces, schemas, Scan functions, numpy kernels and C++ sources.

Both sides of a deployment import this package: the exporter (``nsb.export``) writes nodes and
model-local functions from it, the evaluator (``nsb.eval``) checks and runs them. It needs numpy and
onnx only, so a target machine without torch can read and execute every op.
"""
