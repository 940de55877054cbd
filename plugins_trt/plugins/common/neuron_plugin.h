// One IPluginV3 + IPluginCreatorV3One for every nsb op, over the op's generated traits
// (plugins_trt/ops/<op>.cuh). Each plugin folder holds one generated line that instantiates it:
// NSB_DEFINE_PLUGIN_CREATOR(nsb::ops::Alif, alif).
//
// Inputs follow the op declaration (nsb/ops/schema.py): X [T, B, ...], the per-neuron inputs [N], the
// per-step inputs [T_max, N], W_rec [N, N] and B_rec [N] for the recurrent R-ops, the initial states
// [B, ...] and, for ops with per-step inputs, T0 (a scalar: the first step's row). Outputs: S (X's
// shape and type), the final states, TT. X and S are fp32 or fp16 (states stay fp32 in registers);
// everything else is fp32. Fields: the op's float attributes (FLOAT32) and choices (CHAR).
#pragma once

#include <NvInferRuntime.h>

#include <cuda_runtime_api.h>

#include <cstring>
#include <string>
#include <vector>

#include "kernels/neuron_kernels.cuh"
#include "plugins/common/fields.h"
#include "plugins/common/logging.h"

namespace nsb {
namespace trt {

constexpr char const* kNamespace = "nsb";

inline int64_t volume(nvinfer1::Dims const& d, int32_t from = 0) {
    int64_t v = 1;
    for (int32_t i = from; i < d.nbDims; ++i) v *= d.d[i];
    return v;
}

// an R-op's block keeps two steps of spikes (2·N floats) in the 48 KiB of default shared memory
constexpr int64_t kMaxRecurrentNeurons = 6144;

inline bool hasUnknownDims(nvinfer1::DynamicPluginTensorDesc const* in, int32_t nb) {
    for (int32_t i = 0; i < nb; ++i)
        for (int32_t j = 0; j < in[i].desc.dims.nbDims; ++j)
            if (in[i].desc.dims.d[j] < 0) return true;
    return false;
}

// Where each input sits, from the op's traits.
template <class Op>
struct Layout {
    static constexpr int32_t kFirstInput = 1;
    static constexpr int32_t kFirstRow = kFirstInput + Op::kInputs;
    static constexpr int32_t kWeights = kFirstRow + Op::kRows;                  // W_rec, B_rec (R-ops)
    static constexpr int32_t kFirstState = kWeights + (Op::kRecurrent ? 2 : 0);
    static constexpr int32_t kStepIndex = kFirstState + Op::kStates;            // T0 (ops with per-step inputs)
    static constexpr int32_t kInputs = kStepIndex + (Op::kRows > 0 ? 1 : 0);
    static constexpr int32_t kOutputs = 1 + Op::kStates + (Op::kRows > 0 ? 1 : 0);
};

// Reads the op's fields into Attributes: absent ones keep their defaults, values are range-checked.
template <class Op>
bool parseAttributes(nvinfer1::PluginFieldCollection const* fc, Attributes& a, std::string& error) {
    int f = 0, e = 0;
    for (int k = 0; k < Op::kAttributes; ++k) {
        AttributeSpec const& spec = Op::kAttributeSpecs[k];
        if (spec.is_choice) {
            std::string value = spec.choices[spec.default_choice];
            if (!readString(fc, spec.name, value, error)) return false;
            int found = -1;
            std::string allowed;
            for (int c = 0; c < spec.choice_count; ++c) {
                if (value == spec.choices[c]) found = c;
                allowed += (c ? ", " : "") + std::string(spec.choices[c]);
            }
            if (found < 0) {
                error = std::string(spec.name) + " must be one of " + allowed + ", got '" + value + "'";
                return false;
            }
            a.e[e++] = found;
        } else {
            float value = spec.default_value;
            if (!readFloat(fc, spec.name, value, error)) return false;
            bool const below = spec.has_lo && (value < spec.lo || (spec.open_lo && value == spec.lo));
            bool const above = spec.has_hi && (value > spec.hi || (spec.open_hi && value == spec.hi));
            if (below || above) {
                error = std::string(spec.name) + " must be in " + (spec.open_lo ? "(" : "[") +
                        (spec.has_lo ? std::to_string(spec.lo) : "-inf") + ", " +
                        (spec.has_hi ? std::to_string(spec.hi) : "inf") + (spec.open_hi ? ")" : "]") + ", got " +
                        std::to_string(value);
                return false;
            }
            a.f[f++] = value;
        }
    }
    return true;
}

template <class Op>
void writeAttributes(Attributes const& a, FieldWriter& w) {
    int f = 0, e = 0;
    for (int k = 0; k < Op::kAttributes; ++k) {
        AttributeSpec const& spec = Op::kAttributeSpecs[k];
        if (spec.is_choice) w.addString(spec.name, spec.choices[a.e[e++]]);
        else w.addFloat(spec.name, &a.f[f++]);
    }
}

template <class Op>
std::vector<FieldSpec> attributeFields() {
    std::vector<FieldSpec> out;
    for (int k = 0; k < Op::kAttributes; ++k)
        out.push_back({Op::kAttributeSpecs[k].name, Op::kAttributeSpecs[k].is_choice ? nvinfer1::PluginFieldType::kCHAR
                                                                                      : nvinfer1::PluginFieldType::kFLOAT32});
    return out;
}

template <class Op>
bool checkShapes(nvinfer1::PluginTensorDesc const* in, std::string& error) {
    using L = Layout<Op>;
    nvinfer1::Dims const& x = in[0].dims;
    if (x.nbDims < 3) {
        error = "X must be time-major [T, B, N, ...] (rank >= 3), got rank " + std::to_string(x.nbDims);
        return false;
    }
    int64_t const neurons = x.d[x.nbDims - 1];
    auto isVector = [&](int32_t k) { return in[k].dims.nbDims == 1 && in[k].dims.d[0] == neurons; };
    for (int32_t k = L::kFirstInput; k < L::kFirstRow; ++k)
        if (!isVector(k)) {
            error = "input " + std::to_string(k) + " must be a vector of " + std::to_string(neurons) + " values";
            return false;
        }
    for (int32_t k = L::kFirstRow; k < L::kWeights; ++k)
        if (in[k].dims.nbDims != 2 || in[k].dims.d[1] != neurons) {
            error = "input " + std::to_string(k) + " must be [T_max, " + std::to_string(neurons) + "] (one row per step)";
            return false;
        }
    if (Op::kRecurrent) {
        if (x.nbDims != 3) {
            error = "a recurrent op takes X [T, B, N], got rank " + std::to_string(x.nbDims);
            return false;
        }
        if (neurons > kMaxRecurrentNeurons) {
            error = "a recurrent layer of " + std::to_string(neurons) + " neurons does not fit: its block keeps two "
                    "steps of spikes in shared memory, at most " + std::to_string(kMaxRecurrentNeurons) + " neurons";
            return false;
        }
        if (in[L::kWeights].dims.nbDims != 2 || in[L::kWeights].dims.d[0] != neurons ||
            in[L::kWeights].dims.d[1] != neurons || !isVector(L::kWeights + 1)) {
            error = "W_rec must be [N, N] and B_rec [N] with N = " + std::to_string(neurons);
            return false;
        }
    }
    for (int32_t k = 0; k < Op::kStates; ++k) {
        nvinfer1::Dims const& s = in[L::kFirstState + k].dims;
        bool same = s.nbDims == x.nbDims - 1;
        for (int32_t i = 0; same && i < s.nbDims; ++i) same = s.d[i] == x.d[i + 1];
        if (!same) {
            error = "state input " + std::to_string(L::kFirstState + k) + " must have X's shape without T";
            return false;
        }
    }
    if (Op::kRows > 0 && volume(in[L::kStepIndex].dims) != 1) {
        error = "T0 must be a scalar";
        return false;
    }
    return true;
}

#if defined(__CUDACC__)
template <class Op, typename T>
__global__ void elementwiseForward(T const* x, T* s, KernelArgs a, int steps, long n, int neurons) {
    forward_thread<Op, T>(static_cast<long>(blockIdx.x) * blockDim.x + threadIdx.x, x, s, a, steps, n, neurons);
}

// the launch bounds hold the register count to what the largest block (1,024 threads) can have
template <class Op, typename T>
__global__ void __launch_bounds__(1024) recurrentForward(T const* x, T* s, KernelArgs a, RecurrentArgs r, int steps,
                                                         int batch, int neurons) {
    extern __shared__ float shared[];
    recurrent_forward_sample<Op, T>(blockIdx.x, threadIdx.x, blockDim.x, shared, x, s, a, r, steps, batch, neurons);
}

constexpr int kBlock = 256;

template <class Op, typename T>
cudaError_t launchForward(Attributes const& attrs, nvinfer1::PluginTensorDesc const* in, void const* const* inputs,
                          void* const* outputs, cudaStream_t stream) {
    using L = Layout<Op>;
    int const steps = static_cast<int>(in[0].dims.d[0]);
    long const n = static_cast<long>(volume(in[0].dims, 1));
    int const neurons = static_cast<int>(in[0].dims.d[in[0].dims.nbDims - 1]);
    KernelArgs a{};
    for (int k = 0; k < Op::kInputs; ++k) a.inputs[k] = static_cast<float const*>(inputs[L::kFirstInput + k]);
    for (int k = 0; k < Op::kRows; ++k) a.rows[k] = static_cast<float const*>(inputs[L::kFirstRow + k]);
    a.row_count = Op::kRows > 0 ? static_cast<int>(in[L::kFirstRow].dims.d[0]) : 0;
    for (int k = 0; k < Op::kStates; ++k) {
        a.state_in[k] = static_cast<float const*>(inputs[L::kFirstState + k]);
        a.state_out[k] = static_cast<float*>(outputs[1 + k]);
    }
    if (Op::kRows > 0) {
        a.t0 = static_cast<float const*>(inputs[L::kStepIndex]);
        a.t_out = static_cast<float*>(outputs[1 + Op::kStates]);
    }
    a.attrs = attrs;
    T const* x = static_cast<T const*>(inputs[0]);
    T* s = static_cast<T*>(outputs[0]);
    if (Op::kRecurrent) {
        int const batch = static_cast<int>(in[0].dims.d[1]);
        RecurrentArgs r{};
        r.w_rec = static_cast<float const*>(inputs[L::kWeights]);
        r.b_rec = static_cast<float const*>(inputs[L::kWeights + 1]);
        int threads = ((neurons + 31) / 32) * 32;
        threads = threads > 1024 ? 1024 : threads;
        size_t const shared = 2 * sizeof(float) * static_cast<size_t>(neurons);
        recurrentForward<Op, T><<<batch, threads, shared, stream>>>(x, s, a, r, steps, batch, neurons);
    } else {
        unsigned const grid = static_cast<unsigned>((n + kBlock - 1) / kBlock);
        elementwiseForward<Op, T><<<grid, kBlock, 0, stream>>>(x, s, a, steps, n, neurons);
    }
    return cudaGetLastError();
}
#endif

template <class Op>
class NeuronPlugin : public nvinfer1::IPluginV3,
                     public nvinfer1::IPluginV3OneCore,
                     public nvinfer1::IPluginV3OneBuild,
                     public nvinfer1::IPluginV3OneRuntime {
public:
    static constexpr int32_t kInputs = Layout<Op>::kInputs;
    static constexpr int32_t kOutputs = Layout<Op>::kOutputs;

    explicit NeuronPlugin(Attributes const& attributes) : mAttributes(attributes) {}
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
    char const* getPluginVersion() const noexcept override { return Op::kVersion; }
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
        for (int32_t k = 1; k < kOutputs; ++k) outputs[k] = inputs[Layout<Op>::kFirstState + k - 1];
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
        return check(descs.data());
    }

