//===- Frontend.cpp - Entry point of the .kiln frontend -------------------===//
#include "frontend/Frontend.h"
#include "frontend/Diagnostics.h"
#include "frontend/Lowering.h"
#include "frontend/Parser.h"
#include "ir/Dialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/Support/MemoryBuffer.h"

using namespace kiln::frontend;

mlir::OwningOpRef<mlir::ModuleOp> kiln::frontend::importModel(
    llvm::StringRef source, llvm::StringRef filename, mlir::MLIRContext &ctx,
    llvm::raw_ostream &errs,
    llvm::ArrayRef<std::pair<std::string, int64_t>> overrides) {
  ctx.loadDialect<kiln::KilnDialect, mlir::func::FuncDialect>();
  llvm::SourceMgr srcMgr;
  srcMgr.AddNewSourceBuffer(
      llvm::MemoryBuffer::getMemBufferCopy(source, filename), llvm::SMLoc());
  llvm::StringRef buffer = srcMgr.getMemoryBuffer(1)->getBuffer();
  Diagnostics diag(srcMgr, errs);
  std::optional<ModelDecl> model = parseModel(buffer, diag);
  if (!model || diag.errorCount())
    return nullptr;
  Elaborator elaborator(srcMgr, diag, ctx, filename);
  mlir::OwningOpRef<mlir::ModuleOp> module = elaborator.run(*model, overrides);
  if (!module && !diag.errorCount())
    diag.error(model->nameRange, "internal error: model '" + model->name +
                                     "' was rejected without a diagnostic; "
                                     "please report it");
  if (diag.errorCount())
    return nullptr;
  return module;
}
