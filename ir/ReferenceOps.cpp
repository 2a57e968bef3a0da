//===- ReferenceOps.cpp - ReferenceOpInterface of the non-elementwise ops --===//
//
// Each evaluate() reads the op's attributes and result type, calls the
// MLIR-free kernel (ir/ReferenceKernels.h), reports data-dependent errors on
// the op, and applies the context's precision to the results.
//
//===----------------------------------------------------------------------===//
#include "ir/Dialect.h"
#include "ir/Reference.h"

#include "mlir/IR/AsmState.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/Diagnostics.h"

using namespace mlir;
using namespace kiln;
using ref::EvalContext;
using ref::Tensor;

using Operands = ArrayRef<const Tensor *>;
using Results = SmallVectorImpl<Tensor>;

//===----------------------------------------------------------------------===//
// MLIR types and attributes
//===----------------------------------------------------------------------===//

FailureOr<ref::ElemType> ref::elemTypeOf(Type type) {
  if (type.isF16())
    return ElemType::F16;
  if (type.isBF16())
    return ElemType::BF16;
  if (type.isF32())
    return ElemType::F32;
  if (type.isF64())
    return ElemType::F64;
  if (type.isSignlessInteger(1))
    return ElemType::I1;
  if (type.isSignlessInteger(32))
    return ElemType::I32;
  if (type.isSignlessInteger(64))
    return ElemType::I64;
  return failure();
}

Type ref::toMlirType(MLIRContext *ctx, ElemType t) {
  Builder b(ctx);
  switch (t) {
  case ElemType::F16:
    return b.getF16Type();
  case ElemType::BF16:
    return b.getBF16Type();
  case ElemType::F32:
    return b.getF32Type();
  case ElemType::F64:
    return b.getF64Type();
  case ElemType::I1:
    return b.getI1Type();
  case ElemType::I32:
    return b.getI32Type();
  case ElemType::I64:
    return b.getI64Type();
  }
  return {};
}

FailureOr<Tensor> ref::zerosOf(Type type) {
  auto tensorType = dyn_cast<RankedTensorType>(type);
  if (!tensorType || !tensorType.hasStaticShape())
    return failure();
  FailureOr<ElemType> et = elemTypeOf(tensorType.getElementType());
  if (failed(et))
    return failure();
  return Tensor(*et, std::vector<int64_t>(tensorType.getShape().begin(),
                                          tensorType.getShape().end()));
}

llvm::Expected<Tensor> ref::fromElementsAttr(ElementsAttr attr) {
  auto fail = [&](StringRef why) {
    std::string s;
    llvm::raw_string_ostream os(s);
    os << "unsupported constant " << attr.getType() << ": " << why;
    return llvm::createStringError(llvm::inconvertibleErrorCode(), s);
  };
  FailureOr<Tensor> zeros = zerosOf(attr.getType());
  if (failed(zeros))
    return fail("expected a static tensor of f16/bf16/f32/f64/i1/i32/i64");
  Tensor t = std::move(*zeros);
  // dense_resource blobs (large imported weights) hold the raw
  // little-endian layout of the element type, as .npy data does.
  if (auto resource = dyn_cast<DenseResourceElementsAttr>(attr)) {
    AsmResourceBlob *blob = resource.getRawHandle().getBlob();
    if (!blob)
      return fail("its dense_resource blob has no data");
    ArrayRef<char> data = blob->getData();
    const int64_t expected = t.numElements() * byteWidth(t.type());
    if (int64_t(data.size()) != expected)
      return fail("its dense_resource blob holds " + std::to_string(data.size()) +
                  " bytes, expected " + std::to_string(expected));
    return Tensor::fromRaw(t.type(), t.shape(), data.data());
  }
  auto dense = dyn_cast<DenseElementsAttr>(attr);
  if (!dense)
    return fail("expected a dense or dense_resource elements attribute");
  int64_t i = 0;
  if (t.isFloat()) {
    // getValues iterates a splat as numElements copies.
    for (APFloat v : dense.getValues<APFloat>()) {
      bool losesInfo;
      v.convert(APFloat::IEEEdouble(), APFloat::rmNearestTiesToEven, &losesInfo);
      t.floats()[i++] = v.convertToDouble();
    }
  } else {
    for (const APInt &v : dense.getValues<APInt>())
      t.setInt(i++, t.type() == ElemType::I1 ? int64_t(v.getBoolValue())
                                             : v.getSExtValue());
  }
  return t;
}

