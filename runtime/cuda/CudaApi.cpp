//===- CudaApi.cpp - Loading the CUDA libraries at run time ---------------===//
//
// Implements runtime/cuda/CudaApi.h: dlopen + dlsym of every entry point,
// each checked; nothing here links a CUDA library.
//
//===----------------------------------------------------------------------===//

#include "runtime/cuda/CudaApi.h"

#include <dlfcn.h>

#include <type_traits>

namespace kiln::rt::cuda {
namespace {

#define KILN_STR2(x) #x
/// The name after macro expansion: KILN_STR(cuMemAlloc) is "cuMemAlloc_v2".
#define KILN_STR(x) KILN_STR2(x)

std::string dlerrorText() {
  const char *e = ::dlerror();
  return e ? e : "unknown error";
}

} // namespace

// The PFN types of the table are the types of the header's declarations.
#define KILN_X(name, pfn)                                                      \
  static_assert(std::is_same<pfn, decltype(&name)>::value,                    \
                "PFN type of " #name " does not match cuda.h");
KILN_CUDA_DRIVER_FUNCTIONS(KILN_X)
#undef KILN_X

Status DriverApi::load() {
  ::dlerror();
  handle = ::dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!handle)
    return Status(Code::no_device,
                  "no CUDA driver (libcuda.so.1 not found: " + dlerrorText() + ")");
#define KILN_X(name, pfn)                                                      \
  p_##name = reinterpret_cast<pfn>(::dlsym(handle, KILN_STR(name)));          \
  if (!p_##name)                                                               \
    return Status(Code::no_device, "CUDA driver libcuda.so.1 lacks " KILN_STR(name) \
                                   " (driver too old for CUDA 13?): " + dlerrorText());
  KILN_CUDA_DRIVER_FUNCTIONS(KILN_X)
#undef KILN_X
  return Status::ok();
}

std::string DriverApi::errorText(CUresult r) const {
  const char *name = nullptr, *text = nullptr;
  if (p_cuGetErrorName)
    p_cuGetErrorName(r, &name);
  if (p_cuGetErrorString)
    p_cuGetErrorString(r, &text);
  std::string s = name ? name : "CUresult " + std::to_string(static_cast<int>(r));
  if (text)
    s += std::string(" (") + text + ")";
  return s;
}

Status CublasLtApi::load() {
  ::dlerror();
  handle = ::dlopen("libcublasLt.so.13", RTLD_NOW | RTLD_LOCAL);
  if (!handle)
    return Status(Code::unsupported,
                  "cuBLASLt not available (libcublasLt.so.13 not found: " + dlerrorText() + ")");
#define KILN_X(name)                                                           \
  p_##name = reinterpret_cast<decltype(p_##name)>(::dlsym(handle, #name));    \
  if (!p_##name)                                                               \
    return Status(Code::unsupported, "libcublasLt.so.13 lacks " #name ": " + dlerrorText());
  KILN_CUBLASLT_FUNCTIONS(KILN_X)
#undef KILN_X
  return Status::ok();
}

std::string CublasLtApi::errorText(cublasStatus_t s) const {
  std::string t = "cublasStatus " + std::to_string(static_cast<int>(s));
  if (p_cublasLtGetStatusString)
    if (const char *str = p_cublasLtGetStatusString(s))
      t = str;
  return t;
}

Status NvrtcApi::load() {
  std::string errors;
  for (const char *name : {"libnvrtc.so.13", "libnvrtc.so"}) {
    ::dlerror();
    handle = ::dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (handle)
      break;
    errors += std::string(errors.empty() ? "" : "; ") + dlerrorText();
  }
  if (!handle)
    return Status(Code::unsupported, "NVRTC not available (" + errors + ")");
#define KILN_X(name)                                                           \
  p_##name = reinterpret_cast<decltype(p_##name)>(::dlsym(handle, #name));    \
  if (!p_##name)                                                               \
    return Status(Code::unsupported, "libnvrtc lacks " #name ": " + dlerrorText());
  KILN_NVRTC_FUNCTIONS(KILN_X)
#undef KILN_X
  return Status::ok();
}

} // namespace kiln::rt::cuda
