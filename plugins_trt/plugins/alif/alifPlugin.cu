#include "alifPlugin.h"

#include "../../kernels/neuron_kernels.cuh"

namespace nsb {
namespace trt {

template <typename T>
__global__ void alifKernel(T const* x, float const* alpha, float const* rho, float const* v0, float const* b0, T* s,
                           float* v_out, float* b_out, float theta, float beta, int steps, long n, int neurons) {
    alif_forward_thread<T>(static_cast<long>(blockIdx.x) * blockDim.x + threadIdx.x, x, alpha, rho, v0, b0, s, v_out,
                           b_out, nullptr, nullptr, theta, beta, steps, n, neurons);
}

cudaError_t AlifOp::enqueue(Attributes const& a, nvinfer1::PluginTensorDesc const* in, nvinfer1::PluginTensorDesc const*,
                            void const* const* inputs, void* const* outputs, cudaStream_t stream) {
    int const steps = static_cast<int>(in[0].dims.d[0]);
    long const n = static_cast<long>(volume(in[0].dims, 1));
    int const neurons = static_cast<int>(in[0].dims.d[in[0].dims.nbDims - 1]);
    auto const* alpha = static_cast<float const*>(inputs[1]);
    auto const* rho = static_cast<float const*>(inputs[2]);
    auto const* v0 = static_cast<float const*>(inputs[3]);
    auto const* b0 = static_cast<float const*>(inputs[4]);
    auto* v_out = static_cast<float*>(outputs[1]);
    auto* b_out = static_cast<float*>(outputs[2]);
    if (in[0].type == nvinfer1::DataType::kHALF) {
        alifKernel<__half><<<gridFor(n), kBlock, 0, stream>>>(static_cast<__half const*>(inputs[0]), alpha, rho, v0, b0,
                                                              static_cast<__half*>(outputs[0]), v_out, b_out,
                                                              a.v_threshold, a.beta, steps, n, neurons);
    } else {
        alifKernel<float><<<gridFor(n), kBlock, 0, stream>>>(static_cast<float const*>(inputs[0]), alpha, rho, v0, b0,
                                                             static_cast<float*>(outputs[0]), v_out, b_out,
                                                             a.v_threshold, a.beta, steps, n, neurons);
    }
    return cudaGetLastError();
}

nvinfer1::IPluginCreatorInterface* alifCreator() {
    static NeuronCreator<AlifOp> creator;
    return &creator;
}

}  // namespace trt
}  // namespace nsb
