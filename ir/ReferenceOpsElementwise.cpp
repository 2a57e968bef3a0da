//===- ReferenceOpsElementwise.cpp - evaluate() of unary/binary ops --------===//
//
// The scalar formula of an elementwise op is declared once, in ODS, as
// `OpTy::apply<T>` over ir/Scalar.h; this file only instantiates it for the
// storage types of the interpreter (double for floats, int32_t for i32,
// int64_t for i64 and i1).
//
//===----------------------------------------------------------------------===//
#include "ir/Dialect.h"
#include "ir/Reference.h"

using namespace mlir;
using namespace kiln;
using ref::EvalContext;
using ref::Tensor;

namespace {

template <typename OpTy>
LogicalResult evaluateUnary(EvalContext &ctx, ArrayRef<const Tensor *> operands,
                            SmallVectorImpl<Tensor> &results) {
  results.push_back(
      ref::mapUnary(*operands[0], [](auto x) { return OpTy::apply(x); }));
  return ctx.finish(results);
}

template <typename OpTy>
LogicalResult evaluateBinary(EvalContext &ctx, ArrayRef<const Tensor *> operands,
                             SmallVectorImpl<Tensor> &results) {
  results.push_back(ref::mapBinary(*operands[0], *operands[1],
                                   [](auto a, auto b) { return OpTy::apply(a, b); }));
  return ctx.finish(results);
}

} // namespace

// A new unary/binary op class needs one line here (the linker reports a
// missing one as an undefined `evaluate`).
#define KILN_REFERENCE_ELEMENTWISE(OP, KIND)                                   \
  LogicalResult OP::evaluate(EvalContext &ctx,                                 \
                             ArrayRef<const Tensor *> operands,                \
                             SmallVectorImpl<Tensor> &results) {               \
    return evaluate##KIND<OP>(ctx, operands, results);                         \
  }

KILN_REFERENCE_ELEMENTWISE(NegOp, Unary)
KILN_REFERENCE_ELEMENTWISE(AbsOp, Unary)
KILN_REFERENCE_ELEMENTWISE(SignOp, Unary)
KILN_REFERENCE_ELEMENTWISE(ExpOp, Unary)
KILN_REFERENCE_ELEMENTWISE(LogOp, Unary)
KILN_REFERENCE_ELEMENTWISE(SqrtOp, Unary)
KILN_REFERENCE_ELEMENTWISE(RsqrtOp, Unary)
KILN_REFERENCE_ELEMENTWISE(TanhOp, Unary)
KILN_REFERENCE_ELEMENTWISE(SigmoidOp, Unary)
KILN_REFERENCE_ELEMENTWISE(ReluOp, Unary)
KILN_REFERENCE_ELEMENTWISE(SinOp, Unary)
KILN_REFERENCE_ELEMENTWISE(CosOp, Unary)
KILN_REFERENCE_ELEMENTWISE(ErfOp, Unary)
KILN_REFERENCE_ELEMENTWISE(FloorOp, Unary)
KILN_REFERENCE_ELEMENTWISE(CeilOp, Unary)
KILN_REFERENCE_ELEMENTWISE(NotOp, Unary)

KILN_REFERENCE_ELEMENTWISE(AddOp, Binary)
KILN_REFERENCE_ELEMENTWISE(SubOp, Binary)
KILN_REFERENCE_ELEMENTWISE(MulOp, Binary)
KILN_REFERENCE_ELEMENTWISE(DivOp, Binary)
KILN_REFERENCE_ELEMENTWISE(PowOp, Binary)
KILN_REFERENCE_ELEMENTWISE(MaximumOp, Binary)
KILN_REFERENCE_ELEMENTWISE(MinimumOp, Binary)
KILN_REFERENCE_ELEMENTWISE(AndOp, Binary)
KILN_REFERENCE_ELEMENTWISE(OrOp, Binary)

#undef KILN_REFERENCE_ELEMENTWISE
