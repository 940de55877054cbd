// Tests libnsb_trt_plugins.so through the entry points TensorRT itself uses, without TensorRT:
// dlopen + getCreators + setLoggerFinder, creator identity and fields, plugin creation from fields,
// output shapes through this file's own IExprBuilder, formats and types, serialization round trips,
// refusal of bad fields and shapes, and (with --gpu, on a CUDA device) enqueue against a host
// reference: the same kernel bodies (neuron_kernels.cuh) run here on the CPU, which CI tests against
// PyTorch. The cases (harness/cases.inc) and the op list are generated from the op declarations.
//
//   nsb_trt_harness path/to/libnsb_trt_plugins.so [--gpu]
// Prints one "ok ..." line per check; exits 1 on the first failure.
#include <NvInferRuntime.h>
#include <cuda_runtime_api.h>
#include <dlfcn.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "kernels/neuron_kernels.cuh"
#include "ops/all.cuh"
#include "plugins/common/neuron_plugin.h"

using namespace nvinfer1;

namespace {

int gChecks = 0;

void check(bool condition, std::string const& what) {
    if (!condition) {
        std::printf("FAIL %s\n", what.c_str());
        std::exit(1);
    }
    ++gChecks;
    std::printf("ok %s\n", what.c_str());
}

struct Logger : ILogger {
    std::vector<std::string> errors;
    void log(Severity severity, AsciiChar const* msg) noexcept override {
        if (severity <= Severity::kERROR) errors.emplace_back(msg);
    }
};

struct Finder : ILoggerFinder {
    Logger logger;
    ILogger* findLogger() override { return &logger; }
};

// --- a constant-only expression builder: enough to evaluate getOutputShapes on concrete dims ---
struct ConstImpl : apiv::VDimensionExpr {
    int64_t value;
    explicit ConstImpl(int64_t v) : value(v) {}
    bool isConstant() const override { return true; }
    int64_t getConstantValue() const override { return value; }
    bool isSizeTensor() const override { return false; }
};

struct ConstExpr : IDimensionExpr {
    ConstImpl impl;
    explicit ConstExpr(int64_t v) : impl(v) { mImpl = &impl; }
    ~ConstExpr() noexcept override = default;
};

struct BuilderImpl : apiv::VExprBuilder {
    std::deque<ConstExpr> pool;
    IDimensionExpr const* constant(int64_t value) override {
        pool.emplace_back(value);
        return &pool.back();
    }
    IDimensionExpr const* operation(DimensionOperation op, IDimensionExpr const& a, IDimensionExpr const& b) override {
        int64_t x = a.getConstantValue(), y = b.getConstantValue(), r = 0;
        switch (op) {
        case DimensionOperation::kSUM: r = x + y; break;
        case DimensionOperation::kPROD: r = x * y; break;
        case DimensionOperation::kMAX: r = x > y ? x : y; break;
        case DimensionOperation::kMIN: r = x < y ? x : y; break;
        case DimensionOperation::kSUB: r = x - y; break;
        case DimensionOperation::kEQUAL: r = x == y; break;
        case DimensionOperation::kLESS: r = x < y; break;
        case DimensionOperation::kFLOOR_DIV: r = x / y; break;
        case DimensionOperation::kCEIL_DIV: r = (x + y - 1) / y; break;
        }
        return constant(r);
    }
    IDimensionExpr const* declareSizeTensor(int32_t, IDimensionExpr const&, IDimensionExpr const&) override {
        return nullptr;
    }
};

struct Builder : IExprBuilder {
    BuilderImpl impl;
    Builder() { mImpl = &impl; }
    ~Builder() noexcept override = default;
};

// --- per-op test cases (generated: harness/cases.inc) ---
using Shape = std::vector<int64_t>;

struct Field {
    std::string name;
    PluginFieldType type;
    std::vector<float> floats;
    std::string text;  // stored with its NUL, as the ONNX parser passes STRING attributes
};

struct Case {
    std::string op;
    std::vector<Field> fields;
    std::vector<Shape> inputs;
    std::vector<Shape> outputs;
};

struct Fields {
    std::vector<PluginField> list;
    PluginFieldCollection fc{0, nullptr};
    explicit Fields(std::vector<Field> const& fields) {
        for (Field const& f : fields) {
            if (f.type == PluginFieldType::kCHAR)
                list.emplace_back(f.name.c_str(), f.text.c_str(), f.type, static_cast<int32_t>(f.text.size() + 1));
            else
                list.emplace_back(f.name.c_str(), f.floats.data(), f.type, static_cast<int32_t>(f.floats.size()));
        }
        fc.nbFields = static_cast<int32_t>(list.size());
        fc.fields = list.data();
    }
};

Field flt(char const* name, float v) { return Field{name, PluginFieldType::kFLOAT32, {v}, ""}; }
Field str(char const* name, char const* v) { return Field{name, PluginFieldType::kCHAR, {}, v}; }

constexpr int64_t T = 20, B = 3, N = 16;

std::vector<Case> cases() {
    Shape const x{T, B, N}, st{B, N}, vec{N}, rows{T + 5, N}, mat{N, N}, scalar{};
    return
#include "harness/cases.inc"
        ;
}

DimsExprs exprs(Builder& b, Shape const& s) {
    DimsExprs e;
    e.nbDims = static_cast<int32_t>(s.size());
    for (size_t i = 0; i < s.size(); ++i) e.d[i] = b.constant(s[i]);
    return e;
}

Dims dims(Shape const& s) {
    Dims d;
    d.nbDims = static_cast<int32_t>(s.size());
    for (size_t i = 0; i < s.size(); ++i) d.d[i] = s[i];
    return d;
}

std::vector<PluginTensorDesc> descs(std::vector<Shape> const& shapes, DataType first) {
    std::vector<PluginTensorDesc> out(shapes.size());
    for (size_t i = 0; i < shapes.size(); ++i) {
        out[i].dims = dims(shapes[i]);
        out[i].format = TensorFormat::kLINEAR;
        out[i].type = i == 0 ? first : DataType::kFLOAT;
        out[i].scale = 1.0f;
    }
    return out;
}

std::map<std::string, std::vector<float>> readFields(PluginFieldCollection const* fc,
                                                     std::map<std::string, std::string>* texts) {
    std::map<std::string, std::vector<float>> out;
    for (int32_t i = 0; i < fc->nbFields; ++i) {
        PluginField const& f = fc->fields[i];
        if (f.type == PluginFieldType::kFLOAT32) {
            auto const* v = static_cast<float const*>(f.data);
            out[f.name] = std::vector<float>(v, v + f.length);
        } else if (f.type == PluginFieldType::kCHAR && texts != nullptr) {
            (*texts)[f.name] = std::string(static_cast<char const*>(f.data));
        }
    }
    return out;
}

int64_t volumeOf(Shape const& s) {
    int64_t v = 1;
    for (int64_t d : s) v *= d;
    return v;
}

// The op's attributes from a case's fields, as the plugin parses them (absent ones: defaults).
template <class Op>
nsb::Attributes attributesOf(Case const& c) {
    nsb::Attributes a{};
    int f = 0, e = 0;
    for (int k = 0; k < Op::kAttributes; ++k) {
        nsb::AttributeSpec const& spec = Op::kAttributeSpecs[k];
        Field const* given = nullptr;
        for (Field const& field : c.fields)
            if (field.name == spec.name) given = &field;
        if (spec.is_choice) {
            int index = spec.default_choice;
            for (int i = 0; given != nullptr && i < spec.choice_count; ++i)
                if (given->text == spec.choices[i]) index = i;
            a.e[e++] = index;
        } else {
            a.f[f++] = given != nullptr ? given->floats[0] : spec.default_value;
        }
    }
    return a;
}

// The host reference of a case: the kernel bodies, here on the CPU.
template <class Op>
void hostReference(Case const& c, std::vector<std::vector<float>> const& host, std::vector<std::vector<float>>& want) {
    using L = nsb::trt::Layout<Op>;
    nsb::KernelArgs a{};
    for (int k = 0; k < Op::kInputs; ++k) a.inputs[k] = host[L::kFirstInput + k].data();
    for (int k = 0; k < Op::kRows; ++k) a.rows[k] = host[L::kFirstRow + k].data();
    a.row_count = Op::kRows > 0 ? static_cast<int>(c.inputs[L::kFirstRow][0]) : 0;
    for (int k = 0; k < Op::kStates; ++k) {
        a.state_in[k] = host[L::kFirstState + k].data();
        a.state_out[k] = want[1 + k].data();
    }
    if (Op::kRows > 0) {
        a.t0 = host[L::kStepIndex].data();
        a.t_out = want[1 + Op::kStates].data();
    }
    a.attrs = attributesOf<Op>(c);
    long const n = B * N;
    if (Op::kRecurrent) {
        nsb::RecurrentArgs r{};
        r.w_rec = host[L::kWeights].data();
        r.b_rec = host[L::kWeights + 1].data();
        std::vector<float> shared(2 * N);
        for (int b = 0; b < B; ++b)
            nsb::recurrent_forward_sample<Op, float>(b, 0, 1, shared.data(), host[0].data(), want[0].data(), a, r,
                                                     static_cast<int>(T), static_cast<int>(B), static_cast<int>(N));
    } else {
        for (long i = 0; i < n; ++i) nsb::forward_thread<Op, float>(i, host[0].data(), want[0].data(), a, T, n, N);
    }
}

#define NSB_HOST_REFERENCE(Struct, name) \
    if (c.op == Struct::kName) return hostReference<Struct>(c, host, want);

void reference(Case const& c, std::vector<std::vector<float>> const& host, std::vector<std::vector<float>>& want) {
    NSB_FOR_EACH_OP(NSB_HOST_REFERENCE)
    check(false, "a host reference for " + c.op);
}

// Random inputs for a case, the host reference and the plugin's enqueue on the GPU.
void gpuCheck(Case const& c, IPluginV3* plugin, std::mt19937& rng) {
    std::uniform_real_distribution<float> uni(-0.15f, 0.75f), pos(0.05f, 0.95f);
    std::vector<std::vector<float>> host(c.inputs.size());
    for (size_t k = 0; k < c.inputs.size(); ++k) {
        host[k].resize(static_cast<size_t>(volumeOf(c.inputs[k])));
        bool const matrix = c.inputs[k].size() == 2 && c.inputs[k][0] == N;
        for (float& v : host[k]) v = k == 0 ? uni(rng) : pos(rng) * (matrix ? 0.2f : 1.0f);
    }
    // states start at rest (zeros); a per-step op starts at row 3 of its per-step inputs
    size_t const states = c.outputs.size() - 1;
    bool const stepIndex = c.inputs.back().empty();
    for (size_t k = c.inputs.size() - states; k < c.inputs.size(); ++k) std::fill(host[k].begin(), host[k].end(), 0.0f);
    if (stepIndex) host.back()[0] = 3.0f;
    std::vector<std::vector<float>> want(c.outputs.size());
    for (size_t k = 0; k < c.outputs.size(); ++k) want[k].resize(static_cast<size_t>(volumeOf(c.outputs[k])) + 1);
    reference(c, host, want);
    // device run through the plugin's runtime interface
    std::vector<void*> dIn(c.inputs.size()), dOut(c.outputs.size());
    for (size_t k = 0; k < host.size(); ++k) {
        cudaMalloc(&dIn[k], host[k].size() * sizeof(float) + 4);
        cudaMemcpy(dIn[k], host[k].data(), host[k].size() * sizeof(float), cudaMemcpyHostToDevice);
    }
    for (size_t k = 0; k < want.size(); ++k) cudaMalloc(&dOut[k], want[k].size() * sizeof(float) + 4);
    auto* runtime = static_cast<IPluginV3OneRuntime*>(plugin->getCapabilityInterface(PluginCapabilityType::kRUNTIME));
    auto in = descs(c.inputs, DataType::kFLOAT), out = descs(c.outputs, DataType::kFLOAT);
    check(runtime->onShapeChange(in.data(), static_cast<int32_t>(in.size()), out.data(), static_cast<int32_t>(out.size())) == 0,
          c.op + " onShapeChange accepts the shapes");
    std::vector<void const*> cin(dIn.begin(), dIn.end());
    check(runtime->enqueue(in.data(), out.data(), cin.data(), dOut.data(), nullptr, nullptr) == 0, c.op + " enqueue");
    check(cudaDeviceSynchronize() == cudaSuccess, c.op + " kernel ran");
    for (size_t k = 0; k < want.size(); ++k) {
        size_t const count = static_cast<size_t>(volumeOf(c.outputs[k]));
        std::vector<float> got(count);
        cudaMemcpy(got.data(), dOut[k], count * sizeof(float), cudaMemcpyDeviceToHost);
        size_t mismatches = 0;
        double maxErr = 0.0;
        for (size_t i = 0; i < count; ++i) {
            if (k == 0) mismatches += got[i] != want[k][i];
            else maxErr = std::fmax(maxErr, std::fabs(got[i] - want[k][i]) / (1.0 + std::fabs(want[k][i])));
        }
        if (k == 0) {
            check(mismatches == 0, c.op + " spikes equal the host reference (" + std::to_string(mismatches) + " differ)");
        } else {
            check(maxErr < 1e-5, c.op + " output " + std::to_string(k) + " within 1e-5 of the host reference");
        }
    }
    for (void* p : dIn) cudaFree(p);
    for (void* p : dOut) cudaFree(p);
}

#define NSB_COUNT_OP(Struct, name) +1
#define NSB_OP_NAME(Struct, name) std::string(Struct::kName),

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::printf("usage: %s libnsb_trt_plugins.so [--gpu]\n", argv[0]);
        return 2;
    }
    bool const gpu = argc > 2 && std::strcmp(argv[2], "--gpu") == 0;
    void* lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    check(lib != nullptr, std::string("dlopen ") + (lib ? argv[1] : dlerror()));
    using GetCreators = IPluginCreatorInterface* const* (*)(int32_t&);
    using SetFinder = void (*)(ILoggerFinder*);
    auto getCreators = reinterpret_cast<GetCreators>(dlsym(lib, "getCreators"));
    auto setFinder = reinterpret_cast<SetFinder>(dlsym(lib, "setLoggerFinder"));
    check(getCreators != nullptr && setFinder != nullptr, "getCreators and setLoggerFinder are exported");
    Finder finder;
    setFinder(&finder);

    int32_t count = 0;
    IPluginCreatorInterface* const* creators = getCreators(count);
    std::vector<std::string> const expected{NSB_FOR_EACH_OP(NSB_OP_NAME)};
    check(count == 0 NSB_FOR_EACH_OP(NSB_COUNT_OP), std::to_string(count) + " creators, one per op of ops/all.cuh");
    std::map<std::string, IPluginCreatorV3One*> byName;
    for (int32_t i = 0; i < count; ++i) {
        InterfaceInfo info = creators[i]->getInterfaceInfo();
        check(std::strcmp(info.kind, "PLUGIN CREATOR_V3ONE") == 0 && info.major == 1, "creator kind is V3One");
        auto* c = static_cast<IPluginCreatorV3One*>(creators[i]);
        check(std::strcmp(c->getPluginNamespace(), "nsb") == 0 && std::strcmp(c->getPluginVersion(), "2") == 0,
              std::string(c->getPluginName()) + " namespace nsb, version 2");
        check(std::string(c->getPluginName()) == expected[static_cast<size_t>(i)], expected[static_cast<size_t>(i)] + " creator in order");
        byName[c->getPluginName()] = c;
    }

    std::mt19937 rng(7);
    int const devices = [] {
        int n = 0;
        return cudaGetDeviceCount(&n) == cudaSuccess ? n : 0;
    }();
    for (Case const& c : cases()) {
        IPluginCreatorV3One* creator = byName[c.op];
        check(creator != nullptr, c.op + " creator found");
        PluginFieldCollection const* names = creator->getFieldNames();
        check(names != nullptr && names->nbFields == static_cast<int32_t>(c.fields.size()), c.op + " field names");
        for (size_t i = 0; i < c.fields.size(); ++i)
            check(std::strcmp(names->fields[i].name, c.fields[i].name.c_str()) == 0 && names->fields[i].type == c.fields[i].type,
                  c.op + " field " + c.fields[i].name);

        Fields fields(c.fields);
        IPluginV3* plugin = creator->createPlugin("node", &fields.fc, TensorRTPhase::kBUILD);
        check(plugin != nullptr, c.op + " created from fields");
        auto* core = static_cast<IPluginV3OneCore*>(plugin->getCapabilityInterface(PluginCapabilityType::kCORE));
        auto* build = static_cast<IPluginV3OneBuild*>(plugin->getCapabilityInterface(PluginCapabilityType::kBUILD));
        auto* runtime = static_cast<IPluginV3OneRuntime*>(plugin->getCapabilityInterface(PluginCapabilityType::kRUNTIME));
        check(core && build && runtime, c.op + " core, build and runtime capabilities");
        check(std::string(core->getPluginName()) == c.op, c.op + " plugin name");
        check(build->getNbOutputs() == static_cast<int32_t>(c.outputs.size()), c.op + " output count");

        Builder builder;
        std::vector<DimsExprs> in;
        for (Shape const& s : c.inputs) in.push_back(exprs(builder, s));
        std::vector<DimsExprs> out(c.outputs.size());
        check(build->getOutputShapes(in.data(), static_cast<int32_t>(in.size()), nullptr, 0, out.data(),
                                     static_cast<int32_t>(out.size()), builder) == 0, c.op + " getOutputShapes");
        for (size_t k = 0; k < out.size(); ++k) {
            bool same = out[k].nbDims == static_cast<int32_t>(c.outputs[k].size());
            for (int32_t d = 0; same && d < out[k].nbDims; ++d)
                same = out[k].d[d]->isConstant() && out[k].d[d]->getConstantValue() == c.outputs[k][d];
            check(same, c.op + " output " + std::to_string(k) + " shape");
        }
        std::vector<DataType> inTypes(c.inputs.size(), DataType::kFLOAT), outTypes(c.outputs.size());
        inTypes[0] = DataType::kHALF;
        check(build->getOutputDataTypes(outTypes.data(), static_cast<int32_t>(outTypes.size()), inTypes.data(),
                                        static_cast<int32_t>(inTypes.size())) == 0 && outTypes[0] == DataType::kHALF &&
                  outTypes.back() == DataType::kFLOAT,
              c.op + " output types: S follows X, states fp32");

        std::vector<DynamicPluginTensorDesc> io(c.inputs.size() + c.outputs.size());
        auto setType = [&](size_t pos, DataType t) {
            io[pos].desc.type = t;
            io[pos].desc.format = TensorFormat::kLINEAR;
        };
        setType(0, DataType::kHALF);
        check(build->supportsFormatCombination(0, io.data(), static_cast<int32_t>(c.inputs.size()),
                                               static_cast<int32_t>(c.outputs.size())), c.op + " takes fp16 X");
        setType(0, DataType::kINT8);
        check(!build->supportsFormatCombination(0, io.data(), static_cast<int32_t>(c.inputs.size()),
                                                static_cast<int32_t>(c.outputs.size())), c.op + " refuses int8 X");
        setType(0, DataType::kFLOAT);
        setType(c.inputs.size(), DataType::kHALF);
        check(!build->supportsFormatCombination(static_cast<int32_t>(c.inputs.size()), io.data(),
                                                static_cast<int32_t>(c.inputs.size()),
                                                static_cast<int32_t>(c.outputs.size())), c.op + " S must follow X's type");

        // serialization: fields written, read back by the creator at runtime, written again identically
        std::map<std::string, std::string> texts;
        auto first = readFields(runtime->getFieldsToSerialize(), &texts);
        IPluginV3* restored = creator->createPlugin("node", runtime->getFieldsToSerialize(), TensorRTPhase::kRUNTIME);
        check(restored != nullptr, c.op + " recreated from its serialized fields");
        auto* restoredRuntime =
            static_cast<IPluginV3OneRuntime*>(restored->getCapabilityInterface(PluginCapabilityType::kRUNTIME));
        std::map<std::string, std::string> texts2;
        check(readFields(restoredRuntime->getFieldsToSerialize(), &texts2) == first && texts == texts2,
              c.op + " serialization round trip");
        for (Field const& f : c.fields) {
            if (f.type == PluginFieldType::kFLOAT32) check(first[f.name] == f.floats, c.op + " keeps " + f.name);
            else check(texts[f.name] == f.text, c.op + " keeps " + f.name + " = " + f.text);
        }
        IPluginV3* attached = runtime->attachToContext(nullptr);
        check(attached != nullptr && attached != plugin, c.op + " attachToContext returns a clone");
        delete attached;
        delete restored;

        // bad shapes are refused at shape-change time, with a logged reason
        auto badIn = descs(c.inputs, DataType::kFLOAT), goodOut = descs(c.outputs, DataType::kFLOAT);
        badIn[c.inputs.size() > 2 ? c.inputs.size() - 2 : 1].dims.d[0] += 1;
        finder.logger.errors.clear();
        check(runtime->onShapeChange(badIn.data(), static_cast<int32_t>(badIn.size()), goodOut.data(),
                                     static_cast<int32_t>(goodOut.size())) != 0 && !finder.logger.errors.empty(),
              c.op + " refuses a mismatched state shape");
        bool const recurrent = std::find(c.inputs.begin(), c.inputs.end(), Shape{N, N}) != c.inputs.end();
        if (recurrent) {  // a layer whose two steps of spikes exceed the block's shared memory
            auto wide = descs(c.inputs, DataType::kFLOAT), wideOut = descs(c.outputs, DataType::kFLOAT);
            int64_t const big = 6145;
            for (auto* set : {&wide, &wideOut})
                for (PluginTensorDesc& d : *set)
                    for (int32_t i = 0; i < d.dims.nbDims; ++i)
                        if (d.dims.d[i] == N) d.dims.d[i] = big;
            finder.logger.errors.clear();
            check(runtime->onShapeChange(wide.data(), static_cast<int32_t>(wide.size()), wideOut.data(),
                                         static_cast<int32_t>(wideOut.size())) != 0 && !finder.logger.errors.empty(),
                  c.op + " refuses a recurrent layer too wide for shared memory");
        }

        if (gpu && devices > 0) gpuCheck(c, plugin, rng);
        delete plugin;
    }

    // bad fields: unknown name, wrong type, invalid value
    IPluginCreatorV3One* lif = byName["LIF"];
    auto refused = [&](std::vector<Field> fields, char const* what) {
        Fields f(fields);
        finder.logger.errors.clear();
        IPluginV3* p = lif->createPlugin("node", &f.fc, TensorRTPhase::kBUILD);
        check(p == nullptr && !finder.logger.errors.empty(), std::string("LIF refuses ") + what);
    };
    refused({flt("tau", 2.0f)}, "an unknown field");
    refused({str("decay", "0.5")}, "a string decay");
    refused({str("reset_mode", "bogus")}, "reset_mode 'bogus'");
    refused({flt("decay", 1.5f)}, "decay 1.5");
    refused({flt("v_threshold", NAN)}, "a NaN threshold");
    {
        Fields none(std::vector<Field>{});
        IPluginV3* p = lif->createPlugin("node", &none.fc, TensorRTPhase::kBUILD);
        check(p != nullptr, "LIF falls back to defaults for absent fields");
        delete p;
    }
    if (gpu && devices == 0) std::printf("note: --gpu asked for but no CUDA device is present; enqueue not run\n");
    std::printf("%d checks passed%s\n", gChecks, gpu && devices > 0 ? " (including enqueue on the GPU)" : "");
    return 0;
}
