//===- MatmulPlan.h - A row-major matmul step as a cuBLASLt call -*- C++ -*-===//
//
// Private to runtime/cuda; plain C++ (no CUDA headers), so that the mapping
// is unit-tested on machines without a GPU.
//
// cuBLASLt is column-major. A row-major buffer X[r, c] is, read
// column-major, the matrix Xᵀ (c rows, c as leading dimension). So the
// step's D = A·B (row-major D[m,n], A[m,k], B[k,n]) is computed as
//
//     Dᵀ[n,m] = Bᵀ[n,k] · Aᵀ[k,m]        (cuBLASLt M = n, N = m, K = k)
//
// i.e. cuBLASLt's "A" operand is the step's B and its "B" operand is the
// step's A, with no data movement. A step operand that is stored
// transposed (transpose_a: A is [k,m]; transpose_b: B is [n,k]) reads
// column-major as the un-transposed matrix and gets CUBLAS_OP_T instead.
//
// Epilogue vectors then run along cuBLASLt's rows, i.e. the step's
// columns (n):
//   bias[n]          = cuBLASLt BIAS (a vector of M = n entries, one per
//                      row of Dᵀ = per column of D): maps directly.
//   dbias of D (drelu_bgrad, dgelu_bgrad: column sums of D) = the sums of
//                      each row of Dᵀ: cuBLASLt's *_BGRAD, size M = n.
//   bgradb (dbias[n] = column sums of the step's B[k,n]) = sums over K of
//                      cuBLASLt's "A" operand (Bᵀ[n,k]): that is BGRADA,
//                      not BGRADB, because the operands are swapped.
//   aux[m,n] (dgelu's pre-activation) is row-major like D, so it is Dᵀ's
//                      layout: leading dimension n.
// drelu / drelu_bgrad are not mappable: cuBLASLt's DRELU reads the bit-mask
// that RELU_AUX writes, not the f32 pre-activation the step provides; their
// plan is the plain product (fusable = false) and the device applies the
// epilogue with its own kernels (EpilogueKernels.h).
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_CUDA_MATMULPLAN_H
#define KILN_RUNTIME_CUDA_MATMULPLAN_H

#include "kiln/Program.h"
#include "kiln/Status.h"

#include <cstdint>

namespace kiln::rt::cuda {

/// cuBLASLt epilogues used (mapped to cublasLtEpilogue_t by the device).
enum class LtEpilogue { none, bias, relu, relu_bias, gelu, gelu_bias, dgelu, dgelu_bgrad, bgrada };

/// One stored column-major operand as cuBLASLt's layout describes it.
struct LtLayout {
  uint64_t rows = 0, cols = 0, ld = 0;
  int64_t batchStride = 0; ///< elements between batch entries
};

/// The cuBLASLt call for one matmul step. Arg fields index the step's args
/// (-1: none).
struct LtMatmulPlan {
  int64_t batch = 1;
  uint64_t m = 0, n = 0, k = 0; ///< cuBLASLt's M, N, K
  bool transA = false, transB = false;
  LtLayout a, b, d; ///< cuBLASLt's A (the step's B), B (the step's A), C = D
  LtEpilogue epilogue = LtEpilogue::none;
  /// False: cuBLASLt has no form of the step's epilogue; `epilogue` is
  /// none and the arg fields still name the step's aux / dbias args.
  bool fusable = true;
  int argA = -1, argB = -1, argD = -1;
  int argBias = -1; ///< bias input, or bias-gradient output
  int argAux = -1;
  uint64_t auxLd = 0;
  /// Expected element count of each arg, by arg index.
  uint64_t argElements[5] = {0, 0, 0, 0, 0};
  int numArgs = 0;
};

/// Builds the plan of a matmul step (checks params and arg count; names
/// the step's field and values on error).
Status planMatmul(const LibraryStep &step, LtMatmulPlan &plan);

} // namespace kiln::rt::cuda

#endif // KILN_RUNTIME_CUDA_MATMULPLAN_H
