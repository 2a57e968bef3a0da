//===- FuzzParser.cpp - Fuzz target for the .kiln frontend ----------------===//
//
// One input = one model source. The frontend must return a module or print
// diagnostics; it must never crash, hang or trip a sanitizer. This file is
// the libFuzzer target (LLVMFuzzerTestOneInput, for a clang -fsanitize=fuzzer
// build); kiln-fuzz-parser links it with a self-contained mutation loop
// (FuzzMain.cpp) that CI runs for a bounded number of iterations.
//
//===----------------------------------------------------------------------===//
#include "frontend/Frontend.h"
#include "ir/Dialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Verifier.h"

#include <cstdint>
#include <cstdlib>

/// Inputs the frontend accepted (the driver reports it, to show the loop
/// reaches IR building and not only the lexer).
size_t kilnFuzzAccepted = 0;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static mlir::MLIRContext *ctx = [] {
    auto *c = new mlir::MLIRContext();
    c->loadDialect<kiln::KilnDialect, mlir::func::FuncDialect>();
    // Diagnostics go to the frontend's stream; keep MLIR's own quiet.
    c->printOpOnDiagnostic(false);
    return c;
  }();
  std::string errors;
  llvm::raw_string_ostream errs(errors);
  llvm::StringRef source(reinterpret_cast<const char *>(data), size);
  auto module = kiln::frontend::importModel(source, "fuzz.kiln", *ctx, errs);
  if (module) {
    ++kilnFuzzAccepted;
    // Accepted input must be valid IR: anything else is a frontend bug.
    if (mlir::failed(mlir::verify(*module))) {
      llvm::errs() << "fuzz: the frontend accepted an input and produced invalid IR\n";
      std::abort();
    }
  } else if (errors.empty()) {
    llvm::errs() << "fuzz: the frontend rejected an input without a diagnostic\n";
    std::abort();
  }
  return 0;
}
