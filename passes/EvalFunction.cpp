//===- EvalFunction.cpp - --kiln-eval-function ----------------------------===//
//
// Derives @eval, the inference-mode copy of @forward that `kiln train` runs
// on held-out data (docs/training.md):
//
// 1. Clone @forward as @eval (after it), without `kiln.optimizer`.
// 2. Batch norm in inference mode: drop `training`; uses of the running-
//    statistic results become uses of the running-statistic operands (the
//    op returns them unchanged without `training`).
// 3. Dropout is the identity in inference: replace each by its input.
// 4. Drop the buffer-update results (`kiln.updates`); erase what only they
//    needed.
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/BitVector.h"

namespace kiln {
#define GEN_PASS_DEF_KILNEVALFUNCTION
#include "passes/Passes.h.inc"
} // namespace kiln

using namespace mlir;
using namespace kiln;

namespace {

struct EvalFunctionPass : public kiln::impl::KilnEvalFunctionBase<EvalFunctionPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto forward = module.lookupSymbol<func::FuncOp>("forward");
    if (!forward) {
      module.emitError("kiln-eval-function: expected a func.func @forward to derive @eval from");
      return signalPassFailure();
    }
    if (module.lookupSymbol("eval")) {
      module.emitError("kiln-eval-function: the module already has a symbol @eval");
      return signalPassFailure();
    }
    if (!forward.getBody().hasOneBlock()) {
      forward.emitError("kiln-eval-function: @forward must have a single block");
      return signalPassFailure();
    }

    // 1. The copy.
    auto eval = cast<func::FuncOp>(forward->clone());
    eval.setSymName("eval");
    eval->removeAttr("kiln.optimizer");
    module.getBody()->getOperations().insertAfter(forward->getIterator(), eval);

    // 2. and 3. Inference-mode batch norm and dropout.
    eval.walk([](Operation *op) {
      if (auto bn = dyn_cast<BatchNormOp>(op)) {
        bn.setTraining(false);
        bn.getNewRunningMean().replaceAllUsesWith(bn.getRunningMean());
        bn.getNewRunningVar().replaceAllUsesWith(bn.getRunningVar());
      } else if (auto dropout = dyn_cast<DropoutOp>(op)) {
        dropout.getResult().replaceAllUsesWith(dropout.getX());
        dropout.erase();
      }
    });

    // 4. Loss and outputs only.
    Operation *ret = eval.getBody().front().getTerminator();
    llvm::BitVector drop(eval.getNumResults());
    for (unsigned i = 0; i < eval.getNumResults(); ++i)
      if (eval.getResultAttr(i, "kiln.updates"))
        drop.set(i);
    ret->eraseOperands(drop);
    if (failed(eval.eraseResults(drop))) {
      eval.emitError("kiln-eval-function: internal error: cannot drop the buffer updates");
      return signalPassFailure();
    }
    for (Operation &op : llvm::make_early_inc_range(llvm::reverse(eval.getBody().front())))
      if (isOpTriviallyDead(&op))
        op.erase();
  }
};

} // namespace
