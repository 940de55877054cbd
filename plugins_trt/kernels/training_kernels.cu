// The kernels PyTorch training launches (nsb/kernels/): LIF-family forward and backward for fp32,
// fp16 and bf16 storage. Compiled at run time with NVRTC (no nvcc needed by users) and, in CI, by nvcc.
#include "neuron_kernels.cuh"

#define NSB_LIF_KERNELS(SUFFIX, T)                                                                            \
    extern "C" __global__ void lif_forward_##SUFFIX(const T* x, const float* v0, T* s, float* v_out,            \
                                                     float* checkpoints, nsb::LifParams p, int steps, long n) { \
        nsb::lif_forward_thread<T>(static_cast<long>(blockIdx.x) * blockDim.x + threadIdx.x, x, v0, s, v_out,   \
                                   checkpoints, p, steps, n);                                                   \
    }                                                                                                          \
    extern "C" __global__ void lif_backward_##SUFFIX(const T* x, const T* grad_s, const float* grad_v_out,      \
                                                      const float* checkpoints, T* grad_x, float* grad_v0,      \
                                                      nsb::LifParams p, int steps, long n, int surrogate,       \
                                                      float alpha, int detach_reset) {                          \
        nsb::lif_backward_thread<T>(static_cast<long>(blockIdx.x) * blockDim.x + threadIdx.x, x, grad_s,        \
                                    grad_v_out, checkpoints, grad_x, grad_v0, p, steps, n, surrogate, alpha,    \
                                    detach_reset);                                                              \
    }

NSB_LIF_KERNELS(f32, float)
#if defined(NSB_HALF)
NSB_LIF_KERNELS(f16, __half)
NSB_LIF_KERNELS(bf16, __nv_bfloat16)
#endif
