#include "plugins/common/logging.h"

#include <mutex>

namespace nsb {
namespace trt {

namespace {
std::mutex gMutex;
nvinfer1::ILoggerFinder* gFinder = nullptr;
}  // namespace

void setFinder(nvinfer1::ILoggerFinder* finder) {
    std::lock_guard<std::mutex> lock(gMutex);
    gFinder = finder;
}

void log(nvinfer1::ILogger::Severity severity, std::string const& message) {
    nvinfer1::ILoggerFinder* finder = nullptr;
    {
        std::lock_guard<std::mutex> lock(gMutex);
        finder = gFinder;
    }
    // findLogger() gives the logger of the builder or runtime calling us, on this thread
    nvinfer1::ILogger* logger = finder != nullptr ? finder->findLogger() : nullptr;
    if (logger != nullptr) logger->log(severity, message.c_str());
}

}  // namespace trt
}  // namespace nsb
