//===- Commands.h - kiln subcommands defined in their own files -*- C++ -*-===//
#ifndef KILN_TOOLS_KILN_COMMANDS_H
#define KILN_TOOLS_KILN_COMMANDS_H

#include "tools/kiln/ToolSupport.h"

namespace kiln::tool {

/// `kiln train` (Train.cpp). Returns the process exit code.
int runTrain(const Options &opts, mlir::ModuleOp module);

/// `kiln gradcheck` (GradCheck.cpp).
int runGradcheck(const Options &opts, mlir::ModuleOp module);

/// `kiln run --gradients` (GradCheck.cpp): the gradient step on one batch.
int runGradients(const Options &opts, mlir::ModuleOp module);

/// `kiln compile --emit=fused-mlir / --report / --memory-plan-svg`
/// (Report.cpp): the fused, planned training step.
int runCompileFused(const Options &opts, mlir::ModuleOp module);

/// `kiln compile MODEL -o MODEL.kart [--arch ...] [--report FILE.json]`
/// (CompileArtifact.cpp): the artifact.
int runCompileArtifact(const Options &opts, mlir::ModuleOp module);

/// `kiln inspect MODEL.kart [--dot]` (Inspect.cpp).
int runInspect(const Options &opts);

/// `kiln run MODEL.kart` (Inspect.cpp): @forward of an artifact on a device.
int runArtifactForward(const Options &opts);

/// `kiln train MODEL.kart` (TrainArtifact.cpp): training from the artifact.
int runTrainArtifact(const Options &opts);

/// `kiln difftest` (DiffTest.cpp): unfused vs fused+planned on the
/// interpreter.
int runDifftest(const Options &opts, mlir::ModuleOp module);

/// The pipeline of `kiln train` (verify-model, autodiff and, with
/// `withOptimizer`, optimizer, eval-function, canonicalize, CSE); false
/// after the pass printed its error.
bool runTrainingPipeline(mlir::ModuleOp module, bool withOptimizer);

/// --kiln-fuse then --kiln-plan-memory on every function.
bool runFuseAndPlan(mlir::ModuleOp module);

} // namespace kiln::tool

#endif // KILN_TOOLS_KILN_COMMANDS_H
