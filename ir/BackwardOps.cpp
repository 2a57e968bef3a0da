//===- BackwardOps.cpp - Verifiers and result-type rules of backward ops ---===//
//
// A backward op is valid when its forward op, rebuilt from the backward op's
// types and attributes, would be: each rule below reuses the forward op's
// result-type rule (with its diagnostics) and then checks that the adjoint
// operand has the forward result's type.
//
//===----------------------------------------------------------------------===//
#include "ir/Dialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/Diagnostics.h"

using namespace mlir;
using namespace kiln;

namespace {

LogicalResult checkDimOf(Operation *op, StringRef what, int64_t dim, Type type) {
  int64_t rank = cast<RankedTensorType>(type).getRank();
  if (dim < 0 || dim >= rank)
    return op->emitOpError() << what << " " << dim
                             << " is out of range: expected a dimension in [0, "
                             << rank << ")";
  return success();
}

/// Checks that `dy` has the type `forwardResult` of the forward op.
LogicalResult checkAdjoint(std::optional<Location> loc, StringRef forward,
                           Type forwardResult, Type dy) {
  if (forwardResult != dy)
    return emitOptionalError(loc, "expected dy of type ", forwardResult,
                             " (the ", forward, " result), found ", dy);
  return success();
}

} // namespace

LogicalResult SoftmaxGradOp::verify() {
  return checkDimOf(*this, "softmax_grad dim", getDim(), getType());
}

LogicalResult LogSoftmaxGradOp::verify() {
  return checkDimOf(*this, "log_softmax_grad dim", getDim(), getType());
}

LogicalResult CrossEntropyGradOp::inferReturnTypes(
    MLIRContext *ctx, std::optional<Location> loc, Adaptor adaptor,
    SmallVectorImpl<Type> &inferred) {
  CrossEntropyOp::Properties props;
  props.setReduction(adaptor.getReductionAttr());
  SmallVector<Type, 1> forward;
  if (failed(CrossEntropyOp::inferReturnTypes(
          ctx, loc,
          CrossEntropyOp::Adaptor(
              ValueRange{adaptor.getLogits(), adaptor.getLabels()}, {}, props),
          forward)))
    return failure();
  if (forward.front() != adaptor.getDloss().getType())
    return emitOptionalError(loc, "expected dloss of type ", forward.front(),
                             " (the cross_entropy result), found ",
                             adaptor.getDloss().getType());
  inferred.push_back(adaptor.getLogits().getType());
  return success();
}

std::optional<int64_t> CrossEntropyGradOp::getIndexBound(unsigned index) {
  if (index != 1)
    return std::nullopt;
  return cast<RankedTensorType>(getLogits().getType()).getDimSize(1);
}

LogicalResult LayerNormGradOp::inferReturnTypes(MLIRContext *ctx,
                                                std::optional<Location> loc,
                                                Adaptor adaptor,
                                                SmallVectorImpl<Type> &inferred) {
  LayerNormOp::Properties props;
  props.setAxis(adaptor.getAxisAttr());
  props.setEpsilon(adaptor.getEpsilonAttr());
  Value x = adaptor.getX(), gamma = adaptor.getGamma();
  SmallVector<Type, 1> forward;
  if (failed(LayerNormOp::inferReturnTypes(
          ctx, loc, LayerNormOp::Adaptor(ValueRange{x, gamma, gamma}, {}, props),
          forward)))
    return failure();
  inferred.append({x.getType(), gamma.getType(), gamma.getType()});
  return success();
}

LogicalResult BatchNormGradOp::inferReturnTypes(MLIRContext *ctx,
                                                std::optional<Location> loc,
                                                Adaptor adaptor,
                                                SmallVectorImpl<Type> &inferred) {
  BatchNormOp::Properties props;
  props.setEpsilon(adaptor.getEpsilonAttr());
  Value x = adaptor.getX(), gamma = adaptor.getGamma();
  SmallVector<Type, 3> forward;
  if (failed(BatchNormOp::inferReturnTypes(
          ctx, loc,
          BatchNormOp::Adaptor(ValueRange{x, gamma, gamma, gamma, gamma}, {}, props),
          forward)))
    return failure();
  inferred.append({x.getType(), gamma.getType(), gamma.getType()});
  return success();
}

namespace {
/// The forward conv2d's result type for `input` and `filter` under the
/// backward op's attributes (failure: the forward rule's diagnostic).
template <typename BackwardOp>
FailureOr<Type> forwardConv2d(BackwardOp op, Value input, Value filter) {
  Conv2dOp::Properties props;
  props.setStrides(op.getStridesAttr());
  props.setPadding(op.getPaddingAttr());
  props.setDilations(op.getDilationsAttr());
  props.setGroups(op.getGroupsAttr());
  SmallVector<Type, 1> forward;
  if (failed(Conv2dOp::inferReturnTypes(
          op.getContext(), op.getLoc(),
          Conv2dOp::Adaptor(ValueRange{input, filter}, {}, props), forward)))
    return failure();
  return forward.front();
}
} // namespace

LogicalResult Conv2dGradInputOp::verify() {
  FailureOr<Type> forward = forwardConv2d(*this, getResult(), getFilter());
  if (failed(forward))
    return failure();
  return checkAdjoint(getLoc(), "conv2d", *forward, getDy().getType());
}

LogicalResult Conv2dGradFilterOp::verify() {
  FailureOr<Type> forward = forwardConv2d(*this, getInput(), getResult());
  if (failed(forward))
    return failure();
  return checkAdjoint(getLoc(), "conv2d", *forward, getDy().getType());
}

LogicalResult Pool2dGradOp::inferReturnTypes(MLIRContext *ctx,
                                             std::optional<Location> loc,
                                             Adaptor adaptor,
                                             SmallVectorImpl<Type> &inferred) {
  Pool2dOp::Properties props;
  props.setKind(adaptor.getKindAttr());
  props.setWindow(adaptor.getWindowAttr());
  props.setStrides(adaptor.getStridesAttr());
  props.setPadding(adaptor.getPaddingAttr());
  props.setCountIncludePad(adaptor.getCountIncludePadAttr());
  SmallVector<Type, 1> forward;
  if (failed(Pool2dOp::inferReturnTypes(
          ctx, loc, Pool2dOp::Adaptor(ValueRange{adaptor.getInput()}, {}, props),
          forward)) ||
      failed(checkAdjoint(loc, "pool2d", forward.front(), adaptor.getDy().getType())))
    return failure();
  inferred.push_back(adaptor.getInput().getType());
  return success();
}
