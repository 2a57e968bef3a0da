//===- LibraryCheck.cpp - Validation of library steps ---------------------===//
//
// Contract: checkLibraryStep (runtime/host/Library.h) accepts exactly the
// steps runLibraryStep can run without reading or writing out of bounds:
//   - params: 6 (matmul), 18 (conv2d and its adjoints), 16 (pool2d, _grad);
//   - dtype f32 or f64; epilogue none unless the op is matmul;
//   - args: as many as the op and epilogue take (kiln/Program.h);
//   - sizes >= 1, paddings >= 0, flags 0 or 1, groups dividing C and O, and
//     OH/OW equal to what input, window, stride, padding, dilation give;
//     matmul batch > 1 only with epilogue none, bgradb only without
//     transpose_b (its B is [k, n]);
//   - each arg's byte size at least the bytes its shape implies (a planned
//     tensor's size may be rounded up to the plan's alignment).
// Every message names the op, the param or arg, and the values involved.
//
//===----------------------------------------------------------------------===//
#include "runtime/host/Library.h"

#include <string>
#include <vector>

namespace kiln::rt::host {

namespace {

/// Largest element count accepted (keeps every byte count in uint64).
constexpr int64_t kMaxElements = int64_t(1) << 50;

struct Checker {
  const LibraryStep &step;
  std::string where; ///< "matmul (epilogue bias)"

  Status fail(const std::string &what) const {
    return Status(Code::invalid_argument, where + ": " + what);
  }
  int64_t p(size_t i) const { return step.params[i]; }

