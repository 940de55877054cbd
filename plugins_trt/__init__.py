"""Not Python: the CUDA/C++ sources of the fused kernels and TensorRT plugins, installed as the package
data ``nsb.plugins_trt`` so that nsb finds them without a checkout (``nsb/kernels/sources.py``)."""
