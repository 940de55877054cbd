// The kernel bodies of neuron_kernels.cuh built for the CPU (fp32), one loop over the threads, so the
// tests run the very code the GPU runs against the PyTorch reference. Loaded with ctypes by
// nsb.kernels.cpu; not a fast path.
#include <algorithm>
#include <vector>

#include "neuron_kernels.cuh"

extern "C" {

int nsb_abi_version() { return 1; }

void nsb_lif_forward(const float* x, const float* v0, float* s, float* v_out, float* checkpoints, float decay,
                     float input_gain, float v_threshold, float v_reset, int reset_mode, int steps, long n) {
    const nsb::LifParams p{decay, input_gain, v_threshold, v_reset, reset_mode};
    for (long i = 0; i < n; ++i) nsb::lif_forward_thread<float>(i, x, v0, s, v_out, checkpoints, p, steps, n);
}

void nsb_lif_backward(const float* x, const float* grad_s, const float* grad_v_out, const float* checkpoints,
                      float* grad_x, float* grad_v0, float* grad_decay, float decay, float input_gain, float v_threshold, float v_reset,
                      int reset_mode, int steps, long n, int surrogate, float alpha, int detach_reset) {
    const nsb::LifParams p{decay, input_gain, v_threshold, v_reset, reset_mode};
    for (long i = 0; i < n; ++i)
        nsb::lif_backward_thread<float>(i, x, grad_s, grad_v_out, checkpoints, grad_x, grad_v0, grad_decay, p, steps, n,
                                        surrogate, alpha, detach_reset);
}

void nsb_alif_forward(const float* x, const float* alpha, const float* rho, const float* v0, const float* b0, float* s,
                      float* v_out, float* b_out, float* ckpt_v, float* ckpt_b, float theta, float beta, int steps,
                      long n, int neurons) {
    for (long i = 0; i < n; ++i)
        nsb::alif_forward_thread<float>(i, x, alpha, rho, v0, b0, s, v_out, b_out, ckpt_v, ckpt_b, theta, beta, steps,
                                        n, neurons);
}

void nsb_alif_backward(const float* x, const float* grad_s, const float* grad_v_out, const float* grad_b_out,
                       const float* ckpt_v, const float* ckpt_b, const float* alpha, const float* rho, float* grad_x,
                       float* grad_v0, float* grad_b0, float* grad_alpha, float* grad_rho, float theta, float beta,
                       int steps, long n, int neurons, int surrogate, float sg_alpha, int detach_reset) {
    for (long i = 0; i < n; ++i)
        nsb::alif_backward_thread<float>(i, x, grad_s, grad_v_out, grad_b_out, ckpt_v, ckpt_b, alpha, rho, grad_x,
                                         grad_v0, grad_b0, grad_alpha, grad_rho, theta, beta, steps, n, neurons,
                                         surrogate, sg_alpha, detach_reset);
}

void nsb_adlif_forward(const float* x, const float* alpha, const float* beta, const float* a, const float* b,
                       const float* v0, const float* w0, float* s, float* v_out, float* w_out, float* ckpt_v,
                       float* ckpt_w, float theta, int steps, long n, int neurons) {
    for (long i = 0; i < n; ++i)
        nsb::adlif_forward_thread<float>(i, x, alpha, beta, a, b, v0, w0, s, v_out, w_out, ckpt_v, ckpt_w, theta, steps,
                                         n, neurons);
}

void nsb_adlif_backward(const float* x, const float* grad_s, const float* grad_v_out, const float* grad_w_out,
                        const float* ckpt_v, const float* ckpt_w, const float* alpha, const float* beta, const float* a,
                        const float* b, float* grad_x, float* grad_v0, float* grad_w0, float* grad_params, float theta,
                        int steps, long n, int neurons, int surrogate, float sg_alpha, int detach_reset) {
    for (long i = 0; i < n; ++i)
        nsb::adlif_backward_thread<float>(i, x, grad_s, grad_v_out, grad_w_out, ckpt_v, ckpt_w, alpha, beta, a, b,
                                          grad_x, grad_v0, grad_w0, grad_params, theta, steps, n, neurons, surrogate,
                                          sg_alpha, detach_reset);
}

void nsb_glif_forward(const float* x, const float* params, const float* c, int c_rows, const float* u0,
                      const float* t0, float* s, float* u_out, float* t_out, float* ckpt_u, int steps, long n,
                      int neurons) {
    nsb::GlifPointers p;
    for (int k = 0; k < 7; ++k) p.p[k] = params + static_cast<long>(k) * neurons;
    for (long i = 0; i < n; ++i)
        nsb::glif_forward_thread<float>(i, x, p, c, c_rows, u0, t0, s, u_out, t_out, ckpt_u, steps, n, neurons);
}

void nsb_glif_backward(const float* x, const float* grad_s, const float* grad_u_out, const float* ckpt_u,
                       const float* params, const float* c, int start, float* grad_x, float* grad_u0,
                       float* grad_params, float* grad_c, int steps, long n, int neurons, int surrogate, float sg_alpha,
                       int detach_reset) {
    nsb::GlifPointers p;
    for (int k = 0; k < 7; ++k) p.p[k] = params + static_cast<long>(k) * neurons;
    for (long i = 0; i < n; ++i)
        nsb::glif_backward_thread<float>(i, x, grad_s, grad_u_out, ckpt_u, p, c, start, grad_x, grad_u0, grad_params,
                                         grad_c, steps, n, neurons, surrogate, sg_alpha, detach_reset);
}

// RLIF forward (for the tests): the same step with the recurrent current summed in the kernel's order.
void nsb_rlif_forward(const float* x, const float* w, const float* bias, const float* v0, const float* s0, float* s,
                      float* h_out, float* v_out, float* s_out, float decay, float input_gain, float v_threshold,
                      float v_reset, int reset_mode, int steps, int batch, int neurons) {
    const nsb::LifParams p{decay, input_gain, v_threshold, v_reset, reset_mode};
    const long n = static_cast<long>(batch) * neurons;
    std::vector<float> v(v0, v0 + n), last(s0, s0 + n), next(n);
    for (int t = 0; t < steps; ++t) {
        for (int b = 0; b < batch; ++b)
            for (int j = 0; j < neurons; ++j) {
                const long i = static_cast<long>(b) * neurons + j;
                float rec = 0.0f;
                for (int m = 0; m < neurons; ++m) rec = nsb::add(rec, nsb::mul(last[b * neurons + m], w[j * neurons + m]));
                const float current = nsb::add(x[t * n + i], nsb::add(rec, bias[j]));
                const nsb::LifStep r = nsb::lif_step(current, v[i], p);
                h_out[t * n + i] = r.h;
                s[t * n + i] = r.s;
                v[i] = r.v;
                next[i] = r.s;
            }
        last = next;
    }
    std::copy(v.begin(), v.end(), v_out);
    std::copy(last.begin(), last.end(), s_out);
}

void nsb_rlif_backward(const float* s, const float* h, const float* grad_s, const float* grad_v_out,
                       const float* grad_s_out, const float* w, float* grad_current, float* grad_v0, float* grad_s0,
                       float decay, float input_gain, float v_threshold, float v_reset, int reset_mode, int steps,
                       int batch, int neurons, int surrogate, float alpha, int detach_reset) {
    const nsb::LifParams p{decay, input_gain, v_threshold, v_reset, reset_mode};
    std::vector<float> gv(neurons), carry(neurons), d(neurons);
    for (int b = 0; b < batch; ++b)
        nsb::rlif_backward_sample(b, s, h, grad_s, grad_v_out, grad_s_out, w, grad_current, grad_v0, grad_s0, gv.data(),
                                  carry.data(), d.data(), p, steps, batch, neurons, surrogate, alpha, detach_reset);
}

float nsb_surrogate_grad(int id, float alpha, float u) { return nsb::surrogate_grad(id, alpha, u); }

}  // extern "C"
