// One IPluginV3 + IPluginCreatorV3One for every nsb op, parameterised by the op's traits (the
// folder of each op holds only what differs: its fields, its shape checks and its kernel launch).
//
// Inputs follow nsb/ops/schema.py: X [T, B, ...], then Op::kParams parameter tensors, then
// Op::kStates initial states [B, ...]; outputs: S (X's shape and type), then the final states.
// X and S are fp32 or fp16 (the membrane stays fp32 in registers); parameters and states are fp32.
#pragma once

#include <NvInferRuntime.h>

#include <cuda_runtime_api.h>

#include <string>
#include <vector>

#include "fields.h"
#include "logging.h"

namespace nsb {
namespace trt {

constexpr char const* kNamespace = "nsb";
constexpr char const* kVersion = "1";

inline int64_t volume(nvinfer1::Dims const& d, int32_t from = 0) {
    int64_t v = 1;
    for (int32_t i = from; i < d.nbDims; ++i) v *= d.d[i];
    return v;
}

// X has at least [T, B, N]; each state is X without its time axis.
inline bool checkCommonShapes(nvinfer1::PluginTensorDesc const* in, int32_t firstState, int32_t nbStates,
                              std::string& error) {
    nvinfer1::Dims const& x = in[0].dims;
    if (x.nbDims < 3) {
        error = "X must be time-major [T, B, N, ...] (rank >= 3), got rank " + std::to_string(x.nbDims);
        return false;
    }
    for (int32_t k = 0; k < nbStates; ++k) {
        nvinfer1::Dims const& s = in[firstState + k].dims;
        bool same = s.nbDims == x.nbDims - 1;
        for (int32_t i = 0; same && i < s.nbDims; ++i) same = s.d[i] == x.d[i + 1];
        if (!same) {
            error = "state input " + std::to_string(firstState + k) + " must have X's shape without T";
            return false;
        }
    }
    return true;
}

// Per-neuron parameter vectors [N] with N = X's last dimension.
inline bool checkVectors(nvinfer1::PluginTensorDesc const* in, int32_t first, int32_t count, std::string& error) {
    int64_t const neurons = in[0].dims.d[in[0].dims.nbDims - 1];
    for (int32_t k = first; k < first + count; ++k) {
        if (in[k].dims.nbDims != 1 || in[k].dims.d[0] != neurons) {
            error = "parameter input " + std::to_string(k) + " must be a vector of " + std::to_string(neurons) + " values";
            return false;
        }
    }
    return true;
}

inline bool hasUnknownDims(nvinfer1::DynamicPluginTensorDesc const* in, int32_t nb) {
    for (int32_t i = 0; i < nb; ++i)
        for (int32_t j = 0; j < in[i].desc.dims.nbDims; ++j)
            if (in[i].desc.dims.d[j] < 0) return true;
    return false;
}

template <class Op>
class NeuronPlugin : public nvinfer1::IPluginV3,
                     public nvinfer1::IPluginV3OneCore,
                     public nvinfer1::IPluginV3OneBuild,
                     public nvinfer1::IPluginV3OneRuntime {
public:
    static constexpr int32_t kInputs = 1 + Op::kParams + Op::kStates;
    static constexpr int32_t kOutputs = 1 + Op::kStates;

    explicit NeuronPlugin(typename Op::Attributes const& attributes) : mAttributes(attributes) {}
    ~NeuronPlugin() override = default;

    // IPluginV3
    nvinfer1::IPluginCapability* getCapabilityInterface(nvinfer1::PluginCapabilityType type) noexcept override {
        switch (type) {
        case nvinfer1::PluginCapabilityType::kCORE: return static_cast<nvinfer1::IPluginV3OneCore*>(this);
        case nvinfer1::PluginCapabilityType::kBUILD: return static_cast<nvinfer1::IPluginV3OneBuild*>(this);
        case nvinfer1::PluginCapabilityType::kRUNTIME: return static_cast<nvinfer1::IPluginV3OneRuntime*>(this);
        }
        return nullptr;
    }
    nvinfer1::IPluginV3* clone() noexcept override {
        try {
            return new NeuronPlugin(mAttributes);
        } catch (...) {
            return nullptr;
        }
    }

    // IPluginV3OneCore
    char const* getPluginName() const noexcept override { return Op::kName; }
    char const* getPluginVersion() const noexcept override { return kVersion; }
    char const* getPluginNamespace() const noexcept override { return kNamespace; }

    // IPluginV3OneBuild
    int32_t getNbOutputs() const noexcept override { return kOutputs; }

    int32_t getOutputDataTypes(nvinfer1::DataType* outputTypes, int32_t nbOutputs, nvinfer1::DataType const* inputTypes,
                               int32_t nbInputs) const noexcept override {
        if (nbInputs != kInputs || nbOutputs != kOutputs) return fail("wrong number of inputs or outputs");
        outputTypes[0] = inputTypes[0];
        for (int32_t k = 1; k < kOutputs; ++k) outputTypes[k] = nvinfer1::DataType::kFLOAT;
        return 0;
    }

    int32_t getOutputShapes(nvinfer1::DimsExprs const* inputs, int32_t nbInputs, nvinfer1::DimsExprs const*,
                            int32_t, nvinfer1::DimsExprs* outputs, int32_t nbOutputs,
                            nvinfer1::IExprBuilder&) noexcept override {
        if (nbInputs != kInputs || nbOutputs != kOutputs) return fail("wrong number of inputs or outputs");
        if (inputs[0].nbDims < 3) return fail("X must be time-major [T, B, N, ...]");
        outputs[0] = inputs[0];
        for (int32_t k = 0; k < Op::kStates; ++k) outputs[1 + k] = inputs[1 + Op::kParams + k];
        return 0;
    }

    bool supportsFormatCombination(int32_t pos, nvinfer1::DynamicPluginTensorDesc const* inOut, int32_t nbInputs,
                                   int32_t) noexcept override {
        nvinfer1::PluginTensorDesc const& d = inOut[pos].desc;
        if (d.format != nvinfer1::TensorFormat::kLINEAR) return false;
        if (pos == 0) return d.type == nvinfer1::DataType::kFLOAT || d.type == nvinfer1::DataType::kHALF;
        if (pos == nbInputs) return d.type == inOut[0].desc.type;  // S follows X
        return d.type == nvinfer1::DataType::kFLOAT;
    }

    int32_t configurePlugin(nvinfer1::DynamicPluginTensorDesc const* in, int32_t nbInputs,
                            nvinfer1::DynamicPluginTensorDesc const*, int32_t nbOutputs) noexcept override {
        if (nbInputs != kInputs || nbOutputs != kOutputs) return fail("wrong number of inputs or outputs");
        if (hasUnknownDims(in, nbInputs)) return 0;  // checked again with real shapes in onShapeChange
        std::vector<nvinfer1::PluginTensorDesc> descs(nbInputs);
        for (int32_t i = 0; i < nbInputs; ++i) descs[i] = in[i].desc;
        return checkShapes(descs.data());
    }

    size_t getWorkspaceSize(nvinfer1::DynamicPluginTensorDesc const*, int32_t, nvinfer1::DynamicPluginTensorDesc const*,
                            int32_t) const noexcept override {
        return 0;
    }

    // IPluginV3OneRuntime
    int32_t onShapeChange(nvinfer1::PluginTensorDesc const* in, int32_t nbInputs, nvinfer1::PluginTensorDesc const*,
                          int32_t nbOutputs) noexcept override {
        if (nbInputs != kInputs || nbOutputs != kOutputs) return fail("wrong number of inputs or outputs");
        return checkShapes(in);
    }

    int32_t enqueue(nvinfer1::PluginTensorDesc const* inputDesc, nvinfer1::PluginTensorDesc const* outputDesc,
                    void const* const* inputs, void* const* outputs, void*, cudaStream_t stream) noexcept override {
        if (volume(inputDesc[0].dims) == 0) return 0;
        cudaError_t status = Op::enqueue(mAttributes, inputDesc, outputDesc, inputs, outputs, stream);
        if (status != cudaSuccess) return fail(std::string("kernel launch failed: ") + cudaGetErrorString(status));
        return 0;
    }

    nvinfer1::IPluginV3* attachToContext(nvinfer1::IPluginResourceContext*) noexcept override { return clone(); }

    nvinfer1::PluginFieldCollection const* getFieldsToSerialize() noexcept override {
        mWriter.clear();
        Op::write(mAttributes, mWriter);
        return mWriter.collection();
    }

    typename Op::Attributes const& attributes() const { return mAttributes; }

private:
    int32_t checkShapes(nvinfer1::PluginTensorDesc const* in) const {
        std::string error;
        if (!checkCommonShapes(in, 1 + Op::kParams, Op::kShapedStates, error) || !Op::checkShapes(in, error)) return fail(error);
        return 0;
    }

    int32_t fail(std::string const& message) const {
        logError(std::string(Op::kName) + ": " + message);
        return -1;
    }

    typename Op::Attributes mAttributes;
    FieldWriter mWriter;
};

template <class Op>
class NeuronCreator : public nvinfer1::IPluginCreatorV3One {
public:
    NeuronCreator() : mSpecs(Op::fields()) {
        for (FieldSpec const& spec : mSpecs) mFieldNames.emplace_back(spec.name, nullptr, spec.type, 1);
        mCollection.nbFields = static_cast<int32_t>(mFieldNames.size());
        mCollection.fields = mFieldNames.data();
    }

