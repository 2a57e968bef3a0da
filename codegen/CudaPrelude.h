//===- CudaPrelude.h - The device prelude of generated kernels ---*- C++ -*-===//
//
// Plain C++ (no MLIR): the text every generated CUDA translation unit
// starts with (codegen/CudaPrelude.cpp), so runtime tests can compile it.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_CODEGEN_CUDAPRELUDE_H
#define KILN_CODEGEN_CUDAPRELUDE_H

namespace kiln::codegen {

/// The device prelude that starts every kernel's translation unit.
const char *cudaPrelude();

} // namespace kiln::codegen

#endif // KILN_CODEGEN_CUDAPRELUDE_H
