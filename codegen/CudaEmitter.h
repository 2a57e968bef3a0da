//===- CudaEmitter.h - kiln.fusion -> CUDA C++ kernels ------------*- C++ -*-===//
//
// Each `kiln.fusion` of kind loop, reduction or composite becomes one
// `extern "C" __global__` kernel whose parameters are one pointer per
// fusion input, then one per result (kiln/Program.h, "Kernel ABI"). Every
// shape is a compile-time constant of the kernel. Values inside the fusion
// are computed per element by an elemental emitter ("the value of %v at
// index (i0, ..., ik)", as XLA's elemental IR emitter does), so an input
// is read from memory and a result written exactly where the fusion needs
// it:
//   loop       one grid-stride loop per distinct result shape; float4
//              loads and stores where every access is the loop's own index
//              and the element count is a multiple of 4
//   reduction  one block per output element (grid-stride over outputs),
//              threads stride over the reduced elements, warp-shuffle +
//              shared-memory block reduction, epilogue by thread 0
//   composite  one block per row of the composite (softmax family, cross
//              entropy, layer/batch norm and their gradients, scatter_add),
//              block reductions for the row statistics; composites whose
//              results reduce across rows run as a single block
// Kernel names are kiln_<kind>_<16 hex digits of a hash of the source>, so
// equal fusions get equal names (and one cache entry).
//
//===----------------------------------------------------------------------===//
#ifndef KILN_CODEGEN_CUDAEMITTER_H
#define KILN_CODEGEN_CUDAEMITTER_H

#include "codegen/CudaPrelude.h"
#include "kiln/Program.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LLVM.h"

#include <string>
#include <vector>

namespace kiln {
class FusionOp;
}

namespace kiln::codegen {

struct EmittedKernel {
  std::string name;   ///< kiln_<kind>_<hash>
  std::string source; ///< prelude + kernel + host trampoline
  std::vector<rt::DType> argDTypes;
  unsigned grid[3] = {1, 1, 1};
  unsigned block[3] = {1, 1, 1};
};

/// The element type of a tensor type, or failure (with a diagnostic at
/// `loc`) for a type the artifact cannot hold.
mlir::FailureOr<rt::DType> toDType(mlir::Type elementType, mlir::Location loc);

/// Emits the kernel of one fusion of kind loop, reduction or composite.
/// Emits an error on `fusion` naming the op it cannot lower and fails.
mlir::FailureOr<EmittedKernel> emitFusionKernel(kiln::FusionOp fusion);

/// out0[i] = gelu(in0[i]) or relu(in0[i]) for n elements: the activation
/// of a matmul fusion that also returns its pre-activation (which the
/// library step then writes with the bias epilogue).
EmittedKernel emitActivationKernel(bool gelu, bool tanhApprox, int64_t n, rt::DType dtype);

/// The kernel that adds 1 to the i64 step counter (the last step of
/// train_step).
EmittedKernel emitStepIncrementKernel();

} // namespace kiln::codegen

#endif // KILN_CODEGEN_CUDAEMITTER_H
