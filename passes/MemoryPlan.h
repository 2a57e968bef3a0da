//===- MemoryPlan.h - Reading and checking a step's memory plan -*- C++ -*-===//
//
// The plan that --kiln-plan-memory writes (docs/fusion.md) as plain data:
// what the verifier, the planned interpreter, the report and the SVG
// drawing read. Liveness is always recomputed from the op order, never
// stored, so a plan cannot disagree with the program it describes.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_PASSES_MEMORYPLAN_H
#define KILN_PASSES_MEMORYPLAN_H

#include "ir/Dialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Value.h"

#include <string>
#include <vector>

namespace kiln {

/// One planned value: a function argument or a result of a top-level op.
struct PlannedValue {
  mlir::Value value;
  /// `kiln.name` of an argument or returned value, else "<op name>#<i>"
  /// of the defining fusion (e.g. "%12 loop#0").
  std::string name;
  MemoryRegion region = MemoryRegion::arena;
  int64_t offset = 0, size = 0;
  /// Live interval in top-level op indices, inclusive: an argument starts at
  /// -1; a returned value ends at the index of func.return. A view's result
  /// has its own interval (the union is the buffer's).
  int64_t start = 0, end = 0;
};

/// The plan of `fn`: every argument, then every top-level op result, in
/// order. Fails (with an error on `fn` or the op) where a buffer is missing.
llvm::FailureOr<std::vector<PlannedValue>> readMemoryPlan(mlir::func::FuncOp fn);

/// Whether result `resultIndex` of `op` may be written into the buffer of
/// operand `operandIndex` when that operand dies at `op` (docs/fusion.md:
/// loop fusions whose block argument only feeds elementwise ops of the
/// result's shape, equal byte sizes).
bool canReuseInPlace(FusionOp op, unsigned operandIndex, unsigned resultIndex);

/// Checks the plan of `fn` (docs/fusion.md, "Verifier"): names the two
/// values that overlap, or the buffer that leaves its region.
mlir::LogicalResult verifyMemoryPlan(mlir::func::FuncOp fn);

/// Draws the arena of a planned `fn` over time as SVG: x = op index, y =
/// offset, one box per arena buffer (tooltip: name, bytes, interval), the
/// lower bound as a line.
mlir::LogicalResult writeMemoryPlanSvg(mlir::func::FuncOp fn, llvm::raw_ostream &os);

} // namespace kiln

#endif // KILN_PASSES_MEMORYPLAN_H
