//===- Ops.cpp - Verifiers, result-type rules and folders of kiln ops -----===//
//
// Every diagnostic says what was expected and what was found. Result-type
// rules (inferReturnTypes) double as shape verifiers: an op whose result
// type differs from the rule is rejected by InferTypeOpInterface.
//
//===----------------------------------------------------------------------===//
#include "ir/Dialect.h"
#include "ir/ReferenceElementwise.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/TypeUtilities.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/CheckedArithmetic.h"

#include <cmath>

using namespace mlir;
using namespace kiln;

namespace {

/// Prints an integer list as `[a, b, c]`.
std::string list(ArrayRef<int64_t> values) {
  std::string s = "[";
  llvm::raw_string_ostream os(s);
  llvm::interleaveComma(values, os);
  os << "]";
  return s;
}

RankedTensorType tensorOf(Value v) { return cast<RankedTensorType>(v.getType()); }

/// Shapes are int64; sizes computed from attributes must not overflow (the
/// result would be UB, then a bogus type). Fails with a message naming what.
LogicalResult checkedSum(std::optional<Location> loc, StringRef what,
                         std::initializer_list<int64_t> terms, int64_t &out) {
  std::optional<int64_t> sum = 0;
  for (int64_t t : terms)
    if (sum)
      sum = llvm::checkedAdd(*sum, t);
  if (!sum)
    return emitOptionalError(loc, what, " overflows a 64-bit size");
  out = *sum;
  return success();
}

/// Checks that `dims` is strictly increasing and within [0, rank).
LogicalResult checkDimList(std::optional<Location> loc, StringRef what,
                           ArrayRef<int64_t> dims, int64_t rank) {
  for (auto [i, d] : llvm::enumerate(dims)) {
    if (d < 0 || d >= rank)
      return emitOptionalError(loc, what, " entry ", d, " at position ", i,
                               " is out of range: expected a dimension in [0, ",
                               rank, ")");
    if (i > 0 && dims[i - 1] >= d)
      return emitOptionalError(loc, what, " must be strictly increasing, found ",
                               list(dims));
  }
  return success();
}

LogicalResult checkDim(std::optional<Location> loc, StringRef what, int64_t d,
                       int64_t rank) {
  if (d < 0 || d >= rank)
    return emitOptionalError(loc, what, " ", d,
                             " is out of range: expected a dimension in [0, ",
                             rank, ")");
  return success();
}

LogicalResult checkLength(std::optional<Location> loc, StringRef what,
                          ArrayRef<int64_t> values, size_t expected) {
  if (values.size() != expected)
    return emitOptionalError(loc, what, " must have ", expected,
                             " entries, found ", values.size(), " (",
                             list(values), ")");
  return success();
}

LogicalResult checkAllPositive(std::optional<Location> loc, StringRef what,
                               ArrayRef<int64_t> values, bool allowZero = false) {
  for (int64_t v : values)
    if (v < (allowZero ? 0 : 1))
      return emitOptionalError(loc, what, " must be ",
                               allowZero ? "non-negative" : "positive",
                               ", found ", list(values));
  return success();
}

/// Default-valued attributes are absent (null) while an op is parsed.
LogicalResult checkEpsilon(std::optional<Location> loc, FloatAttr epsilon) {
  if (epsilon && !(epsilon.getValueAsDouble() >= 0))
    return emitOptionalError(loc, "expected epsilon >= 0, found ",
                             epsilon.getValueAsDouble());
  return success();
}

} // namespace

std::optional<int64_t> kiln::checkedNumElements(ArrayRef<int64_t> shape) {
  // A zero dimension empties the tensor however large the others are.
  if (llvm::is_contained(shape, 0))
    return 0;
  std::optional<int64_t> n = 1;
  for (int64_t d : shape)
    if (n)
      n = d < 0 ? std::nullopt : llvm::checkedMul(*n, d);
  return n;
}

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

LogicalResult CompareOp::inferReturnTypes(MLIRContext *ctx,
                                          std::optional<Location> loc,
                                          Adaptor adaptor,
                                          SmallVectorImpl<Type> &inferred) {
  auto lhs = cast<RankedTensorType>(adaptor.getLhs().getType());
  inferred.push_back(RankedTensorType::get(lhs.getShape(), IntegerType::get(ctx, 1)));
  return success();
}

