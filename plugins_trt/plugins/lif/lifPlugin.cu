#include "lifPlugin.h"

#include "../../kernels/neuron_kernels.cuh"

namespace nsb {
namespace trt {

template <typename T>
__global__ void lifKernel(T const* x, float const* v0, T* s, float* v_out, LifParams p, int steps, long n) {
    lif_forward_thread<T>(static_cast<long>(blockIdx.x) * blockDim.x + threadIdx.x, x, v0, s, v_out, nullptr, p, steps,
                          n);
}

cudaError_t LifOp::enqueue(Attributes const& a, nvinfer1::PluginTensorDesc const* in, nvinfer1::PluginTensorDesc const*,
                           void const* const* inputs, void* const* outputs, cudaStream_t stream) {
    int const steps = static_cast<int>(in[0].dims.d[0]);
    long const n = static_cast<long>(volume(in[0].dims, 1));
    float const* v0 = static_cast<float const*>(inputs[1]);
    float* v_out = static_cast<float*>(outputs[1]);
    if (in[0].type == nvinfer1::DataType::kHALF) {
        lifKernel<__half><<<gridFor(n), kBlock, 0, stream>>>(static_cast<__half const*>(inputs[0]), v0,
                                                             static_cast<__half*>(outputs[0]), v_out, a.params(), steps, n);
    } else {
        lifKernel<float><<<gridFor(n), kBlock, 0, stream>>>(static_cast<float const*>(inputs[0]), v0,
                                                            static_cast<float*>(outputs[0]), v_out, a.params(), steps, n);
    }
    return cudaGetLastError();
}

nvinfer1::IPluginCreatorInterface* lifCreator() {
    static NeuronCreator<LifOp> creator;
    return &creator;
}

}  // namespace trt
}  // namespace nsb