DenseElementsAttr ref::toElementsAttr(MLIRContext *ctx, const Tensor &t) {
  auto type = RankedTensorType::get(t.shape(), toMlirType(ctx, t.type()));
  const int64_t n = t.numElements();
  if (t.isFloat()) {
    SmallVector<APFloat> values;
    values.reserve(n);
    for (double v : t.floats()) {
      switch (t.type()) {
      case ElemType::F16:
        values.emplace_back(APFloat::IEEEhalf(), APInt(16, doubleToHalfBits(v)));
        break;
      case ElemType::BF16:
        values.emplace_back(APFloat::BFloat(), APInt(16, doubleToBF16Bits(v)));
        break;
      case ElemType::F32:
        values.emplace_back(static_cast<float>(roundToType(v, ElemType::F32)));
        break;
      default:
        values.emplace_back(v);
      }
    }
    return DenseElementsAttr::get(type, values);
  }
  const unsigned width = t.type() == ElemType::I1 ? 1 : t.type() == ElemType::I32 ? 32 : 64;
  SmallVector<APInt> values;
  values.reserve(n);
  for (int64_t v : t.ints())
    values.emplace_back(width, static_cast<uint64_t>(v), /*isSigned=*/width != 1,
                        /*implicitTrunc=*/true);
  return DenseElementsAttr::get(type, values);
}

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

namespace {

std::vector<int64_t> shapeOf(RankedTensorType t) {
  return std::vector<int64_t>(t.getShape().begin(), t.getShape().end());
}
ref::ElemType elemOf(RankedTensorType t) { return *ref::elemTypeOf(t.getElementType()); }
std::vector<int64_t> vec(ArrayRef<int64_t> a) { return {a.begin(), a.end()}; }

/// Pushes one result and applies the precision.
LogicalResult done(EvalContext &ctx, Results &results, Tensor t) {
  results.push_back(std::move(t));
  return ctx.finish(results);
}

} // namespace

//===----------------------------------------------------------------------===//
// Compare, select, cast, broadcast, reductions
//===----------------------------------------------------------------------===//

LogicalResult CompareOp::evaluate(EvalContext &ctx, Operands operands,
                                  Results &results) {
  ref::CmpDir dir = ref::CmpDir::Eq;
  switch (getDirection()) {
  case CompareDirection::eq:
    dir = ref::CmpDir::Eq;
    break;
  case CompareDirection::ne:
    dir = ref::CmpDir::Ne;
    break;
  case CompareDirection::lt:
    dir = ref::CmpDir::Lt;
    break;
  case CompareDirection::le:
    dir = ref::CmpDir::Le;
    break;
  case CompareDirection::gt:
    dir = ref::CmpDir::Gt;
    break;
  case CompareDirection::ge:
    dir = ref::CmpDir::Ge;
    break;
  }
  return done(ctx, results, ref::compare(dir, *operands[0], *operands[1]));
}

LogicalResult SelectOp::evaluate(EvalContext &ctx, Operands operands,
                                 Results &results) {
  return done(ctx, results, ref::select(*operands[0], *operands[1], *operands[2]));
}

LogicalResult CastOp::evaluate(EvalContext &ctx, Operands operands,
                               Results &results) {
  return done(ctx, results, ref::cast(*operands[0], elemOf(getType())));
}

LogicalResult StopGradientOp::evaluate(EvalContext &ctx, Operands operands,
                                       Results &results) {
  return done(ctx, results, *operands[0]);
}