LogicalResult SelectOp::inferReturnTypes(MLIRContext *,
                                         std::optional<Location> loc,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &inferred) {
  inferred.push_back(adaptor.getOnTrue().getType());
  return success();
}

OpFoldResult CastOp::fold(FoldAdaptor) {
  if (getX().getType() == getType())
    return getX();
  return {};
}

//===----------------------------------------------------------------------===//
// Broadcast and reductions
//===----------------------------------------------------------------------===//

LogicalResult BroadcastOp::verify() {
  RankedTensorType in = tensorOf(getX()), out = getType();
  if (in.getElementType() != out.getElementType())
    return emitOpError("expected the result element type to be ")
           << in.getElementType() << ", found " << out.getElementType();
  ArrayRef<int64_t> dims = getDims();
  if (static_cast<int64_t>(dims.size()) != in.getRank())
    return emitOpError("expected one entry in dims per operand dimension (")
           << in.getRank() << "), found " << dims.size();
  if (failed(checkDimList(getLoc(), "dims", dims, out.getRank())))
    return failure();
  for (auto [i, d] : llvm::enumerate(dims)) {
    int64_t from = in.getDimSize(i), to = out.getDimSize(d);
    if (from != 1 && from != to)
      return emitOpError("cannot broadcast operand dimension ")
             << i << " of size " << from << " to result dimension " << d
             << " of size " << to << ": expected size 1 or " << to;
  }
  return success();
}

OpFoldResult BroadcastOp::fold(FoldAdaptor adaptor) {
  if (getX().getType() == getType())
    return getX();
  if (auto splat = dyn_cast_if_present<SplatElementsAttr>(adaptor.getX()))
    return SplatElementsAttr::get(getType(), splat.getSplatValue<Attribute>());
  return {};
}

LogicalResult ReduceOp::inferReturnTypes(MLIRContext *,
                                         std::optional<Location> loc,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &inferred) {
  auto in = cast<RankedTensorType>(adaptor.getX().getType());
  ArrayRef<int64_t> dims = adaptor.getDims();
  if (failed(checkDimList(loc, "reduction dims", dims, in.getRank())))
    return failure();
  if (adaptor.getKind() == ReduceKind::mean &&
      !isa<FloatType>(in.getElementType()))
    return emitOptionalError(loc, "mean reduction expects a float tensor, found ",
                             in);
  SmallVector<int64_t> shape;
  for (int64_t i = 0; i < in.getRank(); ++i) {
    if (llvm::is_contained(dims, i)) {
      if (adaptor.getKeepDims())
        shape.push_back(1);
      continue;
    }
    shape.push_back(in.getDimSize(i));
  }
  inferred.push_back(RankedTensorType::get(shape, in.getElementType()));
  return success();
}

LogicalResult ArgmaxOp::inferReturnTypes(MLIRContext *ctx,
                                         std::optional<Location> loc,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &inferred) {
  auto in = cast<RankedTensorType>(adaptor.getX().getType());
  int64_t dim = adaptor.getDim();
  if (failed(checkDim(loc, "argmax dim", dim, in.getRank())))
    return failure();
  if (in.getDimSize(dim) == 0)
    return emitOptionalError(loc, "argmax over dimension ", dim,
                             " of size 0 has no maximum (", in, ")");
  SmallVector<int64_t> shape(in.getShape());
  shape.erase(shape.begin() + dim);
  inferred.push_back(RankedTensorType::get(shape, IntegerType::get(ctx, 64)));
  return success();
}

//===----------------------------------------------------------------------===//
// Library ops
//===----------------------------------------------------------------------===//

