//===- EpilogueKernels.h - Matmul epilogues the cuda device runs itself -*- C++ -*-===//
//
// Private to runtime/cuda. When a matmul step's epilogue has no cuBLASLt
// equivalent (drelu, drelu_bgrad: see MatmulPlan.h) or cuBLASLt offers no
// algorithm for the fused form (some epilogues exist only for some dtypes
// and GPUs), the device runs the plain matmul (epilogue none) and then
// these two kernels (embedded as compute_80 PTX that the driver JITs at
// prepare; NVRTC, by dlopen, compiles the source where that fails):
//
//   kiln_cuda_epilogue_<f32|f64>(T *d, const T *bias, const T *aux,
//                                long long m, long long n, int mode)
//     d[m,n] row-major, in place: v = d[r,c] (+ bias[c] when bias);
//     mode 0 none, 1 relu (NaN-propagating max(v, 0)), 2 gelu (tanh),
//     3 drelu (v * (aux[r,c] > 0)), 4 dgelu (v * gelu'(aux[r,c]), tanh).
//     One thread per element, grid-stride.
//   kiln_cuda_colsum_<f32|f64>(const T *x, T *out, long long rows, long long n)
//     out[c] = sum over r of x[r,c] (x row-major [rows,n]), `=` not `+=`,
//     accumulated in T in row order; one thread per column (adjacent
//     threads read adjacent addresses).
//
// The formulas are those of codegen/CudaPrelude.cpp's gelu / gelu_grad.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_CUDA_EPILOGUEKERNELS_H
#define KILN_RUNTIME_CUDA_EPILOGUEKERNELS_H

namespace kiln::rt::cuda {

/// Modes of kiln_cuda_epilogue_*.
enum EpilogueMode : int { kEpiNone = 0, kEpiRelu = 1, kEpiGelu = 2, kEpiDrelu = 3, kEpiDgelu = 4 };

/// The text of runtime/cuda/EpilogueKernels.cu (embedded by the build).
const char *epilogueKernelSource();
/// The same, compiled to compute_80 PTX at build time (kiln-embed-ptx).
const char *embeddedEpiloguePtx();

} // namespace kiln::rt::cuda

#endif // KILN_RUNTIME_CUDA_EPILOGUEKERNELS_H
