// ALIF, adLIF and GLIF steps (forward), with the same operations in the same order as their PyTorch
// step functions in nsb/neurons/ (alif_step, adlif_step, glif_step); per-neuron parameters arrive
// already folded (exp(−1/τ), clamps, σ) as the ONNX ops carry them.
#pragma once

#include "nsb_math.cuh"

namespace nsb {

// ALIF: state (v, b); s[t−1] is recomputed from (v, b).
NSB_HD float alif_step(float x, float& v, float& b, float alpha, float rho, float theta, float beta) {
    const float s_prev = fire(sub(v, add(theta, mul(beta, b))));
    b = add(mul(rho, b), mul(sub(1.0f, rho), s_prev));
    const float big_b = add(theta, mul(beta, b));
    v = sub(add(mul(alpha, v), x), mul(big_b, s_prev));
    return fire(sub(v, big_b));
}

// adLIF: state (v, w); s[t−1] = H(v[t−1] − θ) is recomputed.
NSB_HD float adlif_step(float x, float& v, float& w, float alpha, float beta, float a, float b, float theta) {
    const float s_prev = fire(sub(v, theta));
    w = add(add(mul(beta, w), mul(a, v)), mul(b, s_prev));
    v = add(mul(alpha, sub(v, s_prev)), mul(sub(1.0f, alpha), sub(x, w)));
    return fire(sub(v, theta));
}

struct GlifParams {
    float alpha_g, beta_g, gamma_g, tau, leak, re_vth, v_th;
};

// GLIF: state u; c is this step's conductance of this neuron.
NSB_HD float glif_step(float x, float& u, const GlifParams& p, float c) {
    const float s_prev = fire(sub(u, p.v_th));
    const float current = mul(x, sub(1.0f, mul(p.beta_g, sub(1.0f, c))));
    const float decay = sub(1.0f, mul(p.alpha_g, sub(1.0f, p.tau)));
    const float kept = mul(mul(decay, u), sub(1.0f, mul(p.gamma_g, s_prev)));
    u = sub(add(sub(kept, mul(sub(1.0f, p.alpha_g), p.leak)), current), mul(mul(sub(1.0f, p.gamma_g), p.re_vth), s_prev));
    return fire(sub(u, p.v_th));
}

}  // namespace nsb

// --- backward steps: exact BPTT through one step with σ' for H', recomputing the step's values ---
// Each takes the state *before* the step and the gradients flowing into the state *after* it, and
// returns the gradients into the state before it; parameter gradients accumulate into g*.
namespace nsb {

struct AlifGrads {
    float x, alpha, rho;
};

NSB_HD AlifGrads alif_step_backward(float x, float v, float b, float alpha, float rho, float theta, float beta,
                                    float grad_s, float& grad_v, float& grad_b, int surrogate, float sg_alpha,
                                    bool detach_reset) {
    // the forward values come from the forward step itself, so recomputed spikes are bit-identical
    float v_new = v, b_new = b;
    alif_step(x, v_new, b_new, alpha, rho, theta, beta);
    const float u1 = sub(v, add(theta, mul(beta, b)));
    const float s_prev = fire(u1);
    const float big_b = add(theta, mul(beta, b_new));
    const float u2 = sub(v_new, big_b);
    const float du2 = grad_s * surrogate_grad(surrogate, sg_alpha, u2);
    const float dv_new = grad_v + du2;
    const float d_big_b = dv_new * (-s_prev) - du2;
    const float db_new = grad_b + d_big_b * beta;
    const float ds_prev = detach_reset ? 0.0f : dv_new * (-big_b) + db_new * (1.0f - rho);
    const float du1 = ds_prev * surrogate_grad(surrogate, sg_alpha, u1);
    AlifGrads g;
    g.x = dv_new;
    g.alpha = dv_new * v;
    g.rho = db_new * (b - s_prev);
    grad_v = dv_new * alpha + du1;
    grad_b = db_new * rho - du1 * beta;
    return g;
}

struct AdlifGrads {
    float x, alpha, beta, a, b;
};

NSB_HD AdlifGrads adlif_step_backward(float x, float v, float w, float alpha, float beta, float a, float b, float theta,
                                      float grad_s, float& grad_v, float& grad_w, int surrogate, float sg_alpha,
                                      bool detach_reset) {
    float v_new = v, w_new = w;
    adlif_step(x, v_new, w_new, alpha, beta, a, b, theta);
    const float u1 = sub(v, theta);
    const float s_prev = fire(u1);
    const float dv_new = grad_v + grad_s * surrogate_grad(surrogate, sg_alpha, sub(v_new, theta));
    const float dw_new = grad_w - dv_new * (1.0f - alpha);
    const float ds_prev = detach_reset ? 0.0f : -dv_new * alpha + dw_new * b;
    const float du1 = ds_prev * surrogate_grad(surrogate, sg_alpha, u1);
    AdlifGrads g;
    g.x = dv_new * (1.0f - alpha);
    g.alpha = dv_new * ((v - s_prev) - (x - w_new));
    g.beta = dw_new * w;
    g.a = dw_new * v;
    g.b = dw_new * s_prev;
    grad_v = dv_new * alpha + dw_new * a + du1;
    grad_w = dw_new * beta;
    return g;
}

struct GlifGrads {
    float x, alpha_g, beta_g, gamma_g, tau, leak, re_vth, v_th, c;
};

NSB_HD GlifGrads glif_step_backward(float x, float u, const GlifParams& p, float c, float grad_s, float& grad_u,
                                    int surrogate, float sg_alpha, bool detach_reset) {
    float u_new = u;
    glif_step(x, u_new, p, c);
    const float u1 = sub(u, p.v_th);
    const float s_prev = fire(u1);
    const float gate = 1.0f - p.beta_g * (1.0f - c);
    const float decay = 1.0f - p.alpha_g * (1.0f - p.tau);
    const float keep = 1.0f - p.gamma_g * s_prev;
    const float sg2 = surrogate_grad(surrogate, sg_alpha, sub(u_new, p.v_th));
    const float du_new = grad_u + grad_s * sg2;
    const float d_decay = du_new * u * keep;
    const float ds_prev = detach_reset ? 0.0f : du_new * (decay * u * (-p.gamma_g) - (1.0f - p.gamma_g) * p.re_vth);
    const float du1 = ds_prev * surrogate_grad(surrogate, sg_alpha, u1);
    GlifGrads g;
    g.x = du_new * gate;
    g.beta_g = du_new * x * (-(1.0f - c));
    g.c = du_new * x * p.beta_g;
    g.alpha_g = d_decay * (-(1.0f - p.tau)) + du_new * p.leak;
    g.tau = d_decay * p.alpha_g;
    g.leak = -du_new * (1.0f - p.alpha_g);
    g.gamma_g = du_new * (decay * u * (-s_prev) + p.re_vth * s_prev);
    g.re_vth = -du_new * (1.0f - p.gamma_g) * s_prev;
    g.v_th = -grad_s * sg2 - du1;
    grad_u = du_new * decay * keep + du1;
    return g;
}

}  // namespace nsb
