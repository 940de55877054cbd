// The multi-step kernel bodies of every nsb op, written once over an op's generated traits
// (plugins_trt/ops/<op>.cuh: `step` and `backward`, generated from the op's declaration in
// nsb/neurons/). The __global__ wrappers (training_kernels.cu, the plugins) call them with their
// thread or block index; the CPU build (cpu_reference.cpp) calls them in a loop, so CI runs these
// bodies themselves against the PyTorch reference.
//
// Element-wise ops: one thread owns one neuron of one sample and walks all T steps, state in
// registers, the next step's input loaded before this step is computed. Tensors are time-major and
// contiguous, x[t·n + i] with n = B·N (times the spatial size for conv layers), so consecutive
// threads read consecutive addresses at every step. Training does not store the states: the forward
// writes them every kSegment steps (checkpoints) and the backward recomputes each segment into
// registers before walking it in reverse.
//
// Recurrent R-ops: the current x + W_rec·s[t−1] + B_rec couples the neurons of a sample, so one
// block owns one sample: spikes live in shared memory, each thread computes whole dot products for
// the neurons it owns, and the states of its neurons live in the state buffers. The same body runs
// on the host with one "thread" per sample, where the barriers are no-ops.
#ifndef NSB_NEURON_KERNELS_CUH
#define NSB_NEURON_KERNELS_CUH  // a guard, not #pragma once: NVRTC sees headers by include name

#include "kernels/op_abi.cuh"
#include "kernels/storage.cuh"