LogicalResult BroadcastOp::evaluate(EvalContext &ctx, Operands operands,
                                    Results &results) {
  return done(ctx, results,
              ref::broadcastInDim(*operands[0], vec(getDims()), shapeOf(getType())));
}

LogicalResult ReduceOp::evaluate(EvalContext &ctx, Operands operands,
                                 Results &results) {
  ref::ReduceKind kind = ref::ReduceKind::Sum;
  switch (getKind()) {
  case kiln::ReduceKind::sum:
    kind = ref::ReduceKind::Sum;
    break;
  case kiln::ReduceKind::mean:
    kind = ref::ReduceKind::Mean;
    break;
  case kiln::ReduceKind::max:
    kind = ref::ReduceKind::Max;
    break;
  case kiln::ReduceKind::min:
    kind = ref::ReduceKind::Min;
    break;
  case kiln::ReduceKind::prod:
    kind = ref::ReduceKind::Prod;
    break;
  }
  return done(ctx, results,
              ref::reduce(kind, *operands[0], vec(getDims()), getKeepDims()));
}

LogicalResult ArgmaxOp::evaluate(EvalContext &ctx, Operands operands,
                                 Results &results) {
  return done(ctx, results, ref::argmax(*operands[0], int64_t(getDim())));
}

//===----------------------------------------------------------------------===//
// Matmul, convolution, pooling
//===----------------------------------------------------------------------===//

LogicalResult MatmulOp::evaluate(EvalContext &ctx, Operands operands,
                                 Results &results) {
  return done(ctx, results, ref::matmul(*operands[0], *operands[1],
                                        getTransposeA(), getTransposeB()));
}

LogicalResult Conv2dOp::evaluate(EvalContext &ctx, Operands operands,
                                 Results &results) {
  return done(ctx, results,
              ref::conv2d(*operands[0], *operands[1], vec(getStrides()),
                          vec(getPadding()), vec(getDilations()),
                          int64_t(getGroups())));
}

LogicalResult Pool2dOp::evaluate(EvalContext &ctx, Operands operands,
                                 Results &results) {
  ref::PoolKind kind =
      getKind() == PoolKind::max ? ref::PoolKind::Max : ref::PoolKind::Avg;
  return done(ctx, results,
              ref::pool2d(kind, *operands[0], vec(getWindow()), vec(getStrides()),
                          vec(getPadding()), getCountIncludePad()));
}

//===----------------------------------------------------------------------===//
// Data movement
//===----------------------------------------------------------------------===//

LogicalResult ReshapeOp::evaluate(EvalContext &ctx, Operands operands,
                                  Results &results) {
  return done(ctx, results, operands[0]->reshaped(shapeOf(getType())));
}

LogicalResult TransposeOp::evaluate(EvalContext &ctx, Operands operands,
                                    Results &results) {
  return done(ctx, results, ref::transpose(*operands[0], vec(getPerm())));
}

LogicalResult SliceOp::evaluate(EvalContext &ctx, Operands operands,
                                Results &results) {
  return done(ctx, results, ref::slice(*operands[0], vec(getStart()),
                                       vec(getLimit()), vec(getStep())));
}

LogicalResult ConcatOp::evaluate(EvalContext &ctx, Operands operands,
                                 Results &results) {
  return done(ctx, results,
              ref::concat(std::vector<const Tensor *>(operands.begin(), operands.end()),
                          int64_t(getDim())));
}

LogicalResult PadOp::evaluate(EvalContext &ctx, Operands operands,
                              Results &results) {
  return done(ctx, results,
              ref::pad(*operands[0], vec(getLow()), vec(getHigh()),
                       getValue().convertToDouble()));
}

LogicalResult GatherOp::evaluate(EvalContext &ctx, Operands operands,
                                 Results &results) {
  Tensor r;
  std::string error;
  if (!ref::gather(*operands[0], *operands[1], int64_t(getAxis()), r, error))
    return emitOpError() << error;
  return done(ctx, results, std::move(r));
}

