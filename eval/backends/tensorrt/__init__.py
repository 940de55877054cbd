"""The ``tensorrt`` evaluation backend and the engine builder it runs on.

* :mod:`.engine`: build a TensorRT engine from a bundle's ONNX graph (loading the nsb plugin library for
  ``nsb`` nodes), cache it per GPU, TensorRT version and precision, or read a prebuilt plan; the exporter
  (``nsb export --format engine``) builds with it too.
* :mod:`.backend`: run an engine on CUDA with cuda-python buffers (``load(bundle, device, graph)``).

Neither imports TensorRT, cuda-python or torch at import time, so this package imports anywhere.
"""

from nsb.eval.backends.tensorrt.backend import TensorRTBackend, load

__all__ = ["TensorRTBackend", "load"]