    size_t getWorkspaceSize(nvinfer1::DynamicPluginTensorDesc const*, int32_t, nvinfer1::DynamicPluginTensorDesc const*,
                            int32_t) const noexcept override {
        return 0;
    }

    // IPluginV3OneRuntime
    int32_t onShapeChange(nvinfer1::PluginTensorDesc const* in, int32_t nbInputs, nvinfer1::PluginTensorDesc const*,
                          int32_t nbOutputs) noexcept override {
        if (nbInputs != kInputs || nbOutputs != kOutputs) return fail("wrong number of inputs or outputs");
        return check(in);
    }

    int32_t enqueue(nvinfer1::PluginTensorDesc const* inputDesc, nvinfer1::PluginTensorDesc const*,
                    void const* const* inputs, void* const* outputs, void*, cudaStream_t stream) noexcept override;

    nvinfer1::IPluginV3* attachToContext(nvinfer1::IPluginResourceContext*) noexcept override { return clone(); }

    nvinfer1::PluginFieldCollection const* getFieldsToSerialize() noexcept override {
        mWriter.clear();
        writeAttributes<Op>(mAttributes, mWriter);
        return mWriter.collection();
    }


private:
    int32_t check(nvinfer1::PluginTensorDesc const* in) const {
        std::string error;
        if (!checkShapes<Op>(in, error)) return fail(error);
        return 0;
    }

