//===- Report.cpp - kiln compile --emit=fused-mlir / --report -------------===//
//
// The fused, planned training step (docs/fusion.md):
//
// 1. The pipeline of `kiln train`: verify-model, autodiff, optimizer,
//    eval-function, canonicalize, CSE.
// 2. Snapshot the unfused counts of every function (each kiln op its own
//    kernel): the baseline of the report's ratios.
// 3. --kiln-fuse, then --kiln-plan-memory.
// 4. Print the module (--emit=fused-mlir), write the report (--report), the
//    arena drawing of @train_step (--memory-plan-svg).
//
//===----------------------------------------------------------------------===//
#include "tools/kiln/Commands.h"

#include "passes/MemoryPlan.h"
#include "passes/Passes.h"
#include "passes/StepReport.h"

#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;

namespace kiln::tool {

bool runTrainingPipeline(ModuleOp module, bool withOptimizer) {
  PassManager pm(module.getContext());
  pm.addPass(createKilnVerifyModel());
  pm.addPass(createKilnAutodiff());
  if (withOptimizer) {
    pm.addPass(createKilnOptimizer());
    pm.addPass(createKilnEvalFunction());
    pm.addPass(createCanonicalizerPass());
    pm.addPass(createCSEPass());
  }
  return succeeded(pm.run(module));
}

bool runFuseAndPlan(ModuleOp module) {
  PassManager pm(module.getContext());
  pm.addPass(createKilnFuse());
  pm.addPass(createKilnPlanMemory());
  return succeeded(pm.run(module));
}


int runCompileFused(const Options &opts, ModuleOp module) {
  if (!runTrainingPipeline(module, /*withOptimizer=*/true))
    return 1;
  // 2. The unfused baseline of every function, by name.
  llvm::StringMap<UnfusedCounts> unfused;
  for (auto fn : module.getOps<func::FuncOp>())
    unfused[fn.getSymName()] = countUnfused(fn);
  if (!runFuseAndPlan(module))
    return 1;

  if (opts.emit == "fused-mlir" &&
      !writeFile(opts.outputFile, [&](llvm::raw_ostream &os) { module.print(os); }))
    return 1;
  if (!opts.reportFile.empty()) {
    llvm::json::Object functions;
    llvm::json::Object top;
    for (auto fn : module.getOps<func::FuncOp>()) {
      FailureOr<StepReport> r = reportStep(fn, unfused.lookup(fn.getSymName()));
      if (failed(r))
        return 1;
      if (fn.getSymName() == "train_step")
        top = toJson(*r);
      else
        functions[fn.getSymName()] = toJson(*r);
    }
    if (top.empty())
      return fail("'" + opts.model + "' has no @train_step to report on");
    top["model"] = opts.model;
    top["functions"] = std::move(functions);
    if (!writeFile(opts.reportFile, [&](llvm::raw_ostream &os) {
          os << llvm::formatv("{0:2}", llvm::json::Value(std::move(top))) << "\n";
        }))
      return 1;
  }
  if (!opts.svgFile.empty()) {
    auto step = module.lookupSymbol<func::FuncOp>("train_step");
    if (!step)
      return fail("'" + opts.model + "' has no @train_step to draw");
    bool drawn = true;
    if (!writeFile(opts.svgFile, [&](llvm::raw_ostream &os) {
          drawn = succeeded(writeMemoryPlanSvg(step, os));
        }) || !drawn)
      return 1;
  }
  return 0;
}

} // namespace kiln::tool
