// nsb::GLIF: X [T, B, ..., N], ALPHA_G, BETA_G, GAMMA_G, TAU, LEAK, RE_VTH, V_TH [N], C [T_max, N], U0, T0 (scalar)
// → S, UT, TT. T0/TT are the chunk's start step (fp32 scalars), so streams pick up the right C row.
#pragma once

#include "../common/neuron_plugin.h"

namespace nsb {
namespace trt {

struct GlifOp {
    static constexpr char const* kName = "GLIF";
    static constexpr int32_t kParams = 8;
    static constexpr int32_t kShapedStates = 1;  // states shaped like X without T
    static constexpr int32_t kStates = 2;
    struct Attributes {};

    static std::vector<FieldSpec> fields() { return {}; }
    static bool parse(nvinfer1::PluginFieldCollection const*, Attributes&, std::string&) { return true; }
    static void write(Attributes const&, FieldWriter&) {}
    static bool checkShapes(nvinfer1::PluginTensorDesc const* in, std::string& e);
    static cudaError_t enqueue(Attributes const& a, nvinfer1::PluginTensorDesc const* in,
                               nvinfer1::PluginTensorDesc const* out, void const* const* inputs, void* const* outputs,
                               cudaStream_t stream);
};

nvinfer1::IPluginCreatorInterface* glifCreator();

}  // namespace trt
}  // namespace nsb
