// Tensor storage types: fp32, fp16 and bf16 inputs/outputs; membranes always stay fp32 in registers.
#ifndef NSB_STORAGE_CUH
#define NSB_STORAGE_CUH  // a guard, not #pragma once: NVRTC sees headers by include name

#include "kernels/nsb_math.cuh"

#if (defined(__CUDACC__) || defined(__CUDACC_RTC__)) && !defined(NSB_NO_HALF)
#define NSB_HALF 1
#include <cuda_fp16.h>
#include <cuda_bf16.h>
#endif

namespace nsb {

template <typename T>
NSB_HD float load(const T* p, long i) { return static_cast<float>(p[i]); }
template <typename T>
NSB_HD void store(T* p, long i, float v) { p[i] = static_cast<T>(v); }

#if defined(NSB_HALF)
template <>
NSB_HD float load<__half>(const __half* p, long i) { return __half2float(p[i]); }
template <>
NSB_HD void store<__half>(__half* p, long i, float v) { p[i] = __float2half_rn(v); }
template <>
NSB_HD float load<__nv_bfloat16>(const __nv_bfloat16* p, long i) { return __bfloat162float(p[i]); }
template <>
NSB_HD void store<__nv_bfloat16>(__nv_bfloat16* p, long i, float v) { p[i] = __float2bfloat16_rn(v); }
#endif

}  // namespace nsb

#endif  // NSB_STORAGE_CUH