  /// params[i] (called `name`) must be >= lo.
  Status atLeast(size_t i, const char *name, int64_t lo) const {
    if (p(i) < lo)
      return fail("param " + std::to_string(i) + " (" + name + ") is " +
                  std::to_string(p(i)) + ", must be >= " + std::to_string(lo));
    return Status::ok();
  }
  Status flag(size_t i, const char *name) const {
    if (p(i) != 0 && p(i) != 1)
      return fail("param " + std::to_string(i) + " (" + name + ") is " +
                  std::to_string(p(i)) + ", must be 0 or 1");
    return Status::ok();
  }
  /// The product of `dims` (each >= 1), or -1 past kMaxElements.
  static int64_t product(std::initializer_list<int64_t> dims) {
    int64_t r = 1;
    for (int64_t d : dims) {
      if (d > kMaxElements / r)
        return -1;
      r *= d;
    }
    return r;
  }
  /// Arg `i` (called `name`, shape given in `shapeText`) holds `elems`
  /// elements of the step's dtype.
  Status arg(const uint64_t *argBytes, size_t i, const char *name, int64_t elems,
             const std::string &shapeText) const {
    if (elems < 0)
      return fail("arg " + std::to_string(i) + " (" + name + ") of shape " + shapeText +
                  " has more than 2^50 elements");
    const uint64_t need = uint64_t(elems) * dtypeBytes(step.dtype);
    if (argBytes[i] < need)
      return fail("arg " + std::to_string(i) + " (" + name + ") has " +
                  std::to_string(argBytes[i]) + " bytes, but its shape " + shapeText +
                  " of " + dtypeName(step.dtype) + " needs " + std::to_string(need));
    return Status::ok();
  }
};

std::string shape(std::initializer_list<int64_t> dims) {
  std::string s = "[";
  for (int64_t d : dims)
    s += (s.size() > 1 ? ", " : "") + std::to_string(d);
  return s + "]";
}

size_t matmulArgCount(Epilogue e) {
  switch (e) {
  case Epilogue::none:
  case Epilogue::relu:
  case Epilogue::gelu:
    return 3;
  case Epilogue::bias:
  case Epilogue::bias_relu:
  case Epilogue::bias_gelu:
  case Epilogue::drelu:
  case Epilogue::dgelu:
  case Epilogue::bgradb:
    return 4;
  case Epilogue::drelu_bgrad:
  case Epilogue::dgelu_bgrad:
    return 5;
  }
  return 0;
}

Status checkMatmul(const Checker &c, const uint64_t *argBytes) {
  const char *names[] = {"batch", "m", "n", "k"};
  for (size_t i = 0; i < 4; ++i)
    KILN_RT_RETURN_IF_ERROR(c.atLeast(i, names[i], 1));
  KILN_RT_RETURN_IF_ERROR(c.flag(4, "transpose_a"));
  KILN_RT_RETURN_IF_ERROR(c.flag(5, "transpose_b"));
  const int64_t batch = c.p(0), m = c.p(1), n = c.p(2), k = c.p(3);
  const bool ta = c.p(4) != 0, tb = c.p(5) != 0;
  const Epilogue e = c.step.epilogue;
  if (batch > 1 && e != Epilogue::none)
    return c.fail("param 0 (batch) is " + std::to_string(batch) +
                  ", but an epilogue needs batch 1");
  if (e == Epilogue::bgradb && tb)
    return c.fail("param 5 (transpose_b) is 1, but bgradb sums the rows of B as [k, n]");
  KILN_RT_RETURN_IF_ERROR(c.arg(argBytes, 0, "A", Checker::product({batch, m, k}),
                                ta ? shape({batch, k, m}) : shape({batch, m, k})));
  KILN_RT_RETURN_IF_ERROR(c.arg(argBytes, 1, "B", Checker::product({batch, k, n}),
                                tb ? shape({batch, n, k}) : shape({batch, k, n})));
  const int64_t dElems = Checker::product({batch, m, n});
  const std::string dShape = shape({batch, m, n});
  switch (e) {
  case Epilogue::none:
  case Epilogue::relu:
  case Epilogue::gelu:
    return c.arg(argBytes, 2, "D", dElems, dShape);
  case Epilogue::bias:
  case Epilogue::bias_relu:
  case Epilogue::bias_gelu:
    KILN_RT_RETURN_IF_ERROR(c.arg(argBytes, 2, "bias", n, shape({n})));
    return c.arg(argBytes, 3, "D", dElems, dShape);
  case Epilogue::drelu:
  case Epilogue::dgelu:
    KILN_RT_RETURN_IF_ERROR(c.arg(argBytes, 2, "aux", dElems, shape({m, n})));
    return c.arg(argBytes, 3, "D", dElems, dShape);
  case Epilogue::drelu_bgrad:
  case Epilogue::dgelu_bgrad:
    KILN_RT_RETURN_IF_ERROR(c.arg(argBytes, 2, "aux", dElems, shape({m, n})));
    KILN_RT_RETURN_IF_ERROR(c.arg(argBytes, 3, "D", dElems, dShape));
    return c.arg(argBytes, 4, "dbias", n, shape({n}));
  case Epilogue::bgradb:
    KILN_RT_RETURN_IF_ERROR(c.arg(argBytes, 2, "D", dElems, dShape));
    return c.arg(argBytes, 3, "dbias", n, shape({n}));
  }
  return Status::ok();
}

/// Checks that params[outIdx] equals (size + padA + padB - span) / stride + 1
/// with span the (dilated) window extent; `spanText` says where span comes
/// from ("KH=3, dil_h=2").
Status outputSize(const Checker &c, size_t outIdx, const char *outName,
                  const char *sizeName, int64_t size, int64_t padA, int64_t padB,
                  int64_t span, const std::string &spanText, int64_t stride) {
  const int64_t padded = size + padA + padB;
  if (padded < span)
    return c.fail("window extent " + std::to_string(span) + " (" + spanText +
                  ") exceeds the padded " + sizeName + " " + std::to_string(padded) +
                  " (" + sizeName + "=" + std::to_string(size) + " + padding " +
                  std::to_string(padA) + "+" + std::to_string(padB) + ")");
  const int64_t want = (padded - span) / stride + 1;
  if (c.p(outIdx) != want)
    return c.fail("param " + std::to_string(outIdx) + " (" + outName + ") is " +
                  std::to_string(c.p(outIdx)) + ", but " + sizeName + "=" +
                  std::to_string(size) + ", padding " + std::to_string(padA) + "+" +
                  std::to_string(padB) + ", window extent " + std::to_string(span) +
                  " (" + spanText + "), stride " + std::to_string(stride) + " give " +
                  std::to_string(want));
  return Status::ok();
}

Status checkConv(const Checker &c, const uint64_t *argBytes) {
  static const char *names[] = {
      "N",        "C",          "H",         "W",        "O",        "KH",
      "KW",       "OH",         "OW",        "stride_h", "stride_w", "pad_top",
      "pad_left", "pad_bottom", "pad_right", "dil_h",    "dil_w",    "groups"};
  for (size_t i = 0; i < 18; ++i)
    KILN_RT_RETURN_IF_ERROR(c.atLeast(i, names[i], i >= 11 && i <= 14 ? 0 : 1));
  const int64_t N = c.p(0), C = c.p(1), H = c.p(2), W = c.p(3), O = c.p(4), KH = c.p(5),
                KW = c.p(6), OH = c.p(7), OW = c.p(8), G = c.p(17);
  if (C % G != 0)
    return c.fail("param 17 (groups) is " + std::to_string(G) +
                  ", which does not divide C=" + std::to_string(C));
  if (O % G != 0)
    return c.fail("param 17 (groups) is " + std::to_string(G) +
                  ", which does not divide O=" + std::to_string(O));
  if (KH > kMaxElements / c.p(15) || KW > kMaxElements / c.p(16) || H > kMaxElements ||
      W > kMaxElements || c.p(11) > kMaxElements || c.p(12) > kMaxElements ||
      c.p(13) > kMaxElements || c.p(14) > kMaxElements)
    return c.fail("sizes, paddings or dilations above 2^50");
  KILN_RT_RETURN_IF_ERROR(outputSize(
      c, 7, "OH", "H", H, c.p(11), c.p(13), c.p(15) * (KH - 1) + 1,
      "KH=" + std::to_string(KH) + ", dil_h=" + std::to_string(c.p(15)), c.p(9)));
  KILN_RT_RETURN_IF_ERROR(outputSize(
      c, 8, "OW", "W", W, c.p(12), c.p(14), c.p(16) * (KW - 1) + 1,
      "KW=" + std::to_string(KW) + ", dil_w=" + std::to_string(c.p(16)), c.p(10)));
  const int64_t xE = Checker::product({N, C, H, W}),
                wE = Checker::product({O, C / G, KH, KW}),
                yE = Checker::product({N, O, OH, OW});
  const std::string xS = shape({N, C, H, W}), wS = shape({O, C / G, KH, KW}),
                    yS = shape({N, O, OH, OW});
  switch (c.step.op) {
  case LibraryOp::conv2d:
    KILN_RT_RETURN_IF_ERROR(c.arg(argBytes, 0, "x", xE, xS));
    KILN_RT_RETURN_IF_ERROR(c.arg(argBytes, 1, "w", wE, wS));
    return c.arg(argBytes, 2, "y", yE, yS);
  case LibraryOp::conv2d_grad_input:
    KILN_RT_RETURN_IF_ERROR(c.arg(argBytes, 0, "dy", yE, yS));
    KILN_RT_RETURN_IF_ERROR(c.arg(argBytes, 1, "w", wE, wS));
    return c.arg(argBytes, 2, "dx", xE, xS);
  default:
    KILN_RT_RETURN_IF_ERROR(c.arg(argBytes, 0, "x", xE, xS));
    KILN_RT_RETURN_IF_ERROR(c.arg(argBytes, 1, "dy", yE, yS));
    return c.arg(argBytes, 2, "dw", wE, wS);
  }
}

Status checkPool(const Checker &c, const uint64_t *argBytes) {
  static const char *names[] = {
      "N",     "C",        "H",        "W",       "OH",       "OW",         "win_h",
      "win_w", "stride_h", "stride_w", "pad_top", "pad_left", "pad_bottom", "pad_right"};
  for (size_t i = 0; i < 14; ++i)
    KILN_RT_RETURN_IF_ERROR(c.atLeast(i, names[i], i >= 10 ? 0 : 1));
  KILN_RT_RETURN_IF_ERROR(c.flag(14, "is_max"));
  KILN_RT_RETURN_IF_ERROR(c.flag(15, "count_include_pad"));
  const int64_t N = c.p(0), C = c.p(1), H = c.p(2), W = c.p(3), OH = c.p(4), OW = c.p(5);
  for (size_t i = 2; i < 14; ++i)
    if (c.p(i) > kMaxElements)
      return c.fail("param " + std::to_string(i) + " (" + names[i] + ") is " +
                    std::to_string(c.p(i)) + ", above 2^50");
  KILN_RT_RETURN_IF_ERROR(outputSize(c, 4, "OH", "H", H, c.p(10), c.p(12), c.p(6),
                                     "win_h=" + std::to_string(c.p(6)), c.p(8)));
  KILN_RT_RETURN_IF_ERROR(outputSize(c, 5, "OW", "W", W, c.p(11), c.p(13), c.p(7),
                                     "win_w=" + std::to_string(c.p(7)), c.p(9)));
  const int64_t xE = Checker::product({N, C, H, W}),
                yE = Checker::product({N, C, OH, OW});
  const std::string xS = shape({N, C, H, W}), yS = shape({N, C, OH, OW});
  KILN_RT_RETURN_IF_ERROR(c.arg(argBytes, 0, "x", xE, xS));
  if (c.step.op == LibraryOp::pool2d)
    return c.arg(argBytes, 1, "y", yE, yS);
  KILN_RT_RETURN_IF_ERROR(c.arg(argBytes, 1, "dy", yE, yS));
  return c.arg(argBytes, 2, "dx", xE, xS);
}

} // namespace

Status checkLibraryStep(const LibraryStep &step, const uint64_t *argBytes,
                        size_t numArgs) {
  const int opIndex = static_cast<int>(step.op);
  if (opIndex > static_cast<int>(LibraryOp::pool2d_grad))
    return Status(Code::invalid_argument,
                  "library step: unknown op " + std::to_string(opIndex));
  if (static_cast<int>(step.epilogue) > static_cast<int>(Epilogue::dgelu_bgrad))
    return Status(Code::invalid_argument,
                  std::string(libraryOpName(step.op)) + ": unknown epilogue " +
                      std::to_string(static_cast<int>(step.epilogue)));
  Checker c{step, std::string(libraryOpName(step.op))};
  if (step.op == LibraryOp::matmul)
    c.where += std::string(" (epilogue ") + epilogueName(step.epilogue) + ")";
  else if (step.epilogue != Epilogue::none)
    return c.fail(std::string("epilogue ") + epilogueName(step.epilogue) +
                  " given, but only matmul takes an epilogue");
  if (step.dtype != DType::f32 && step.dtype != DType::f64)
    return c.fail(std::string("dtype ") + dtypeName(step.dtype) + ", must be f32 or f64");
  size_t wantParams = 0, wantArgs = 0;
  switch (step.op) {
  case LibraryOp::matmul:
    wantParams = 6;
    wantArgs = matmulArgCount(step.epilogue);
    break;
  case LibraryOp::conv2d:
  case LibraryOp::conv2d_grad_input:
  case LibraryOp::conv2d_grad_filter:
    wantParams = 18;
    wantArgs = 3;
    break;
  case LibraryOp::pool2d:
    wantParams = 16;
    wantArgs = 2;
    break;
  case LibraryOp::pool2d_grad:
    wantParams = 16;
    wantArgs = 3;
    break;
  }
  if (step.params.size() != wantParams)
    return c.fail(std::to_string(step.params.size()) + " params, expected " +
                  std::to_string(wantParams));
  if (step.args.size() != wantArgs)
    return c.fail(std::to_string(step.args.size()) + " args in the step, expected " +
                  std::to_string(wantArgs));
  if (numArgs > 0 && argBytes == nullptr)
    return c.fail(std::to_string(numArgs) + " arg sizes announced, but no size array");
  if (numArgs != wantArgs)
    return c.fail(std::to_string(numArgs) + " arg sizes given, expected " +
                  std::to_string(wantArgs));
  switch (step.op) {
  case LibraryOp::matmul:
    return checkMatmul(c, argBytes);
  case LibraryOp::conv2d:
  case LibraryOp::conv2d_grad_input:
  case LibraryOp::conv2d_grad_filter:
    return checkConv(c, argBytes);
  default:
    return checkPool(c, argBytes);
  }
}

} // namespace kiln::rt::host