LogicalResult ScatterAddOp::evaluate(EvalContext &ctx, Operands operands,
                                     Results &results) {
  Tensor r;
  std::string error;
  if (!ref::scatterAdd(*operands[0], *operands[1], int64_t(getAxis()),
                       shapeOf(getType()), r, error))
    return emitOpError() << error;
  return done(ctx, results, std::move(r));
}

LogicalResult IotaOp::evaluate(EvalContext &ctx, Operands, Results &results) {
  return done(ctx, results,
              ref::iota(elemOf(getType()), shapeOf(getType()), int64_t(getDim())));
}

LogicalResult ConstantOp::evaluate(EvalContext &ctx, Operands, Results &results) {
  llvm::Expected<Tensor> t = ref::fromElementsAttr(getValue());
  if (!t)
    return emitOpError() << llvm::toString(t.takeError());
  return done(ctx, results, std::move(*t));
}

LogicalResult RngOp::evaluate(EvalContext &ctx, Operands operands,
                              Results &results) {
  ref::Distribution dist = ref::Distribution::Uniform;
  switch (getDistribution()) {
  case Distribution::uniform:
    dist = ref::Distribution::Uniform;
    break;
  case Distribution::normal:
    dist = ref::Distribution::Normal;
    break;
  case Distribution::bernoulli:
    dist = ref::Distribution::Bernoulli;
    break;
  }
  return done(ctx, results,
              ref::rng(dist, elemOf(getType()), shapeOf(getType()),
                       operands[0]->ints()[0], operands[1]->ints()[0],
                       getA().convertToDouble(), getB().convertToDouble()));
}

//===----------------------------------------------------------------------===//
// Composites
//===----------------------------------------------------------------------===//

LogicalResult SoftmaxOp::evaluate(EvalContext &ctx, Operands operands,
                                  Results &results) {
  return done(ctx, results, ref::softmax(*operands[0], int64_t(getDim())));
}

LogicalResult LogSoftmaxOp::evaluate(EvalContext &ctx, Operands operands,
                                     Results &results) {
  return done(ctx, results, ref::logSoftmax(*operands[0], int64_t(getDim())));
}

/// The interpreter's spelling of a loss reduction.
static ref::LossReduction toReference(LossReduction reduction) {
  switch (reduction) {
  case LossReduction::mean:
    return ref::LossReduction::Mean;
  case LossReduction::sum:
    return ref::LossReduction::Sum;
  case LossReduction::none:
    return ref::LossReduction::None;
  }
  return ref::LossReduction::Mean;
}

LogicalResult CrossEntropyOp::evaluate(EvalContext &ctx, Operands operands,
                                       Results &results) {
  ref::LossReduction reduction = toReference(getReduction());
  Tensor r;
  std::string error;
  if (!ref::crossEntropy(*operands[0], *operands[1], reduction, r, error))
    return emitOpError() << error;
  return done(ctx, results, std::move(r));
}

LogicalResult LayerNormOp::evaluate(EvalContext &ctx, Operands operands,
                                    Results &results) {
  return done(ctx, results,
              ref::layerNorm(*operands[0], *operands[1], *operands[2],
                             int64_t(getAxis()), getEpsilon().convertToDouble()));
}

LogicalResult BatchNormOp::evaluate(EvalContext &ctx, Operands operands,
                                    Results &results) {
  ref::BatchNormResult r;
  std::string error;
  if (!ref::batchNorm(*operands[0], *operands[1], *operands[2], *operands[3],
                      *operands[4], getEpsilon().convertToDouble(),
                      getMomentum().convertToDouble(), getTraining(), r, error))
    return emitOpError() << error;
  results.push_back(std::move(r.y));
  results.push_back(std::move(r.runningMean));
  results.push_back(std::move(r.runningVar));
  return ctx.finish(results);
}

