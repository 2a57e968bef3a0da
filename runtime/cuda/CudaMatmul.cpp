//===- CudaMatmul.cpp - Matmul steps on the cuda device -------------------===//
//
// cuBLASLt descriptors for a matmul step (the mapping is MatmulPlan.h's),
// built once at prepare, and the call at run time. Where cuBLASLt cannot
// fuse the step's epilogue, the plain product is followed by the device's
// own epilogue kernels (EpilogueKernels.h).
//
//===----------------------------------------------------------------------===//

#include "runtime/cuda/CudaDevice.h"
#include "runtime/cuda/EpilogueKernels.h"

#include <algorithm>

namespace kiln::rt::cuda {

/// Destroys the descriptors of `m` (the LtMatmul stays reusable).
static void destroyLtMatmul(const CublasLtApi &lt, LtMatmul &m) {
  if (m.desc)
    lt.p_cublasLtMatmulDescDestroy(m.desc);
  for (cublasLtMatrixLayout_t l : {m.a, m.b, m.d})
    if (l)
      lt.p_cublasLtMatrixLayoutDestroy(l);
  m.desc = nullptr;
  m.a = m.b = m.d = nullptr;
}

Status CudaDevice::prepareMatmul(const FunctionDesc &fn, size_t i, PreparedStep &out) {
  const LibraryStep &step = fn.steps[i].library;
  LtMatmulPlan plan;
  Status st = planMatmul(step, plan);
  if (!st.isOk())
    return Status(st.code(), stepWhere(fn, i) + ": " + st.message());
  std::vector<CUdeviceptr> ptrs(plan.numArgs);
  for (int a = 0; a < plan.numArgs; ++a) {
    if (step.args[a] >= fn.tensors.size())
      return Status(Code::invalid_argument, stepWhere(fn, i) + ": arg " + std::to_string(a) +
                                                " tensor index " + std::to_string(step.args[a]) +
                                                " is out of range");
    const TensorDesc &t = fn.tensors[step.args[a]];
    if (t.dtype != step.dtype || uint64_t(t.numElements()) != plan.argElements[a])
      return Status(Code::invalid_argument,
                    stepWhere(fn, i) + ": arg " + std::to_string(a) + " '" + t.name + "' is " +
                        dtypeName(t.dtype) + " with " + std::to_string(t.numElements()) +
                        " elements, the params imply " + dtypeName(step.dtype) + " with " +
                        std::to_string(plan.argElements[a]));
    ptrs[a] = pointer(t);
  }
  if (!ltLoaded_) {
    KILN_RT_RETURN_IF_ERROR(lt_.load());
    ltLoaded_ = true;
  }
  auto ltCheck = [&](cublasStatus_t s, const char *what) {
    if (s == CUBLAS_STATUS_SUCCESS)
      return Status::ok();
    return Status(Code::device_error,
                  stepWhere(fn, i) + ": " + what + ": " + lt_.errorText(s));
  };
  if (!ltHandle_) {
    KILN_RT_RETURN_IF_ERROR(ltCheck(lt_.p_cublasLtCreate(&ltHandle_), "cublasLtCreate"));
    KILN_RT_RETURN_IF_ERROR(cuCheck(drv_.p_cuMemAlloc(&workspace_, kWorkspaceBytes),
                                    "cuMemAlloc of the cuBLASLt workspace"));
  }
  auto mm = std::make_unique<LtMatmul>();
  LtMatmul &m = *mm;
  out.matmul = std::move(mm);
  Status fusedStatus = Status(Code::unsupported, "cuBLASLt has no form of this epilogue");
  if (plan.fusable) {
    // 1. cuBLASLt with the epilogue fused.
    fusedStatus = buildLtMatmul(fn, i, plan, /*fused=*/true, ptrs, m);
    if (fusedStatus.isOk() || plan.epilogue == LtEpilogue::none)
      return fusedStatus;
    destroyLtMatmul(lt_, m);
  }
  // 2. The fallback (any failure of the fused form: cuBLASLt's epilogue
  //    support differs by dtype, GPU and version): the plain product, then
  //    the device's own kernels.
  Status plain = buildLtMatmul(fn, i, plan, /*fused=*/false, ptrs, m);
  if (!plain.isOk())
    return Status(plain.code(), plain.message() + " (after the fused form failed: " +
                                    fusedStatus.message() + ")");
  const Epilogue e = step.epilogue;
  m.m = step.params[1];
  m.n = step.params[2];
  m.mode = (e == Epilogue::relu || e == Epilogue::bias_relu)   ? kEpiRelu
           : (e == Epilogue::gelu || e == Epilogue::bias_gelu) ? kEpiGelu
           : (e == Epilogue::drelu || e == Epilogue::drelu_bgrad) ? kEpiDrelu
           : (e == Epilogue::dgelu || e == Epilogue::dgelu_bgrad) ? kEpiDgelu
                                                                  : kEpiNone;
  if (e == Epilogue::bias || e == Epilogue::bias_relu || e == Epilogue::bias_gelu)
    m.bias = ptrs[plan.argBias];
  if (plan.argAux >= 0)
    m.aux = ptrs[plan.argAux];
  m.epilogue = m.mode != kEpiNone || m.bias != 0;
  if (e == Epilogue::drelu_bgrad || e == Epilogue::dgelu_bgrad) {
    m.colsum = true;
    m.sumSrc = m.pd;
    m.sumRows = m.m;
    m.sumDst = ptrs[plan.argBias];
  } else if (e == Epilogue::bgradb) {
    if (step.params[5] != 0)
      return Status(Code::unsupported, stepWhere(fn, i) + ": bgradb with transpose_b = 1 (" +
                                           fusedStatus.message() + ")");
    m.colsum = true;
    m.sumSrc = m.pa; // the step's B[k, n]
    m.sumRows = step.params[3];
    m.sumDst = ptrs[plan.argBias];
  }
  return loadEpilogueKernels(stepWhere(fn, i) + ": epilogue " + epilogueName(e) +
                             " without cuBLASLt (" + fusedStatus.message() + ")");
}

Status CudaDevice::buildLtMatmul(const FunctionDesc &fn, size_t i, const LtMatmulPlan &plan,
                                 bool fused, const std::vector<CUdeviceptr> &ptrs, LtMatmul &m) {
  const LibraryStep &step = fn.steps[i].library;
  auto ltCheck = [&](cublasStatus_t s, const char *what) {
    if (s == CUBLAS_STATUS_SUCCESS)
      return Status::ok();
    return Status(Code::device_error, stepWhere(fn, i) + ": " + what + ": " + lt_.errorText(s));
  };
  m.f64 = step.dtype == DType::f64;
  const cudaDataType_t type = m.f64 ? CUDA_R_64F : CUDA_R_32F;
  // IEEE f32 (no TF32) and f64: the host device's semantics.
  const cublasComputeType_t compute = m.f64 ? CUBLAS_COMPUTE_64F : CUBLAS_COMPUTE_32F;
  KILN_RT_RETURN_IF_ERROR(
      ltCheck(lt_.p_cublasLtMatmulDescCreate(&m.desc, compute, type), "cublasLtMatmulDescCreate"));
  auto setDesc = [&](cublasLtMatmulDescAttributes_t attr, const void *v, size_t n,
                     const char *what) {
    return ltCheck(lt_.p_cublasLtMatmulDescSetAttribute(m.desc, attr, v, n), what);
  };
  cublasOperation_t ta = plan.transA ? CUBLAS_OP_T : CUBLAS_OP_N;
  cublasOperation_t tb = plan.transB ? CUBLAS_OP_T : CUBLAS_OP_N;
  KILN_RT_RETURN_IF_ERROR(setDesc(CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta, "set TRANSA"));
  KILN_RT_RETURN_IF_ERROR(setDesc(CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb, "set TRANSB"));
  cublasLtEpilogue_t epi = CUBLASLT_EPILOGUE_DEFAULT;
  switch (fused ? plan.epilogue : LtEpilogue::none) {
  case LtEpilogue::none: epi = CUBLASLT_EPILOGUE_DEFAULT; break;
  case LtEpilogue::bias: epi = CUBLASLT_EPILOGUE_BIAS; break;
  case LtEpilogue::relu: epi = CUBLASLT_EPILOGUE_RELU; break;
  case LtEpilogue::relu_bias: epi = CUBLASLT_EPILOGUE_RELU_BIAS; break;
  case LtEpilogue::gelu: epi = CUBLASLT_EPILOGUE_GELU; break;
  case LtEpilogue::gelu_bias: epi = CUBLASLT_EPILOGUE_GELU_BIAS; break;
  case LtEpilogue::dgelu: epi = CUBLASLT_EPILOGUE_DGELU; break;
  case LtEpilogue::dgelu_bgrad: epi = CUBLASLT_EPILOGUE_DGELU_BGRAD; break;
  case LtEpilogue::bgrada: epi = CUBLASLT_EPILOGUE_BGRADA; break;
  }
  KILN_RT_RETURN_IF_ERROR(setDesc(CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi, "set EPILOGUE"));
  if (fused && plan.argBias >= 0) {
    void *p = reinterpret_cast<void *>(uintptr_t(ptrs[plan.argBias]));
    KILN_RT_RETURN_IF_ERROR(
        setDesc(CUBLASLT_MATMUL_DESC_BIAS_POINTER, &p, sizeof p, "set BIAS_POINTER"));
    int32_t bt = type;
    KILN_RT_RETURN_IF_ERROR(
        setDesc(CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bt, sizeof bt, "set BIAS_DATA_TYPE"));
  }
  if (fused && plan.argAux >= 0) {
    void *p = reinterpret_cast<void *>(uintptr_t(ptrs[plan.argAux]));
    KILN_RT_RETURN_IF_ERROR(setDesc(CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER, &p, sizeof p,
                                    "set EPILOGUE_AUX_POINTER"));
    int64_t ld = int64_t(plan.auxLd);
    KILN_RT_RETURN_IF_ERROR(
        setDesc(CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD, &ld, sizeof ld, "set EPILOGUE_AUX_LD"));
    int32_t at = type;
    KILN_RT_RETURN_IF_ERROR(setDesc(CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_DATA_TYPE, &at, sizeof at,
                                    "set EPILOGUE_AUX_DATA_TYPE"));
  }
  auto layout = [&](const LtLayout &l, cublasLtMatrixLayout_t &out, const char *what) -> Status {
    KILN_RT_RETURN_IF_ERROR(
        ltCheck(lt_.p_cublasLtMatrixLayoutCreate(&out, type, l.rows, l.cols, int64_t(l.ld)), what));
    if (plan.batch > 1) {
      int32_t count = int32_t(plan.batch);
      int64_t stride = l.batchStride;
      KILN_RT_RETURN_IF_ERROR(ltCheck(lt_.p_cublasLtMatrixLayoutSetAttribute(
                                          out, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &count,
                                          sizeof count),
                                      what));
      KILN_RT_RETURN_IF_ERROR(ltCheck(lt_.p_cublasLtMatrixLayoutSetAttribute(
                                          out, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET,
                                          &stride, sizeof stride),
                                      what));
    }
    return Status::ok();
  };
  KILN_RT_RETURN_IF_ERROR(layout(plan.a, m.a, "layout of A (the step's B)"));
  KILN_RT_RETURN_IF_ERROR(layout(plan.b, m.b, "layout of B (the step's A)"));
  KILN_RT_RETURN_IF_ERROR(layout(plan.d, m.d, "layout of D"));
  cublasLtMatmulPreference_t pref = nullptr;
  KILN_RT_RETURN_IF_ERROR(
      ltCheck(lt_.p_cublasLtMatmulPreferenceCreate(&pref), "cublasLtMatmulPreferenceCreate"));
  uint64_t ws = kWorkspaceBytes;
  cublasStatus_t ps = lt_.p_cublasLtMatmulPreferenceSetAttribute(
      pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws);
  cublasLtMatmulHeuristicResult_t result{};
  int found = 0;
  if (ps == CUBLAS_STATUS_SUCCESS)
    ps = lt_.p_cublasLtMatmulAlgoGetHeuristic(ltHandle_, m.desc, m.a, m.b, m.d, m.d, pref, 1,
                                              &result, &found);
  lt_.p_cublasLtMatmulPreferenceDestroy(pref);
  std::string shape = "[batch " + std::to_string(plan.batch) + ", m " +
                      std::to_string(step.params[1]) + ", n " + std::to_string(step.params[2]) +
                      ", k " + std::to_string(step.params[3]) + "] " + dtypeName(step.dtype) +
                      " epilogue " + (fused ? epilogueName(step.epilogue) : "none");
  if (ps == CUBLAS_STATUS_NOT_SUPPORTED || (ps == CUBLAS_STATUS_SUCCESS && found == 0))
    return Status(Code::unsupported,
                  stepWhere(fn, i) + ": cuBLASLt has no algorithm for matmul " + shape +
                      " on " + gpuName_ + " (" + lt_.errorText(ps) + ")");
  KILN_RT_RETURN_IF_ERROR(ltCheck(ps, ("cublasLtMatmulAlgoGetHeuristic for " + shape).c_str()));
  m.algo = result.algo;
  m.pa = ptrs[plan.argA];
  m.pb = ptrs[plan.argB];
  m.pd = ptrs[plan.argD];
  return Status::ok();
}



Status CudaDevice::loadEpilogueKernels(const std::string &where) {
  if (epilogueModule_)
    return Status::ok();
  KILN_RT_RETURN_IF_ERROR(loadOwnModule(where, "epilogue", epilogueKernelSource(),
                                        embeddedEpiloguePtx(), epilogueModule_));
  const char *names[4] = {"kiln_cuda_epilogue_f32", "kiln_cuda_epilogue_f64",
                          "kiln_cuda_colsum_f32", "kiln_cuda_colsum_f64"};
  for (int f = 0; f < 4; ++f)
    KILN_RT_RETURN_IF_ERROR(
        cuCheck(drv_.p_cuModuleGetFunction(&epilogueFunctions_[f], epilogueModule_, names[f]),
                where + ": cuModuleGetFunction(" + names[f] + ")"));
  return Status::ok();
}

Status CudaDevice::enqueueMatmul(const FunctionDesc &fn, size_t i, LtMatmul &m) {
  const double one64 = 1.0, zero64 = 0.0;
  const float one32 = 1.0f, zero32 = 0.0f;
  const void *alpha = m.f64 ? static_cast<const void *>(&one64) : &one32;
  const void *beta = m.f64 ? static_cast<const void *>(&zero64) : &zero32;
  auto ptr = [](CUdeviceptr p) { return reinterpret_cast<void *>(uintptr_t(p)); };
  cublasStatus_t st = lt_.p_cublasLtMatmul(ltHandle_, m.desc, alpha, ptr(m.pa), m.a, ptr(m.pb),
                                           m.b, beta, ptr(m.pd), m.d, ptr(m.pd), m.d, &m.algo,
                                           ptr(workspace_), kWorkspaceBytes, stream_);
  if (st != CUBLAS_STATUS_SUCCESS)
    return Status(Code::device_error, stepWhere(fn, i) + ": cublasLtMatmul: " + lt_.errorText(st));
  if (m.epilogue) {
    long long total = m.m * m.n;
    unsigned blocks = unsigned(std::min<long long>((total + 255) / 256, 8192));
    void *args[] = {&m.pd, &m.bias, &m.aux, &m.m, &m.n, &m.mode};
    KILN_RT_RETURN_IF_ERROR(cuCheck(
        drv_.p_cuLaunchKernel(epilogueFunctions_[m.f64 ? 1 : 0], blocks, 1, 1, 256, 1, 1, 0,
                              stream_, args, nullptr),
        stepWhere(fn, i) + ": cuLaunchKernel(kiln_cuda_epilogue)"));
  }
  if (m.colsum) {
    unsigned blocks = unsigned((m.n + 255) / 256);
    void *args[] = {&m.sumSrc, &m.sumDst, &m.sumRows, &m.n};
    KILN_RT_RETURN_IF_ERROR(cuCheck(
        drv_.p_cuLaunchKernel(epilogueFunctions_[m.f64 ? 3 : 2], blocks, 1, 1, 256, 1, 1, 0,
                              stream_, args, nullptr),
        stepWhere(fn, i) + ": cuLaunchKernel(kiln_cuda_colsum)"));
  }
  return Status::ok();
}

} // namespace kiln::rt::cuda
