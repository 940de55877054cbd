#include "glifPlugin.h"

#include "../../kernels/neuron_kernels.cuh"

namespace nsb {
namespace trt {

bool GlifOp::checkShapes(nvinfer1::PluginTensorDesc const* in, std::string& error) {
    if (!checkVectors(in, 1, 7, error)) return false;
    int64_t const neurons = in[0].dims.d[in[0].dims.nbDims - 1];
    if (in[8].dims.nbDims != 2 || in[8].dims.d[1] != neurons) {
        error = "C must be [T_max, N] with N = " + std::to_string(neurons);
        return false;
    }
    if (volume(in[10].dims) != 1) {  // T0 is the one state not shaped like X
        error = "T0 must be a scalar";
        return false;
    }
    return true;
}

template <typename T>
__global__ void glifKernel(T const* x, GlifPointers params, float const* c, int c_rows, float const* u0,
                           float const* t0, T* s, float* u_out, float* t_out, int steps, long n, int neurons) {
    glif_forward_thread<T>(static_cast<long>(blockIdx.x) * blockDim.x + threadIdx.x, x, params, c, c_rows, u0, t0, s,
                           u_out, t_out, nullptr, steps, n, neurons);
}

cudaError_t GlifOp::enqueue(Attributes const&, nvinfer1::PluginTensorDesc const* in, nvinfer1::PluginTensorDesc const*,
                            void const* const* inputs, void* const* outputs, cudaStream_t stream) {
    int const steps = static_cast<int>(in[0].dims.d[0]);
    long const n = static_cast<long>(volume(in[0].dims, 1));
    int const neurons = static_cast<int>(in[0].dims.d[in[0].dims.nbDims - 1]);
    GlifPointers params;
    for (int k = 0; k < 7; ++k) params.p[k] = static_cast<float const*>(inputs[1 + k]);
    auto const* c = static_cast<float const*>(inputs[8]);
    int const c_rows = static_cast<int>(in[8].dims.d[0]);
    auto const* u0 = static_cast<float const*>(inputs[9]);
    auto const* t0 = static_cast<float const*>(inputs[10]);
    auto* u_out = static_cast<float*>(outputs[1]);
    auto* t_out = static_cast<float*>(outputs[2]);
    if (in[0].type == nvinfer1::DataType::kHALF) {
        glifKernel<__half><<<gridFor(n), kBlock, 0, stream>>>(static_cast<__half const*>(inputs[0]), params, c, c_rows,
                                                              u0, t0, static_cast<__half*>(outputs[0]), u_out, t_out,
                                                              steps, n, neurons);
    } else {
        glifKernel<float><<<gridFor(n), kBlock, 0, stream>>>(static_cast<float const*>(inputs[0]), params, c, c_rows,
                                                             u0, t0, static_cast<float*>(outputs[0]), u_out, t_out,
                                                             steps, n, neurons);
    }
    return cudaGetLastError();
}

nvinfer1::IPluginCreatorInterface* glifCreator() {
    static NeuronCreator<GlifOp> creator;
    return &creator;
}

}  // namespace trt
}  // namespace nsb
