//===- ReferenceRunSupport.h - Pieces runFunction and runPlannedFunction share -*- C++ -*-===//
//
// Internal to the KilnReference library (ReferenceRun.cpp and
// ReferencePlanned.cpp): error locations, type checks of computed values,
// and evaluating one top-level op with its diagnostics captured as an
// llvm::Error.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_IR_REFERENCERUNSUPPORT_H
#define KILN_IR_REFERENCERUNSUPPORT_H

#include "ir/Reference.h"

#include "mlir/IR/Location.h"
#include "llvm/Support/raw_ostream.h"

#include <string>

namespace kiln::ref::detail {

std::string typeString(mlir::Type t);
/// "tensor<2x3xf32>" of a host tensor.
std::string tensorTypeString(const Tensor &t);
/// Whether `t` has exactly the static tensor type `type`.
bool matches(const Tensor &t, mlir::Type type);
/// Prints `file:line:col` when the location has one, else MLIR's form.
void printLocation(llvm::raw_ostream &os, mlir::Location loc);
/// "file:line:col: error: message".
llvm::Error errorAt(mlir::Location loc, const llvm::Twine &message);

/// Evaluates top-level op `op` through ReferenceOpInterface and checks the
/// result count and types; a failure's diagnostics become the error.
llvm::Error evaluateOp(mlir::Operation &op, EvalContext &ctx,
                       llvm::ArrayRef<const Tensor *> operands,
                       llvm::SmallVectorImpl<Tensor> &results);

} // namespace kiln::ref::detail

#endif // KILN_IR_REFERENCERUNSUPPORT_H
