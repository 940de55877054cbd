#include "adlifPlugin.h"

#include "../../kernels/neuron_kernels.cuh"

namespace nsb {
namespace trt {

template <typename T>
__global__ void adlifKernel(T const* x, float const* alpha, float const* beta, float const* a, float const* b,
                            float const* v0, float const* w0, T* s, float* v_out, float* w_out, float theta, int steps,
                            long n, int neurons) {
    adlif_forward_thread<T>(static_cast<long>(blockIdx.x) * blockDim.x + threadIdx.x, x, alpha, beta, a, b, v0, w0, s,
                            v_out, w_out, nullptr, nullptr, theta, steps, n, neurons);
}

cudaError_t AdlifOp::enqueue(Attributes const& attr, nvinfer1::PluginTensorDesc const* in,
                             nvinfer1::PluginTensorDesc const*, void const* const* inputs, void* const* outputs,
                             cudaStream_t stream) {
    int const steps = static_cast<int>(in[0].dims.d[0]);
    long const n = static_cast<long>(volume(in[0].dims, 1));
    int const neurons = static_cast<int>(in[0].dims.d[in[0].dims.nbDims - 1]);
    auto const* p = reinterpret_cast<float const* const*>(inputs);
    auto* v_out = static_cast<float*>(outputs[1]);
    auto* w_out = static_cast<float*>(outputs[2]);
    if (in[0].type == nvinfer1::DataType::kHALF) {
        adlifKernel<__half><<<gridFor(n), kBlock, 0, stream>>>(static_cast<__half const*>(inputs[0]), p[1], p[2], p[3],
                                                               p[4], p[5], p[6], static_cast<__half*>(outputs[0]),
                                                               v_out, w_out, attr.v_threshold, steps, n, neurons);
    } else {
        adlifKernel<float><<<gridFor(n), kBlock, 0, stream>>>(static_cast<float const*>(inputs[0]), p[1], p[2], p[3],
                                                              p[4], p[5], p[6], static_cast<float*>(outputs[0]), v_out,
                                                              w_out, attr.v_threshold, steps, n, neurons);
    }
    return cudaGetLastError();
}

nvinfer1::IPluginCreatorInterface* adlifCreator() {
    static NeuronCreator<AdlifOp> creator;
    return &creator;
}

}  // namespace trt
}  // namespace nsb