namespace nsb {

constexpr int kSegment = 16;  // K: steps recomputed per backward segment, held in registers

// Everything a forward kernel reads besides X and writes besides S; passed by value (Python builds
// the same layout with ctypes, nsb/kernels/abi.py).
struct KernelArgs {
    const float* inputs[kMaxInputs];    // per-neuron vectors [N]
    const float* rows[kMaxRows];        // per-step inputs [row_count, N]
    int row_count;
    const float* t0;                    // ops with per-step inputs: the first step's row (a device scalar)
    float* t_out;                       // t0 + T
    const float* state_in[kMaxStates];  // [n] each
    float* state_out[kMaxStates];       // [n] each
    float* checkpoints[kMaxStates];     // [ceil(T / kSegment), n] each, or null (inference)
    Attributes attrs;
    const float* keep;                  // ASGL in training: [n], 1 spikes, 0 passes r(u); null: every neuron spikes
};

NSB_HD float keep_of(const KernelArgs& a, long i) { return a.keep != nullptr ? a.keep[i] : 1.0f; }

// What a backward kernel writes: gradients into the initial states, per-(sample, neuron) partial sums
// for the per-neuron inputs and float attributes (the caller reduces them over the batch, so no
// atomics and a deterministic result), per-(step, sample, neuron) gradients of the per-step inputs.
struct GradArgs {
    const float* grad_state_out[kMaxStates];  // ∂L/∂(final state) [n], or null
    float* grad_state_in[kMaxStates];         // ∂L/∂(initial state) [n]
    float* grad_inputs[kMaxInputs];           // [n] each
    float* grad_rows[kMaxRows];               // [T, n] each
    float* grad_attrs[kMaxFloats];            // [n] each, or null for attributes that are not learned
    SurrogateSpec surrogate;
};

// The recurrent R-ops' extra tensors: the synapse, and in training the per-step currents and states
// the backward reads (states_seq[k] is [T, n]: the state *after* step t).
struct RecurrentArgs {
    const float* w_rec;     // [N, N]
    const float* b_rec;     // [N]
    float* currents;        // [T, n] or null (inference)
    float* states_seq[kMaxStates];
};

template <class Op>
NSB_HD int first_row(const KernelArgs& a) {
    return Op::kRows > 0 ? static_cast<int>(a.t0[0]) : 0;
}

// One thread: neuron i of a sample over all T steps.
template <class Op, typename T>
NSB_HD void forward_thread(long i, const T* __restrict__ x, T* __restrict__ s, const KernelArgs& a, int steps, long n,
                           int neurons) {
    if (i >= n) return;
    const int j = static_cast<int>(i % neurons);
    float in[Op::kInputs > 0 ? Op::kInputs : 1];
    for (int k = 0; k < Op::kInputs; ++k) in[k] = a.inputs[k][j];
    float st[Op::kStates];
    for (int k = 0; k < Op::kStates; ++k) st[k] = a.state_in[k][i];
    const float keep = keep_of(a, i);
    const int start = first_row<Op>(a);
    if (Op::kRows > 0) {
        if (i == 0 && a.t_out != nullptr) a.t_out[0] = a.t0[0] + static_cast<float>(steps);
        if (start < 0 || start + steps > a.row_count) {  // no defined result: spikes 0, states NaN
            for (int t = 0; t < steps; ++t) store(s, static_cast<long>(t) * n + i, 0.0f);
            for (int k = 0; k < Op::kStates; ++k) a.state_out[k][i] = quiet_nan();
            return;
        }
    }
    float row[Op::kRows > 0 ? Op::kRows : 1];
    float next = steps > 0 ? load(x, i) : 0.0f;
    for (int t = 0; t < steps; ++t) {
        const float xt = next;
        if (t + 1 < steps) next = load(x, static_cast<long>(t + 1) * n + i);
        if (a.checkpoints[0] != nullptr && t % kSegment == 0)
            for (int k = 0; k < Op::kStates; ++k) a.checkpoints[k][static_cast<long>(t / kSegment) * n + i] = st[k];
        for (int k = 0; k < Op::kRows; ++k) row[k] = a.rows[k][static_cast<long>(start + t) * neurons + j];
        store(s, static_cast<long>(t) * n + i, Op::step(a.attrs, xt, st, in, row, keep));
    }
    for (int k = 0; k < Op::kStates; ++k) a.state_out[k][i] = st[k];
}

// One thread's backward: each kSegment-step segment recomputed from its checkpoint, then walked in
// reverse through the op's generated backward step.
template <class Op, typename T>
NSB_HD void backward_thread(long i, const T* __restrict__ x, const T* __restrict__ grad_s, T* __restrict__ grad_x,
                            const KernelArgs& a, const GradArgs& g, int steps, long n, int neurons) {
    if (i >= n) return;
    const int j = static_cast<int>(i % neurons);
    const float keep = keep_of(a, i);
    float in[Op::kInputs > 0 ? Op::kInputs : 1];
    for (int k = 0; k < Op::kInputs; ++k) in[k] = a.inputs[k][j];
    float gst[Op::kStates];
    for (int k = 0; k < Op::kStates; ++k) gst[k] = g.grad_state_out[k] != nullptr ? g.grad_state_out[k][i] : 0.0f;
    float gin[Op::kInputs > 0 ? Op::kInputs : 1] = {};
    float gattr[Op::kFloats > 0 ? Op::kFloats : 1] = {};
    const int start = first_row<Op>(a);
    const int segments = (steps + kSegment - 1) / kSegment;
    for (int seg = segments - 1; seg >= 0; --seg) {
        const int t0 = seg * kSegment;
        const int len = steps - t0 < kSegment ? steps - t0 : kSegment;
        float saved[kSegment][Op::kStates];
        float xs[kSegment];
        float st[Op::kStates];
        float row[Op::kRows > 0 ? Op::kRows : 1];
        for (int k = 0; k < Op::kStates; ++k) st[k] = a.checkpoints[k][static_cast<long>(seg) * n + i];
#pragma unroll
        for (int q = 0; q < kSegment; ++q) {
            if (q < len) {
                for (int k = 0; k < Op::kStates; ++k) saved[q][k] = st[k];
                xs[q] = load(x, static_cast<long>(t0 + q) * n + i);
                for (int k = 0; k < Op::kRows; ++k) row[k] = a.rows[k][static_cast<long>(start + t0 + q) * neurons + j];
                Op::step(a.attrs, xs[q], st, in, row, keep);
            }
        }
#pragma unroll
        for (int q = kSegment - 1; q >= 0; --q) {
            if (q < len) {
                const long at = static_cast<long>(t0 + q) * n + i;
                for (int k = 0; k < Op::kRows; ++k) row[k] = a.rows[k][static_cast<long>(start + t0 + q) * neurons + j];
                float gx = 0.0f;
                float grow[Op::kRows > 0 ? Op::kRows : 1] = {};
                Op::backward(a.attrs, xs[q], saved[q], in, row, load(grad_s, at), gst, gx, gin, grow, gattr,
                             g.surrogate, keep);
                store(grad_x, at, gx);
                for (int k = 0; k < Op::kRows; ++k) g.grad_rows[k][at] = grow[k];
            }
        }
    }
    for (int k = 0; k < Op::kStates; ++k) g.grad_state_in[k][i] = gst[k];
    for (int k = 0; k < Op::kInputs; ++k) g.grad_inputs[k][i] = gin[k];
    for (int k = 0; k < Op::kFloats; ++k)
        if (g.grad_attrs[k] != nullptr) g.grad_attrs[k][i] = gattr[k];
}

#if defined(__CUDA_ARCH__)
#define NSB_BARRIER() __syncthreads()
#else
#define NSB_BARRIER() ((void)0)
#endif

// Recurrent forward of sample b: this "thread" owns neurons first, first + stride, … The working
// states live in a.state_out (initialised from a.state_in); `shared` holds 2·N floats: the spikes
// of the previous step and this step's. In training, r.currents and r.states_seq record each step.
template <class Op, typename T>
NSB_HD void recurrent_forward_sample(int b, int first, int stride, float* shared, const T* __restrict__ x,
                                     T* __restrict__ s, const KernelArgs& a, const RecurrentArgs& r, int steps,
                                     int batch, int neurons) {
    const long n = static_cast<long>(batch) * neurons;
    const int spike = Op::kStates - 1;  // the last spike is every op's last state
    float* previous = shared;
    float* fired = shared + neurons;
    const int start = first_row<Op>(a);
    if (Op::kRows > 0 && b == 0 && first == 0 && a.t_out != nullptr) a.t_out[0] = a.t0[0] + static_cast<float>(steps);
    const bool in_range = Op::kRows == 0 || (start >= 0 && start + steps <= a.row_count);
    for (int j = first; j < neurons; j += stride) {
        const long i = static_cast<long>(b) * neurons + j;
        for (int k = 0; k < Op::kStates; ++k) a.state_out[k][i] = a.state_in[k][i];
        previous[j] = a.state_in[spike][i];
    }
    NSB_BARRIER();
    for (int t = 0; t < steps; ++t) {
        for (int j = first; j < neurons; j += stride) {
            const long i = static_cast<long>(b) * neurons + j;
            const long at = static_cast<long>(t) * n + i;
            float rec = 0.0f;
            const float* w = r.w_rec + static_cast<long>(j) * neurons;
            for (int m = 0; m < neurons; ++m) rec = add(rec, mul(previous[m], w[m]));
            const float current = add(load(x, at), add(rec, r.b_rec[j]));  // x + (W·s + b), as nn.Linear adds
            float in[Op::kInputs > 0 ? Op::kInputs : 1];
            for (int k = 0; k < Op::kInputs; ++k) in[k] = a.inputs[k][j];
            float row[Op::kRows > 0 ? Op::kRows : 1];
            for (int k = 0; k < Op::kRows; ++k) row[k] = in_range ? a.rows[k][static_cast<long>(start + t) * neurons + j] : 0.0f;
            float st[Op::kStates];
            for (int k = 0; k < Op::kStates; ++k) st[k] = a.state_out[k][i];
            const float out = in_range ? Op::step(a.attrs, current, st, in, row, keep_of(a, i)) : 0.0f;
            if (!in_range)
                for (int k = 0; k < Op::kStates; ++k) st[k] = quiet_nan();
            for (int k = 0; k < Op::kStates; ++k) a.state_out[k][i] = st[k];
            if (r.currents != nullptr) {
                r.currents[at] = current;
                for (int k = 0; k < Op::kStates - 1; ++k) r.states_seq[k][at] = st[k];
            }
            store(s, at, out);
            fired[j] = out;
        }
        NSB_BARRIER();
        for (int j = first; j < neurons; j += stride) previous[j] = fired[j];
        NSB_BARRIER();
    }
}

// Recurrent backward of sample b, in reverse time from the recorded currents and states: the state
// before step t is the recorded one of step t − 1 (the initial state at t = 0), its spike the output
// spike. ∂L/∂s[t−1] gains W_recᵀ·∂L/∂I[t] through the current I = x + W_rec·s[t−1] + B_rec, summed
// in shared memory (`shared`: 2·N floats). Writes ∂L/∂I per step into grad_current (the caller forms
// ∂L/∂W_rec = Σ ∂L/∂I ⊗ s[t−1] with one GEMM); g.grad_state_in doubles as the working ∂L/∂state.
template <class Op, typename T>
NSB_HD void recurrent_backward_sample(int b, int first, int stride, float* shared, const T* __restrict__ s,
                                      const T* __restrict__ grad_s, float* __restrict__ grad_current,
                                      const KernelArgs& a, const GradArgs& g, const RecurrentArgs& r, int steps,
                                      int batch, int neurons) {
    const long n = static_cast<long>(batch) * neurons;
    const int spike = Op::kStates - 1;
    float* d_current = shared;
    float* carry = shared + neurons;  // ∂L/∂s[t] through the next step's recurrent current
    const int start = first_row<Op>(a);
    for (int j = first; j < neurons; j += stride) {
        const long i = static_cast<long>(b) * neurons + j;
        for (int k = 0; k < Op::kStates; ++k)
            g.grad_state_in[k][i] = g.grad_state_out[k] != nullptr ? g.grad_state_out[k][i] : 0.0f;
        for (int k = 0; k < Op::kInputs; ++k) g.grad_inputs[k][i] = 0.0f;
        for (int k = 0; k < Op::kFloats; ++k)
            if (g.grad_attrs[k] != nullptr) g.grad_attrs[k][i] = 0.0f;
        carry[j] = 0.0f;
    }
    NSB_BARRIER();
    for (int t = steps - 1; t >= 0; --t) {
        for (int j = first; j < neurons; j += stride) {
            const long i = static_cast<long>(b) * neurons + j;
            const long at = static_cast<long>(t) * n + i;
            float in[Op::kInputs > 0 ? Op::kInputs : 1];
            for (int k = 0; k < Op::kInputs; ++k) in[k] = a.inputs[k][j];
            float row[Op::kRows > 0 ? Op::kRows : 1];
            for (int k = 0; k < Op::kRows; ++k) row[k] = a.rows[k][static_cast<long>(start + t) * neurons + j];
            float before[Op::kStates];
            for (int k = 0; k < Op::kStates - 1; ++k)
                before[k] = t > 0 ? r.states_seq[k][at - n] : a.state_in[k][i];
            before[spike] = t > 0 ? load(s, at - n) : a.state_in[spike][i];
            float gst[Op::kStates];
            for (int k = 0; k < Op::kStates; ++k) gst[k] = g.grad_state_in[k][i];
            float gin[Op::kInputs > 0 ? Op::kInputs : 1] = {};
            float gattr[Op::kFloats > 0 ? Op::kFloats : 1] = {};
            float grow[Op::kRows > 0 ? Op::kRows : 1] = {};
            float gx = 0.0f;
            Op::backward(a.attrs, r.currents[at], before, in, row, load(grad_s, at) + carry[j], gst, gx, gin, grow,
                         gattr, g.surrogate, keep_of(a, i));
            for (int k = 0; k < Op::kStates; ++k) g.grad_state_in[k][i] = gst[k];
            for (int k = 0; k < Op::kInputs; ++k) g.grad_inputs[k][i] += gin[k];
            for (int k = 0; k < Op::kFloats; ++k)
                if (g.grad_attrs[k] != nullptr) g.grad_attrs[k][i] += gattr[k];
            for (int k = 0; k < Op::kRows; ++k) g.grad_rows[k][at] = grow[k];
            grad_current[at] = gx;
            d_current[j] = gx;
        }
        NSB_BARRIER();
        for (int m = first; m < neurons; m += stride) {
            float acc = 0.0f;
            for (int j = 0; j < neurons; ++j) acc += r.w_rec[static_cast<long>(j) * neurons + m] * d_current[j];
            carry[m] = acc;
        }
        NSB_BARRIER();
    }
    for (int j = first; j < neurons; j += stride) g.grad_state_in[spike][static_cast<long>(b) * neurons + j] += carry[j];
}

}  // namespace nsb

#endif  // NSB_NEURON_KERNELS_CUH
