//===- Train.cpp - kiln train ---------------------------------------------===//
#include "tools/kiln/Commands.h"

namespace kiln::tool {

// Placeholder until the training driver lands (issue 3, in progress).
int runTrain(const Options &opts, mlir::ModuleOp) {
  return fail("'kiln train' is not available in this build yet");
}

} // namespace kiln::tool
