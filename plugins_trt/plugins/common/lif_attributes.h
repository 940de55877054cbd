// The attributes LIF and RLIF share (DESIGN §5): decay, input_gain, v_threshold, v_reset, reset_mode.
#pragma once

#include <string>
#include <vector>

#include "../../kernels/lif.cuh"
#include "fields.h"

namespace nsb {
namespace trt {

struct LifAttributes {
    // the defaults of nsb's LIF (nsb/neurons/lif.py), used for fields a node leaves out
    float decay = 0.2f;
    float input_gain = 1.0f;
    float v_threshold = 0.3f;
    float v_reset = 0.0f;
    std::string reset_mode = "hard";

    LifParams params() const {
        int const mode = reset_mode == "hard" ? kHard : reset_mode == "soft" ? kSoft : kNone;
        return LifParams{decay, input_gain, v_threshold, v_reset, mode};
    }
};

inline std::vector<FieldSpec> lifFields() {
    return {{"decay", nvinfer1::PluginFieldType::kFLOAT32},
            {"input_gain", nvinfer1::PluginFieldType::kFLOAT32},
            {"v_threshold", nvinfer1::PluginFieldType::kFLOAT32},
            {"v_reset", nvinfer1::PluginFieldType::kFLOAT32},
            {"reset_mode", nvinfer1::PluginFieldType::kCHAR}};
}

inline bool parseLif(nvinfer1::PluginFieldCollection const* fc, LifAttributes& a, std::string& error) {
    if (!readFloat(fc, "decay", a.decay, error) || !readFloat(fc, "input_gain", a.input_gain, error) ||
        !readFloat(fc, "v_threshold", a.v_threshold, error) || !readFloat(fc, "v_reset", a.v_reset, error) ||
        !readString(fc, "reset_mode", a.reset_mode, error))
        return false;
    if (a.reset_mode != "hard" && a.reset_mode != "soft" && a.reset_mode != "none") {
        error = "reset_mode must be hard, soft or none, got '" + a.reset_mode + "'";
        return false;
    }
    if (a.decay < 0.0f || a.decay > 1.0f) {
        error = "decay must be in [0, 1], got " + std::to_string(a.decay);
        return false;
    }
    return true;
}

inline void writeLif(LifAttributes const& a, FieldWriter& w) {
    w.addFloat("decay", &a.decay);
    w.addFloat("input_gain", &a.input_gain);
    w.addFloat("v_threshold", &a.v_threshold);
    w.addFloat("v_reset", &a.v_reset);
    w.addString("reset_mode", a.reset_mode);
}

}  // namespace trt
}  // namespace nsb
