#include "rlifPlugin.h"

#include "../../kernels/neuron_kernels.cuh"

namespace nsb {
namespace trt {

template <typename T>
__global__ void rlifKernel(T const* x, float const* w, float const* b, float const* v0, float const* s0, T* s,
                           float* v_out, float* s_out, LifParams p, int steps, int batch, int neurons) {
    rlif_forward<T>(x, w, b, v0, s0, s, v_out, s_out, nullptr, p, steps, batch, neurons);
}

cudaError_t RlifOp::enqueue(Attributes const& a, nvinfer1::PluginTensorDesc const* in, nvinfer1::PluginTensorDesc const*,
                            void const* const* inputs, void* const* outputs, cudaStream_t stream) {
    int const steps = static_cast<int>(in[0].dims.d[0]);
    int const batch = static_cast<int>(in[0].dims.d[1]);
    int const neurons = static_cast<int>(in[0].dims.d[2]);
    // enough threads that each owns at most kMaxSpikesPerThread neurons, in whole warps
    int threads = (neurons + kMaxSpikesPerThread - 1) / kMaxSpikesPerThread;
    threads = ((threads + 31) / 32) * 32;
    threads = threads < 128 ? (neurons < 128 ? ((neurons + 31) / 32) * 32 : 128) : threads;
    size_t const shared = sizeof(float) * static_cast<size_t>(neurons);
    auto const* w = static_cast<float const*>(inputs[1]);
    auto const* b = static_cast<float const*>(inputs[2]);
    auto const* v0 = static_cast<float const*>(inputs[3]);
    auto const* s0 = static_cast<float const*>(inputs[4]);
    auto* v_out = static_cast<float*>(outputs[1]);
    auto* s_out = static_cast<float*>(outputs[2]);
    if (in[0].type == nvinfer1::DataType::kHALF) {
        rlifKernel<__half><<<batch, threads, shared, stream>>>(static_cast<__half const*>(inputs[0]), w, b, v0, s0,
                                                              static_cast<__half*>(outputs[0]), v_out, s_out,
                                                              a.params(), steps, batch, neurons);
    } else {
        rlifKernel<float><<<batch, threads, shared, stream>>>(static_cast<float const*>(inputs[0]), w, b, v0, s0,
                                                             static_cast<float*>(outputs[0]), v_out, s_out,
                                                             a.params(), steps, batch, neurons);
    }
    return cudaGetLastError();
}

nvinfer1::IPluginCreatorInterface* rlifCreator() {
    static NeuronCreator<RlifOp> creator;
    return &creator;
}

}  // namespace trt
}  // namespace nsb
