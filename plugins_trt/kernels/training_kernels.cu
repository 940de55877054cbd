// The kernels PyTorch training launches (nsb/kernels/): every op's forward and backward for fp32,
// fp16 and bf16 storage, instantiated from the generated op list. Compiled at run time with NVRTC
// (no nvcc needed by users) and, in CI, by nvcc. Kernel names: nsb_<op>_forward_<dtype>,
// nsb_<op>_backward_<dtype>; argument structs as in neuron_kernels.cuh.
#include "kernels/neuron_kernels.cuh"
#include "ops/all.cuh"

#define NSB_ELEMENTWISE_KERNELS(Struct, name, SUFFIX, T)                                                       \
    extern "C" __global__ void nsb_##name##_forward_##SUFFIX(const T* x, T* s, nsb::KernelArgs a, int steps,    \
                                                              long n, int neurons) {                          \
        nsb::forward_thread<Struct, T>(static_cast<long>(blockIdx.x) * blockDim.x + threadIdx.x, x, s, a, steps, \
                                       n, neurons);                                                           \
    }                                                                                                         \
    extern "C" __global__ void nsb_##name##_backward_##SUFFIX(const T* x, const T* grad_s, T* grad_x,          \
                                                               nsb::KernelArgs a, nsb::GradArgs g, int steps,   \
                                                               long n, int neurons) {                         \
        nsb::backward_thread<Struct, T>(static_cast<long>(blockIdx.x) * blockDim.x + threadIdx.x, x, grad_s,   \
                                        grad_x, a, g, steps, n, neurons);                                     \
    }

// R-ops: one block per sample, 2·N floats of dynamic shared memory. The launch bounds hold the register
// count to what 1,024 threads can have (the launcher's largest block), spilling rather than failing.
#define NSB_RECURRENT_KERNELS(Struct, name, SUFFIX, T)                                                         \
    extern "C" __global__ void __launch_bounds__(1024) nsb_##name##_forward_##SUFFIX(const T* x, T* s, nsb::KernelArgs a,              \
                                                              nsb::RecurrentArgs r, int steps, int batch,      \
                                                              int neurons) {                                  \
        extern __shared__ float shared[];                                                                     \
        nsb::recurrent_forward_sample<Struct, T>(blockIdx.x, threadIdx.x, blockDim.x, shared, x, s, a, r, steps, \
                                                 batch, neurons);                                             \
    }                                                                                                         \
    extern "C" __global__ void __launch_bounds__(1024) nsb_##name##_backward_##SUFFIX(const T* s, const T* grad_s, \
                                                                                      float* grad_current,        \
                                                               nsb::KernelArgs a, nsb::GradArgs g,            \
                                                               nsb::RecurrentArgs r, int steps, int batch,    \
                                                               int neurons) {                                 \
        extern __shared__ float shared[];                                                                     \
        nsb::recurrent_backward_sample<Struct, T>(blockIdx.x, threadIdx.x, blockDim.x, shared, s, grad_s,       \
                                                  grad_current, a, g, r, steps, batch, neurons);              \
    }

#define NSB_F32(Struct, name) NSB_ELEMENTWISE_KERNELS(Struct, name, f32, float)
#define NSB_REC_F32(Struct, name) NSB_RECURRENT_KERNELS(Struct, name, f32, float)
NSB_FOR_EACH_ELEMENTWISE_OP(NSB_F32)
NSB_FOR_EACH_RECURRENT_OP(NSB_REC_F32)
#if defined(NSB_HALF)
#define NSB_F16(Struct, name) NSB_ELEMENTWISE_KERNELS(Struct, name, f16, __half)
#define NSB_BF16(Struct, name) NSB_ELEMENTWISE_KERNELS(Struct, name, bf16, __nv_bfloat16)
#define NSB_REC_F16(Struct, name) NSB_RECURRENT_KERNELS(Struct, name, f16, __half)
#define NSB_REC_BF16(Struct, name) NSB_RECURRENT_KERNELS(Struct, name, bf16, __nv_bfloat16)
NSB_FOR_EACH_ELEMENTWISE_OP(NSB_F16)
NSB_FOR_EACH_ELEMENTWISE_OP(NSB_BF16)
NSB_FOR_EACH_RECURRENT_OP(NSB_REC_F16)
NSB_FOR_EACH_RECURRENT_OP(NSB_REC_BF16)
#endif
