// Plugin fields: what TensorRT's ONNX parser hands a creator (FLOAT → kFLOAT32, STRING → kCHAR with its
// NUL), what getFieldsToSerialize writes back, and strict checks with one-line error messages.
#pragma once

#include <NvInferRuntime.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

namespace nsb {
namespace trt {

struct FieldSpec {
    char const* name;
    nvinfer1::PluginFieldType type;
};

// Finds ``name`` in ``fc``; nullptr when absent. Types and lengths are checked by the readers below.
inline nvinfer1::PluginField const* findField(nvinfer1::PluginFieldCollection const* fc, char const* name) {
    if (fc == nullptr) return nullptr;
    for (int32_t i = 0; i < fc->nbFields; ++i) {
        if (fc->fields[i].name != nullptr && std::strcmp(fc->fields[i].name, name) == 0) return &fc->fields[i];
    }
    return nullptr;
}

// A float field; keeps ``value`` (the default) when absent, fails on a wrong type or a non-finite value.
inline bool readFloat(nvinfer1::PluginFieldCollection const* fc, char const* name, float& value, std::string& error) {
    nvinfer1::PluginField const* f = findField(fc, name);
    if (f == nullptr) return true;
    if (f->type != nvinfer1::PluginFieldType::kFLOAT32 || f->length != 1 || f->data == nullptr) {
        error = std::string("field '") + name + "' must be one FLOAT32";
        return false;
    }
    value = *static_cast<float const*>(f->data);
    if (!std::isfinite(value)) {
        error = std::string("field '") + name + "' is not finite";
        return false;
    }
    return true;
}

// A string field (kCHAR, with or without its trailing NUL).
inline bool readString(nvinfer1::PluginFieldCollection const* fc, char const* name, std::string& value,
                       std::string& error) {
    nvinfer1::PluginField const* f = findField(fc, name);
    if (f == nullptr) return true;
    if (f->type != nvinfer1::PluginFieldType::kCHAR || f->length < 0 || (f->length > 0 && f->data == nullptr)) {
        error = std::string("field '") + name + "' must be a CHAR string";
        return false;
    }
    char const* data = static_cast<char const*>(f->data);
    int32_t length = f->length;
    while (length > 0 && data[length - 1] == '\0') --length;
    value.assign(data, static_cast<size_t>(length));
    return true;
}

// Rejects fields the op does not declare, so a typo in an exported attribute cannot pass silently.
inline bool rejectUnknown(nvinfer1::PluginFieldCollection const* fc, std::vector<FieldSpec> const& known,
                          std::string& error) {
    if (fc == nullptr) return true;
    for (int32_t i = 0; i < fc->nbFields; ++i) {
        char const* name = fc->fields[i].name;
        bool found = false;
        for (FieldSpec const& k : known) found = found || (name != nullptr && std::strcmp(name, k.name) == 0);
        if (!found) {
            error = std::string("unknown field '") + (name ? name : "(null)") + "'";
            return false;
        }
    }
    return true;
}

// Owns the PluginField array that getFieldsToSerialize returns; pointers stay valid while it lives.
class FieldWriter {
public:
    void clear() {
        mFields.clear();
        mStrings.clear();
        mStrings.reserve(8);
    }
    void addFloat(char const* name, float const* value) {
        mFields.emplace_back(name, value, nvinfer1::PluginFieldType::kFLOAT32, 1);
    }
    void addString(char const* name, std::string const& value) {
        mStrings.push_back(value);
        mFields.emplace_back(name, mStrings.back().c_str(), nvinfer1::PluginFieldType::kCHAR,
                             static_cast<int32_t>(mStrings.back().size() + 1));
    }
    nvinfer1::PluginFieldCollection const* collection() {
        mCollection.nbFields = static_cast<int32_t>(mFields.size());
        mCollection.fields = mFields.data();
        return &mCollection;
    }

private:
    std::vector<nvinfer1::PluginField> mFields;
    std::vector<std::string> mStrings;  // reserved up front: push_back must not move earlier strings
    nvinfer1::PluginFieldCollection mCollection{0, nullptr};
};

}  // namespace trt
}  // namespace nsb
