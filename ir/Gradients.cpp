//===- Gradients.cpp - Reverse-mode rules of the kiln ops ------------------===//
//
// GradientOpInterface::buildGradients of every differentiable op, in the
// order of ir/KilnOps.td: one short rule per op, written against the `Rule`
// helper so that each reads like its math (`dy` is the result adjoint, `x`
// the operand). The contract is the interface description in
// ir/KilnInterfaces.td and docs/training.md:
//
// - one adjoint (or a null Value) per operand, of exactly the operand's type;
//   operands that are not floats (labels, indices, seeds, conditions) get null;
// - a null result adjoint means "no adjoint" and reads as zeros here;
// - rules of primitive ops build primitive ops; composites and library ops
//   use the backward ops of KilnOps.td ("Backward ops").
//
// Choices at non-smooth points (PyTorch's, unless noted):
// - abs'(0) = sign(0) = 0; relu'(0) = 0.
// - maximum/minimum: an operand that wins gets dy; on a tie each gets dy / 2.
// - reduce max/min: dy is split evenly among the elements equal to the result.
// - reduce prod: dy * prod / x (infinite or NaN where x == 0).
// - pow: d/da is 0 where b == 0; d/db is 0 where a == 0 and b >= 0.
// - max pooling: the window's first maximum (row-major) takes the adjoint.
//
//===----------------------------------------------------------------------===//
#include "ir/Dialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Diagnostics.h"

#include <cmath>

using namespace mlir;
using namespace kiln;

namespace {

RankedTensorType typeOf(Value v) { return cast<RankedTensorType>(v.getType()); }
bool isFloat(Value v) { return isa<FloatType>(typeOf(v).getElementType()); }

/// What a rule needs: the op, a builder at the insertion point with the op's
/// location, the result adjoints, and small constructors of kiln ops.
class Rule {
public:
  Rule(Operation *op, OpBuilder &b, ArrayRef<Value> resultGrads,
       SmallVectorImpl<Value> &operandGrads)
      : op(op), b(b), loc(op->getLoc()), resultGrads(resultGrads),
        operandGrads(operandGrads) {}

  /// The adjoint of result `i`; a null adjoint reads as zeros.
  Value dy(unsigned i = 0) {
    return resultGrads[i] ? resultGrads[i] : splat(0, op->getResult(i).getType());
  }
  bool hasDy(unsigned i) const { return resultGrads[i] != nullptr; }

  /// Whether gradients flow at all: the first result is a float (integer
  /// and boolean computations have no adjoints).
  bool differentiable() const { return isFloat(op->getResult(0)); }

  /// Appends the operand adjoints (null for non-float operands, whatever was
  /// built) after checking that there is one per operand, of its type.
  LogicalResult grads(ArrayRef<Value> grads) {
    if (grads.size() != op->getNumOperands())
      return op->emitError("internal error: the gradient rule built ")
             << grads.size() << " adjoints for " << op->getNumOperands()
             << " operands";
    for (auto [i, operand, grad] : llvm::enumerate(op->getOperands(), grads))
      if (grad && grad.getType() != operand.getType())
        return op->emitError("internal error: the gradient rule built an adjoint of type ")
               << grad.getType() << " for operand #" << i << " of type "
               << operand.getType();
    for (auto [operand, grad] : llvm::zip_equal(op->getOperands(), grads))
      operandGrads.push_back(isFloat(operand) ? grad : Value());
    return success();
  }
  /// No operand gets an adjoint.
  LogicalResult none() { return grads(SmallVector<Value>(op->getNumOperands())); }

