// The CPU training kernels: the same per-element arithmetic as the bodies of neuron_kernels.cuh (each
// op's generated `step` and `backward`, in the same order), laid out for a CPU instead of a GPU.
//
// The GPU walks one neuron through all T steps per thread; here a task owns a block of kBlock
// consecutive elements (neurons of one sample) and walks time outermost with the block innermost,
// its states in small arrays, so the compiler vectorises each step across neurons (nothing is
// reordered *within* an element, and -ffp-contract=off keeps multiplies and adds apart, so every
// result is bit-identical to the reference build, cpu_reference.cpp). Blocks run in parallel with
// OpenMP (the thread count comes from the caller: torch.get_num_threads()).
//
// Recurrent R-ops: a task owns a block of samples. The recurrent current W_rec·s[t−1] is accumulated
// neuron-vectorised over the transposed weight (rec[j] += s[m]·W[j][m], m in the reference's order,
// each row of W_recᵀ read once per step for the whole block), and only over the presynaptic neurons
// that spiked: a zero spike adds ±0 to a sum that is never −0,
// which changes nothing, so skipping it is exact (when every weight is finite; otherwise nothing is
// skipped). The backward's W_recᵀ·∂L/∂I skips the zero ∂L/∂I the same way.
//
// Exported per op: nsb_<op>_forward_cpu / nsb_<op>_backward_cpu, the reference's arguments and the
// thread count.
#include <atomic>
#include <cmath>
#include <type_traits>
#include <vector>

#if defined(_OPENMP)
#include <omp.h>
#endif

#define NSB_CPU_KERNELS 1  // the ops' step_at / backward_at (variant and surrogate fixed at compile time)
#include "kernels/neuron_kernels.cuh"
#include "ops/all.cuh"