    int32_t fail(std::string const& message) const {
        logError(std::string(Op::kName) + ": " + message);
        return -1;
    }

    Attributes mAttributes;
    FieldWriter mWriter;
};

#if defined(__CUDACC__)
template <class Op>
int32_t NeuronPlugin<Op>::enqueue(nvinfer1::PluginTensorDesc const* inputDesc, nvinfer1::PluginTensorDesc const*,
                                  void const* const* inputs, void* const* outputs, void*, cudaStream_t stream) noexcept {
    if (volume(inputDesc[0].dims) == 0) {  // no step: the final states are the initial ones
        using L = Layout<Op>;
        for (int32_t k = 0; k < L::kOutputs - 1; ++k) {
            size_t const bytes = sizeof(float) * static_cast<size_t>(volume(inputDesc[L::kFirstState + k].dims));
            cudaError_t const status =
                cudaMemcpyAsync(outputs[1 + k], inputs[L::kFirstState + k], bytes, cudaMemcpyDeviceToDevice, stream);
            if (status != cudaSuccess) return fail(std::string("copying the initial states failed: ") +
                                                   cudaGetErrorString(status));
        }
        return 0;
    }
    cudaError_t const status = inputDesc[0].type == nvinfer1::DataType::kHALF
                                   ? launchForward<Op, __half>(mAttributes, inputDesc, inputs, outputs, stream)
                                   : launchForward<Op, float>(mAttributes, inputDesc, inputs, outputs, stream);
    if (status != cudaSuccess) return fail(std::string("kernel launch failed: ") + cudaGetErrorString(status));
    return 0;
}
#endif

template <class Op>
class NeuronCreator : public nvinfer1::IPluginCreatorV3One {
public:
    NeuronCreator() : mSpecs(attributeFields<Op>()) {
        for (FieldSpec const& spec : mSpecs) mFieldNames.emplace_back(spec.name, nullptr, spec.type, 1);
        mCollection.nbFields = static_cast<int32_t>(mFieldNames.size());
        mCollection.fields = mFieldNames.data();
    }

    nvinfer1::IPluginV3* createPlugin(char const*, nvinfer1::PluginFieldCollection const* fc,
                                      nvinfer1::TensorRTPhase) noexcept override {
        try {
            Attributes attributes{};
            std::string error;
            if (!rejectUnknown(fc, mSpecs, error) || !parseAttributes<Op>(fc, attributes, error)) {
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
    char const* getPluginVersion() const noexcept override { return Op::kVersion; }
    char const* getPluginNamespace() const noexcept override { return kNamespace; }

private:
    std::vector<FieldSpec> mSpecs;
    std::vector<nvinfer1::PluginField> mFieldNames;
    nvinfer1::PluginFieldCollection mCollection{0, nullptr};
};

}  // namespace trt
}  // namespace nsb

// The one line each generated plugin source holds: the creator of op Struct, named <name>Creator.
#define NSB_DEFINE_PLUGIN_CREATOR(Struct, name)                         \
    namespace nsb {                                                     \
    namespace trt {                                                     \
    nvinfer1::IPluginCreatorInterface* name##Creator() {                \
        static NeuronCreator<Struct> creator;                           \
        return &creator;                                                \
    }                                                                   \
    template class NeuronPlugin<Struct>;                                \
    }                                                                   \
    }
