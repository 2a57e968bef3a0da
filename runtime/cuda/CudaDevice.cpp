//===- CudaDevice.cpp - The cuda device (kiln/Device.h) -------------------===//
//
// Implements createCudaDevice. The CUDA libraries are loaded at run time
// (runtime/cuda/CudaApi.h), so a binary with this device starts everywhere
// and reports Code::no_device where there is no driver or no GPU.
//
//   prepare  1. checks every function's tensors against its regions and
//               every step against its kernel / op (messages name the
//               function, step index, label and kernel);
//            2. loads one module per kernel: the cubin for the GPU's
//               sm_<major><minor>, else a cubin of the same major and a
//               lower minor (SASS is compatible within a major version),
//               else the PTX when it targets the GPU's arch or an older one
//               (the driver JITs it), else the source compiled by NVRTC
//               (loaded by dlopen); a GPU that none fits is an error naming
//               its arch and the artifact's;
//            3. allocates the three regions (one cuMemAlloc each) and
//               zero-fills them; builds the cuBLASLt descriptors and picks
//               an algorithm for every matmul step.
//   run      captures the function's steps into a CUDA graph on its first
//            call, replays that graph afterwards, and waits
//            (cuCtxSynchronize). KILN_CUDA_EAGER=1 in the environment runs
//            the steps one by one instead, synchronizing after each, so
//            that an asynchronous fault is attributed to its step.
//
// Matmul steps go to cuBLASLt (CudaMatmul.cpp); conv2d / pool2d steps and
// their gradients run the device's own direct kernels (CudaNn.cpp).
//
//===----------------------------------------------------------------------===//

#include "runtime/cuda/CudaDevice.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <vector>

