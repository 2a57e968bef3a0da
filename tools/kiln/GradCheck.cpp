//===- GradCheck.cpp - kiln gradcheck and kiln run --gradients ------------===//
#include "tools/kiln/Commands.h"

namespace kiln::tool {

// Placeholders until the autodiff pass lands (issue 3, in progress).
int runGradcheck(const Options &, mlir::ModuleOp) {
  return fail("'kiln gradcheck' is not available in this build yet");
}
int runGradients(const Options &, mlir::ModuleOp) {
  return fail("'kiln run --gradients' is not available in this build yet");
}

} // namespace kiln::tool
