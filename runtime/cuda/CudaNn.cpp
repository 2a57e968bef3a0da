//===- CudaNn.cpp - conv2d / pool2d library steps on the cuda device ------===//
//
// Checks a conv2d / pool2d step (param count, positive sizes, output
// sizes consistent with the formulas of the reference interpreter, arg
// dtypes and element counts), compiles NnKernels.cu for the GPU on first
// use, and prepares one launch of the matching kernel.
//
//===----------------------------------------------------------------------===//

#include "runtime/cuda/CudaDevice.h"
#include "runtime/cuda/NnKernels.h"

#include <algorithm>

namespace kiln::rt::cuda {

Status CudaDevice::prepareNn(const FunctionDesc &fn, size_t i, PreparedStep &out) {
  const LibraryStep &step = fn.steps[i].library;
  const std::string where = stepWhere(fn, i);
  auto fail = [&](const std::string &what) { return Status(Code::invalid_argument, where + ": " + what); };
  const bool conv = step.op == LibraryOp::conv2d || step.op == LibraryOp::conv2d_grad_input ||
                    step.op == LibraryOp::conv2d_grad_filter;
  const bool pool = step.op == LibraryOp::pool2d || step.op == LibraryOp::pool2d_grad;
  if (!conv && !pool)
    return Status(Code::unsupported, where + ": unknown library op " +
                                         std::to_string(int(step.op)));
  if (step.dtype != DType::f32 && step.dtype != DType::f64)
    return fail(std::string("dtype ") + dtypeName(step.dtype) + " is not f32 or f64");
  const size_t want = conv ? 18 : 16;
  if (step.params.size() != want)
    return fail("expected " + std::to_string(want) + " params, got " +
                std::to_string(step.params.size()));
  const std::vector<int64_t> &p = step.params;
  for (size_t k = 0; k < p.size(); ++k) {
    // Pads, and pool's two flags, may be 0; everything else is positive.
    bool mayBeZero = conv ? (k >= 11 && k <= 14) : (k >= 10);
    if (p[k] < 0 || (p[k] == 0 && !mayBeZero) || p[k] > (int64_t(1) << 31))
      return fail("param #" + std::to_string(k) + " = " + std::to_string(p[k]) +
                  " is out of range");
  }
  uint64_t xElems = uint64_t(p[0]) * p[1] * p[2] * p[3], yElems = 0, wElems = 0;
  if (conv) {
    const int64_t C = p[1], H = p[2], W = p[3], O = p[4], KH = p[5], KW = p[6], OH = p[7],
                  OW = p[8], sh = p[9], sw = p[10], dh = p[15], dw = p[16], G = p[17];
    if (C % G || O % G)
      return fail("groups = " + std::to_string(G) + " does not divide C = " + std::to_string(C) +
                  " and O = " + std::to_string(O));
    const int64_t eh = (H + p[11] + p[13] - dh * (KH - 1) - 1), ew = (W + p[12] + p[14] - dw * (KW - 1) - 1);
    if (eh < 0 || ew < 0 || eh / sh + 1 != OH || ew / sw + 1 != OW)
      return fail("output " + std::to_string(OH) + "x" + std::to_string(OW) +
                  " does not follow from the input, window, stride, padding and dilation");
    yElems = uint64_t(p[0]) * O * OH * OW;
    wElems = uint64_t(O) * (C / G) * KH * KW;
  } else {
    const int64_t H = p[2], W = p[3], OH = p[4], OW = p[5], KH = p[6], KW = p[7], sh = p[8],
                  sw = p[9];
    const int64_t eh = H + p[10] + p[12] - KH, ew = W + p[11] + p[13] - KW;
    if (eh < 0 || ew < 0 || eh / sh + 1 != OH || ew / sw + 1 != OW)
      return fail("output " + std::to_string(OH) + "x" + std::to_string(OW) +
                  " does not follow from the input, window, stride and padding");
    if (p[14] > 1 || p[15] > 1)
      return fail("is_max and count_include_pad must be 0 or 1");
    yElems = uint64_t(p[0]) * p[1] * OH * OW;
  }
  std::vector<uint64_t> elems;
  uint64_t outElems = 0;
  switch (step.op) {
  case LibraryOp::conv2d: elems = {xElems, wElems, yElems}; outElems = yElems; break;
  case LibraryOp::conv2d_grad_input: elems = {yElems, wElems, xElems}; outElems = xElems; break;
  case LibraryOp::conv2d_grad_filter: elems = {xElems, yElems, wElems}; outElems = wElems; break;
  case LibraryOp::pool2d: elems = {xElems, yElems}; outElems = yElems; break;
  default: elems = {xElems, yElems, xElems}; outElems = xElems; break;
  }
  if (step.args.size() != elems.size())
    return fail("expected " + std::to_string(elems.size()) + " args, got " +
                std::to_string(step.args.size()));
  out.ptrs.resize(elems.size());
  for (size_t a = 0; a < elems.size(); ++a) {
    if (step.args[a] >= fn.tensors.size())
      return fail("arg " + std::to_string(a) + " tensor index " + std::to_string(step.args[a]) +
                  " is out of range");
    const TensorDesc &t = fn.tensors[step.args[a]];
    if (t.dtype != step.dtype || uint64_t(t.numElements()) != elems[a])
      return fail("arg " + std::to_string(a) + " '" + t.name + "' is " + dtypeName(t.dtype) +
                  " with " + std::to_string(t.numElements()) + " elements, the params imply " +
                  dtypeName(step.dtype) + " with " + std::to_string(elems[a]));
    out.ptrs[a] = pointer(t);
  }
  std::copy(p.begin(), p.end(), out.nnParams);
  out.argv.clear();
  for (CUdeviceptr &ptr : out.ptrs)
    out.argv.push_back(&ptr);
  out.argv.push_back(out.nnParams);
  out.nnBlocks = unsigned(std::max<uint64_t>(1, std::min<uint64_t>((outElems + 255) / 256, 1u << 16)));

  // The module, once.
  if (!nnModule_) {
    KILN_RT_RETURN_IF_ERROR(
        loadOwnModule(where, "conv/pool", nnKernelSource(), embeddedNnPtx(), nnModule_));
  }
  const int index = 2 * int(step.op) + (step.dtype == DType::f64 ? 1 : 0);
  if (!nnFunctions_[index]) {
    std::string name = std::string("kiln_cuda_") + libraryOpName(step.op) +
                       (step.dtype == DType::f64 ? "_f64" : "_f32");
    KILN_RT_RETURN_IF_ERROR(
        cuCheck(drv_.p_cuModuleGetFunction(&nnFunctions_[index], nnModule_, name.c_str()),
                where + ": cuModuleGetFunction(" + name + ")"));
  }
  out.function = nnFunctions_[index];
  return Status::ok();
}

} // namespace kiln::rt::cuda
