// Logging through the ILogger TensorRT hands the library via setLoggerFinder (no libnvinfer symbol).
#pragma once

#include <NvInferRuntime.h>

#include <string>

namespace nsb {
namespace trt {

void setFinder(nvinfer1::ILoggerFinder* finder);
void log(nvinfer1::ILogger::Severity severity, std::string const& message);

inline void logError(std::string const& message) { log(nvinfer1::ILogger::Severity::kERROR, "nsb plugin: " + message); }

}  // namespace trt
}  // namespace nsb
