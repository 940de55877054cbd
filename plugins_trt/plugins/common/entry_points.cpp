// The library's only exports: TensorRT's IPluginRegistry::loadLibrary and trtexec --dynamicPlugins call
// these two; nothing here links libnvinfer. One creator per op of the generated list (ops/all.cuh).
#include <NvInferRuntime.h>

#include "ops/all.cuh"
#include "plugins/common/logging.h"

#define NSB_EXPORT extern "C" __attribute__((visibility("default")))

#define NSB_DECLARE_CREATOR(Struct, name) nvinfer1::IPluginCreatorInterface* name##Creator();
#define NSB_LIST_CREATOR(Struct, name) nsb::trt::name##Creator(),

namespace nsb {
namespace trt {
NSB_FOR_EACH_OP(NSB_DECLARE_CREATOR)
}  // namespace trt
}  // namespace nsb

NSB_EXPORT void setLoggerFinder(nvinfer1::ILoggerFinder* finder) { nsb::trt::setFinder(finder); }

NSB_EXPORT nvinfer1::IPluginCreatorInterface* const* getCreators(int32_t& nbCreators) {
    static nvinfer1::IPluginCreatorInterface* const creators[] = {NSB_FOR_EACH_OP(NSB_LIST_CREATOR)};
    nbCreators = static_cast<int32_t>(sizeof(creators) / sizeof(creators[0]));
    return creators;
}
