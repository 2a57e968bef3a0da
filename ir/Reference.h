//===- Reference.h - The reference interpreter of the kiln dialect -*- C++ -*-===//
//
// The numeric truth of every later test: evaluates a func.func over kiln ops
// on host tensors, either entirely in double (Precision::F64, the gradcheck
// oracle) or rounding every float op result to its declared type
// (Precision::Native).
//
// Per-op semantics live with the ops: every kiln op implements
// ReferenceOpInterface::evaluate (ir/ReferenceOps*.cpp) on top of the MLIR-free
// kernels of ir/ReferenceKernels.h; elementwise ops evaluate their ODS scalar
// formula `OpTy::apply` (ir/Scalar.h).
//
//===----------------------------------------------------------------------===//
#ifndef KILN_IR_REFERENCE_H
#define KILN_IR_REFERENCE_H

#include "ir/ReferenceKernels.h"
#include "ir/ReferenceTensor.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Operation.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/Support/Error.h"

#include <vector>

namespace mlir::func {
class FuncOp;
} // namespace mlir::func

namespace kiln::ref {

/// What `evaluate` needs besides its operands. Errors are reported on the op
/// through MLIR diagnostics (`op->emitError()`), so they carry the op's name
/// and location; runFunction turns them into an llvm::Error.
class EvalContext {
public:
  explicit EvalContext(Precision precision = Precision::Native)
      : precision(precision) {}

  Precision precision;

  /// Applies the precision to freshly computed results (rounds every float
  /// result to its declared type under Native) and returns success().
  llvm::LogicalResult finish(llvm::MutableArrayRef<Tensor> results) const {
    for (Tensor &t : results)
      t.applyPrecision(precision);
    return llvm::success();
  }
};

//===----------------------------------------------------------------------===//
// MLIR types and attributes
//===----------------------------------------------------------------------===//

/// The ElemType of an MLIR element type (f16, bf16, f32, f64, i1, i32, i64).
llvm::FailureOr<ElemType> elemTypeOf(mlir::Type type);
/// The MLIR element type of `t`.
mlir::Type toMlirType(mlir::MLIRContext *ctx, ElemType t);
/// A zero tensor of a static ranked tensor type (failure: other types).
llvm::FailureOr<Tensor> zerosOf(mlir::Type type);
/// A tensor from a dense (or splat) elements attribute of a supported type.
llvm::Expected<Tensor> fromElementsAttr(mlir::ElementsAttr attr);
/// A dense elements attribute holding `t` (floats rounded to their type).
mlir::DenseElementsAttr toElementsAttr(mlir::MLIRContext *ctx, const Tensor &t);

//===----------------------------------------------------------------------===//
// Running functions
//===----------------------------------------------------------------------===//

struct RunOptions {
  Precision precision = Precision::Native;
  /// The largest tensor the interpreter agrees to hold (elements). Types are
  /// static, so every value's size is checked before anything is computed:
  /// a model with a huge tensor is an error, not an allocation failure.
  int64_t maxElements = int64_t(1) << 28;
  /// The most host memory the values of one run may hold at once (each
  /// element is stored in 8 bytes), counted from the function's liveness
  /// before running, arguments twice (the caller's copy and the run's).
  int64_t maxLiveBytes = int64_t(8) << 30;
};

/// Checks every argument and op result of `fn` against opts.maxElements
/// (with overflow-safe element counts), and the peak of simultaneously live
/// values against opts.maxLiveBytes; names the first offending value.
llvm::Error checkSizes(mlir::func::FuncOp fn, const RunOptions &opts);

/// Evaluates a func.func over kiln ops (plus func.return) on host tensors;
/// arguments in order. Under Native precision float arguments are first
/// rounded to their declared type. Errors (an op failing, an op without
/// reference semantics, an argument count/type/shape mismatch) are returned
/// as llvm::Error naming the op location.
llvm::Expected<std::vector<Tensor>> runFunction(mlir::func::FuncOp fn,
                                                llvm::ArrayRef<Tensor> args,
                                                const RunOptions &opts);

/// Runs a fused, planned function (docs/fusion.md) in its planned memory:
/// one host region each for `persistent`, `input` and `arena` (sizes from
/// `kiln.memory_plan`), every argument in its `kiln.buffer`, every result of
/// a top-level op in its `buffers` entry. Each op reads its operands from
/// their buffers and writes its results into theirs; the arena starts as
/// NaN, and the bytes of a value are poisoned (NaN, integers 0x5A..) after
/// its last use unless a live value shares them. A plan that lets two live
/// values overlap therefore gives wrong numbers or NaN, never the right
/// ones by luck of a separate copy. Precision as runFunction. A missing or
/// inconsistent plan attribute is an error naming the op.
llvm::Expected<std::vector<Tensor>> runPlannedFunction(mlir::func::FuncOp fn,
                                                       llvm::ArrayRef<Tensor> args,
                                                       const RunOptions &opts);

} // namespace kiln::ref

#endif // KILN_IR_REFERENCE_H