LogicalResult MatmulOp::inferReturnTypes(MLIRContext *,
                                         std::optional<Location> loc,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &inferred) {
  auto a = cast<RankedTensorType>(adaptor.getLhs().getType());
  auto b = cast<RankedTensorType>(adaptor.getRhs().getType());
  if (a.getElementType() != b.getElementType())
    return emitOptionalError(loc, "expected operands of one element type, found ",
                             a, " and ", b);
  if (a.getRank() < 2 || a.getRank() != b.getRank())
    return emitOptionalError(loc, "expected operands of equal rank >= 2, found ",
                             a, " and ", b);
  int64_t r = a.getRank();
  if (a.getShape().drop_back(2) != b.getShape().drop_back(2))
    return emitOptionalError(loc, "expected identical batch dimensions, found ",
                             list(a.getShape().drop_back(2)), " and ",
                             list(b.getShape().drop_back(2)));
  bool ta = adaptor.getTransposeA(), tb = adaptor.getTransposeB();
  int64_t m = a.getDimSize(ta ? r - 1 : r - 2);
  int64_t ka = a.getDimSize(ta ? r - 2 : r - 1);
  int64_t kb = b.getDimSize(tb ? r - 1 : r - 2);
  int64_t n = b.getDimSize(tb ? r - 2 : r - 1);
  if (ka != kb)
    return emitOptionalError(loc, "cannot multiply ", a, " by ", b,
                             ": inner dimensions ", ka, " and ", kb, " differ");
  SmallVector<int64_t> shape(a.getShape().drop_back(2));
  shape.push_back(m);
  shape.push_back(n);
  inferred.push_back(RankedTensorType::get(shape, a.getElementType()));
  return success();
}

/// Output size of a sliding window; fails when the window does not fit.
static FailureOr<int64_t> windowOutput(std::optional<Location> loc,
                                       StringRef dimName, int64_t in,
                                       int64_t padLow, int64_t padHigh,
                                       int64_t window, int64_t stride,
                                       int64_t dilation) {
  std::optional<int64_t> span = llvm::checkedMul(dilation, window - 1);
  int64_t effective, padded;
  if (!span || failed(checkedSum(loc, "the dilated window", {*span, 1}, effective)) ||
      failed(checkedSum(loc, ("the padded " + dimName).str(), {in, padLow, padHigh},
                        padded))) {
    if (!span)
      (void)emitOptionalError(loc, "the dilated window overflows a 64-bit size");
    return failure();
  }
  if (padded < effective) {
    (void)emitOptionalError(loc, "window of effective size ", effective,
                            " does not fit the padded ", dimName, " size ",
                            padded);
    return failure();
  }
  return (padded - effective) / stride + 1;
}

LogicalResult Conv2dOp::inferReturnTypes(MLIRContext *,
                                         std::optional<Location> loc,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &inferred) {
  auto x = cast<RankedTensorType>(adaptor.getInput().getType());
  auto w = cast<RankedTensorType>(adaptor.getFilter().getType());
  if (x.getRank() != 4 || w.getRank() != 4)
    return emitOptionalError(loc, "expected a rank-4 NCHW input and OIHW filter, found ",
                             x, " and ", w);
  if (x.getElementType() != w.getElementType())
    return emitOptionalError(loc, "expected input and filter of one element type, found ",
                             x, " and ", w);
  ArrayRef<int64_t> s = adaptor.getStrides(), p = adaptor.getPadding(),
                    d = adaptor.getDilations();
  if (failed(checkLength(loc, "strides", s, 2)) ||
      failed(checkLength(loc, "padding", p, 4)) ||
      failed(checkLength(loc, "dilations", d, 2)) ||
      failed(checkAllPositive(loc, "strides", s)) ||
      failed(checkAllPositive(loc, "padding", p, /*allowZero=*/true)) ||
      failed(checkAllPositive(loc, "dilations", d)))
    return failure();
  int64_t groups = adaptor.getGroups();
  int64_t c = x.getDimSize(1), o = w.getDimSize(0);
  if (groups < 1 || c % groups != 0 || o % groups != 0)
    return emitOptionalError(loc, "groups ", groups,
                             " must divide the input channels (", c,
                             ") and the output channels (", o, ")");
  if (w.getDimSize(2) < 1 || w.getDimSize(3) < 1)
    return emitOptionalError(loc, "expected a filter window of at least 1x1, found ",
                             w.getDimSize(2), "x", w.getDimSize(3), " in ", w);
  if (w.getDimSize(1) != c / groups)
    return emitOptionalError(loc, "expected filter input channels C/groups = ",
                             c / groups, ", found ", w.getDimSize(1), " in ", w);
  FailureOr<int64_t> oh = windowOutput(loc, "height", x.getDimSize(2), p[0], p[2],
                                       w.getDimSize(2), s[0], d[0]);
  if (failed(oh))
    return failure();
  FailureOr<int64_t> ow = windowOutput(loc, "width", x.getDimSize(3), p[1], p[3],
                                       w.getDimSize(3), s[1], d[1]);
  if (failed(ow))
    return failure();
  inferred.push_back(RankedTensorType::get({x.getDimSize(0), o, *oh, *ow},
                                           x.getElementType()));
  return success();
}