    nvinfer1::IPluginV3* createPlugin(char const*, nvinfer1::PluginFieldCollection const* fc,
                                      nvinfer1::TensorRTPhase) noexcept override {
        try {
            typename Op::Attributes attributes;
            std::string error;
            if (!rejectUnknown(fc, mSpecs, error) || !Op::parse(fc, attributes, error)) {
                logError(std::string(Op::kName) + ": " + error);
                return nullptr;
            }
            return new NeuronPlugin<Op>(attributes);
        } catch (...) {
            return nullptr;
        }
    }

    nvinfer1::PluginFieldCollection const* getFieldNames() noexcept override { return &mCollection; }
    char const* getPluginName() const noexcept override { return Op::kName; }
    char const* getPluginVersion() const noexcept override { return kVersion; }
    char const* getPluginNamespace() const noexcept override { return kNamespace; }

private:
    std::vector<FieldSpec> mSpecs;
    std::vector<nvinfer1::PluginField> mFieldNames;
    nvinfer1::PluginFieldCollection mCollection{0, nullptr};
};

// Launch geometry shared by the element-wise ops: one thread per neuron of one sample.
constexpr int kBlock = 256;
inline unsigned gridFor(int64_t n) { return static_cast<unsigned>((n + kBlock - 1) / kBlock); }

}  // namespace trt
}  // namespace nsb