  // Elementwise arithmetic on operands of one type.
  Value add(Value x, Value y) { return AddOp::create(b, loc, x, y); }
  Value sub(Value x, Value y) { return SubOp::create(b, loc, x, y); }
  Value mul(Value x, Value y) { return MulOp::create(b, loc, x, y); }
  Value div(Value x, Value y) { return DivOp::create(b, loc, x, y); }
  Value neg(Value x) { return NegOp::create(b, loc, x); }
  Value exp(Value x) { return ExpOp::create(b, loc, x); }
  Value log(Value x) { return LogOp::create(b, loc, x); }
  Value sin(Value x) { return SinOp::create(b, loc, x); }
  Value cos(Value x) { return CosOp::create(b, loc, x); }
  Value sign(Value x) { return SignOp::create(b, loc, x); }
  Value rsqrt(Value x) { return RsqrtOp::create(b, loc, x); }
  Value pow(Value x, Value y) { return PowOp::create(b, loc, x, y); }
  Value cmp(CompareDirection d, Value x, Value y) {
    return CompareOp::create(b, loc, d, x, y);
  }
  Value select(Value c, Value t, Value f) { return SelectOp::create(b, loc, c, t, f); }
  Value logicalAnd(Value x, Value y) { return AndOp::create(b, loc, x, y); }
  Value castTo(Value x, Type to) {
    return x.getType() == to ? x : CastOp::create(b, loc, to, x).getResult();
  }

  /// A splat constant `v` of tensor type `type`.
  Value splat(double v, Type type) {
    auto t = cast<RankedTensorType>(type);
    Attribute e = isa<FloatType>(t.getElementType())
                      ? Attribute(FloatAttr::get(t.getElementType(), v))
                      : Attribute(IntegerAttr::get(t.getElementType(), int64_t(v)));
    return ConstantOp::create(b, loc, cast<ElementsAttr>(DenseElementsAttr::get(t, e)));
  }
  /// x * c, with c a constant.
  Value scale(Value x, double c) { return mul(x, splat(c, x.getType())); }
  /// c - x, with c a constant.
  Value rsub(double c, Value x) { return sub(splat(c, x.getType()), x); }
  Value zerosLike(Value x) { return splat(0, x.getType()); }

  // Shapes.
  /// Broadcasts `x` to `shape` (x's element type), operand dim i to dims[i].
  Value broadcast(Value x, ArrayRef<int64_t> dims, ArrayRef<int64_t> shape) {
    auto to = RankedTensorType::get(shape, typeOf(x).getElementType());
    return x.getType() == to ? x : BroadcastOp::create(b, loc, to, x, dims).getResult();
  }
  Value sum(Value x, ArrayRef<int64_t> dims, bool keepDims = false) {
    return ReduceOp::create(b, loc, ReduceKind::sum, x, dims, keepDims);
  }
  Value reshape(Value x, ArrayRef<int64_t> shape) {
    auto to = RankedTensorType::get(shape, typeOf(x).getElementType());
    return x.getType() == to ? x : ReshapeOp::create(b, loc, to, x).getResult();
  }
  Value transpose(Value x, ArrayRef<int64_t> perm) {
    return TransposeOp::create(b, loc, x, perm);
  }
  Value slice(Value x, ArrayRef<int64_t> start, ArrayRef<int64_t> limit) {
    return SliceOp::create(b, loc, x, start, limit,
                           SmallVector<int64_t>(start.size(), 1));
  }
  /// Zero padding.
  Value pad(Value x, ArrayRef<int64_t> low, ArrayRef<int64_t> high) {
    return PadOp::create(b, loc, x, b.getDenseI64ArrayAttr(low),
                         b.getDenseI64ArrayAttr(high), b.getF64FloatAttr(0.0));
  }
  Value matmul(Value x, Value y, bool transposeX, bool transposeY) {
    return MatmulOp::create(b, loc, x, y, transposeX, transposeY);
  }

  Operation *op;
  OpBuilder &b;
  Location loc;

private:
  ArrayRef<Value> resultGrads;
  SmallVectorImpl<Value> &operandGrads;
};

/// [0, n) without `drop`.
SmallVector<int64_t> otherDims(int64_t n, ArrayRef<int64_t> drop) {
  SmallVector<int64_t> dims;
  for (int64_t d = 0; d < n; ++d)
    if (!llvm::is_contained(drop, d))
      dims.push_back(d);
  return dims;
}

SmallVector<int64_t> iota(int64_t n) { return otherDims(n, {}); }

} // namespace

