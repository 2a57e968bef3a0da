//===- CudaDevice.h - The cuda device's class ---------------------*- C++ -*-===//
//
// Private to runtime/cuda: the class behind createCudaDevice (kiln/Device.h),
// shared by CudaDevice.cpp (driver, modules, regions, steps, graphs) and
// CudaMatmul.cpp (cuBLASLt matmul steps and their fallback epilogues).
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_CUDA_CUDADEVICE_H
#define KILN_RUNTIME_CUDA_CUDADEVICE_H

#include "kiln/Device.h"
#include "runtime/cuda/CudaApi.h"
#include "runtime/cuda/MatmulPlan.h"

#include <memory>
#include <string>
#include <vector>

namespace kiln::rt::cuda {

/// Everything one matmul step needs at run time.
struct LtMatmul {
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, d = nullptr;
  cublasLtMatmulAlgo_t algo{};
  bool f64 = false;
  CUdeviceptr pa = 0, pb = 0, pd = 0;
  /// The fallback (EpilogueKernels.h): cuBLASLt computed the plain
  /// product; then kiln_cuda_epilogue (when `epilogue`) and
  /// kiln_cuda_colsum (when `colsum`) run.
  bool epilogue = false, colsum = false;
  int mode = 0;
  CUdeviceptr bias = 0, aux = 0;        ///< epilogue inputs (0: none)
  CUdeviceptr sumSrc = 0, sumDst = 0;   ///< colsum: [sumRows, n] -> [n]
  long long m = 0, n = 0, sumRows = 0;  ///< the step's m and n
};

struct PreparedStep {
  StepKind kind = StepKind::launch;
  CUfunction function = nullptr;
  std::vector<CUdeviceptr> ptrs; ///< launch: the kernel's pointer arguments
  std::vector<void *> argv;      ///< launch: &ptrs[i]
  std::unique_ptr<LtMatmul> matmul; ///< library matmul
  /// library conv2d / pool2d (NnKernels.h): `function` with argv =
  /// {&ptrs[0], ..., &nnParams}, `nnBlocks` blocks of 256 threads.
  long long nnParams[18] = {};
  unsigned nnBlocks = 0;
  CUdeviceptr dst = 0, src = 0; ///< memset / copy
  uint64_t bytes = 0;
  uint8_t value = 0;
};

struct PreparedFunction {
  std::vector<PreparedStep> steps;
  CUgraph graph = nullptr;
  CUgraphExec exec = nullptr;
};

constexpr size_t kWorkspaceBytes = 32u << 20;

class CudaDevice final : public Device {
public:
  explicit CudaDevice(const DeviceOptions &options) : options_(options) {}
  ~CudaDevice() override {
    release();
    if (epilogueModule_)
      drv_.p_cuModuleUnload(epilogueModule_);
    if (nnModule_)
      drv_.p_cuModuleUnload(nnModule_);
    if (stream_)
      drv_.p_cuStreamDestroy(stream_);
    if (primaryRetained_)
      drv_.p_cuDevicePrimaryCtxRelease(device_);
  }
  const char *name() const override { return "cuda"; }

  /// Loads the driver, finds GPU 0, makes its primary context current and
  /// creates the stream.
  Status init();
  Status prepare(const Program &program) override;
  Status write(Region region, uint64_t offset, const void *src, uint64_t bytes) override;
  Status read(Region region, uint64_t offset, void *dst, uint64_t bytes) override;
  Status run(uint32_t function) override;

private:
  Status cuCheck(CUresult r, const std::string &where) const {
    if (r == CUDA_SUCCESS)
      return Status::ok();
    return Status(Code::device_error, where + ": " + drv_.errorText(r));
  }
  Status makeCurrent() const { return cuCheck(drv_.p_cuCtxSetCurrent(context_), "cuCtxSetCurrent"); }
  std::string stepWhere(const FunctionDesc &fn, size_t i) const;
  Status checkTensors(const FunctionDesc &fn) const;
  Status loadModule(size_t k);
  /// Compiles `source` to a cubin for this GPU with NVRTC (dlopen'ed on
  /// first use); false with `error` (NVRTC's log) on failure.
  bool nvrtcCompile(const std::string &source, const std::string &name, std::string &image,
                    std::string &error);
  Status allocateRegion(Region r, uint64_t bytes);
  Status prepareStep(const FunctionDesc &fn, size_t i, PreparedStep &out);
  Status prepareMatmul(const FunctionDesc &fn, size_t i, PreparedStep &out);
  /// Builds descriptors `fused` (cuBLASLt applies the epilogue) or not
  /// (plain product); Code::unsupported when cuBLASLt has no algorithm.
  Status buildLtMatmul(const FunctionDesc &fn, size_t i, const LtMatmulPlan &plan, bool fused,
                       const std::vector<CUdeviceptr> &ptrs, LtMatmul &m);
  /// Loads one of the device's own kernel files: its embedded PTX (JIT by
  /// the driver), else its source compiled by NVRTC.
  Status loadOwnModule(const std::string &where, const char *what, const char *source,
                       const char *ptx, CUmodule &out);
  /// Loads EpilogueKernels.h's kernels for this GPU (once).
  Status loadEpilogueKernels(const std::string &where);
  /// conv2d / pool2d steps (CudaNn.cpp).
  Status prepareNn(const FunctionDesc &fn, size_t i, PreparedStep &out);
  Status enqueue(const FunctionDesc &fn, size_t i, PreparedStep &step);
  Status enqueueMatmul(const FunctionDesc &fn, size_t i, LtMatmul &m);
  CUdeviceptr pointer(const TensorDesc &t) const {
    return base_[static_cast<int>(t.region)] + t.offset;
  }
  void release();

  DeviceOptions options_;
  DriverApi drv_;
  CublasLtApi lt_;
  bool ltLoaded_ = false;
  NvrtcApi nvrtc_;
  Status nvrtcStatus_ = Status(Code::unsupported, "NVRTC not loaded yet");
  bool nvrtcTried_ = false;
  CUdevice device_ = 0;
  CUcontext context_ = nullptr;
  bool primaryRetained_ = false;
  CUstream stream_ = nullptr;
  int ccMajor_ = 0, ccMinor_ = 0;
  std::string gpuName_;

  const Program *program_ = nullptr;
  std::vector<CUmodule> modules_;
  std::vector<CUfunction> functions_;
  CUdeviceptr base_[3] = {0, 0, 0};
  uint64_t bytes_[3] = {0, 0, 0};
  cublasLtHandle_t ltHandle_ = nullptr;
  CUdeviceptr workspace_ = 0;
  std::vector<PreparedFunction> prepared_;
  CUmodule epilogueModule_ = nullptr;
  /// kiln_cuda_epilogue_f32, _f64, kiln_cuda_colsum_f32, _f64.
  CUfunction epilogueFunctions_[4] = {nullptr, nullptr, nullptr, nullptr};
  CUmodule nnModule_ = nullptr;
  /// NnKernels.h's entries, by (op, f64): index 2 * LibraryOp + (f64).
  CUfunction nnFunctions_[12] = {};
  bool ready_ = false; ///< prepare succeeded
};

} // namespace kiln::rt::cuda

#endif // KILN_RUNTIME_CUDA_CUDADEVICE_H
