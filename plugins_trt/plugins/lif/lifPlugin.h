// nsb::LIF: X [T, B, ...], V0 → S, VT. Serves LIF, IF and PLIF (decay folded at export).
#pragma once

#include "../common/lif_attributes.h"
#include "../common/neuron_plugin.h"

namespace nsb {
namespace trt {

struct LifOp {
    static constexpr char const* kName = "LIF";
    static constexpr int32_t kParams = 0;
    static constexpr int32_t kShapedStates = 1;  // states shaped like X without T
    static constexpr int32_t kStates = 1;
    using Attributes = LifAttributes;

    static std::vector<FieldSpec> fields() { return lifFields(); }
    static bool parse(nvinfer1::PluginFieldCollection const* fc, Attributes& a, std::string& e) { return parseLif(fc, a, e); }
    static void write(Attributes const& a, FieldWriter& w) { writeLif(a, w); }
    static bool checkShapes(nvinfer1::PluginTensorDesc const*, std::string&) { return true; }
    static cudaError_t enqueue(Attributes const& a, nvinfer1::PluginTensorDesc const* in,
                               nvinfer1::PluginTensorDesc const* out, void const* const* inputs, void* const* outputs,
                               cudaStream_t stream);
};

nvinfer1::IPluginCreatorInterface* lifCreator();

}  // namespace trt
}  // namespace nsb
