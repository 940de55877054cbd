// The multi-step kernels: one launch covers all T steps. Each ``*_thread`` function is one thread's
// whole sequence; the __global__ wrappers (training_kernels.cu, the plugins) call it with their
// thread index, and the CPU build (cpu_reference.cpp) calls it in a loop, so CI runs the kernel
// bodies themselves against the PyTorch reference. Tensors are time-major and contiguous,
// x[t·n + i] with n = B·N (times the spatial size for conv layers), so consecutive threads read
// consecutive addresses at every step. Each thread owns one neuron of one sample, keeps its state in
// registers across the whole sequence and loads step t+1's input before computing step t, so the
// load latency of the next step overlaps the arithmetic of this one.
//
// Training saves memory traffic by not storing the membrane: the forward writes the state only every
// K steps (checkpoints, 4/K bytes per neuron-step) and the backward recomputes each K-step segment
// into registers before walking it in reverse. Per neuron-step that moves x and s forward (8 bytes
// in fp32) and x, ∂L/∂s, ∂L/∂x backward (12 bytes), plus 8/K for the checkpoints.
#pragma once

#include "adaptive.cuh"
#include "lif.cuh"
#include "storage.cuh"

namespace nsb {

constexpr int kSegment = 16;  // K: steps recomputed per backward segment, held in registers

template <typename T>
NSB_HD void lif_forward_thread(long i, const T* __restrict__ x, const float* __restrict__ v0, T* __restrict__ s,
                            float* __restrict__ v_out, float* __restrict__ checkpoints, LifParams p, int steps,
                            long n) {
    if (i >= n || steps <= 0) return;
    float v = v0 != nullptr ? v0[i] : 0.0f;
    float next = load(x, i);
    for (int t = 0; t < steps; ++t) {
        const float xt = next;
        if (t + 1 < steps) next = load(x, static_cast<long>(t + 1) * n + i);
        if (checkpoints != nullptr && t % kSegment == 0) checkpoints[static_cast<long>(t / kSegment) * n + i] = v;
        const LifStep r = lif_step(xt, v, p);
        store(s, static_cast<long>(t) * n + i, r.s);
        v = r.v;
    }
    v_out[i] = v;
}

template <typename T>
NSB_HD void lif_backward_thread(long i, const T* __restrict__ x, const T* __restrict__ grad_s, const float* __restrict__ grad_v_out,
                             const float* __restrict__ checkpoints, T* __restrict__ grad_x, float* __restrict__ grad_v0,
                             float* __restrict__ grad_decay, LifParams p, int steps, long n, int surrogate, float alpha,
                             int detach_reset) {
    if (i >= n || steps <= 0) return;
    float gv = grad_v_out != nullptr ? grad_v_out[i] : 0.0f;
    float g_decay = 0.0f;
    const int segments = (steps + kSegment - 1) / kSegment;
    for (int seg = segments - 1; seg >= 0; --seg) {
        const int t0 = seg * kSegment;
        const int len = steps - t0 < kSegment ? steps - t0 : kSegment;
        LifStep saved[kSegment];
        const float v_first = checkpoints[static_cast<long>(seg) * n + i];
        float v = v_first;
#pragma unroll
        for (int j = 0; j < kSegment; ++j) {
            if (j < len) {
                saved[j] = lif_step(load(x, static_cast<long>(t0 + j) * n + i), v, p);
                v = saved[j].v;
            }
        }
#pragma unroll
        for (int j = kSegment - 1; j >= 0; --j) {
            if (j < len) {
                const long at = static_cast<long>(t0 + j) * n + i;
                float grad_h = 0.0f;
                store(grad_x, at, lif_step_backward(saved[j], load(grad_s, at), gv, p, surrogate, alpha,
                                                    detach_reset != 0, grad_h));
                g_decay += grad_h * (j == 0 ? v_first : saved[j > 0 ? j - 1 : 0].v);
            }
        }
    }
    if (grad_v0 != nullptr) grad_v0[i] = gv;
    if (grad_decay != nullptr) grad_decay[i] = g_decay;
}

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
// RLIF: the recurrent current W·s[t−1] + b couples every neuron of a sample, so one block owns one
// sample: its spikes live in shared memory, each thread computes whole dot products for its neurons.
// Dynamic shared memory: N floats. Correct for any N; fast while W (N² floats) stays in L2.
template <typename T>
__device__ void rlif_forward(const T* __restrict__ x, const float* __restrict__ w_rec, const float* __restrict__ b_rec,
                             const float* __restrict__ v0, const float* __restrict__ s0, T* __restrict__ s,
                             float* __restrict__ v_out, float* __restrict__ s_out, float* __restrict__ h_out,
                             LifParams p, int steps, int batch, int neurons) {
    extern __shared__ float spikes[];
    const int b = blockIdx.x;
    if (b >= batch) return;
    const long n = static_cast<long>(batch) * neurons;
    for (int j = threadIdx.x; j < neurons; j += blockDim.x) spikes[j] = s0 != nullptr ? s0[static_cast<long>(b) * neurons + j] : 0.0f;
    __syncthreads();
    // each thread keeps the membranes of the neurons it owns in a strided loop; state goes through
    // v_out, which doubles as the working membrane buffer
    for (int j = threadIdx.x; j < neurons; j += blockDim.x) {
        const long i = static_cast<long>(b) * neurons + j;
        v_out[i] = v0 != nullptr ? v0[i] : 0.0f;
    }
    for (int t = 0; t < steps; ++t) {
        float fired[8];  // spikes of this step, written to shared memory after everyone has read s[t−1]
        int k = 0;
        for (int j = threadIdx.x; j < neurons; j += blockDim.x, ++k) {
            const long i = static_cast<long>(b) * neurons + j;
            float rec = 0.0f;
            const float* row = w_rec + static_cast<long>(j) * neurons;
            for (int m = 0; m < neurons; ++m) rec = add(rec, mul(spikes[m], row[m]));
            const float current = add(load(x, static_cast<long>(t) * n + i), add(rec, b_rec[j]));
            const LifStep r = lif_step(current, v_out[i], p);
            if (h_out != nullptr) h_out[static_cast<long>(t) * n + i] = r.h;  // kept for training's backward
            v_out[i] = r.v;
            store(s, static_cast<long>(t) * n + i, r.s);
            if (k < 8) fired[k] = r.s;
        }
        __syncthreads();
        k = 0;
        for (int j = threadIdx.x; j < neurons; j += blockDim.x, ++k) spikes[j] = fired[k];
        __syncthreads();
    }
    for (int j = threadIdx.x; j < neurons; j += blockDim.x) s_out[static_cast<long>(b) * neurons + j] = spikes[j];
}

// RLIF backward, one block per sample: walks time in reverse with the stored membranes h and spikes s;
// ∂L/∂s[t−1] gains W_recᵀ·∂L/∂I[t] through the recurrent current I = x + W_rec·s[t−1] + b, summed in
// shared memory. Writes ∂L/∂x = ∂L/∂I per step (the caller forms ∂L/∂W_rec = Σ ∂L/∂I ⊗ s[t−1] with one
// GEMM), ∂L/∂v0 and ∂L/∂s0. Dynamic shared memory: N floats.
template <typename T>
__device__ void rlif_backward(const T* __restrict__ s, const float* __restrict__ h, const T* __restrict__ grad_s,
                              const float* __restrict__ grad_v_out, const float* __restrict__ grad_s_out,
                              const float* __restrict__ w_rec, float* __restrict__ grad_current,
                              float* __restrict__ grad_v0, float* __restrict__ grad_s0, LifParams p, int steps,
                              int batch, int neurons, int surrogate, float alpha, int detach_reset) {
    extern __shared__ float d_current[];
    const int b = blockIdx.x;
    if (b >= batch) return;
    const long n = static_cast<long>(batch) * neurons;
    float gv[8], carry[8];  // per owned neuron: ∂L/∂v[t] and the recurrent part of ∂L/∂s[t]
    int k = 0;
    for (int j = threadIdx.x; j < neurons; j += blockDim.x, ++k) {
        const long i = static_cast<long>(b) * neurons + j;
        gv[k] = grad_v_out != nullptr ? grad_v_out[i] : 0.0f;
        carry[k] = grad_s_out != nullptr ? grad_s_out[i] : 0.0f;
    }
    for (int t = steps - 1; t >= 0; --t) {
        k = 0;
        for (int j = threadIdx.x; j < neurons; j += blockDim.x, ++k) {
            const long at = static_cast<long>(t) * n + static_cast<long>(b) * neurons + j;
            LifStep r;
            r.h = h[at];
            r.s = load(s, at);
            float grad_h = 0.0f;
            lif_step_backward(r, load(grad_s, at) + carry[k], gv[k], p, surrogate, alpha, detach_reset != 0, grad_h);
            const float dI = p.input_gain * grad_h;
            grad_current[at] = dI;
            d_current[j] = dI;
        }
        __syncthreads();
        k = 0;
        for (int m = threadIdx.x; m < neurons; m += blockDim.x, ++k) {
            float acc = 0.0f;
            for (int j = 0; j < neurons; ++j) acc += w_rec[static_cast<long>(j) * neurons + m] * d_current[j];
            carry[k] = acc;
        }
        __syncthreads();
    }
    k = 0;
    for (int j = threadIdx.x; j < neurons; j += blockDim.x, ++k) {
        const long i = static_cast<long>(b) * neurons + j;
        grad_v0[i] = gv[k];
        grad_s0[i] = carry[k];
    }
}
#endif

// The same RLIF backward for one sample on the host, neuron by neuron, for the CPU build and tests.
NSB_HD void rlif_backward_sample(int b, const float* s, const float* h, const float* grad_s, const float* grad_v_out,
                                 const float* grad_s_out, const float* w_rec, float* grad_current, float* grad_v0,
                                 float* grad_s0, float* scratch_gv, float* scratch_carry, float* scratch_d,
                                 LifParams p, int steps, int batch, int neurons, int surrogate, float alpha,
                                 int detach_reset) {
    const long n = static_cast<long>(batch) * neurons;
    for (int j = 0; j < neurons; ++j) {
        const long i = static_cast<long>(b) * neurons + j;
        scratch_gv[j] = grad_v_out != nullptr ? grad_v_out[i] : 0.0f;
        scratch_carry[j] = grad_s_out != nullptr ? grad_s_out[i] : 0.0f;
    }
    for (int t = steps - 1; t >= 0; --t) {
        for (int j = 0; j < neurons; ++j) {
            const long at = static_cast<long>(t) * n + static_cast<long>(b) * neurons + j;
            LifStep r;
            r.h = h[at];
            r.s = s[at];
            float grad_h = 0.0f;
            lif_step_backward(r, grad_s[at] + scratch_carry[j], scratch_gv[j], p, surrogate, alpha, detach_reset != 0,
                              grad_h);
            scratch_d[j] = p.input_gain * grad_h;
            grad_current[at] = scratch_d[j];
        }
        for (int m = 0; m < neurons; ++m) {
            float acc = 0.0f;
            for (int j = 0; j < neurons; ++j) acc += w_rec[static_cast<long>(j) * neurons + m] * scratch_d[j];
            scratch_carry[m] = acc;
        }
    }
    for (int j = 0; j < neurons; ++j) {
        const long i = static_cast<long>(b) * neurons + j;
        grad_v0[i] = scratch_gv[j];
        grad_s0[i] = scratch_carry[j];
    }
}

template <typename T>
NSB_HD void alif_forward_thread(long i, const T* __restrict__ x, const float* __restrict__ alpha, const float* __restrict__ rho,
                             const float* __restrict__ v0, const float* __restrict__ b0, T* __restrict__ s,
                             float* __restrict__ v_out, float* __restrict__ b_out, float* __restrict__ ckpt_v,
                             float* __restrict__ ckpt_b, float theta, float beta, int steps, long n, int neurons) {
    if (i >= n || steps <= 0) return;
    const int j = static_cast<int>(i % neurons);
    const float a = alpha[j], r = rho[j];
    float v = v0[i], b = b0[i];
    float next = load(x, i);
    for (int t = 0; t < steps; ++t) {
        const float xt = next;
        if (t + 1 < steps) next = load(x, static_cast<long>(t + 1) * n + i);
        if (ckpt_v != nullptr && t % kSegment == 0) {
            ckpt_v[static_cast<long>(t / kSegment) * n + i] = v;
            ckpt_b[static_cast<long>(t / kSegment) * n + i] = b;
        }
        store(s, static_cast<long>(t) * n + i, alif_step(xt, v, b, a, r, theta, beta));
    }
    v_out[i] = v;
    b_out[i] = b;
}

template <typename T>
NSB_HD void adlif_forward_thread(long i, const T* __restrict__ x, const float* __restrict__ alpha, const float* __restrict__ beta,
                              const float* __restrict__ a, const float* __restrict__ bb, const float* __restrict__ v0,
                              const float* __restrict__ w0, T* __restrict__ s, float* __restrict__ v_out,
                              float* __restrict__ w_out, float* __restrict__ ckpt_v, float* __restrict__ ckpt_w,
                              float theta, int steps, long n, int neurons) {
    if (i >= n || steps <= 0) return;
    const int j = static_cast<int>(i % neurons);
    const float al = alpha[j], be = beta[j], ca = a[j], cb = bb[j];
    float v = v0[i], w = w0[i];
    float next = load(x, i);
    for (int t = 0; t < steps; ++t) {
        const float xt = next;
        if (t + 1 < steps) next = load(x, static_cast<long>(t + 1) * n + i);
        if (ckpt_v != nullptr && t % kSegment == 0) {
            ckpt_v[static_cast<long>(t / kSegment) * n + i] = v;
            ckpt_w[static_cast<long>(t / kSegment) * n + i] = w;
        }
        store(s, static_cast<long>(t) * n + i, adlif_step(xt, v, w, al, be, ca, cb, theta));
    }
    v_out[i] = v;
    w_out[i] = w;
}

// GLIF: seven per-neuron parameter vectors (α_g, β_g, γ_g, τ, leak, reVth, V_th), the conductance
// c [c_rows, N] and the chunk's first step index t0 (a device scalar, so no host sync is needed).
// A chunk that runs past the conductance's rows has no defined result: its membranes become NaN.
struct GlifPointers {
    const float* p[7];
};

// Neuron j's seven parameters, in GlifParams' field order.
NSB_HD GlifParams glif_params(const GlifPointers& params, int j) {
    GlifParams p;
    p.alpha_g = params.p[0][j];
    p.beta_g = params.p[1][j];
    p.gamma_g = params.p[2][j];
    p.tau = params.p[3][j];
    p.leak = params.p[4][j];
    p.re_vth = params.p[5][j];
    p.v_th = params.p[6][j];
    return p;
}

template <typename T>
NSB_HD void glif_forward_thread(long i, const T* __restrict__ x, GlifPointers params, const float* __restrict__ c,
                                int c_rows, const float* __restrict__ u0, const float* __restrict__ t0,
                                T* __restrict__ s, float* __restrict__ u_out, float* __restrict__ t_out,
                                float* __restrict__ ckpt_u, int steps, long n, int neurons) {
    if (i >= n) return;
    const int start = static_cast<int>(t0[0]);
    if (i == 0 && t_out != nullptr) t_out[0] = t0[0] + static_cast<float>(steps);
    if (start < 0 || start + steps > c_rows) {
        for (int t = 0; t < steps; ++t) store(s, static_cast<long>(t) * n + i, 0.0f);
        u_out[i] = quiet_nan();
        return;
    }
    const int j = static_cast<int>(i % neurons);
    const GlifParams p = glif_params(params, j);
    float u = u0[i];
    for (int t = 0; t < steps; ++t) {
        const float xt = load(x, static_cast<long>(t) * n + i);
        if (ckpt_u != nullptr && t % kSegment == 0) ckpt_u[static_cast<long>(t / kSegment) * n + i] = u;
        store(s, static_cast<long>(t) * n + i, glif_step(xt, u, p, c[static_cast<long>(start + t) * neurons + j]));
    }
    u_out[i] = u;
}

// --- backward bodies of the adaptive neurons: segment recompute from the checkpoints as for LIF ---
// Parameter gradients are per (sample, neuron) partial sums over time, written to [n] buffers that
// the caller reduces over the batch (no atomics, deterministic).

template <typename T>
NSB_HD void alif_backward_thread(long i, const T* __restrict__ x, const T* __restrict__ grad_s,
                                 const float* __restrict__ grad_v_out, const float* __restrict__ grad_b_out,
                                 const float* __restrict__ ckpt_v, const float* __restrict__ ckpt_b,
                                 const float* __restrict__ alpha, const float* __restrict__ rho, T* __restrict__ grad_x,
                                 float* __restrict__ grad_v0, float* __restrict__ grad_b0, float* __restrict__ grad_alpha,
                                 float* __restrict__ grad_rho, float theta, float beta, int steps, long n, int neurons,
                                 int surrogate, float sg_alpha, int detach_reset) {
    if (i >= n || steps <= 0) return;
    const int j = static_cast<int>(i % neurons);
    const float a = alpha[j], r = rho[j];
    float gv = grad_v_out != nullptr ? grad_v_out[i] : 0.0f, gb = grad_b_out != nullptr ? grad_b_out[i] : 0.0f;
    float ga = 0.0f, gr = 0.0f;
    const int segments = (steps + kSegment - 1) / kSegment;
    for (int seg = segments - 1; seg >= 0; --seg) {
        const int t0 = seg * kSegment;
        const int len = steps - t0 < kSegment ? steps - t0 : kSegment;
        float vs[kSegment], bs[kSegment], xs[kSegment];
        float v = ckpt_v[static_cast<long>(seg) * n + i], b = ckpt_b[static_cast<long>(seg) * n + i];
#pragma unroll
        for (int k = 0; k < kSegment; ++k) {
            if (k < len) {
                vs[k] = v;
                bs[k] = b;
                xs[k] = load(x, static_cast<long>(t0 + k) * n + i);
                alif_step(xs[k], v, b, a, r, theta, beta);
            }
        }
#pragma unroll
        for (int k = kSegment - 1; k >= 0; --k) {
            if (k < len) {
                const long at = static_cast<long>(t0 + k) * n + i;
                const AlifGrads g = alif_step_backward(xs[k], vs[k], bs[k], a, r, theta, beta, load(grad_s, at), gv, gb,
                                                       surrogate, sg_alpha, detach_reset != 0);
                store(grad_x, at, g.x);
                ga += g.alpha;
                gr += g.rho;
            }
        }
    }
    grad_v0[i] = gv;
    grad_b0[i] = gb;
    grad_alpha[i] = ga;
    grad_rho[i] = gr;
}

template <typename T>
NSB_HD void adlif_backward_thread(long i, const T* __restrict__ x, const T* __restrict__ grad_s,
                                  const float* __restrict__ grad_v_out, const float* __restrict__ grad_w_out,
                                  const float* __restrict__ ckpt_v, const float* __restrict__ ckpt_w,
                                  const float* __restrict__ alpha, const float* __restrict__ beta,
                                  const float* __restrict__ a, const float* __restrict__ bb, T* __restrict__ grad_x,
                                  float* __restrict__ grad_v0, float* __restrict__ grad_w0, float* __restrict__ grad_params,
                                  float theta, int steps, long n, int neurons, int surrogate, float sg_alpha,
                                  int detach_reset) {
    if (i >= n || steps <= 0) return;
    const int j = static_cast<int>(i % neurons);
    const float al = alpha[j], be = beta[j], ca = a[j], cb = bb[j];
    float gv = grad_v_out != nullptr ? grad_v_out[i] : 0.0f, gw = grad_w_out != nullptr ? grad_w_out[i] : 0.0f;
    float g_al = 0.0f, g_be = 0.0f, g_a = 0.0f, g_b = 0.0f;
    const int segments = (steps + kSegment - 1) / kSegment;
    for (int seg = segments - 1; seg >= 0; --seg) {
        const int t0 = seg * kSegment;
        const int len = steps - t0 < kSegment ? steps - t0 : kSegment;
        float vs[kSegment], ws[kSegment], xs[kSegment];
        float v = ckpt_v[static_cast<long>(seg) * n + i], w = ckpt_w[static_cast<long>(seg) * n + i];
#pragma unroll
        for (int k = 0; k < kSegment; ++k) {
            if (k < len) {
                vs[k] = v;
                ws[k] = w;
                xs[k] = load(x, static_cast<long>(t0 + k) * n + i);
                adlif_step(xs[k], v, w, al, be, ca, cb, theta);
            }
        }
#pragma unroll
        for (int k = kSegment - 1; k >= 0; --k) {
            if (k < len) {
                const long at = static_cast<long>(t0 + k) * n + i;
                const AdlifGrads g = adlif_step_backward(xs[k], vs[k], ws[k], al, be, ca, cb, theta, load(grad_s, at), gv,
                                                         gw, surrogate, sg_alpha, detach_reset != 0);
                store(grad_x, at, g.x);
                g_al += g.alpha;
                g_be += g.beta;
                g_a += g.a;
                g_b += g.b;
            }
        }
    }
    grad_v0[i] = gv;
    grad_w0[i] = gw;
    grad_params[0 * n + i] = g_al;
    grad_params[1 * n + i] = g_be;
    grad_params[2 * n + i] = g_a;
    grad_params[3 * n + i] = g_b;
}

// GLIF backward: grad_params is [7, n] (per-neuron parameters), grad_c is [steps, n] (the conductance
// rows this chunk used, per sample; the caller sums over the batch and scatters into rows start…).
template <typename T>
NSB_HD void glif_backward_thread(long i, const T* __restrict__ x, const T* __restrict__ grad_s,
                                 const float* __restrict__ grad_u_out, const float* __restrict__ ckpt_u,
                                 GlifPointers params, const float* __restrict__ c, int start, T* __restrict__ grad_x,
                                 float* __restrict__ grad_u0, float* __restrict__ grad_params, float* __restrict__ grad_c,
                                 int steps, long n, int neurons, int surrogate, float sg_alpha, int detach_reset) {
    if (i >= n || steps <= 0) return;
    const int j = static_cast<int>(i % neurons);
    const GlifParams p = glif_params(params, j);
    float gu = grad_u_out != nullptr ? grad_u_out[i] : 0.0f;
    float acc[7] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
    const int segments = (steps + kSegment - 1) / kSegment;
    for (int seg = segments - 1; seg >= 0; --seg) {
        const int t0 = seg * kSegment;
        const int len = steps - t0 < kSegment ? steps - t0 : kSegment;
        float us[kSegment], xs[kSegment];
        float u = ckpt_u[static_cast<long>(seg) * n + i];
#pragma unroll
        for (int k = 0; k < kSegment; ++k) {
            if (k < len) {
                us[k] = u;
                xs[k] = load(x, static_cast<long>(t0 + k) * n + i);
                glif_step(xs[k], u, p, c[static_cast<long>(start + t0 + k) * neurons + j]);
            }
        }
#pragma unroll
        for (int k = kSegment - 1; k >= 0; --k) {
            if (k < len) {
                const long at = static_cast<long>(t0 + k) * n + i;
                const GlifGrads g = glif_step_backward(xs[k], us[k], p, c[static_cast<long>(start + t0 + k) * neurons + j],
                                                       load(grad_s, at), gu, surrogate, sg_alpha, detach_reset != 0);
                store(grad_x, at, g.x);
                grad_c[at] = g.c;
                acc[0] += g.alpha_g;
                acc[1] += g.beta_g;
                acc[2] += g.gamma_g;
                acc[3] += g.tau;
                acc[4] += g.leak;
                acc[5] += g.re_vth;
                acc[6] += g.v_th;
            }
        }
    }
    grad_u0[i] = gu;
    for (int k = 0; k < 7; ++k) grad_params[static_cast<long>(k) * n + i] = acc[k];
}

}  // namespace nsb
