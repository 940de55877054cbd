// nsb::RLIF: X [T, B, N], W_rec [N, N], B_rec [N], V0, S0 → S, VT, ST (the seed's Recurrent_LIF).
#pragma once

#include "../common/lif_attributes.h"
#include "../common/neuron_plugin.h"

namespace nsb {
namespace trt {

struct RlifOp {
    static constexpr char const* kName = "RLIF";
    static constexpr int32_t kParams = 2;
    static constexpr int32_t kShapedStates = 2;  // states shaped like X without T
    static constexpr int32_t kStates = 2;
    static constexpr int32_t kMaxSpikesPerThread = 8;  // fired[] in rlif_forward
    using Attributes = LifAttributes;

    static std::vector<FieldSpec> fields() { return lifFields(); }
    static bool parse(nvinfer1::PluginFieldCollection const* fc, Attributes& a, std::string& e) { return parseLif(fc, a, e); }
    static void write(Attributes const& a, FieldWriter& w) { writeLif(a, w); }
    static bool checkShapes(nvinfer1::PluginTensorDesc const* in, std::string& error) {
        nvinfer1::Dims const& x = in[0].dims;
        int64_t const neurons = x.d[x.nbDims - 1];
        if (x.nbDims != 3) {
            error = "RLIF takes X of rank 3 [T, B, N]";
            return false;
        }
        if (in[1].dims.nbDims != 2 || in[1].dims.d[0] != neurons || in[1].dims.d[1] != neurons) {
            error = "W_rec must be [N, N] with N = " + std::to_string(neurons);
            return false;
        }
        if (neurons > 1024 * kMaxSpikesPerThread) {
            error = "RLIF supports at most " + std::to_string(1024 * kMaxSpikesPerThread) + " neurons per layer";
            return false;
        }
        return checkVectors(in, 2, 1, error);
    }
    static cudaError_t enqueue(Attributes const& a, nvinfer1::PluginTensorDesc const* in,
                               nvinfer1::PluginTensorDesc const* out, void const* const* inputs, void* const* outputs,
                               cudaStream_t stream);
};

nvinfer1::IPluginCreatorInterface* rlifCreator();

}  // namespace trt
}  // namespace nsb