// The signature of every rule: `builder` is at the insertion point, `dys`
// holds the result adjoints and `dxs` receives the operand adjoints.
#define KILN_RULE(OpT)                                                        \
  LogicalResult OpT::buildGradients(OpBuilder &builder, ArrayRef<Value> dys,  \
                                    SmallVectorImpl<Value> &dxs)

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

KILN_RULE(NegOp) {
  Rule r(*this, builder, dys, dxs);
  if (!r.differentiable())
    return r.none();
  return r.grads({r.neg(r.dy())});
}

KILN_RULE(AbsOp) {
  Rule r(*this, builder, dys, dxs);
  if (!r.differentiable())
    return r.none();
  return r.grads({r.mul(r.dy(), r.sign(getX()))});
}

KILN_RULE(SignOp) { return Rule(*this, builder, dys, dxs).none(); }

KILN_RULE(ExpOp) {
  Rule r(*this, builder, dys, dxs);
  return r.grads({r.mul(r.dy(), getResult())});
}

KILN_RULE(LogOp) {
  Rule r(*this, builder, dys, dxs);
  return r.grads({r.div(r.dy(), getX())});
}

KILN_RULE(SqrtOp) { // dy / (2 sqrt(x))
  Rule r(*this, builder, dys, dxs);
  return r.grads({r.div(r.scale(r.dy(), 0.5), getResult())});
}

KILN_RULE(RsqrtOp) { // -dy * y^3 / 2
  Rule r(*this, builder, dys, dxs);
  Value y = getResult();
  return r.grads({r.mul(r.scale(r.dy(), -0.5), r.mul(y, r.mul(y, y)))});
}

KILN_RULE(TanhOp) { // dy * (1 - y^2)
  Rule r(*this, builder, dys, dxs);
  Value y = getResult();
  return r.grads({r.mul(r.dy(), r.rsub(1, r.mul(y, y)))});
}

KILN_RULE(SigmoidOp) { // dy * y * (1 - y)
  Rule r(*this, builder, dys, dxs);
  Value y = getResult();
  return r.grads({r.mul(r.mul(r.dy(), y), r.rsub(1, y))});
}

KILN_RULE(ReluOp) { // dy where y > 0: reads the result, as the next layer
                    // does, so the pre-activation need not stay live
  Rule r(*this, builder, dys, dxs);
  if (!r.differentiable())
    return r.none();
  Value y = getResult();
  Value positive = r.cmp(CompareDirection::gt, y, r.zerosLike(y));
  return r.grads({r.select(positive, r.dy(), r.zerosLike(y))});
}

KILN_RULE(SinOp) {
  Rule r(*this, builder, dys, dxs);
  return r.grads({r.mul(r.dy(), r.cos(getX()))});
}

KILN_RULE(CosOp) {
  Rule r(*this, builder, dys, dxs);
  return r.grads({r.neg(r.mul(r.dy(), r.sin(getX())))});
}

KILN_RULE(ErfOp) { // dy * 2 / sqrt(pi) * exp(-x^2)
  Rule r(*this, builder, dys, dxs);
  Value x = getX();
  Value dErf = r.scale(r.exp(r.neg(r.mul(x, x))), 2 / std::sqrt(M_PI));
  return r.grads({r.mul(r.dy(), dErf)});
}

KILN_RULE(FloorOp) { return Rule(*this, builder, dys, dxs).none(); }
KILN_RULE(CeilOp) { return Rule(*this, builder, dys, dxs).none(); }
KILN_RULE(NotOp) { return Rule(*this, builder, dys, dxs).none(); }

KILN_RULE(AddOp) {
  Rule r(*this, builder, dys, dxs);
  if (!r.differentiable())
    return r.none();
  return r.grads({r.dy(), r.dy()});
}

