//===- StepReport.h - What a fused, planned step costs ----------*- C++ -*-===//
//
// The counts of docs/fusion.md ("Counting for the report"), in one place for
// `kiln compile --report`, the tests and bench/offline.sh: kernels, library
// calls and bytes moved of a fused function against the same function
// before fusion (every kiln op its own kernel), and the sizes of its memory
// plan.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_PASSES_STEPREPORT_H
#define KILN_PASSES_STEPREPORT_H

#include "ir/Dialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/Support/JSON.h"

#include <string>
#include <vector>

namespace kiln {

/// A function before --kiln-fuse: every top-level kiln op is one kernel
/// that reads its operands and writes its results (a kiln.reshape is a
/// view: 0 bytes; a kiln.constant writes its result).
struct UnfusedCounts {
  int64_t ops = 0;
  int64_t bytesMoved = 0;
};
UnfusedCounts countUnfused(mlir::func::FuncOp fn);

/// One top-level kiln.fusion.
struct FusionSummary {
  int64_t index = 0; ///< Position among the function's top-level ops.
  std::string kind, epilogue; ///< epilogue: "" when none.
  std::string ops; ///< The body's op names, e.g. "matmul+broadcast+add".
  int64_t bytesIn = 0, bytesOut = 0; ///< 0 for views.
};

struct StepReport {
  std::string function;
  UnfusedCounts unfused;
  int64_t kernels = 0, libraryCalls = 0, views = 0;
  int64_t bytesMoved = 0;
  /// From kiln.memory_plan; -1 where the function has no plan.
  int64_t arenaPeak = -1, arenaLowerBound = -1, persistent = -1, input = -1;
  std::vector<FusionSummary> fusions;
};

/// Bytes of a static tensor type (element count times element bytes; i1 is
/// one byte); 0 for other types.
int64_t tensorBytes(mlir::Type type);

/// The report of a fused (and possibly planned) function; `unfused` comes
/// from countUnfused of the same function right before --kiln-fuse. Fails
/// (with an error on the op) where a top-level op other than kiln.fusion
/// and func.return remains.
llvm::FailureOr<StepReport> reportStep(mlir::func::FuncOp fn, UnfusedCounts unfused);

/// The report as JSON: the counts, the ratios kernels / ops_unfused,
/// bytes_moved / bytes_moved_unfused and arena_peak / lower_bound, and one
/// object per fusion.
llvm::json::Object toJson(const StepReport &report);

} // namespace kiln

#endif // KILN_PASSES_STEPREPORT_H