LogicalResult Pool2dOp::inferReturnTypes(MLIRContext *,
                                         std::optional<Location> loc,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &inferred) {
  auto x = cast<RankedTensorType>(adaptor.getInput().getType());
  if (x.getRank() != 4)
    return emitOptionalError(loc, "expected a rank-4 NCHW input, found ", x);
  ArrayRef<int64_t> k = adaptor.getWindow(), s = adaptor.getStrides(),
                    p = adaptor.getPadding();
  if (failed(checkLength(loc, "window", k, 2)) ||
      failed(checkLength(loc, "strides", s, 2)) ||
      failed(checkLength(loc, "padding", p, 4)) ||
      failed(checkAllPositive(loc, "window", k)) ||
      failed(checkAllPositive(loc, "strides", s)) ||
      failed(checkAllPositive(loc, "padding", p, /*allowZero=*/true)))
    return failure();
  if (p[0] >= k[0] || p[2] >= k[0] || p[1] >= k[1] || p[3] >= k[1])
    return emitOptionalError(loc, "padding ", list(p),
                             " must be smaller than the window ", list(k));
  FailureOr<int64_t> oh =
      windowOutput(loc, "height", x.getDimSize(2), p[0], p[2], k[0], s[0], 1);
  if (failed(oh))
    return failure();
  FailureOr<int64_t> ow =
      windowOutput(loc, "width", x.getDimSize(3), p[1], p[3], k[1], s[1], 1);
  if (failed(ow))
    return failure();
  inferred.push_back(RankedTensorType::get(
      {x.getDimSize(0), x.getDimSize(1), *oh, *ow}, x.getElementType()));
  return success();
}

//===----------------------------------------------------------------------===//
// Data movement
//===----------------------------------------------------------------------===//

LogicalResult ReshapeOp::verify() {
  RankedTensorType in = tensorOf(getX()), out = getType();
  if (in.getElementType() != out.getElementType())
    return emitOpError("expected the result element type to be ")
           << in.getElementType() << ", found " << out.getElementType();
  std::optional<int64_t> from = checkedNumElements(in.getShape()),
                         to = checkedNumElements(out.getShape());
  if (!from || !to)
    return emitOpError("cannot reshape ")
           << in << " to " << out << ": the element count overflows 64 bits";
  if (*from != *to)
    return emitOpError("cannot reshape ")
           << in << " (" << *from << " elements) to " << out << " (" << *to
           << " elements)";
  return success();
}

OpFoldResult ReshapeOp::fold(FoldAdaptor adaptor) {
  if (getX().getType() == getType())
    return getX();
  if (auto dense = dyn_cast_if_present<DenseElementsAttr>(adaptor.getX()))
    return dense.reshape(getType());
  return {};
}

LogicalResult TransposeOp::inferReturnTypes(MLIRContext *,
                                            std::optional<Location> loc,
                                            Adaptor adaptor,
                                            SmallVectorImpl<Type> &inferred) {
  auto in = cast<RankedTensorType>(adaptor.getX().getType());
  ArrayRef<int64_t> perm = adaptor.getPerm();
  if (static_cast<int64_t>(perm.size()) != in.getRank())
    return emitOptionalError(loc, "expected a permutation of ", in.getRank(),
                             " dimensions, found ", list(perm));
  SmallVector<bool> seen(in.getRank(), false);
  SmallVector<int64_t> shape;
  for (int64_t p : perm) {
    if (p < 0 || p >= in.getRank() || seen[p])
      return emitOptionalError(loc, "expected a permutation of [0, ",
                               in.getRank(), "), found ", list(perm));
    seen[p] = true;
    shape.push_back(in.getDimSize(p));
  }
  inferred.push_back(RankedTensorType::get(shape, in.getElementType()));
  return success();
}