KILN_RULE(SubOp) {
  Rule r(*this, builder, dys, dxs);
  if (!r.differentiable())
    return r.none();
  return r.grads({r.dy(), r.neg(r.dy())});
}

KILN_RULE(MulOp) {
  Rule r(*this, builder, dys, dxs);
  if (!r.differentiable())
    return r.none();
  return r.grads({r.mul(r.dy(), getRhs()), r.mul(r.dy(), getLhs())});
}

KILN_RULE(DivOp) { // da = dy / b, db = -dy * a / b^2 = -da * y
  Rule r(*this, builder, dys, dxs);
  if (!r.differentiable())
    return r.none();
  Value da = r.div(r.dy(), getRhs());
  return r.grads({da, r.neg(r.mul(da, getResult()))});
}

KILN_RULE(PowOp) { // da = dy * b * a^(b-1), db = dy * y * log(a)
  Rule r(*this, builder, dys, dxs);
  if (!r.differentiable())
    return r.none();
  Value a = getLhs(), b = getRhs(), y = getResult(), zero = r.zerosLike(a);
  Value da = r.mul(r.mul(r.dy(), b), r.pow(a, r.sub(b, r.splat(1, b.getType()))));
  Value db = r.mul(r.mul(r.dy(), y), r.log(a));
  // As PyTorch: no adjoint through a^0 (even at a == 0) nor through log(0).
  Value bZero = r.cmp(CompareDirection::eq, b, zero);
  Value aZeroBNonNeg = r.logicalAnd(r.cmp(CompareDirection::eq, a, zero),
                                    r.cmp(CompareDirection::ge, b, zero));
  return r.grads({r.select(bZero, zero, da), r.select(aZeroBNonNeg, zero, db)});
}

namespace {
/// maximum/minimum: the winner (`wins`: lhs strictly beyond rhs) takes dy,
/// a tie splits it in halves.
LogicalResult extremumRule(Rule &r, CompareDirection wins, Value a, Value b) {
  if (!r.differentiable())
    return r.none();
  Value dy = r.dy(), zero = r.zerosLike(dy);
  Value da = r.select(r.cmp(wins, a, b), dy,
                      r.select(r.cmp(CompareDirection::eq, a, b), r.scale(dy, 0.5), zero));
  return r.grads({da, r.sub(dy, da)});
}
} // namespace

KILN_RULE(MaximumOp) {
  Rule r(*this, builder, dys, dxs);
  return extremumRule(r, CompareDirection::gt, getLhs(), getRhs());
}

KILN_RULE(MinimumOp) {
  Rule r(*this, builder, dys, dxs);
  return extremumRule(r, CompareDirection::lt, getLhs(), getRhs());
}

KILN_RULE(AndOp) { return Rule(*this, builder, dys, dxs).none(); }
KILN_RULE(OrOp) { return Rule(*this, builder, dys, dxs).none(); }

KILN_RULE(SelectOp) {
  Rule r(*this, builder, dys, dxs);
  if (!r.differentiable())
    return r.none();
  Value c = getCond(), dy = r.dy(), zero = r.zerosLike(dy);
  return r.grads({Value(), r.select(c, dy, zero), r.select(c, zero, dy)});
}

KILN_RULE(CastOp) { // float -> float only; other casts are piecewise constant
  Rule r(*this, builder, dys, dxs);
  if (!r.differentiable() || !isFloat(getX()))
    return r.none();
  return r.grads({r.castTo(r.dy(), getX().getType())});
}

KILN_RULE(StopGradientOp) { return Rule(*this, builder, dys, dxs).none(); }

//===----------------------------------------------------------------------===//
// Broadcast and reductions
//===----------------------------------------------------------------------===//

