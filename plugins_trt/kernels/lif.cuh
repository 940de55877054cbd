// LIF family (LIF, IF, PLIF; RLIF adds its recurrent current to x before the step), DESIGN §4:
//
//   h[t] = decay·v[t−1] + input_gain·x[t]
//   s[t] = H(h[t] − θ)
//   v[t] = h·(1 − s) + s·v_reset (hard) | h − s·θ (soft) | h (none)
//
// The backward step is the exact BPTT derivative with the surrogate σ' standing in for H':
//   ∂L/∂h[t] = σ'(h−θ)·(∂L/∂s[t] + ∂L/∂v[t]·∂v/∂s) + ∂L/∂v[t]·∂v/∂h|_s
//   ∂v/∂s = v_reset − h (hard), −θ (soft), 0 (none);  ∂v/∂h|_s = 1 − s (hard), 1 (soft, none)
//   ∂L/∂x[t] = input_gain·∂L/∂h[t];   ∂L/∂v[t−1] = decay·∂L/∂h[t]
// detach_reset drops the ∂v/∂s term (the seed's SDBP/SLTT-style reset detachment).
#pragma once

#include "nsb_math.cuh"

namespace nsb {

enum ResetMode : int { kHard = 0, kSoft = 1, kNone = 2 };

struct LifParams {
    float decay;
    float input_gain;
    float v_threshold;
    float v_reset;
    int reset_mode;
};

struct LifStep {
    float h;  // membrane before reset
    float s;  // spike
    float v;  // membrane after reset
};

NSB_HD LifStep lif_step(float x, float v, const LifParams& p) {
    LifStep r;
    r.h = add(mul(p.decay, v), mul(p.input_gain, x));
    r.s = fire(sub(r.h, p.v_threshold));
    if (p.reset_mode == kHard) {
        r.v = add(mul(r.h, sub(1.0f, r.s)), mul(r.s, p.v_reset));
    } else if (p.reset_mode == kSoft) {
        r.v = sub(r.h, mul(r.s, p.v_threshold));
    } else {
        r.v = r.h;
    }
    return r;
}

// One reverse step: grad_v is ∂L/∂v[t] on entry and ∂L/∂v[t−1] on return; returns ∂L/∂x[t] and sets
// grad_h = ∂L/∂h[t] (a learned decay's gradient is Σ_t ∂L/∂h[t]·v[t−1], PLIF).
NSB_HD float lif_step_backward(const LifStep& r, float grad_s, float& grad_v, const LifParams& p, int surrogate,
                               float alpha, bool detach_reset, float& grad_h_out) {
    const float sg = surrogate_grad(surrogate, alpha, r.h - p.v_threshold);
    float dv_ds = 0.0f, dv_dh = 1.0f;
    if (p.reset_mode == kHard) {
        dv_ds = p.v_reset - r.h;
        dv_dh = 1.0f - r.s;
    } else if (p.reset_mode == kSoft) {
        dv_ds = -p.v_threshold;
    }
    if (detach_reset) dv_ds = 0.0f;
    const float grad_h = sg * (grad_s + grad_v * dv_ds) + grad_v * dv_dh;
    grad_h_out = grad_h;
    grad_v = p.decay * grad_h;
    return p.input_gain * grad_h;
}

}  // namespace nsb