LogicalResult SliceOp::inferReturnTypes(MLIRContext *,
                                        std::optional<Location> loc,
                                        Adaptor adaptor,
                                        SmallVectorImpl<Type> &inferred) {
  auto in = cast<RankedTensorType>(adaptor.getX().getType());
  ArrayRef<int64_t> start = adaptor.getStart(), limit = adaptor.getLimit(),
                    step = adaptor.getStep();
  size_t rank = in.getRank();
  if (failed(checkLength(loc, "start", start, rank)) ||
      failed(checkLength(loc, "limit", limit, rank)) ||
      failed(checkLength(loc, "step", step, rank)) ||
      failed(checkAllPositive(loc, "step", step)))
    return failure();
  SmallVector<int64_t> shape;
  for (size_t i = 0; i < rank; ++i) {
    if (start[i] < 0 || start[i] > limit[i] || limit[i] > in.getDimSize(i))
      return emitOptionalError(loc, "slice of dimension ", i, " (size ",
                               in.getDimSize(i), ") expects 0 <= start <= limit <= ",
                               in.getDimSize(i), ", found start ", start[i],
                               " and limit ", limit[i]);
    int64_t extent = limit[i] - start[i]; // no overflow: 0 <= start <= limit
    shape.push_back(extent / step[i] + (extent % step[i] != 0));
  }
  inferred.push_back(RankedTensorType::get(shape, in.getElementType()));
  return success();
}

LogicalResult ConcatOp::inferReturnTypes(MLIRContext *,
                                         std::optional<Location> loc,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &inferred) {
  ValueRange inputs = adaptor.getInputs();
  if (inputs.empty())
    return emitOptionalError(loc, "expected at least one input");
  auto first = cast<RankedTensorType>(inputs.front().getType());
  int64_t dim = adaptor.getDim();
  if (failed(checkDim(loc, "concat dim", dim, first.getRank())))
    return failure();
  SmallVector<int64_t> shape(first.getShape());
  shape[dim] = 0;
  for (auto [i, v] : llvm::enumerate(inputs)) {
    auto t = cast<RankedTensorType>(v.getType());
    bool compatible = t.getElementType() == first.getElementType() &&
                      t.getRank() == first.getRank();
    for (int64_t d = 0; compatible && d < t.getRank(); ++d)
      compatible = d == dim || t.getDimSize(d) == first.getDimSize(d);
    if (!compatible)
      return emitOptionalError(loc, "input ", i, " of type ", t,
                               " does not match input 0 of type ", first,
                               " outside dimension ", dim);
    if (failed(checkedSum(loc, "the concatenated dimension",
                          {shape[dim], t.getDimSize(dim)}, shape[dim])))
      return failure();
  }
  inferred.push_back(RankedTensorType::get(shape, first.getElementType()));
  return success();
}

LogicalResult PadOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                      Adaptor adaptor,
                                      SmallVectorImpl<Type> &inferred) {
  auto in = cast<RankedTensorType>(adaptor.getX().getType());
  ArrayRef<int64_t> low = adaptor.getLow(), high = adaptor.getHigh();
  if (failed(checkLength(loc, "low", low, in.getRank())) ||
      failed(checkLength(loc, "high", high, in.getRank())) ||
      failed(checkAllPositive(loc, "low", low, /*allowZero=*/true)) ||
      failed(checkAllPositive(loc, "high", high, /*allowZero=*/true)))
    return failure();
  SmallVector<int64_t> shape;
  for (int64_t i = 0; i < in.getRank(); ++i) {
    int64_t size;
    if (failed(checkedSum(loc, "the padded size of dimension " + std::to_string(i),
                          {in.getDimSize(i), low[i], high[i]}, size)))
      return failure();
    shape.push_back(size);
  }
  inferred.push_back(RankedTensorType::get(shape, in.getElementType()));
  return success();
}