namespace nsb {
namespace cpu {

constexpr int kBlock = 64;  // elements per task: a step of a block is a few vectors wide

template <int K>
struct Dim {
    static constexpr int value = K > 0 ? K : 1;
};

// the threads the last parallel loop ran on (read by the tests through nsb_cpu_last_threads)
inline std::atomic<int>& last_threads() {
    static std::atomic<int> count{0};
    return count;
}

inline void note_threads() {  // called by the task with index 0
#if defined(_OPENMP)
    last_threads().store(omp_get_num_threads());
#else
    last_threads().store(1);
#endif
}

inline int threads_for(int requested, long tasks) {
    int t = requested;
#if defined(_OPENMP)
    if (t <= 0) t = omp_get_max_threads();
#else
    t = 1;
#endif
    if (tasks < t) t = static_cast<int>(tasks > 0 ? tasks : 1);
    return t < 1 ? 1 : t;
}

// The derivative of surrogate Id as a functor: its switch folds away, so a loop calling it vectorises
// (those with expf stay scalar: without -ffast-math no vector expf is used, which keeps results exact).
template <int Id>
struct Grad {
    float alpha;
    float operator()(float u) const { return surrogate_grad(Id, alpha, u); }
};
struct AnyGrad {  // an id without its own instantiation: the reference's switch
    int id;
    float alpha;
    float operator()(float u) const { return surrogate_grad(id, alpha, u); }
};

// f(variant as a std::integral_constant) for the op's variant v
template <class Op, int V = 0, class F>
void with_variant(int v, F const& f) {
    if constexpr (V < Op::kVariants) {
        if (v == V)
            f(std::integral_constant<int, V>{});
        else
            with_variant<Op, V + 1>(v, f);
    }
}

// f(derivative functor) for the surrogate of sg
template <class F>
void with_surrogate(SurrogateSpec const& sg, F const& f) {
    switch (sg.id) {
    case kRectangle: f(Grad<kRectangle>{sg.alpha}); return;
    case kTriangle: f(Grad<kTriangle>{sg.alpha}); return;
    case kAtan: f(Grad<kAtan>{sg.alpha}); return;
    case kFastSigmoid: f(Grad<kFastSigmoid>{sg.alpha}); return;
    case kAsgl: f(Grad<kAsgl>{sg.alpha}); return;
    default: f(AnyGrad{sg.id, sg.alpha}); return;  // sigmoid, multigauss: expf, scalar either way
    }
}

inline bool all_finite(const float* w, long count) {
    for (long k = 0; k < count; ++k)
        if (!std::isfinite(w[k])) return false;
    return true;
}

// ---- element-wise ops ----------------------------------------------------------------------------

template <class Op, int V>
void forward_block(long i0, int w, const float* __restrict__ x, float* __restrict__ s, const KernelArgs& a,
                   int steps, long n, int neurons, int start, bool in_range) {
    const Attributes attrs = a.attrs;  // a local copy: no store can alias it, so its choices stay invariant
    float st[Op::kStates][kBlock];
    float in[Dim<Op::kInputs>::value][kBlock];
    int col[kBlock];
    float keep[kBlock];  // ASGL's draw in training (1 otherwise)
    for (int q = 0; q < w; ++q) col[q] = static_cast<int>((i0 + q) % neurons);
    for (int q = 0; q < w; ++q) keep[q] = a.keep != nullptr ? a.keep[i0 + q] : 1.0f;
    for (int k = 0; k < Op::kStates; ++k)
        for (int q = 0; q < w; ++q) st[k][q] = a.state_in[k][i0 + q];
    for (int k = 0; k < Op::kInputs; ++k)
        for (int q = 0; q < w; ++q) in[k][q] = a.inputs[k][col[q]];
    if (!in_range) {  // no defined result: spikes 0, states NaN (as the reference)
        for (int t = 0; t < steps; ++t)
            for (int q = 0; q < w; ++q) s[static_cast<long>(t) * n + i0 + q] = 0.0f;
        for (int k = 0; k < Op::kStates; ++k)
            for (int q = 0; q < w; ++q) a.state_out[k][i0 + q] = quiet_nan();
        return;
    }
    float row[Dim<Op::kRows>::value][kBlock];
    for (int t = 0; t < steps; ++t) {
        if (a.checkpoints[0] != nullptr && t % kSegment == 0)
            for (int k = 0; k < Op::kStates; ++k) {
                float* c = a.checkpoints[k] + static_cast<long>(t / kSegment) * n + i0;
                for (int q = 0; q < w; ++q) c[q] = st[k][q];
            }
        for (int k = 0; k < Op::kRows; ++k) {
            const float* r = a.rows[k] + static_cast<long>(start + t) * neurons;
            for (int q = 0; q < w; ++q) row[k][q] = r[col[q]];
        }
        const float* xt = x + static_cast<long>(t) * n + i0;
        float* savedst = s + static_cast<long>(t) * n + i0;
        for (int q = 0; q < w; ++q) {
            float e[Op::kStates], ein[Dim<Op::kInputs>::value], erow[Dim<Op::kRows>::value];
            for (int k = 0; k < Op::kStates; ++k) e[k] = st[k][q];
            for (int k = 0; k < Op::kInputs; ++k) ein[k] = in[k][q];
            for (int k = 0; k < Op::kRows; ++k) erow[k] = row[k][q];
            savedst[q] = Op::template step_at<V>(attrs, xt[q], e, ein, erow, keep[q]);
            for (int k = 0; k < Op::kStates; ++k) st[k][q] = e[k];
        }
    }
    for (int k = 0; k < Op::kStates; ++k)
        for (int q = 0; q < w; ++q) a.state_out[k][i0 + q] = st[k][q];
}

template <class Op, int V, class G>
void backward_block(long i0, int w, const float* __restrict__ x, const float* __restrict__ grad_s,
                    float* __restrict__ grad_x, const KernelArgs& a, const GradArgs& g, int steps, long n,
                    int neurons, int start, G const grad) {
    const Attributes attrs = a.attrs;
    const SurrogateSpec sg = g.surrogate;
    constexpr int S = Op::kStates, I = Dim<Op::kInputs>::value, R = Dim<Op::kRows>::value;
    constexpr int F = Dim<Op::kFloats>::value;
    int col[kBlock];
    float keep[kBlock];
    for (int q = 0; q < w; ++q) col[q] = static_cast<int>((i0 + q) % neurons);
    for (int q = 0; q < w; ++q) keep[q] = a.keep != nullptr ? a.keep[i0 + q] : 1.0f;
    float in[I][kBlock];
    for (int k = 0; k < Op::kInputs; ++k)
        for (int q = 0; q < w; ++q) in[k][q] = a.inputs[k][col[q]];
    float gst[S][kBlock], gin[I][kBlock], gattr[F][kBlock];
    for (int k = 0; k < S; ++k)
        for (int q = 0; q < w; ++q) gst[k][q] = g.grad_state_out[k] != nullptr ? g.grad_state_out[k][i0 + q] : 0.0f;
    for (int k = 0; k < I; ++k)
        for (int q = 0; q < w; ++q) gin[k][q] = 0.0f;
    for (int k = 0; k < F; ++k)
        for (int q = 0; q < w; ++q) gattr[k][q] = 0.0f;
    static thread_local std::vector<float> saved_buffer;  // [kSegment][S][kBlock]: the states before each step
    saved_buffer.resize(static_cast<size_t>(kSegment) * S * kBlock);
    float* saved = saved_buffer.data();
    float row[R][kBlock];
    float st[S][kBlock];
    const int segments = (steps + kSegment - 1) / kSegment;
    for (int seg = segments - 1; seg >= 0; --seg) {
        const int t0 = seg * kSegment;
        const int len = steps - t0 < kSegment ? steps - t0 : kSegment;
        for (int k = 0; k < S; ++k) {
            const float* c = a.checkpoints[k] + static_cast<long>(seg) * n + i0;
            for (int q = 0; q < w; ++q) st[k][q] = c[q];
        }
        for (int p = 0; p < len; ++p) {  // recompute the segment, keeping the state before each step
            for (int k = 0; k < Op::kRows; ++k) {
                const float* r = a.rows[k] + static_cast<long>(start + t0 + p) * neurons;
                for (int q = 0; q < w; ++q) row[k][q] = r[col[q]];
            }
            float* sv = saved + static_cast<long>(p) * S * kBlock;
            const float* xt = x + static_cast<long>(t0 + p) * n + i0;
            for (int q = 0; q < w; ++q) {
                float e[S], ein[I], erow[R];
                for (int k = 0; k < S; ++k) sv[k * kBlock + q] = e[k] = st[k][q];
                for (int k = 0; k < Op::kInputs; ++k) ein[k] = in[k][q];
                for (int k = 0; k < Op::kRows; ++k) erow[k] = row[k][q];
                Op::template step_at<V>(attrs, xt[q], e, ein, erow, keep[q]);
                for (int k = 0; k < S; ++k) st[k][q] = e[k];
            }
        }
        for (int p = len - 1; p >= 0; --p) {  // walk it in reverse
            const long at = static_cast<long>(t0 + p) * n + i0;
            for (int k = 0; k < Op::kRows; ++k) {
                const float* r = a.rows[k] + static_cast<long>(start + t0 + p) * neurons;
                for (int q = 0; q < w; ++q) row[k][q] = r[col[q]];
            }
            const float* sv = saved + static_cast<long>(p) * S * kBlock;
            for (int q = 0; q < w; ++q) {
                float before[S], e[S], ein[I], erow[R], egin[I], egattr[F];
                float grow[R] = {};
                for (int k = 0; k < S; ++k) before[k] = sv[k * kBlock + q];
                for (int k = 0; k < S; ++k) e[k] = gst[k][q];
                for (int k = 0; k < Op::kInputs; ++k) ein[k] = in[k][q];
                for (int k = 0; k < Op::kRows; ++k) erow[k] = row[k][q];
                for (int k = 0; k < I; ++k) egin[k] = gin[k][q];
                for (int k = 0; k < F; ++k) egattr[k] = gattr[k][q];
                float gx = 0.0f;
                Op::template backward_at<V>(attrs, x[at + q], before, ein, erow, grad_s[at + q], e, gx, egin, grow,
                                            egattr, sg, grad, keep[q]);
                grad_x[at + q] = gx;
                for (int k = 0; k < S; ++k) gst[k][q] = e[k];
                for (int k = 0; k < I; ++k) gin[k][q] = egin[k];
                for (int k = 0; k < F; ++k) gattr[k][q] = egattr[k];
                for (int k = 0; k < Op::kRows; ++k) g.grad_rows[k][at + q] = grow[k];
            }
        }
    }
    for (int k = 0; k < S; ++k)
        for (int q = 0; q < w; ++q) g.grad_state_in[k][i0 + q] = gst[k][q];
    for (int k = 0; k < Op::kInputs; ++k)
        for (int q = 0; q < w; ++q) g.grad_inputs[k][i0 + q] = gin[k][q];
    for (int k = 0; k < Op::kFloats; ++k)
        if (g.grad_attrs[k] != nullptr)
            for (int q = 0; q < w; ++q) g.grad_attrs[k][i0 + q] = gattr[k][q];
}

template <class Op>
void elementwise_forward(const float* x, float* s, const KernelArgs& a, int steps, long n, int neurons,
                         int threads) {
    const int start = first_row<Op>(a);
    if (Op::kRows > 0 && a.t_out != nullptr) a.t_out[0] = a.t0[0] + static_cast<float>(steps);
    const bool in_range = Op::kRows == 0 || (start >= 0 && start + steps <= a.row_count);
    const long blocks = (n + kBlock - 1) / kBlock;
    with_variant<Op>(Op::variant(a.attrs), [&](auto v) {
#pragma omp parallel for schedule(static) num_threads(threads_for(threads, blocks))
        for (long blk = 0; blk < blocks; ++blk) {
            if (blk == 0) note_threads();
            const long i0 = blk * kBlock;
            const int w = static_cast<int>(n - i0 < kBlock ? n - i0 : kBlock);
            forward_block<Op, decltype(v)::value>(i0, w, x, s, a, steps, n, neurons, start, in_range);
        }
    });
}

template <class Op>
void elementwise_backward(const float* x, const float* grad_s, float* grad_x, const KernelArgs& a, const GradArgs& g,
                          int steps, long n, int neurons, int threads) {
    const int start = first_row<Op>(a);
    const long blocks = (n + kBlock - 1) / kBlock;
    with_variant<Op>(Op::variant(a.attrs), [&](auto v) {
        with_surrogate(g.surrogate, [&](auto grad) {
#pragma omp parallel for schedule(static) num_threads(threads_for(threads, blocks))
            for (long blk = 0; blk < blocks; ++blk) {
                if (blk == 0) note_threads();
                const long i0 = blk * kBlock;
                const int w = static_cast<int>(n - i0 < kBlock ? n - i0 : kBlock);
                backward_block<Op, decltype(v)::value>(i0, w, x, grad_s, grad_x, a, g, steps, n, neurons, start,
                                                       grad);
            }
        });
    });
}

// ---- recurrent R-ops -----------------------------------------------------------------------------
//
// A task owns a block of samples. Per step, the recurrent current of every sample of the block is
// accumulated row by row of W_recᵀ (each row read once per step for the whole block, while it sits
// in L1), then each sample's step runs vectorised across its neurons.

constexpr int kSamples = 16;  // the most samples a task owns

template <class Op, int V>
void recurrent_forward_block(int b0, int nb, const float* wt, bool skip_zeros, const float* __restrict__ x,
                             float* __restrict__ s, const KernelArgs& a, const RecurrentArgs& r, int steps,
                             int batch, int neurons, int start, bool in_range) {
    const Attributes attrs = a.attrs;
    constexpr int S = Op::kStates, I = Dim<Op::kInputs>::value, R = Dim<Op::kRows>::value;
    const long n = static_cast<long>(batch) * neurons;
    const long N = neurons;
    const int spike = S - 1;
    std::vector<float> buffer(static_cast<size_t>(N * (nb * (S + 2) + I + 1 + S)));
    float* st = buffer.data();                 // [nb][S][N]
    float* previous = st + nb * S * N;         // [nb][N]
    float* rec = previous + nb * N;            // [nb][N]
    float* in = rec + nb * N;                  // [I][N]
    float* bias = in + I * N;                  // [N]
    float* scratch = bias + N;                 // [S][N]
    for (int bb = 0; bb < nb; ++bb) {
        const long base = (b0 + bb) * N;
        for (int k = 0; k < S; ++k)
            for (int j = 0; j < neurons; ++j) st[(bb * S + k) * N + j] = a.state_in[k][base + j];
        for (int j = 0; j < neurons; ++j) previous[bb * N + j] = a.state_in[spike][base + j];
    }
    for (int k = 0; k < Op::kInputs; ++k)
        for (int j = 0; j < neurons; ++j) in[k * N + j] = a.inputs[k][j];
    for (int j = 0; j < neurons; ++j) bias[j] = r.b_rec[j];
    for (int t = 0; t < steps; ++t) {
        // rec[b][j] = Σ_m s_b[m]·W[j][m], m in the reference's order; a zero spike is skipped (exact)
        for (long k = 0; k < nb * N; ++k) rec[k] = 0.0f;
        for (int m = 0; m < neurons; ++m) {
            const float* __restrict__ w = wt + m * N;
            for (int bb = 0; bb < nb; ++bb) {
                const float p = previous[bb * N + m];
                if (skip_zeros && p == 0.0f) continue;
                float* __restrict__ rb = rec + bb * N;
                for (int j = 0; j < neurons; ++j) rb[j] = add(rb[j], mul(p, w[j]));
            }
        }
        for (int bb = 0; bb < nb; ++bb) {
            const long at0 = static_cast<long>(t) * n + (b0 + bb) * N;
            float* stb = st + bb * S * N;
            float* prev = previous + bb * N;
            const float* recb = rec + bb * N;
            if (!in_range) {  // no defined result: spikes 0, states NaN (as the reference)
                for (int j = 0; j < neurons; ++j) {
                    const float current = add(x[at0 + j], add(recb[j], bias[j]));
                    for (int k = 0; k < S; ++k) stb[k * N + j] = quiet_nan();
                    if (r.currents != nullptr) {
                        r.currents[at0 + j] = current;
                        for (int k = 0; k < S - 1; ++k) r.states_seq[k][at0 + j] = quiet_nan();
                    }
                    s[at0 + j] = 0.0f;
                    prev[j] = 0.0f;
                }
                continue;
            }
            const float* rows_t[R];
            for (int k = 0; k < Op::kRows; ++k) rows_t[k] = a.rows[k] + static_cast<long>(start + t) * neurons;
            // where this step's current and states are recorded (inference: a scratch row, overwritten)
            float* cur_t = r.currents != nullptr ? r.currents + at0 : scratch;
            float* seq_t[S];
            for (int k = 0; k < S - 1; ++k)
                seq_t[k] = r.currents != nullptr ? r.states_seq[k] + at0 : scratch + (k + 1) * N;
            float* s_t = s + at0;
            const float* x_t = x + at0;
            const float* keep_b = a.keep != nullptr ? a.keep + (b0 + bb) * N : nullptr;  // ASGL in training
            for (int j = 0; j < neurons; ++j) {
                const float current = add(x_t[j], add(recb[j], bias[j]));  // x + (W·s + b), as nn.Linear adds
                float e[S], ein[I], erow[R];
                for (int k = 0; k < S; ++k) e[k] = stb[k * N + j];
                for (int k = 0; k < Op::kInputs; ++k) ein[k] = in[k * N + j];
                for (int k = 0; k < Op::kRows; ++k) erow[k] = rows_t[k][j];
                const float out = Op::template step_at<V>(attrs, current, e, ein, erow,
                                                          keep_b != nullptr ? keep_b[j] : 1.0f);
                for (int k = 0; k < S; ++k) stb[k * N + j] = e[k];
                cur_t[j] = current;
                for (int k = 0; k < S - 1; ++k) seq_t[k][j] = e[k];
                s_t[j] = out;
                prev[j] = out;  // this step's current is complete: the next step reads these
            }
        }
    }
    for (int bb = 0; bb < nb; ++bb)
        for (int k = 0; k < S; ++k)
            for (int j = 0; j < neurons; ++j) a.state_out[k][(b0 + bb) * N + j] = st[(bb * S + k) * N + j];
}

template <class Op, int V, class G>
void recurrent_backward_block(int b0, int nb, bool skip_zeros, const float* __restrict__ s,
                              const float* __restrict__ grad_s, float* __restrict__ grad_current, const KernelArgs& a,
                              const GradArgs& g, const RecurrentArgs& r, int steps, int batch, int neurons, int start,
                              G const grad) {
    const Attributes attrs = a.attrs;
    const SurrogateSpec sg = g.surrogate;
    constexpr int S = Op::kStates, I = Dim<Op::kInputs>::value, R = Dim<Op::kRows>::value;
    constexpr int F = Dim<Op::kFloats>::value;
    const long n = static_cast<long>(batch) * neurons;
    const long N = neurons;
    const int spike = S - 1;
    std::vector<float> buffer(static_cast<size_t>(N * (nb * (S + I + F + 2) + I)));
    float* gst = buffer.data();                // [nb][S][N]
    float* gin = gst + nb * S * N;             // [nb][I][N]
    float* gattr = gin + nb * I * N;           // [nb][F][N]
    float* d_current = gattr + nb * F * N;     // [nb][N]
    float* carry = d_current + nb * N;         // [nb][N]: ∂L/∂s[t] through the next step's recurrent current
    float* in = carry + nb * N;                // [I][N]
    for (int bb = 0; bb < nb; ++bb)
        for (int k = 0; k < S; ++k)
            for (int j = 0; j < neurons; ++j)
                gst[(bb * S + k) * N + j] =
                    g.grad_state_out[k] != nullptr ? g.grad_state_out[k][(b0 + bb) * N + j] : 0.0f;
    for (int k = 0; k < Op::kInputs; ++k)
        for (int j = 0; j < neurons; ++j) in[k * N + j] = a.inputs[k][j];
    for (long k = 0; k < nb * (I + F) * N; ++k) gin[k] = 0.0f;  // gin and gattr
    for (long k = 0; k < nb * N; ++k) carry[k] = 0.0f;
    for (int t = steps - 1; t >= 0; --t) {
        const float* rows_t[R];
        for (int k = 0; k < Op::kRows; ++k) rows_t[k] = a.rows[k] + static_cast<long>(start + t) * neurons;
        for (int bb = 0; bb < nb; ++bb) {
            const long base = (b0 + bb) * N;
            const long at0 = static_cast<long>(t) * n + base;
            float* gstb = gst + bb * S * N;
            float* ginb = gin + bb * I * N;
            float* gattrb = gattr + bb * F * N;
            float* db = d_current + bb * N;
            const float* cb = carry + bb * N;
            const float* before_t[S];  // the states before step t: step t − 1's recorded ones, or the initial ones
            for (int k = 0; k < S - 1; ++k) before_t[k] = t > 0 ? r.states_seq[k] + at0 - n : a.state_in[k] + base;
            before_t[spike] = t > 0 ? s + at0 - n : a.state_in[spike] + base;
            const float* keep_b = a.keep != nullptr ? a.keep + base : nullptr;
            for (int j = 0; j < neurons; ++j) {
                float before[S], e[S], ein[I], erow[R];
                float sgin[I] = {}, sgattr[F] = {}, grow[R] = {};
                for (int k = 0; k < S; ++k) before[k] = before_t[k][j];
                for (int k = 0; k < S; ++k) e[k] = gstb[k * N + j];
                for (int k = 0; k < Op::kInputs; ++k) ein[k] = in[k * N + j];
                for (int k = 0; k < Op::kRows; ++k) erow[k] = rows_t[k][j];
                float gx = 0.0f;
                Op::template backward_at<V>(attrs, r.currents[at0 + j], before, ein, erow, grad_s[at0 + j] + cb[j], e,
                                            gx, sgin, grow, sgattr, sg, grad, keep_b != nullptr ? keep_b[j] : 1.0f);
                for (int k = 0; k < S; ++k) gstb[k * N + j] = e[k];
                for (int k = 0; k < Op::kInputs; ++k) ginb[k * N + j] += sgin[k];
                for (int k = 0; k < Op::kFloats; ++k) gattrb[k * N + j] += sgattr[k];
                for (int k = 0; k < Op::kRows; ++k) g.grad_rows[k][at0 + j] = grow[k];
                grad_current[at0 + j] = gx;
                db[j] = gx;
            }
        }
        // carry_b[m] = Σ_j W[j][m]·∂L/∂I_b[j], j in the reference's order, W's row j read once for the block;
        // a zero ∂L/∂I is skipped (exact)
        for (long k = 0; k < nb * N; ++k) carry[k] = 0.0f;
        for (int j = 0; j < neurons; ++j) {
            const float* __restrict__ w = r.w_rec + j * N;
            for (int bb = 0; bb < nb; ++bb) {
                const float d = d_current[bb * N + j];
                if (skip_zeros && d == 0.0f) continue;
                float* __restrict__ cb = carry + bb * N;
                for (int m = 0; m < neurons; ++m) cb[m] += w[m] * d;  // the reference's acc += w_rec[j][m] * d[j]
            }
        }
    }
    for (int bb = 0; bb < nb; ++bb) {
        const long base = (b0 + bb) * N;
        for (int k = 0; k < S; ++k)
            for (int j = 0; j < neurons; ++j) g.grad_state_in[k][base + j] = gst[(bb * S + k) * N + j];
        for (int j = 0; j < neurons; ++j) g.grad_state_in[spike][base + j] += carry[bb * N + j];
        for (int k = 0; k < Op::kInputs; ++k)
            for (int j = 0; j < neurons; ++j) g.grad_inputs[k][base + j] = gin[(bb * I + k) * N + j];
        for (int k = 0; k < Op::kFloats; ++k)
            if (g.grad_attrs[k] != nullptr)
                for (int j = 0; j < neurons; ++j) g.grad_attrs[k][base + j] = gattr[(bb * F + k) * N + j];
    }
}

// the sample blocks: as many as threads (at most kSamples samples each)
inline int samples_per_task(int batch, int threads) {
    const int per = (batch + threads - 1) / threads;
    return per < 1 ? 1 : (per > kSamples ? kSamples : per);
}

template <class Op>
void recurrent_forward(const float* x, float* s, const KernelArgs& a, const RecurrentArgs& r, int steps, long n,
                       int neurons, int threads) {
    const int batch = static_cast<int>(n / neurons);
    const int start = first_row<Op>(a);
    if (Op::kRows > 0 && a.t_out != nullptr) a.t_out[0] = a.t0[0] + static_cast<float>(steps);
    const bool in_range = Op::kRows == 0 || (start >= 0 && start + steps <= a.row_count);
    const long nn = static_cast<long>(neurons) * neurons;
    std::vector<float> wt(static_cast<size_t>(nn));  // W_recᵀ: row m holds every neuron's weight from m
    for (int j = 0; j < neurons; ++j)
        for (int m = 0; m < neurons; ++m) wt[static_cast<long>(m) * neurons + j] = r.w_rec[static_cast<long>(j) * neurons + m];
    const bool skip = all_finite(r.w_rec, nn);
    const int workers = threads_for(threads, batch);
    const int per = samples_per_task(batch, workers);
    const int tasks = (batch + per - 1) / per;
    with_variant<Op>(Op::variant(a.attrs), [&](auto v) {
#pragma omp parallel for schedule(static) num_threads(workers)
        for (int task = 0; task < tasks; ++task) {
            if (task == 0) note_threads();
            const int b0 = task * per;
            const int nb = batch - b0 < per ? batch - b0 : per;
            recurrent_forward_block<Op, decltype(v)::value>(b0, nb, wt.data(), skip, x, s, a, r, steps, batch, neurons,
                                                            start, in_range);
        }
    });
}

template <class Op>
void recurrent_backward(const float* spikes, const float* grad_s, float* grad_current, const KernelArgs& a,
                        const GradArgs& g, const RecurrentArgs& r, int steps, long n, int neurons, int threads) {
    const int batch = static_cast<int>(n / neurons);
    const int start = first_row<Op>(a);
    const bool skip = all_finite(r.w_rec, static_cast<long>(neurons) * neurons);
    const int workers = threads_for(threads, batch);
    const int per = samples_per_task(batch, workers);
    const int tasks = (batch + per - 1) / per;
    with_variant<Op>(Op::variant(a.attrs), [&](auto v) {
        with_surrogate(g.surrogate, [&](auto grad) {
#pragma omp parallel for schedule(static) num_threads(workers)
            for (int task = 0; task < tasks; ++task) {
                if (task == 0) note_threads();
                const int b0 = task * per;
                const int nb = batch - b0 < per ? batch - b0 : per;
                recurrent_backward_block<Op, decltype(v)::value>(b0, nb, skip, spikes, grad_s, grad_current, a, g, r,
                                                                 steps, batch, neurons, start, grad);
            }
        });
    });
}

}  // namespace cpu
}  // namespace nsb