KILN_RULE(BroadcastOp) { // sum over new and stretched dims, then restore 1s
  Rule r(*this, builder, dys, dxs);
  if (!r.differentiable())
    return r.none();
  RankedTensorType x = typeOf(getX()), y = getType();
  ArrayRef<int64_t> dims = getDims();
  SmallVector<int64_t> summed;
  for (int64_t d = 0; d < y.getRank(); ++d) {
    auto *it = llvm::find(dims, d);
    if (it == dims.end() ||
        (x.getDimSize(it - dims.begin()) == 1 && y.getDimSize(d) != 1))
      summed.push_back(d);
  }
  Value dx = summed.empty() ? r.dy() : r.sum(r.dy(), summed);
  return r.grads({r.reshape(dx, x.getShape())});
}

KILN_RULE(ReduceOp) {
  Rule r(*this, builder, dys, dxs);
  if (!r.differentiable())
    return r.none();
  Value x = getX(), y = getResult();
  ArrayRef<int64_t> shape = typeOf(x).getShape(), dims = getDims();
  // Result (and adjoint) dim i is x dim kept[i].
  SmallVector<int64_t> kept =
      getKeepDims() ? iota(shape.size()) : otherDims(shape.size(), dims);
  auto expand = [&](Value v) { return r.broadcast(v, kept, shape); };
  Value dy = expand(r.dy());
  switch (getKind()) {
  case ReduceKind::sum:
    return r.grads({dy});
  case ReduceKind::mean: {
    int64_t count = 1;
    for (int64_t d : dims)
      count *= shape[d];
    // An empty reduction has an empty operand: nothing to divide.
    return r.grads({count ? r.div(dy, r.splat(double(count), x.getType())) : dy});
  }
  case ReduceKind::max:
  case ReduceKind::min: {
    Value mask = r.castTo(r.cmp(CompareDirection::eq, x, expand(y)), x.getType());
    Value ties = r.sum(mask, dims, getKeepDims());
    return r.grads({r.div(r.mul(dy, mask), expand(ties))});
  }
  case ReduceKind::prod:
    return r.grads({r.div(r.mul(dy, expand(y)), x)});
  }
  return emitOpError("internal error: unknown reduction kind");
}

//===----------------------------------------------------------------------===//
// Library ops
//===----------------------------------------------------------------------===//

// C = op(A) op(B), op = transpose or identity: dA = dC op(B)^T, dB = op(A)^T dC,
// each written so that the result has A's (B's) stored layout.
KILN_RULE(MatmulOp) {
  Rule r(*this, builder, dys, dxs);
  Value a = getLhs(), b = getRhs(), dc = r.dy();
  bool ta = getTransposeA(), tb = getTransposeB();
  Value da = ta ? r.matmul(b, dc, tb, true) : r.matmul(dc, b, false, !tb);
  Value db = tb ? r.matmul(dc, a, true, ta) : r.matmul(a, dc, !ta, false);
  return r.grads({da, db});
}

KILN_RULE(Conv2dOp) {
  Rule r(*this, builder, dys, dxs);
  Value dy = r.dy();
  Value dx = Conv2dGradInputOp::create(r.b, r.loc, getInput().getType(), dy,
                                       getFilter(), getStridesAttr(), getPaddingAttr(),
                                       getDilationsAttr(), getGroupsAttr());
  Value dw = Conv2dGradFilterOp::create(r.b, r.loc, getFilter().getType(), getInput(),
                                        dy, getStridesAttr(), getPaddingAttr(),
                                        getDilationsAttr(), getGroupsAttr());
  return r.grads({dx, dw});
}

KILN_RULE(Pool2dOp) {
  Rule r(*this, builder, dys, dxs);
  return r.grads({Pool2dGradOp::create(r.b, r.loc, getKindAttr(), getInput(), r.dy(),
                                       getWindowAttr(), getStridesAttr(),
                                       getPaddingAttr(), getCountIncludePadAttr())});
}

//===----------------------------------------------------------------------===//
// Data movement
//===----------------------------------------------------------------------===//

KILN_RULE(ReshapeOp) {
  Rule r(*this, builder, dys, dxs);
  if (!r.differentiable())
    return r.none();
  return r.grads({r.reshape(r.dy(), typeOf(getX()).getShape())});
}

