//===- Frontend.h - The .kiln model language --------------------*- C++ -*-===//
//
// Entry point of the `.kiln` frontend: source text in, a module holding one
// `func.func @forward` out (see docs/conventions.md for the IR contract and
// docs/language.md for the language).
//
//===----------------------------------------------------------------------===//
#ifndef KILN_FRONTEND_FRONTEND_H
#define KILN_FRONTEND_FRONTEND_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdint>
#include <string>
#include <utility>

namespace kiln::frontend {

/// Parses, checks and lowers a .kiln model to a module with func.func
/// @forward. On error prints every diagnostic (file:line:col, source line,
/// caret, expected vs found) to `errs` and returns null. Never crashes or
/// hangs on any input bytes.
///
/// `overrides` replace the defaults of model-level integer arguments
/// (`model m(batch = 128)`), e.g. {{"batch", 32}}; naming an argument the
/// model does not declare is an error.
mlir::OwningOpRef<mlir::ModuleOp>
importModel(llvm::StringRef source, llvm::StringRef filename,
            mlir::MLIRContext &ctx, llvm::raw_ostream &errs,
            llvm::ArrayRef<std::pair<std::string, int64_t>> overrides = {});

} // namespace kiln::frontend

#endif // KILN_FRONTEND_FRONTEND_H