LogicalResult GeluOp::evaluate(EvalContext &ctx, Operands operands,
                               Results &results) {
  return done(ctx, results,
              ref::gelu(*operands[0], getApproximate() == GeluApproximation::tanh));
}

LogicalResult DropoutOp::evaluate(EvalContext &ctx, Operands operands,
                                  Results &results) {
  return done(ctx, results,
              ref::dropout(*operands[0], operands[1]->ints()[0],
                           operands[2]->ints()[0], getRatio().convertToDouble()));
}

//===----------------------------------------------------------------------===//
// Backward ops
//===----------------------------------------------------------------------===//

LogicalResult SoftmaxGradOp::evaluate(EvalContext &ctx, Operands operands,
                                      Results &results) {
  return done(ctx, results,
              ref::softmaxGrad(*operands[0], *operands[1], int64_t(getDim())));
}

LogicalResult LogSoftmaxGradOp::evaluate(EvalContext &ctx, Operands operands,
                                         Results &results) {
  return done(ctx, results,
              ref::logSoftmaxGrad(*operands[0], *operands[1], int64_t(getDim())));
}

LogicalResult CrossEntropyGradOp::evaluate(EvalContext &ctx, Operands operands,
                                           Results &results) {
  ref::LossReduction reduction = toReference(getReduction());
  Tensor r;
  std::string error;
  if (!ref::crossEntropyGrad(*operands[0], *operands[1], *operands[2], reduction, r,
                             error))
    return emitOpError() << error;
  return done(ctx, results, std::move(r));
}

/// Pushes the three adjoints of a normalization and applies the precision.
static LogicalResult doneNorm(EvalContext &ctx, Results &results,
                              ref::NormGradResult r) {
  results.push_back(std::move(r.dx));
  results.push_back(std::move(r.dgamma));
  results.push_back(std::move(r.dbeta));
  return ctx.finish(results);
}

LogicalResult LayerNormGradOp::evaluate(EvalContext &ctx, Operands operands,
                                        Results &results) {
  return doneNorm(ctx, results,
                  ref::layerNormGrad(*operands[0], *operands[1], *operands[2],
                                     int64_t(getAxis()),
                                     getEpsilon().convertToDouble()));
}

LogicalResult BatchNormGradOp::evaluate(EvalContext &ctx, Operands operands,
                                        Results &results) {
  return doneNorm(ctx, results,
                  ref::batchNormGrad(*operands[0], *operands[1], *operands[2],
                                     getEpsilon().convertToDouble()));
}

LogicalResult GeluGradOp::evaluate(EvalContext &ctx, Operands operands,
                                   Results &results) {
  return done(ctx, results,
              ref::geluGrad(*operands[0], *operands[1],
                            getApproximate() == GeluApproximation::tanh));
}

LogicalResult Conv2dGradInputOp::evaluate(EvalContext &ctx, Operands operands,
                                          Results &results) {
  return done(ctx, results,
              ref::conv2dGradInput(*operands[0], *operands[1], shapeOf(getType()),
                                   vec(getStrides()), vec(getPadding()),
                                   vec(getDilations()), int64_t(getGroups())));
}

LogicalResult Conv2dGradFilterOp::evaluate(EvalContext &ctx, Operands operands,
                                           Results &results) {
  return done(ctx, results,
              ref::conv2dGradFilter(*operands[0], *operands[1], shapeOf(getType()),
                                    vec(getStrides()), vec(getPadding()),
                                    vec(getDilations()), int64_t(getGroups())));
}

LogicalResult Pool2dGradOp::evaluate(EvalContext &ctx, Operands operands,
                                     Results &results) {
  ref::PoolKind kind =
      getKind() == PoolKind::max ? ref::PoolKind::Max : ref::PoolKind::Avg;
  return done(ctx, results,
              ref::pool2dGrad(kind, *operands[0], *operands[1], vec(getWindow()),
                              vec(getStrides()), vec(getPadding()),
                              getCountIncludePad()));
}
