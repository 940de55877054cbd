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