/// table.shape[:axis] ++ indices.shape ++ table.shape[axis+1:].
static SmallVector<int64_t> gatherShape(ArrayRef<int64_t> table,
                                        ArrayRef<int64_t> indices, int64_t axis) {
  SmallVector<int64_t> shape(table.take_front(axis));
  llvm::append_range(shape, indices);
  llvm::append_range(shape, table.drop_front(axis + 1));
  return shape;
}

LogicalResult GatherOp::inferReturnTypes(MLIRContext *,
                                         std::optional<Location> loc,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &inferred) {
  auto table = cast<RankedTensorType>(adaptor.getTable().getType());
  auto indices = cast<RankedTensorType>(adaptor.getIndices().getType());
  int64_t axis = adaptor.getAxis();
  if (failed(checkDim(loc, "gather axis", axis, table.getRank())))
    return failure();
  inferred.push_back(RankedTensorType::get(
      gatherShape(table.getShape(), indices.getShape(), axis),
      table.getElementType()));
  return success();
}

std::optional<int64_t> GatherOp::getIndexBound(unsigned index) {
  if (index != 1)
    return std::nullopt;
  return cast<RankedTensorType>(getTable().getType()).getDimSize(getAxis());
}

std::optional<int64_t> ScatterAddOp::getIndexBound(unsigned index) {
  if (index != 1)
    return std::nullopt;
  return getType().getDimSize(getAxis());
}

LogicalResult ScatterAddOp::verify() {
  RankedTensorType out = getType(), upd = tensorOf(getUpdates());
  int64_t axis = getAxis();
  if (failed(checkDim(getLoc(), "scatter axis", axis, out.getRank())))
    return failure();
  if (upd.getElementType() != out.getElementType())
    return emitOpError("expected updates of element type ")
           << out.getElementType() << ", found " << upd.getElementType();
  SmallVector<int64_t> expected =
      gatherShape(out.getShape(), tensorOf(getIndices()).getShape(), axis);
  if (upd.getShape() != ArrayRef<int64_t>(expected))
    return emitOpError("expected updates of shape ")
           << list(expected) << ", found " << list(upd.getShape());
  return success();
}

LogicalResult IotaOp::verify() {
  return checkDim(getLoc(), "iota dim", getDim(), getType().getRank());
}

LogicalResult ConstantOp::verify() {
  // The interpreter and the artifact writer read dense data (inline or as a
  // resource blob); sparse and opaque elements are not supported.
  if (!isa<DenseElementsAttr, DenseResourceElementsAttr>(getValue()))
    return emitOpError("expected dense<...> or dense_resource<...> elements, found ")
           << getValue();
  return success();
}

OpFoldResult ConstantOp::fold(FoldAdaptor) { return getValue(); }

LogicalResult RngOp::verify() {
  Type elem = getType().getElementType();
  double a = getA().convertToDouble(), b = getB().convertToDouble();
  if (!std::isfinite(a) || !std::isfinite(b) || !std::isfinite(b - a))
    return emitOpError("expected finite a, b and b - a, found a = ")
           << a << ", b = " << b;
  switch (getDistribution()) {
  case Distribution::uniform:
    if (!isa<FloatType>(elem))
      return emitOpError("uniform expects a float result, found ") << getType();
    if (!(a < b))
      return emitOpError("uniform expects a < b, found a = ") << a << ", b = " << b;
    break;
  case Distribution::normal:
    if (!isa<FloatType>(elem))
      return emitOpError("normal expects a float result, found ") << getType();
    if (!(b >= 0))
      return emitOpError("normal expects a standard deviation b >= 0, found ") << b;
    break;
  case Distribution::bernoulli:
    if (!(a >= 0 && a <= 1))
      return emitOpError("bernoulli expects a probability a in [0, 1], found ") << a;
    break;
  }
  return success();
}

//===----------------------------------------------------------------------===//
// Composites
//===----------------------------------------------------------------------===//

