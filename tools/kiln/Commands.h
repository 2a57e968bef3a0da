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

} // namespace kiln::tool

#endif // KILN_TOOLS_KILN_COMMANDS_H
