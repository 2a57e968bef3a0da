//===- NnKernels.h - conv2d / pool2d library steps on the cuda device -*- C++ -*-===//
//
// Private to runtime/cuda. Direct (not cuDNN) kernels for the conv2d,
// conv2d_grad_input, conv2d_grad_filter, pool2d and pool2d_grad library
// steps, with the semantics of the reference interpreter
// (ir/ReferenceKernelsNN.cpp, ir/ReferenceKernelsGrad.cpp) and the params
// and layouts documented on kiln::rt::LibraryStep. Source:
// runtime/cuda/NnKernels.cu, embedded as compute_80 PTX that the driver
// JITs at prepare (NVRTC at prepare is the fallback).
//
// Entries: kiln_cuda_<op>_<f32|f64>(in0, in1, out, params) for the conv
// ops (args in the step's order) and kiln_cuda_pool2d_*(x, y, params),
// kiln_cuda_pool2d_grad_*(x, dy, dx, params); `params` is the step's
// params by value (KilnConvParams: 18 x int64, KilnPoolParams: 16).
// One thread per output element (grid-stride), accumulating in the
// step's dtype; every output element is written (`=`), gradients are
// gathered, not scattered, so no atomics and a fixed order. Max pooling
// picks the first NaN, else the first largest value of a window, in the
// forward pass and its gradient alike. Fast enough for small models; the
// place of cuDNN later.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_CUDA_NNKERNELS_H
#define KILN_RUNTIME_CUDA_NNKERNELS_H

namespace kiln::rt::cuda {

/// The text of runtime/cuda/NnKernels.cu (embedded by the build).
const char *nnKernelSource();
/// The same, compiled to compute_80 PTX at build time (kiln-embed-ptx).
const char *embeddedNnPtx();

} // namespace kiln::rt::cuda

#endif // KILN_RUNTIME_CUDA_NNKERNELS_H
