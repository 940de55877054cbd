// The library's only exports: TensorRT's IPluginRegistry::loadLibrary and trtexec --dynamicPlugins call
// these two; nothing here links libnvinfer, so one build serves TensorRT 10.3 to 11.x.
#include <NvInferRuntime.h>

#include "../adlif/adlifPlugin.h"
#include "../alif/alifPlugin.h"
#include "../glif/glifPlugin.h"
#include "../lif/lifPlugin.h"
#include "../rlif/rlifPlugin.h"
#include "logging.h"

#define NSB_EXPORT extern "C" __attribute__((visibility("default")))

NSB_EXPORT void setLoggerFinder(nvinfer1::ILoggerFinder* finder) { nsb::trt::setFinder(finder); }

NSB_EXPORT nvinfer1::IPluginCreatorInterface* const* getCreators(int32_t& nbCreators) {
    static nvinfer1::IPluginCreatorInterface* const creators[] = {
        nsb::trt::lifCreator(), nsb::trt::rlifCreator(), nsb::trt::alifCreator(), nsb::trt::adlifCreator(),
        nsb::trt::glifCreator(),
    };
    nbCreators = static_cast<int32_t>(sizeof(creators) / sizeof(creators[0]));
    return creators;
}