namespace kiln::rt {
namespace cuda {

Status CudaDevice::init() {
  KILN_RT_RETURN_IF_ERROR(drv_.load());
  CUresult r = drv_.p_cuInit(0);
  if (r == CUDA_ERROR_NO_DEVICE)
    return Status(Code::no_device, "no CUDA GPU (cuInit: " + drv_.errorText(r) + ")");
  if (r != CUDA_SUCCESS)
    return Status(Code::no_device, "CUDA driver failed to initialize (cuInit: " +
                                       drv_.errorText(r) + ")");
  int count = 0;
  r = drv_.p_cuDeviceGetCount(&count);
  if (r != CUDA_SUCCESS)
    return Status(Code::no_device, "cuDeviceGetCount: " + drv_.errorText(r));
  if (count == 0)
    return Status(Code::no_device, "no CUDA GPU (the driver reports 0 devices)");
  KILN_RT_RETURN_IF_ERROR(cuCheck(drv_.p_cuDeviceGet(&device_, 0), "cuDeviceGet(0)"));
  char name[256] = {0};
  KILN_RT_RETURN_IF_ERROR(
      cuCheck(drv_.p_cuDeviceGetName(name, sizeof name - 1, device_), "cuDeviceGetName"));
  gpuName_ = name;
  KILN_RT_RETURN_IF_ERROR(cuCheck(
      drv_.p_cuDeviceGetAttribute(&ccMajor_, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, device_),
      "cuDeviceGetAttribute(compute capability major)"));
  KILN_RT_RETURN_IF_ERROR(cuCheck(
      drv_.p_cuDeviceGetAttribute(&ccMinor_, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, device_),
      "cuDeviceGetAttribute(compute capability minor)"));
  KILN_RT_RETURN_IF_ERROR(
      cuCheck(drv_.p_cuDevicePrimaryCtxRetain(&context_, device_), "cuDevicePrimaryCtxRetain"));
  primaryRetained_ = true;
  KILN_RT_RETURN_IF_ERROR(makeCurrent());
  // Stream capture needs a stream other than the legacy default stream.
  return cuCheck(drv_.p_cuStreamCreate(&stream_, CU_STREAM_NON_BLOCKING), "cuStreamCreate");
}

void CudaDevice::release() {
  if (!context_)
    return;
  drv_.p_cuCtxSetCurrent(context_);
  if (stream_)
    drv_.p_cuStreamSynchronize(stream_);
  for (PreparedFunction &f : prepared_) {
    if (f.exec)
      drv_.p_cuGraphExecDestroy(f.exec);
    if (f.graph)
      drv_.p_cuGraphDestroy(f.graph);
    for (PreparedStep &s : f.steps)
      if (s.matmul) {
        if (s.matmul->desc)
          lt_.p_cublasLtMatmulDescDestroy(s.matmul->desc);
        for (cublasLtMatrixLayout_t l : {s.matmul->a, s.matmul->b, s.matmul->d})
          if (l)
            lt_.p_cublasLtMatrixLayoutDestroy(l);
      }
  }
  prepared_.clear();
  for (CUmodule m : modules_)
    if (m)
      drv_.p_cuModuleUnload(m);
  modules_.clear();
  functions_.clear();
  // The device's own kernels (epilogue, conv/pool) do not depend on the
  // program: they stay loaded until the device goes.
  for (int r = 0; r < 3; ++r) {
    if (base_[r])
      drv_.p_cuMemFree(base_[r]);
    base_[r] = 0;
    bytes_[r] = 0;
  }
  if (workspace_)
    drv_.p_cuMemFree(workspace_);
  workspace_ = 0;
  if (ltHandle_)
    lt_.p_cublasLtDestroy(ltHandle_);
  ltHandle_ = nullptr;
  program_ = nullptr;
  ready_ = false;
}

std::string CudaDevice::stepWhere(const FunctionDesc &fn, size_t i) const {
  const Step &s = fn.steps[i];
  std::string w = "function '" + fn.name + "' step " + std::to_string(i) + " (" + s.label + ")";
  if (s.kind == StepKind::launch && program_ && s.launch.kernel < program_->kernels.size())
    w += " kernel " + program_->kernels[s.launch.kernel].name;
  if (s.kind == StepKind::library)
    w += std::string(" library ") + libraryOpName(s.library.op);
  return w;
}

Status CudaDevice::checkTensors(const FunctionDesc &fn) const {
  for (size_t i = 0; i < fn.tensors.size(); ++i) {
    const TensorDesc &t = fn.tensors[i];
    uint64_t limit = t.region == Region::persistent ? program_->persistentBytes
                     : t.region == Region::input    ? fn.inputBytes
                                                    : fn.arenaBytes;
    uint64_t elementBytes = uint64_t(t.numElements()) * dtypeBytes(t.dtype);
    if (t.offset > limit || t.size > limit - t.offset || t.size < elementBytes)
      return Status(Code::invalid_argument,
                    "function '" + fn.name + "' tensor #" + std::to_string(i) + " '" + t.name +
                        "': bytes [" + std::to_string(t.offset) + ", +" + std::to_string(t.size) +
                        ") with " + std::to_string(elementBytes) + " element bytes do not fit " +
                        regionName(t.region) + " region of " + std::to_string(limit) + " bytes");
  }
  return Status::ok();
}

Status CudaDevice::loadModule(size_t k) {
  const KernelDesc &kd = program_->kernels[k];
  const int cc = ccMajor_ * 10 + ccMinor_;
  const std::string gpuArch = "sm_" + std::to_string(cc);
  std::string image;
  std::string via;
  // 1. A cubin for exactly this arch, else one of the same major and an
  //    older minor (no "a"/"f" suffix: those are not forward compatible).
  int bestMinor = -1;
  for (const KernelDesc::Binary &b : kd.cubins) {
    if (b.arch == gpuArch) {
      image = b.cubin;
      via = "cubin " + b.arch;
      break;
    }
    char *end = nullptr;
    long n = b.arch.size() > 3 ? std::strtol(b.arch.c_str() + 3, &end, 10) : -1;
    if (end && *end == '\0' && n / 10 == ccMajor_ && n % 10 < ccMinor_ && n % 10 > bestMinor) {
      bestMinor = int(n % 10);
      image = b.cubin;
      via = "cubin " + b.arch;
    }
  }
  // 2. The PTX, when it targets this arch or an older one.
  int ptxTarget = -1;
  if (size_t p = kd.ptx.find(".target sm_"); p != std::string::npos)
    ptxTarget = std::atoi(kd.ptx.c_str() + p + 11);
  CUmodule module = nullptr;
  if (image.empty() && !kd.ptx.empty() && ptxTarget > 0 && ptxTarget <= cc) {
    std::vector<char> log(8192, '\0');
    CUjit_option opts[] = {CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
    void *vals[] = {log.data(), reinterpret_cast<void *>(uintptr_t(log.size() - 1))};
    CUresult r = drv_.p_cuModuleLoadDataEx(&module, kd.ptx.c_str(), 2, opts, vals);
    if (r != CUDA_SUCCESS)
      return Status(Code::device_error, "kernel " + kd.name + ": JIT of its PTX (sm_" +
                                            std::to_string(ptxTarget) + ") for " + gpuArch +
                                            " failed: " + drv_.errorText(r) + "\n" + log.data());
    via = "PTX";
  }
  // 3. The source, by NVRTC.
  std::string nvrtcError;
  if (image.empty() && !module) {
    if (nvrtcCompile(kd.source, kd.name, image, nvrtcError))
      via = "NVRTC for " + gpuArch;
  }
  if (image.empty() && !module) {
    std::string archs;
    for (const KernelDesc::Binary &b : kd.cubins)
      archs += (archs.empty() ? "" : ", ") + b.arch;
    return Status(Code::unsupported,
                  "kernel " + kd.name + ": no code for GPU '" + gpuName_ + "' (" + gpuArch +
                      "): the artifact has cubins for [" + archs + "] and " +
                      (kd.ptx.empty() ? std::string("no PTX")
                                      : "PTX for sm_" + std::to_string(ptxTarget) +
                                            (ptxTarget > cc ? " (newer than the GPU)" : "")) +
                      "; compiling its source failed: " + nvrtcError);
  }
  if (!module) {
    CUresult r = drv_.p_cuModuleLoadDataEx(&module, image.data(), 0, nullptr, nullptr);
    if (r != CUDA_SUCCESS)
      return Status(Code::device_error, "kernel " + kd.name + ": loading its " + via + " on " +
                                            gpuArch + " failed: " + drv_.errorText(r));
  }
  modules_[k] = module;
  return cuCheck(drv_.p_cuModuleGetFunction(&functions_[k], module, kd.name.c_str()),
                 "kernel " + kd.name + ": cuModuleGetFunction (" + via + ")");
}

bool CudaDevice::nvrtcCompile(const std::string &source, const std::string &name,
                              std::string &image, std::string &error) {
  image.clear();
  if (!nvrtcTried_) {
    nvrtcTried_ = true;
    nvrtcStatus_ = nvrtc_.load();
  }
  if (!nvrtcStatus_.isOk()) {
    error = nvrtcStatus_.message();
    return false;
  }
  if (source.empty()) {
    error = "there is no source";
    return false;
  }
  nvrtcProgram prog = nullptr;
  nvrtcResult r =
      nvrtc_.p_nvrtcCreateProgram(&prog, source.c_str(), (name + ".cu").c_str(), 0, nullptr, nullptr);
  if (r != NVRTC_SUCCESS) {
    error = std::string("nvrtcCreateProgram: ") + nvrtc_.p_nvrtcGetErrorString(r);
    return false;
  }
  const std::string arch = "-arch=sm_" + std::to_string(ccMajor_ * 10 + ccMinor_);
  const char *opts[] = {"-std=c++17", arch.c_str()};
  r = nvrtc_.p_nvrtcCompileProgram(prog, 2, opts);
  if (r == NVRTC_SUCCESS) {
    size_t n = 0;
    r = nvrtc_.p_nvrtcGetCUBINSize(prog, &n);
    if (r == NVRTC_SUCCESS) {
      image.resize(n);
      r = nvrtc_.p_nvrtcGetCUBIN(prog, image.data());
    }
    if (r != NVRTC_SUCCESS)
      error = std::string("retrieving the cubin: ") + nvrtc_.p_nvrtcGetErrorString(r);
  } else {
    size_t n = 0;
    std::string log;
    if (nvrtc_.p_nvrtcGetProgramLogSize(prog, &n) == NVRTC_SUCCESS && n > 1) {
      log.resize(n);
      nvrtc_.p_nvrtcGetProgramLog(prog, log.data());
    }
    error = std::string(nvrtc_.p_nvrtcGetErrorString(r)) + "\n" + log.c_str();
  }
  nvrtc_.p_nvrtcDestroyProgram(&prog);
  if (r != NVRTC_SUCCESS)
    image.clear();
  return r == NVRTC_SUCCESS && !image.empty();
}

Status CudaDevice::loadOwnModule(const std::string &where, const char *what, const char *source,
                                 const char *ptx, CUmodule &out) {
  std::string jitError = "the GPU is older than sm_80";
  if (ccMajor_ >= 8 && ptx && *ptx) {
    std::vector<char> log(8192, '\0');
    CUjit_option opts[] = {CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
    void *vals[] = {log.data(), reinterpret_cast<void *>(uintptr_t(log.size() - 1))};
    CUresult r = drv_.p_cuModuleLoadDataEx(&out, ptx, 2, opts, vals);
    if (r == CUDA_SUCCESS)
      return Status::ok();
    out = nullptr;
    jitError = drv_.errorText(r) + "\n" + log.data();
  }
  std::string image, error;
  if (!nvrtcCompile(source, what, image, error))
    return Status(Code::unsupported, where + ": cannot load the device's " + what +
                                         " kernels: JIT of their PTX failed (" + jitError +
                                         ") and so did NVRTC: " + error);
  return cuCheck(drv_.p_cuModuleLoadDataEx(&out, image.data(), 0, nullptr, nullptr),
                 where + ": loading the device's " + what + " kernels");
}

Status CudaDevice::allocateRegion(Region region, uint64_t bytes) {
  const int r = static_cast<int>(region);
  bytes_[r] = bytes;
  if (bytes == 0)
    return Status::ok();
  CUresult res = drv_.p_cuMemAlloc(&base_[r], bytes);
  if (res == CUDA_ERROR_OUT_OF_MEMORY) {
    size_t free = 0, total = 0;
    drv_.p_cuMemGetInfo(&free, &total);
    base_[r] = 0;
    return Status(Code::out_of_memory, "asked " + std::to_string(bytes) + " bytes for the " +
                                           regionName(region) + " region, " +
                                           std::to_string(free) + " bytes free (of " +
                                           std::to_string(total) + ")");
  }
  KILN_RT_RETURN_IF_ERROR(cuCheck(res, std::string("cuMemAlloc(") + std::to_string(bytes) +
                                           " bytes) for the " + regionName(region) + " region"));
  return cuCheck(drv_.p_cuMemsetD8Async(base_[r], 0, bytes, stream_),
                 std::string("zero-filling the ") + regionName(region) + " region");
}

Status CudaDevice::prepare(const Program &program) {
  try {
    KILN_RT_RETURN_IF_ERROR(makeCurrent());
    release();
    program_ = &program;
    // 1. Check the functions before anything is allocated.
    for (const FunctionDesc &fn : program.functions) {
      KILN_RT_RETURN_IF_ERROR(checkTensors(fn));
    }
    // 2. Modules.
    modules_.assign(program.kernels.size(), nullptr);
    functions_.assign(program.kernels.size(), nullptr);
    for (size_t k = 0; k < program.kernels.size(); ++k)
      KILN_RT_RETURN_IF_ERROR(loadModule(k));
    // 3. Regions, library handles, prepared steps.
    uint64_t input = 0;
    for (const FunctionDesc &fn : program.functions)
      input = std::max(input, fn.inputBytes);
    KILN_RT_RETURN_IF_ERROR(allocateRegion(Region::persistent, program.persistentBytes));
    KILN_RT_RETURN_IF_ERROR(allocateRegion(Region::input, input));
    KILN_RT_RETURN_IF_ERROR(allocateRegion(Region::arena, program.arenaBytes()));
    prepared_.resize(program.functions.size());
    for (size_t f = 0; f < program.functions.size(); ++f) {
      const FunctionDesc &fn = program.functions[f];
      prepared_[f].steps.resize(fn.steps.size());
      for (size_t i = 0; i < fn.steps.size(); ++i)
        KILN_RT_RETURN_IF_ERROR(prepareStep(fn, i, prepared_[f].steps[i]));
    }
    KILN_RT_RETURN_IF_ERROR(
        cuCheck(drv_.p_cuStreamSynchronize(stream_), "prepare: cuStreamSynchronize"));
    ready_ = true;
    return Status::ok();
  } catch (const std::exception &e) {
    return Status(Code::device_error, std::string("cuda prepare: internal error: ") + e.what());
  }
}

Status CudaDevice::prepareStep(const FunctionDesc &fn, size_t i, PreparedStep &out) {
  const Step &s = fn.steps[i];
  out.kind = s.kind;
  auto tensor = [&](uint32_t index, const char *what, const TensorDesc *&t) -> Status {
    if (index >= fn.tensors.size())
      return Status(Code::invalid_argument, stepWhere(fn, i) + ": " + what + " tensor index " +
                                                std::to_string(index) + " is out of range (" +
                                                std::to_string(fn.tensors.size()) + " tensors)");
    t = &fn.tensors[index];
    return Status::ok();
  };
  switch (s.kind) {
  case StepKind::launch: {
    const LaunchStep &l = s.launch;
    if (l.kernel >= program_->kernels.size())
      return Status(Code::invalid_argument, stepWhere(fn, i) + ": kernel index " +
                                                std::to_string(l.kernel) + " is out of range");
    const KernelDesc &kd = program_->kernels[l.kernel];
    if (l.args.size() != kd.argDTypes.size())
      return Status(Code::invalid_argument,
                    stepWhere(fn, i) + ": passes " + std::to_string(l.args.size()) +
                        " tensors, the kernel takes " + std::to_string(kd.argDTypes.size()));
    uint64_t threads = uint64_t(l.block[0]) * l.block[1] * l.block[2];
    if (threads == 0 || threads > 1024 || !l.grid[0] || !l.grid[1] || !l.grid[2])
      return Status(Code::invalid_argument,
                    stepWhere(fn, i) + ": bad launch shape grid (" + std::to_string(l.grid[0]) +
                        "," + std::to_string(l.grid[1]) + "," + std::to_string(l.grid[2]) +
                        ") block (" + std::to_string(l.block[0]) + "," +
                        std::to_string(l.block[1]) + "," + std::to_string(l.block[2]) + ")");
    out.function = functions_[l.kernel];
    out.ptrs.resize(l.args.size());
    out.argv.resize(l.args.size());
    for (size_t a = 0; a < l.args.size(); ++a) {
      const TensorDesc *t = nullptr;
      KILN_RT_RETURN_IF_ERROR(tensor(l.args[a], "argument", t));
      if (t->dtype != kd.argDTypes[a])
        return Status(Code::invalid_argument,
                      stepWhere(fn, i) + ": argument " + std::to_string(a) + " '" + t->name +
                          "' is " + dtypeName(t->dtype) + ", the kernel takes " +
                          dtypeName(kd.argDTypes[a]));
      out.ptrs[a] = pointer(*t);
      out.argv[a] = &out.ptrs[a];
    }
    if (l.dynamicSharedBytes > 48 * 1024)
      KILN_RT_RETURN_IF_ERROR(cuCheck(
          drv_.p_cuFuncSetAttribute(out.function, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                                    int(l.dynamicSharedBytes)),
          stepWhere(fn, i) + ": allowing " + std::to_string(l.dynamicSharedBytes) +
              " bytes of dynamic shared memory"));
    return Status::ok();
  }
  case StepKind::memset: {
    const TensorDesc *t = nullptr;
    KILN_RT_RETURN_IF_ERROR(tensor(s.dst, "memset destination", t));
    out.dst = pointer(*t);
    out.bytes = t->size;
    out.value = s.value;
    return Status::ok();
  }
  case StepKind::copy: {
    const TensorDesc *d = nullptr, *src = nullptr;
    KILN_RT_RETURN_IF_ERROR(tensor(s.dst, "copy destination", d));
    KILN_RT_RETURN_IF_ERROR(tensor(s.src, "copy source", src));
    uint64_t db = uint64_t(d->numElements()) * dtypeBytes(d->dtype);
    uint64_t sb = uint64_t(src->numElements()) * dtypeBytes(src->dtype);
    if (db != sb)
      return Status(Code::invalid_argument, stepWhere(fn, i) + ": copies '" + src->name + "' (" +
                                                std::to_string(sb) + " bytes) to '" + d->name +
                                                "' (" + std::to_string(db) + " bytes)");
    out.dst = pointer(*d);
    out.src = pointer(*src);
    out.bytes = db;
    return Status::ok();
  }
  case StepKind::library:
    return s.library.op == LibraryOp::matmul ? prepareMatmul(fn, i, out) : prepareNn(fn, i, out);
  }
  return Status(Code::invalid_argument, stepWhere(fn, i) + ": unknown step kind");
}

Status CudaDevice::enqueue(const FunctionDesc &fn, size_t i, PreparedStep &s) {
  const Step &step = fn.steps[i];
  switch (s.kind) {
  case StepKind::launch: {
    const LaunchStep &l = step.launch;
    return cuCheck(drv_.p_cuLaunchKernel(s.function, l.grid[0], l.grid[1], l.grid[2], l.block[0],
                                         l.block[1], l.block[2], l.dynamicSharedBytes, stream_,
                                         s.argv.data(), nullptr),
                   stepWhere(fn, i) + ": cuLaunchKernel");
  }
  case StepKind::memset:
    if (s.bytes == 0)
      return Status::ok();
    return cuCheck(drv_.p_cuMemsetD8Async(s.dst, s.value, s.bytes, stream_),
                   stepWhere(fn, i) + ": cuMemsetD8Async");
  case StepKind::copy:
    if (s.bytes == 0 || s.dst == s.src)
      return Status::ok();
    return cuCheck(drv_.p_cuMemcpyDtoDAsync(s.dst, s.src, s.bytes, stream_),
                   stepWhere(fn, i) + ": cuMemcpyDtoDAsync");
  case StepKind::library:
    if (s.matmul)
      return enqueueMatmul(fn, i, *s.matmul);
    return cuCheck(drv_.p_cuLaunchKernel(s.function, s.nnBlocks, 1, 1, 256, 1, 1, 0, stream_,
                                         s.argv.data(), nullptr),
                   stepWhere(fn, i) + ": cuLaunchKernel");
  }
  return Status(Code::invalid_argument, stepWhere(fn, i) + ": unknown step kind");
}

Status CudaDevice::run(uint32_t function) {
  try {
    if (!ready_)
      return Status(Code::invalid_argument, "cuda run: no program prepared");
    if (function >= program_->functions.size())
      return Status(Code::invalid_argument,
                    "cuda run: function index " + std::to_string(function) + " out of range (" +
                        std::to_string(program_->functions.size()) + " functions)");
    KILN_RT_RETURN_IF_ERROR(makeCurrent());
    const FunctionDesc &fn = program_->functions[function];
    PreparedFunction &pf = prepared_[function];
    const char *eager = std::getenv("KILN_CUDA_EAGER");
    if (eager && std::strcmp(eager, "1") == 0) {
      for (size_t i = 0; i < pf.steps.size(); ++i) {
        KILN_RT_RETURN_IF_ERROR(enqueue(fn, i, pf.steps[i]));
        KILN_RT_RETURN_IF_ERROR(
            cuCheck(drv_.p_cuStreamSynchronize(stream_), stepWhere(fn, i) + ": running"));
      }
      return cuCheck(drv_.p_cuCtxSynchronize(), "function '" + fn.name + "': cuCtxSynchronize");
    }
    if (!pf.exec && !pf.steps.empty()) {
      KILN_RT_RETURN_IF_ERROR(cuCheck(
          drv_.p_cuStreamBeginCapture(stream_, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL),
          "function '" + fn.name + "': cuStreamBeginCapture"));
      for (size_t i = 0; i < pf.steps.size(); ++i) {
        Status st = enqueue(fn, i, pf.steps[i]);
        if (!st.isOk()) {
          CUgraph broken = nullptr;
          drv_.p_cuStreamEndCapture(stream_, &broken);
          if (broken)
            drv_.p_cuGraphDestroy(broken);
          return Status(st.code(), st.message() + " (while capturing the CUDA graph)");
        }
      }
      KILN_RT_RETURN_IF_ERROR(cuCheck(drv_.p_cuStreamEndCapture(stream_, &pf.graph),
                                      "function '" + fn.name + "': cuStreamEndCapture"));
      Status inst = cuCheck(drv_.p_cuGraphInstantiate(&pf.exec, pf.graph, 0),
                            "function '" + fn.name + "': cuGraphInstantiate");
      if (!inst.isOk()) {
        drv_.p_cuGraphDestroy(pf.graph);
        pf.graph = nullptr;
        pf.exec = nullptr;
        return inst;
      }
    }
    if (pf.exec)
      KILN_RT_RETURN_IF_ERROR(cuCheck(drv_.p_cuGraphLaunch(pf.exec, stream_),
                                      "function '" + fn.name + "': cuGraphLaunch"));
    return cuCheck(drv_.p_cuCtxSynchronize(),
                   "function '" + fn.name + "': running its " + std::to_string(pf.steps.size()) +
                       " steps (a fault inside a kernel is reported here; rerun with "
                       "KILN_CUDA_EAGER=1 to find its step)");
  } catch (const std::exception &e) {
    return Status(Code::device_error, std::string("cuda run: internal error: ") + e.what());
  }
}

static Status checkRange(const char *op, Region region, uint64_t offset, uint64_t bytes,
                         uint64_t size, const void *host) {
  if (offset > size || bytes > size - offset)
    return Status(Code::invalid_argument,
                  std::string("cuda ") + op + ": bytes [" + std::to_string(offset) + ", +" +
                      std::to_string(bytes) + ") are outside the " + regionName(region) +
                      " region of " + std::to_string(size) + " bytes");
  if (!host && bytes)
    return Status(Code::invalid_argument, std::string("cuda ") + op + ": null host pointer");
  return Status::ok();
}

Status CudaDevice::write(Region region, uint64_t offset, const void *src, uint64_t bytes) {
  if (!ready_)
    return Status(Code::invalid_argument, "cuda write: no program prepared");
  const int r = static_cast<int>(region);
  if (r < 0 || r > 2)
    return Status(Code::invalid_argument, "cuda write: bad region " + std::to_string(r));
  KILN_RT_RETURN_IF_ERROR(checkRange("write", region, offset, bytes, bytes_[r], src));
  if (bytes == 0)
    return Status::ok();
  KILN_RT_RETURN_IF_ERROR(makeCurrent());
  KILN_RT_RETURN_IF_ERROR(cuCheck(drv_.p_cuStreamSynchronize(stream_), "cuda write: sync"));
  return cuCheck(drv_.p_cuMemcpyHtoD(base_[r] + offset, src, bytes),
                 std::string("cuda write of ") + std::to_string(bytes) + " bytes to the " +
                     regionName(region) + " region at " + std::to_string(offset));
}

Status CudaDevice::read(Region region, uint64_t offset, void *dst, uint64_t bytes) {
  if (!ready_)
    return Status(Code::invalid_argument, "cuda read: no program prepared");
  const int r = static_cast<int>(region);
  if (r < 0 || r > 2)
    return Status(Code::invalid_argument, "cuda read: bad region " + std::to_string(r));
  KILN_RT_RETURN_IF_ERROR(checkRange("read", region, offset, bytes, bytes_[r], dst));
  if (bytes == 0)
    return Status::ok();
  KILN_RT_RETURN_IF_ERROR(makeCurrent());
  KILN_RT_RETURN_IF_ERROR(cuCheck(drv_.p_cuStreamSynchronize(stream_), "cuda read: sync"));
  return cuCheck(drv_.p_cuMemcpyDtoH(dst, base_[r] + offset, bytes),
                 std::string("cuda read of ") + std::to_string(bytes) + " bytes from the " +
                     regionName(region) + " region at " + std::to_string(offset));
}

} // namespace cuda

Status createCudaDevice(const DeviceOptions &options, std::unique_ptr<Device> &out) {
  out.reset();
  try {
    auto device = std::make_unique<cuda::CudaDevice>(options);
    Status st = device->init();
    if (!st.isOk())
      return st;
    out = std::move(device);
    return Status::ok();
  } catch (const std::exception &e) {
    return Status(Code::device_error, std::string("createCudaDevice: internal error: ") + e.what());
  }
}

} // namespace kiln::rt