KILN_RULE(TransposeOp) {
  Rule r(*this, builder, dys, dxs);
  if (!r.differentiable())
    return r.none();
  SmallVector<int64_t> inverse(getPerm().size());
  for (auto [i, p] : llvm::enumerate(getPerm()))
    inverse[p] = i;
  return r.grads({r.transpose(r.dy(), inverse)});
}

// Puts dy back where the slice read it, zeros elsewhere: along a dim with
// step s > 1 and n > 1 elements, each element is followed by s - 1 zeros
// ([n] -> [n, 1] -> pad to [n, s] -> [n * s], cut to the (n - 1) * s + 1
// that reach the last element; n * s < 2 * size as s < size), then a zero
// pad restores [0, start) and the tail.
KILN_RULE(SliceOp) {
  Rule r(*this, builder, dys, dxs);
  if (!r.differentiable())
    return r.none();
  ArrayRef<int64_t> size = typeOf(getX()).getShape(), start = getStart(),
                    step = getStep();
  if (getType().getNumElements() == 0)
    return r.grads({r.zerosLike(getX())});
  Value dx = r.dy();
  SmallVector<int64_t> extent(getType().getShape()); // dx's shape
  for (size_t d = 0; d < size.size(); ++d) {
    int64_t n = extent[d];
    if (step[d] == 1 || n == 1)
      continue;
    SmallVector<int64_t> split(extent), low(extent.size() + 1, 0),
        high(extent.size() + 1, 0);
    split.insert(split.begin() + d + 1, 1);
    high[d + 1] = step[d] - 1;
    dx = r.pad(r.reshape(dx, split), low, high);
    SmallVector<int64_t> merged(extent);
    merged[d] = n * step[d];
    extent[d] = (n - 1) * step[d] + 1;
    dx = r.slice(r.reshape(dx, merged), SmallVector<int64_t>(extent.size(), 0),
                 extent);
  }
  SmallVector<int64_t> high;
  for (size_t d = 0; d < size.size(); ++d)
    high.push_back(size[d] - start[d] - extent[d]);
  return r.grads({r.pad(dx, start, high)});
}

KILN_RULE(ConcatOp) {
  Rule r(*this, builder, dys, dxs);
  if (!r.differentiable())
    return r.none();
  Value dy = r.dy();
  SmallVector<int64_t> start(getType().getRank(), 0);
  SmallVector<int64_t> limit(getType().getShape());
  SmallVector<Value> grads;
  for (Value input : getInputs()) {
    limit[getDim()] = start[getDim()] + typeOf(input).getDimSize(getDim());
    grads.push_back(r.slice(dy, start, limit));
    start[getDim()] = limit[getDim()];
  }
  return r.grads(grads);
}

KILN_RULE(PadOp) {
  Rule r(*this, builder, dys, dxs);
  if (!r.differentiable())
    return r.none();
  SmallVector<int64_t> limit;
  for (auto [low, size] : llvm::zip_equal(getLow(), typeOf(getX()).getShape()))
    limit.push_back(low + size);
  return r.grads({r.slice(r.dy(), getLow(), limit)});
}

KILN_RULE(GatherOp) {
  Rule r(*this, builder, dys, dxs);
  if (!r.differentiable())
    return r.none();
  Value dTable = ScatterAddOp::create(r.b, r.loc, getTable().getType(), r.dy(),
                                      getIndices(), getAxisAttr());
  return r.grads({dTable, Value()});
}

KILN_RULE(ScatterAddOp) {
  Rule r(*this, builder, dys, dxs);
  if (!r.differentiable())
    return r.none();
  return r.grads({GatherOp::create(r.b, r.loc, r.dy(), getIndices(), getAxisAttr()),
                  Value()});
}

//===----------------------------------------------------------------------===//
// Composites
//===----------------------------------------------------------------------===//

