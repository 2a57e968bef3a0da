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

#include <optional>
#include <string>
#include <vector>

namespace kiln {

/// One planned value: a function argument or a result of a top-level op.
struct PlannedValue {
  mlir::Value value;
  /// How messages name the value: its SSA name as the printer spells it,
  /// then its `kiln.name` if it has one (an argument's, or a returned
  /// value's result attribute), then, for a fusion result, the fusion's kind
  /// and the result index: `%arg1 "w"`, `%12 (loop#0)`,
  /// `%14 "w.updated" (loop#0)`.
  std::string name;
  MemoryRegion region = MemoryRegion::arena;
  int64_t offset = 0, size = 0;
  /// Live interval in top-level op indices, inclusive: an argument starts at
  /// -1; a returned value ends at the index of func.return. A view's result
  /// has its own interval (the union is the buffer's).
  int64_t start = 0, end = 0;
};

/// Bytes of the statically shaped tensor type `type` (i1 is one byte)
/// rounded up to `alignment`; a value with no elements still gets
/// `alignment` bytes, so that every value has its own address. nullopt for
/// a type that is not a statically shaped int or float tensor.
std::optional<int64_t> plannedBytes(mlir::Type type, int64_t alignment);

/// The values of `fn` in plan order (every argument, then every result of
/// each top-level op) with their names and live intervals; region, offset
/// and size are left at their defaults. What the planner starts from and
/// readMemoryPlan fills in.
std::vector<PlannedValue> liveValues(mlir::func::FuncOp fn);

/// The plan of `fn`: every argument, then every top-level op result, in
/// order. Fails (with an error on `fn` or the op) where a buffer is missing.
llvm::FailureOr<std::vector<PlannedValue>> readMemoryPlan(mlir::func::FuncOp fn);

/// The arena's lower bound of a plan (docs/fusion.md): the largest total
/// of the arena bytes live at one op index, where values live at the same
/// time in the same bytes (a view and its input, an in-place pair) count
/// once.
int64_t arenaLowerBound(llvm::ArrayRef<PlannedValue> values);

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
