//===- ArtifactBuilder.h - A fused, planned module -> kiln::rt::Program -*- C++ -*-===//
//
// Input: a module whose functions went through --kiln-fuse and
// --kiln-plan-memory (every function has kiln.memory_plan, every argument a
// kiln.buffer, every top-level kiln.fusion `buffers`). Output: the
// in-memory artifact (kiln/Program.h) with every kernel's CUDA source, one
// step per fusion (launch, library call; a view fusion is no step), a copy
// step for every `kiln.updates` result not planned in place, and, at the
// end of train_step, the kernel that increments the step counter. Kernel
// binaries (NVRTC) and the initial persistent bytes are filled by the
// caller. Every failure is a diagnostic on the op or function at fault.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_CODEGEN_ARTIFACTBUILDER_H
#define KILN_CODEGEN_ARTIFACTBUILDER_H

#include "kiln/Program.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LLVM.h"

namespace kiln::codegen {

mlir::FailureOr<rt::Program> buildProgram(mlir::ModuleOp module);

} // namespace kiln::codegen

#endif // KILN_CODEGEN_ARTIFACTBUILDER_H
