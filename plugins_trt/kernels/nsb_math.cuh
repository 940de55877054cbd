// The arithmetic every nsb kernel shares, for the GPU and for the CPU build that CI tests.
//
// Rounding is explicit (__fmul_rn / __fadd_rn on the device) so that nvcc does not contract
// a*b + c into one FMA: the PyTorch reference rounds after every operation, and spikes agree with
// it bit for bit only if the kernels round the same way.
#ifndef NSB_NSB_MATH_CUH
#define NSB_NSB_MATH_CUH  // a guard, not #pragma once: NVRTC sees headers by include name

#if !defined(__CUDACC_RTC__)  // NVRTC has the math functions built in and no math.h
#include <math.h>
#endif

#if defined(__CUDACC__)
#define NSB_HD __host__ __device__ __forceinline__
#else
#define NSB_HD inline
#endif

namespace nsb {

NSB_HD float mul(float a, float b) {
#if defined(__CUDA_ARCH__)
    return __fmul_rn(a, b);
#else
    return a * b;
#endif
}

NSB_HD float add(float a, float b) {
#if defined(__CUDA_ARCH__)
    return __fadd_rn(a, b);
#else
    return a + b;
#endif
}

NSB_HD float div(float a, float b) {
#if defined(__CUDA_ARCH__)
    return __fdiv_rn(a, b);
#else
    return a / b;
#endif
}

NSB_HD float sub(float a, float b) {
#if defined(__CUDA_ARCH__)
    return __fsub_rn(a, b);
#else
    return a - b;
#endif
}

NSB_HD float quiet_nan() {
#if defined(__CUDA_ARCH__)
    return __int_as_float(0x7fffffff);
#else
    return NAN;
#endif
}

// The logistic function of a step's f.sigmoid: 1 / (1 + e^(−x)), each operation rounded once.
NSB_HD float sigmoid(float x) { return div(1.0f, add(1.0f, expf(-x))); }

// Heaviside: strict, a spike needs the membrane above threshold (the seed's LIFAct), or inclusive,
// u ≥ 0 (the seed's ASGL spike), as an op node's spike_test says (0: greater, 1: greater_equal).
NSB_HD float fire(float u, int inclusive) { return (u > 0.0f || (inclusive && u == 0.0f)) ? 1.0f : 0.0f; }

// The spike of a training step under ASGL's noisy spike (soft = its width a > 0; 0: the plain spike):
// r(u) + (H(u) − r(u))·keep with r(u) = clamp(u + a/2, 0, a), keep ∈ {0, 1} drawn per (sample, neuron)
// for the sequence. Each operation rounds as PyTorch's does, so keep = 1 gives r + (H − r), as the loop.
NSB_HD float fire(float u, int inclusive, float soft, float keep) {
    const float h = fire(u, inclusive);
    if (!(soft > 0.0f)) return h;
    float r = add(u, soft * 0.5f);
    r = r < 0.0f ? 0.0f : (r > soft ? soft : r);
    return add(r, mul(sub(h, r), keep));
}

// Surrogate derivatives, ids as in nsb/surrogate.py's registry order; alpha is the one width.
enum Surrogate : int {
    kRectangle = 0,
    kTriangle = 1,
    kSigmoid = 2,
    kMultiGauss = 3,
    kAtan = 4,
    kFastSigmoid = 5,
    kAsgl = 6,  // ASGL's training spike r(u) = clamp(u + a/2, 0, a): its derivative, ends included as clamp's
};

NSB_HD float gauss(float u, float mu, float sigma) {
    const float d = u - mu;
    return expf(-(d * d) / (2.0f * sigma * sigma)) / (2.5066282746310002f * sigma);
}

NSB_HD float surrogate_grad(int id, float alpha, float u) {
    switch (id) {
    case kRectangle:
        return fabsf(u) < alpha / 2.0f ? 1.0f : 0.0f;
    case kTriangle: {
        const float r = alpha - fabsf(u);
        return r > 0.0f ? r / (alpha * alpha) : 0.0f;
    }
    case kSigmoid: {
        const float k = alpha / 4.0f;
        const float s = 1.0f / (1.0f + expf(-u / k));
        return s * (1.0f - s) / k;
    }
    case kMultiGauss: {
        const float sg = alpha / 2.0f;
        return (1.15f * gauss(u, 0.0f, sg) - 0.15f * gauss(u, sg, 6.0f * sg) - 0.15f * gauss(u, -sg, 6.0f * sg)) * sg;
    }
    case kAtan: {
        const float k = 2.0f / alpha;
        const float z = 0.6366197723675814f * k * u;  // (2/pi)·k·u
        return k / (2.0f * (1.0f + z * z));
    }
    case kFastSigmoid: {
        const float d = 1.0f + fabsf(u) / alpha;
        return 1.0f / (d * d);
    }
    case kAsgl: {
        const float z = add(u, alpha * 0.5f);
        return (z >= 0.0f && z <= alpha) ? 1.0f : 0.0f;
    }
    default:
        return 0.0f;
    }
}

}  // namespace nsb

#endif  // NSB_NSB_MATH_CUH
