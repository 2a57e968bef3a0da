//===- VerifyMemoryPlan.cpp - --kiln-verify-memory-plan -------------------===//
//
// Runs kiln::verifyMemoryPlan (passes/MemoryPlan.cpp) on every function
// that carries a plan, so hand-written or edited plans can be checked on
// their own:
//
// 1. A function is planned if it has `kiln.memory_plan` or any argument
//    carries `kiln.buffer`; others are left alone.
// 2. Each planned function is verified; the first error fails the pass.
//
//===----------------------------------------------------------------------===//
#include "passes/MemoryPlan.h"
#include "passes/Passes.h"

namespace kiln {
#define GEN_PASS_DEF_KILNVERIFYMEMORYPLAN
#include "passes/Passes.h.inc"
} // namespace kiln

using namespace mlir;
using namespace kiln;

namespace {
bool isPlanned(func::FuncOp fn) {
  if (fn->hasAttr("kiln.memory_plan"))
    return true;
  for (unsigned i = 0, e = fn.getNumArguments(); i < e; ++i)
    if (fn.getArgAttr(i, "kiln.buffer"))
      return true;
  return false;
}

struct VerifyMemoryPlanPass
    : kiln::impl::KilnVerifyMemoryPlanBase<VerifyMemoryPlanPass> {
  void runOnOperation() override {
    bool ok = true;
    for (auto fn : getOperation().getOps<func::FuncOp>())
      if (isPlanned(fn) && failed(verifyMemoryPlan(fn)))
        ok = false;
    if (!ok)
      signalPassFailure();
  }
};
} // namespace
