//===- Library.h - CPU implementations of the library steps -------*- C++ -*-===//
//
// What cuBLASLt/cuDNN do on the cuda device, the host device does here, with
// the semantics of the reference interpreter (ir/ReferenceKernelsNN.cpp):
// the layouts, params and argument orders of each LibraryOp are documented
// on kiln::rt::LibraryStep in kiln/Program.h. Accumulation is in the step's
// dtype's accumulator (f32 steps accumulate in f32 per output element, in
// the reference's order where it states one).
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_HOST_LIBRARY_H
#define KILN_RUNTIME_HOST_LIBRARY_H

#include "kiln/Program.h"
#include "kiln/Status.h"

namespace kiln::rt::host {

/// Checks that `step` is well formed (param count, arg count for its op and
/// epilogue, dtype f32 or f64, positive sizes consistent with each other)
/// and that each arg's byte size in `argBytes` is what the params imply.
/// Messages name the op, the param or arg, and both values.
Status checkLibraryStep(const LibraryStep &step, const uint64_t *argBytes, size_t numArgs);

/// Runs `step` on host memory: `ptrs[i]` is the address of arg i. Outputs
/// are fully overwritten (`=`, never `+=`). Assumes checkLibraryStep passed.
Status runLibraryStep(const LibraryStep &step, void *const *ptrs);

} // namespace kiln::rt::host

#endif // KILN_RUNTIME_HOST_LIBRARY_H
