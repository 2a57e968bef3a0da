//===- CudaApi.h - The CUDA driver, cuBLASLt and NVRTC by dlopen -*- C++ -*-===//
//
// Private to runtime/cuda. The cuda device links none of the CUDA
// libraries: a binary that links the driver (even its stub) cannot start
// where there is no driver, and the runtime must load and say "no CUDA
// driver" there. Each table below dlopen()s its library and dlsym()s every
// entry point it needs, by the versioned name that the CUDA headers
// #define (cuMemAlloc -> "cuMemAlloc_v2"), with the function-pointer types
// of <cudaTypedefs.h> (driver) or of the declarations (cuBLASLt, NVRTC);
// a static_assert checks each type against the header's declaration of the
// name, so a header update that changes a version cannot go unnoticed.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_CUDA_CUDAAPI_H
#define KILN_RUNTIME_CUDA_CUDAAPI_H

#include "kiln/Status.h"

#include <cuda.h>
#include <cudaTypedefs.h>
#include <cublasLt.h>
#include <nvrtc.h>

#include <string>

namespace kiln::rt::cuda {

/// X-macro of the driver entry points: (name as in cuda.h, PFN type).
#define KILN_CUDA_DRIVER_FUNCTIONS(X)                                          \
  X(cuInit, PFN_cuInit_v2000)                                                  \
  X(cuGetErrorString, PFN_cuGetErrorString_v6000)                              \
  X(cuGetErrorName, PFN_cuGetErrorName_v6000)                                  \
  X(cuDriverGetVersion, PFN_cuDriverGetVersion_v2020)                          \
  X(cuDeviceGetCount, PFN_cuDeviceGetCount_v2000)                              \
  X(cuDeviceGet, PFN_cuDeviceGet_v2000)                                        \
  X(cuDeviceGetName, PFN_cuDeviceGetName_v2000)                                \
  X(cuDeviceGetAttribute, PFN_cuDeviceGetAttribute_v2000)                      \
  X(cuDevicePrimaryCtxRetain, PFN_cuDevicePrimaryCtxRetain_v7000)              \
  X(cuDevicePrimaryCtxRelease, PFN_cuDevicePrimaryCtxRelease_v11000)           \
  X(cuCtxSetCurrent, PFN_cuCtxSetCurrent_v4000)                                \
  X(cuCtxSynchronize, PFN_cuCtxSynchronize_v2000)                              \
  X(cuStreamCreate, PFN_cuStreamCreate_v2000)                                  \
  X(cuStreamDestroy, PFN_cuStreamDestroy_v4000)                                \
  X(cuStreamSynchronize, PFN_cuStreamSynchronize_v2000)                        \
  X(cuModuleLoadDataEx, PFN_cuModuleLoadDataEx_v2010)                          \
  X(cuModuleUnload, PFN_cuModuleUnload_v2000)                                  \
  X(cuModuleGetFunction, PFN_cuModuleGetFunction_v2000)                        \
  X(cuFuncSetAttribute, PFN_cuFuncSetAttribute_v9000)                          \
  X(cuMemAlloc, PFN_cuMemAlloc_v3020)                                          \
  X(cuMemFree, PFN_cuMemFree_v3020)                                            \
  X(cuMemGetInfo, PFN_cuMemGetInfo_v3020)                                      \
  X(cuMemsetD8Async, PFN_cuMemsetD8Async_v3020)                                \
  X(cuMemcpyDtoDAsync, PFN_cuMemcpyDtoDAsync_v3020)                            \
  X(cuMemcpyHtoD, PFN_cuMemcpyHtoD_v3020)                                      \
  X(cuMemcpyDtoH, PFN_cuMemcpyDtoH_v3020)                                      \
  X(cuLaunchKernel, PFN_cuLaunchKernel_v4000)                                  \
  X(cuStreamBeginCapture, PFN_cuStreamBeginCapture_v10010)                     \
  X(cuStreamEndCapture, PFN_cuStreamEndCapture_v10000)                         \
  X(cuGraphInstantiate, PFN_cuGraphInstantiateWithFlags_v11040)                \
  X(cuGraphLaunch, PFN_cuGraphLaunch_v10000)                                   \
  X(cuGraphDestroy, PFN_cuGraphDestroy_v10000)                                 \
  X(cuGraphExecDestroy, PFN_cuGraphExecDestroy_v10000)

#define KILN_CUBLASLT_FUNCTIONS(X)                                             \
  X(cublasLtCreate)                                                            \
  X(cublasLtDestroy)                                                           \
  X(cublasLtGetStatusString)                                                   \
  X(cublasLtMatmulDescCreate)                                                  \
  X(cublasLtMatmulDescDestroy)                                                 \
  X(cublasLtMatmulDescSetAttribute)                                            \
  X(cublasLtMatrixLayoutCreate)                                                \
  X(cublasLtMatrixLayoutDestroy)                                               \
  X(cublasLtMatrixLayoutSetAttribute)                                          \
  X(cublasLtMatmulPreferenceCreate)                                            \
  X(cublasLtMatmulPreferenceDestroy)                                           \
  X(cublasLtMatmulPreferenceSetAttribute)                                      \
  X(cublasLtMatmulAlgoGetHeuristic)                                            \
  X(cublasLtMatmul)

#define KILN_NVRTC_FUNCTIONS(X)                                                \
  X(nvrtcGetErrorString)                                                       \
  X(nvrtcCreateProgram)                                                        \
  X(nvrtcDestroyProgram)                                                       \
  X(nvrtcCompileProgram)                                                       \
  X(nvrtcGetProgramLogSize)                                                    \
  X(nvrtcGetProgramLog)                                                        \
  X(nvrtcGetCUBINSize)                                                         \
  X(nvrtcGetCUBIN)

/// The driver. `load` fails with Code::no_device "no CUDA driver
/// (libcuda.so.1 not found: <dlerror>)" or names the missing symbol.
struct DriverApi {
#define KILN_X(name, pfn) pfn p_##name = nullptr;
  KILN_CUDA_DRIVER_FUNCTIONS(KILN_X)
#undef KILN_X
  void *handle = nullptr;

  Status load();
  /// "CUDA_ERROR_OUT_OF_MEMORY (out of memory)".
  std::string errorText(CUresult r) const;
};

/// cuBLASLt (libcublasLt.so.13).
struct CublasLtApi {
#define KILN_X(name) decltype(&::name) p_##name = nullptr;
  KILN_CUBLASLT_FUNCTIONS(KILN_X)
#undef KILN_X
  void *handle = nullptr;

  Status load();
  std::string errorText(cublasStatus_t s) const;
};

/// NVRTC (libnvrtc.so.13, else libnvrtc.so): the last resort when the
/// artifact has neither a cubin nor a usable PTX for the GPU.
struct NvrtcApi {
#define KILN_X(name) decltype(&::name) p_##name = nullptr;
  KILN_NVRTC_FUNCTIONS(KILN_X)
#undef KILN_X
  void *handle = nullptr;

  Status load();
};

} // namespace kiln::rt::cuda

#endif // KILN_RUNTIME_CUDA_CUDAAPI_H
