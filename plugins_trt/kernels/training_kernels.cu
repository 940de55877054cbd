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
                                                      float* grad_decay, nsb::LifParams p, int steps, long n,   \
                                                      int surrogate,                                            \
                                                      float alpha, int detach_reset) {                          \
        nsb::lif_backward_thread<T>(static_cast<long>(blockIdx.x) * blockDim.x + threadIdx.x, x, grad_s,        \
                                    grad_v_out, checkpoints, grad_x, grad_v0, grad_decay, p, steps, n, surrogate, \
                                    alpha,                                                                      \
                                    detach_reset);                                                              \
    }

NSB_LIF_KERNELS(f32, float)
#if defined(NSB_HALF)
NSB_LIF_KERNELS(f16, __half)
NSB_LIF_KERNELS(bf16, __nv_bfloat16)
#endif

// ALIF, adLIF and GLIF: forward with state checkpoints, backward with per-(sample, neuron) parameter grads
#define NSB_ADAPTIVE_KERNELS(SUFFIX, T)                                                                           \
    extern "C" __global__ void alif_forward_##SUFFIX(const T* x, const float* alpha, const float* rho,             \
                                                      const float* v0, const float* b0, T* s, float* v_out,        \
                                                      float* b_out, float* ckpt_v, float* ckpt_b, float theta,     \
                                                      float beta, int steps, long n, int neurons) {                \
        nsb::alif_forward_thread<T>(static_cast<long>(blockIdx.x) * blockDim.x + threadIdx.x, x, alpha, rho, v0,   \
                                    b0, s, v_out, b_out, ckpt_v, ckpt_b, theta, beta, steps, n, neurons);          \
    }                                                                                                              \
    extern "C" __global__ void alif_backward_##SUFFIX(                                                            \
        const T* x, const T* grad_s, const float* grad_v_out, const float* grad_b_out, const float* ckpt_v,        \
        const float* ckpt_b, const float* alpha, const float* rho, T* grad_x, float* grad_v0, float* grad_b0,      \
        float* grad_alpha, float* grad_rho, float theta, float beta, int steps, long n, int neurons, int surrogate, \
        float sg_alpha, int detach_reset) {                                                                        \
        nsb::alif_backward_thread<T>(static_cast<long>(blockIdx.x) * blockDim.x + threadIdx.x, x, grad_s,          \
                                     grad_v_out, grad_b_out, ckpt_v, ckpt_b, alpha, rho, grad_x, grad_v0, grad_b0, \
                                     grad_alpha, grad_rho, theta, beta, steps, n, neurons, surrogate, sg_alpha,    \
                                     detach_reset);                                                                \
    }                                                                                                              \
    extern "C" __global__ void adlif_forward_##SUFFIX(const T* x, const float* alpha, const float* beta,           \
                                                       const float* a, const float* b, const float* v0,            \
                                                       const float* w0, T* s, float* v_out, float* w_out,          \
                                                       float* ckpt_v, float* ckpt_w, float theta, int steps,       \
                                                       long n, int neurons) {                                      \
        nsb::adlif_forward_thread<T>(static_cast<long>(blockIdx.x) * blockDim.x + threadIdx.x, x, alpha, beta, a,  \
                                     b, v0, w0, s, v_out, w_out, ckpt_v, ckpt_w, theta, steps, n, neurons);        \
    }                                                                                                              \
    extern "C" __global__ void adlif_backward_##SUFFIX(                                                           \
        const T* x, const T* grad_s, const float* grad_v_out, const float* grad_w_out, const float* ckpt_v,        \
        const float* ckpt_w, const float* alpha, const float* beta, const float* a, const float* b, T* grad_x,      \
        float* grad_v0, float* grad_w0, float* grad_params, float theta, int steps, long n, int neurons,           \
        int surrogate, float sg_alpha, int detach_reset) {                                                         \
        nsb::adlif_backward_thread<T>(static_cast<long>(blockIdx.x) * blockDim.x + threadIdx.x, x, grad_s,         \
                                      grad_v_out, grad_w_out, ckpt_v, ckpt_w, alpha, beta, a, b, grad_x, grad_v0,  \
                                      grad_w0, grad_params, theta, steps, n, neurons, surrogate, sg_alpha,         \
                                      detach_reset);                                                               \
    }                                                                                                              \
    extern "C" __global__ void glif_forward_##SUFFIX(const T* x, nsb::GlifPointers params, const float* c,         \
                                                      int c_rows, const float* u0, const float* t0, T* s,          \
                                                      float* u_out, float* t_out, float* ckpt_u, int steps,        \
                                                      long n, int neurons) {                                       \
        nsb::glif_forward_thread<T>(static_cast<long>(blockIdx.x) * blockDim.x + threadIdx.x, x, params, c,        \
                                    c_rows, u0, t0, s, u_out, t_out, ckpt_u, steps, n, neurons);                   \
    }                                                                                                              \
    extern "C" __global__ void glif_backward_##SUFFIX(                                                            \
        const T* x, const T* grad_s, const float* grad_u_out, const float* ckpt_u, nsb::GlifPointers params,       \
        const float* c, int start, T* grad_x, float* grad_u0, float* grad_params, float* grad_c, int steps, long n, \
        int neurons, int surrogate, float sg_alpha, int detach_reset) {                                            \
        nsb::glif_backward_thread<T>(static_cast<long>(blockIdx.x) * blockDim.x + threadIdx.x, x, grad_s,          \
                                     grad_u_out, ckpt_u, params, c, start, grad_x, grad_u0, grad_params, grad_c,   \
                                     steps, n, neurons, surrogate, sg_alpha, detach_reset);                        \
    }

NSB_ADAPTIVE_KERNELS(f32, float)
#if defined(NSB_HALF)
NSB_ADAPTIVE_KERNELS(f16, __half)
NSB_ADAPTIVE_KERNELS(bf16, __nv_bfloat16)
#endif

// RLIF (recurrent LIF): one block per sample; N floats of dynamic shared memory
#define NSB_RLIF_KERNELS(SUFFIX, T)                                                                               \
    extern "C" __global__ void rlif_forward_##SUFFIX(const T* x, const float* w_rec, const float* b_rec,           \
                                                      const float* v0, const float* s0, T* s, float* v_out,        \
                                                      float* s_out, float* h_out, nsb::LifParams p, int steps,     \
                                                      int batch, int neurons) {                                    \
        nsb::rlif_forward<T>(x, w_rec, b_rec, v0, s0, s, v_out, s_out, h_out, p, steps, batch, neurons);           \
    }                                                                                                              \
    extern "C" __global__ void rlif_backward_##SUFFIX(const T* s, const float* h, const T* grad_s,                 \
                                                       const float* grad_v_out, const float* grad_s_out,           \
                                                       const float* w_rec, float* grad_current, float* grad_v0,    \
                                                       float* grad_s0, nsb::LifParams p, int steps, int batch,     \
                                                       int neurons, int surrogate, float alpha, int detach_reset) { \
        nsb::rlif_backward<T>(s, h, grad_s, grad_v_out, grad_s_out, w_rec, grad_current, grad_v0, grad_s0, p,      \
                              steps, batch, neurons, surrogate, alpha, detach_reset);                              \
    }

NSB_RLIF_KERNELS(f32, float)
#if defined(NSB_HALF)
NSB_RLIF_KERNELS(f16, __half)
NSB_RLIF_KERNELS(bf16, __nv_bfloat16)
#endif