KILN_RULE(SoftmaxOp) {
  Rule r(*this, builder, dys, dxs);
  return r.grads({SoftmaxGradOp::create(r.b, r.loc, getResult(), r.dy(), getDimAttr())});
}

KILN_RULE(LogSoftmaxOp) {
  Rule r(*this, builder, dys, dxs);
  return r.grads(
      {LogSoftmaxGradOp::create(r.b, r.loc, getResult(), r.dy(), getDimAttr())});
}

KILN_RULE(CrossEntropyOp) {
  Rule r(*this, builder, dys, dxs);
  return r.grads({CrossEntropyGradOp::create(r.b, r.loc, getLogits(), getLabels(),
                                             r.dy(), getReductionAttr()),
                  Value()});
}

KILN_RULE(LayerNormOp) {
  Rule r(*this, builder, dys, dxs);
  auto g = LayerNormGradOp::create(r.b, r.loc, getX(), getGamma(), r.dy(),
                                   getAxisAttr(), getEpsilonAttr());
  return r.grads({g.getDx(), g.getDgamma(), g.getDbeta()});
}

// Training: through the batch statistics (kiln.batch_norm_grad), plus the
// running-statistics results' dependence on x if they have adjoints.
// Inference: y = (x - mean) * inv * gamma + beta with constant statistics.
// The running statistics are buffers: their operands get no adjoint.
KILN_RULE(BatchNormOp) {
  Rule r(*this, builder, dys, dxs);
  Value x = getX(), gamma = getGamma(), dy = r.dy();
  ArrayRef<int64_t> shape = typeOf(x).getShape();
  SmallVector<int64_t> reduced = otherDims(shape.size(), {1}); // all but C
  auto perChannel = [&](Value v) { return r.broadcast(v, {1}, shape); };
  if (getTraining()) {
    auto g = BatchNormGradOp::create(r.b, r.loc, x, gamma, dy, getEpsilonAttr());
    Value dx = g.getDx();
    // Values per channel; not numElements / C, which divides by zero when C == 0.
    int64_t count = 1;
    for (int64_t d : reduced)
      count *= shape[d];
    double momentum = getMomentum().convertToDouble();
    // new_mean = (1 - m) * running + m * mean(x).
    if (r.hasDy(1) && count > 0)
      dx = r.add(dx, perChannel(r.scale(r.dy(1), momentum / count)));
    // new_var = (1 - m) * running + m * sum((x - mean)^2) / (count - 1).
    if (r.hasDy(2) && count > 1) {
      Value mean = ReduceOp::create(r.b, r.loc, ReduceKind::mean, x, reduced);
      Value centered = r.sub(x, perChannel(mean));
      Value s = perChannel(r.scale(r.dy(2), 2 * momentum / (count - 1)));
      dx = r.add(dx, r.mul(s, centered));
    }
    return r.grads({dx, g.getDgamma(), g.getDbeta(), Value(), Value()});
  }
  Value inv = r.rsqrt(r.add(getRunningVar(),
                            r.splat(getEpsilon().convertToDouble(), gamma.getType())));
  Value xhat = r.mul(r.sub(x, perChannel(getRunningMean())), perChannel(inv));
  return r.grads({r.mul(dy, perChannel(r.mul(gamma, inv))),
                  r.sum(r.mul(dy, xhat), reduced), r.sum(dy, reduced), Value(),
                  Value()});
}

KILN_RULE(GeluOp) {
  Rule r(*this, builder, dys, dxs);
  return r.grads({GeluGradOp::create(r.b, r.loc, getX(), r.dy(), getApproximateAttr())});
}

// Dropout is linear in x with a mask that depends only on (seed, offset, i):
// the adjoint is the dropout of dy with the same key, exactly.
KILN_RULE(DropoutOp) {
  Rule r(*this, builder, dys, dxs);
  return r.grads({DropoutOp::create(r.b, r.loc, r.dy(), getSeed(), getOffset(),
                                    getRatio().convertToDouble()),
                  Value(), Value()});
}

#undef KILN_RULE
