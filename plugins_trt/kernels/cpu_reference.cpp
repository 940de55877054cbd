// The kernel bodies of neuron_kernels.cuh built for the CPU (fp32): one loop over the threads of an
// element-wise op, one sample at a time for an R-op, so the tests run the very code the GPU runs
// against the PyTorch reference. Loaded with ctypes by nsb.kernels.cpu; the argument structs are
// the kernels' own (nsb/kernels/abi.py mirrors them, and checks their sizes against these).
#include <vector>

#include "kernels/neuron_kernels.cuh"
#include "ops/all.cuh"

extern "C" {

long nsb_sizeof_kernel_args() { return static_cast<long>(sizeof(nsb::KernelArgs)); }
long nsb_sizeof_grad_args() { return static_cast<long>(sizeof(nsb::GradArgs)); }
long nsb_sizeof_recurrent_args() { return static_cast<long>(sizeof(nsb::RecurrentArgs)); }
float nsb_surrogate_grad(int id, float alpha, float u) { return nsb::surrogate_grad(id, alpha, u); }

}  // extern "C"

// forward(x, s, args, steps, n, neurons, recurrent args (R-ops)); backward(x — the spikes for an
// R-op —, ∂L/∂s, ∂L/∂x — ∂L/∂current for an R-op —, args, grads, steps, n, neurons, recurrent args)
#define NSB_CPU_ELEMENTWISE(Struct, name)                                                                      \
    extern "C" void nsb_##name##_forward(const float* x, float* s, const nsb::KernelArgs* a, int steps, long n, \
                                         int neurons, const nsb::RecurrentArgs*) {                             \
        for (long i = 0; i < n; ++i) nsb::forward_thread<Struct, float>(i, x, s, *a, steps, n, neurons);       \
    }                                                                                                          \
    extern "C" void nsb_##name##_backward(const float* x, const float* grad_s, float* grad_x,                   \
                                          const nsb::KernelArgs* a, const nsb::GradArgs* g, int steps, long n,   \
                                          int neurons, const nsb::RecurrentArgs*) {                            \
        for (long i = 0; i < n; ++i)                                                                           \
            nsb::backward_thread<Struct, float>(i, x, grad_s, grad_x, *a, *g, steps, n, neurons);              \
    }

#define NSB_CPU_RECURRENT(Struct, name)                                                                        \
    extern "C" void nsb_##name##_forward(const float* x, float* s, const nsb::KernelArgs* a, int steps, long n, \
                                         int neurons, const nsb::RecurrentArgs* r) {                           \
        const int batch = static_cast<int>(n / neurons);                                                       \
        std::vector<float> shared(2 * static_cast<size_t>(neurons));                                           \
        for (int b = 0; b < batch; ++b)                                                                        \
            nsb::recurrent_forward_sample<Struct, float>(b, 0, 1, shared.data(), x, s, *a, *r, steps, batch,   \
                                                         neurons);                                             \
    }                                                                                                          \
    extern "C" void nsb_##name##_backward(const float* spikes, const float* grad_s, float* grad_current,       \
                                          const nsb::KernelArgs* a, const nsb::GradArgs* g, int steps, long n,   \
                                          int neurons, const nsb::RecurrentArgs* r) {                          \
        const int batch = static_cast<int>(n / neurons);                                                       \
        std::vector<float> shared(2 * static_cast<size_t>(neurons));                                           \
        for (int b = 0; b < batch; ++b)                                                                        \
            nsb::recurrent_backward_sample<Struct, float>(b, 0, 1, shared.data(), spikes, grad_s, grad_current, \
                                                          *a, *g, *r, steps, batch, neurons);                  \
    }

NSB_FOR_EACH_ELEMENTWISE_OP(NSB_CPU_ELEMENTWISE)
NSB_FOR_EACH_RECURRENT_OP(NSB_CPU_RECURRENT)
