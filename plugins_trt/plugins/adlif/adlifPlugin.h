// nsb::ADLIF: X [T, B, ..., N], ALPHA, BETA, A, B [N], V0, W0 → S, VT, WT (adLIF after its input BN).
#pragma once

#include "../common/neuron_plugin.h"

namespace nsb {
namespace trt {

struct AdlifOp {
    static constexpr char const* kName = "ADLIF";
    static constexpr int32_t kParams = 4;
    static constexpr int32_t kShapedStates = 2;  // states shaped like X without T
    static constexpr int32_t kStates = 2;
    struct Attributes {
        float v_threshold = 0.3f;
    };

    static std::vector<FieldSpec> fields() { return {{"v_threshold", nvinfer1::PluginFieldType::kFLOAT32}}; }
    static bool parse(nvinfer1::PluginFieldCollection const* fc, Attributes& a, std::string& e) {
        return readFloat(fc, "v_threshold", a.v_threshold, e);
    }
    static void write(Attributes const& a, FieldWriter& w) { w.addFloat("v_threshold", &a.v_threshold); }
    static bool checkShapes(nvinfer1::PluginTensorDesc const* in, std::string& e) { return checkVectors(in, 1, 4, e); }
    static cudaError_t enqueue(Attributes const& a, nvinfer1::PluginTensorDesc const* in,
                               nvinfer1::PluginTensorDesc const* out, void const* const* inputs, void* const* outputs,
                               cudaStream_t stream);
};

nvinfer1::IPluginCreatorInterface* adlifCreator();

}  // namespace trt
}  // namespace nsb