LogicalResult SoftmaxOp::verify() {
  return checkDim(getLoc(), "softmax dim", getDim(), getType().getRank());
}

LogicalResult LogSoftmaxOp::verify() {
  return checkDim(getLoc(), "log_softmax dim", getDim(), getType().getRank());
}

LogicalResult CrossEntropyOp::inferReturnTypes(MLIRContext *,
                                               std::optional<Location> loc,
                                               Adaptor adaptor,
                                               SmallVectorImpl<Type> &inferred) {
  auto logits = cast<RankedTensorType>(adaptor.getLogits().getType());
  auto labels = cast<RankedTensorType>(adaptor.getLabels().getType());
  if (logits.getRank() != 2)
    return emitOptionalError(loc, "expected logits of rank 2 [N, C], found ", logits);
  if (labels.getRank() != 1 || labels.getDimSize(0) != logits.getDimSize(0))
    return emitOptionalError(loc, "expected labels of shape [", logits.getDimSize(0),
                             "] for logits ", logits, ", found ", labels);
  // Default-valued attributes are not populated yet while parsing.
  LossReductionAttr reduction = adaptor.getReductionAttr();
  if (reduction && reduction.getValue() == LossReduction::none)
    inferred.push_back(
        RankedTensorType::get({logits.getDimSize(0)}, logits.getElementType()));
  else
    inferred.push_back(RankedTensorType::get({}, logits.getElementType()));
  return success();
}

std::optional<int64_t> CrossEntropyOp::getIndexBound(unsigned index) {
  if (index != 1)
    return std::nullopt;
  return cast<RankedTensorType>(getLogits().getType()).getDimSize(1);
}

LogicalResult LayerNormOp::inferReturnTypes(MLIRContext *,
                                            std::optional<Location> loc,
                                            Adaptor adaptor,
                                            SmallVectorImpl<Type> &inferred) {
  auto x = cast<RankedTensorType>(adaptor.getX().getType());
  int64_t axis = adaptor.getAxis();
  if (failed(checkDim(loc, "layer_norm axis", axis, x.getRank())))
    return failure();
  auto expected = RankedTensorType::get(x.getShape().drop_front(axis),
                                        x.getElementType());
  for (Value v : {adaptor.getGamma(), adaptor.getBeta()})
    if (v.getType() != expected)
      return emitOptionalError(loc, "expected gamma and beta of type ", expected,
                               " (x.shape[axis:]), found ", v.getType());
  if (failed(checkEpsilon(loc, adaptor.getEpsilonAttr())))
    return failure();
  inferred.push_back(x);
  return success();
}

LogicalResult BatchNormOp::inferReturnTypes(MLIRContext *,
                                            std::optional<Location> loc,
                                            Adaptor adaptor,
                                            SmallVectorImpl<Type> &inferred) {
  auto x = cast<RankedTensorType>(adaptor.getX().getType());
  if (x.getRank() < 2)
    return emitOptionalError(loc, "expected an input [N, C, ...] of rank >= 2, found ",
                             x);
  auto channel = RankedTensorType::get({x.getDimSize(1)}, x.getElementType());
  for (Value v : {adaptor.getGamma(), adaptor.getBeta(), adaptor.getRunningMean(),
                  adaptor.getRunningVar()})
    if (v.getType() != channel)
      return emitOptionalError(loc, "expected per-channel operands of type ",
                               channel, ", found ", v.getType());
  if (FloatAttr m = adaptor.getMomentumAttr()) {
    double momentum = m.getValueAsDouble();
    if (!(momentum >= 0 && momentum <= 1))
      return emitOptionalError(loc, "expected momentum in [0, 1], found ", momentum);
  }
  if (failed(checkEpsilon(loc, adaptor.getEpsilonAttr())))
    return failure();
  inferred.append({x, channel, channel});
  return success();
}

LogicalResult DropoutOp::verify() {
  double p = getRatio().convertToDouble();
  if (!(p >= 0 && p < 1))
    return emitOpError("expected a dropout ratio in [0, 1), found ") << p;
  return success();
}

#define GET_OP_CLASSES
#include "ir/KilnOps.cpp.inc"
