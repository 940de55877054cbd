// nsb::ALIF: X [T, B, ..., N], ALPHA [N], RHO [N], V0, B0 → S, VT, BT (adaptive threshold θ + β·b).
#pragma once

#include "../common/neuron_plugin.h"

namespace nsb {
namespace trt {

struct AlifOp {
    static constexpr char const* kName = "ALIF";
    static constexpr int32_t kParams = 2;
    static constexpr int32_t kShapedStates = 2;  // states shaped like X without T
    static constexpr int32_t kStates = 2;
    struct Attributes {
        float v_threshold = 0.3f;
        float beta = 1.8f;
    };

    static std::vector<FieldSpec> fields() {
        return {{"v_threshold", nvinfer1::PluginFieldType::kFLOAT32}, {"beta", nvinfer1::PluginFieldType::kFLOAT32}};
    }
    static bool parse(nvinfer1::PluginFieldCollection const* fc, Attributes& a, std::string& e) {
        return readFloat(fc, "v_threshold", a.v_threshold, e) && readFloat(fc, "beta", a.beta, e);
    }
    static void write(Attributes const& a, FieldWriter& w) {
        w.addFloat("v_threshold", &a.v_threshold);
        w.addFloat("beta", &a.beta);
    }
    static bool checkShapes(nvinfer1::PluginTensorDesc const* in, std::string& e) { return checkVectors(in, 1, 2, e); }
    static cudaError_t enqueue(Attributes const& a, nvinfer1::PluginTensorDesc const* in,
                               nvinfer1::PluginTensorDesc const* out, void const* const* inputs, void* const* outputs,
                               cudaStream_t stream);
};

nvinfer1::IPluginCreatorInterface* alifCreator();

}  // namespace trt
}  // namespace nsb