extern "C" int nsb_cpu_last_threads() { return nsb::cpu::last_threads().load(); }

extern "C" int nsb_cpu_openmp() {
#if defined(_OPENMP)
    return 1;
#else
    return 0;
#endif
}

#define NSB_CPU_FAST_ELEMENTWISE(Struct, name)                                                                   \
    extern "C" void nsb_##name##_forward_cpu(const float* x, float* s, const nsb::KernelArgs* a, int steps,       \
                                             long n, int neurons, const nsb::RecurrentArgs*, int threads) {     \
        nsb::cpu::elementwise_forward<Struct>(x, s, *a, steps, n, neurons, threads);                           \
    }                                                                                                            \
    extern "C" void nsb_##name##_backward_cpu(const float* x, const float* grad_s, float* grad_x,                 \
                                              const nsb::KernelArgs* a, const nsb::GradArgs* g, int steps,       \
                                              long n, int neurons, const nsb::RecurrentArgs*, int threads) {    \
        nsb::cpu::elementwise_backward<Struct>(x, grad_s, grad_x, *a, *g, steps, n, neurons, threads);         \
    }

#define NSB_CPU_FAST_RECURRENT(Struct, name)                                                                     \
    extern "C" void nsb_##name##_forward_cpu(const float* x, float* s, const nsb::KernelArgs* a, int steps,       \
                                             long n, int neurons, const nsb::RecurrentArgs* r, int threads) {   \
        nsb::cpu::recurrent_forward<Struct>(x, s, *a, *r, steps, n, neurons, threads);                         \
    }                                                                                                            \
    extern "C" void nsb_##name##_backward_cpu(const float* spikes, const float* grad_s, float* grad_current,      \
                                              const nsb::KernelArgs* a, const nsb::GradArgs* g, int steps,       \
                                              long n, int neurons, const nsb::RecurrentArgs* r, int threads) {  \
        nsb::cpu::recurrent_backward<Struct>(spikes, grad_s, grad_current, *a, *g, *r, steps, n, neurons,      \
                                             threads);                                                           \
    }

NSB_FOR_EACH_ELEMENTWISE_OP(NSB_CPU_FAST_ELEMENTWISE)
NSB_FOR_EACH_RECURRENT_OP(NSB_CPU_FAST_RECURRENT)
