//===- ReferenceElementwise.h - evaluate() of unary/binary ops --*- C++ -*-===//
//
// The scalar formula of an elementwise op is declared once, in ODS, as
// `OpTy::apply<T>` over ir/Scalar.h. The ODS classes Kiln_UnaryOp and
// Kiln_BinaryOp define each op's evaluate() through these templates, which
// instantiate `apply` for the interpreter's storage types (double for
// floats, int32_t for i32, int64_t for i64 and i1). Included by Ops.cpp,
// where the op definitions are generated.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_IR_REFERENCEELEMENTWISE_H
#define KILN_IR_REFERENCEELEMENTWISE_H

#include "ir/Reference.h"

namespace kiln::ref {

template <typename OpTy>
llvm::LogicalResult evaluateUnary(EvalContext &ctx,
                                  llvm::ArrayRef<const Tensor *> operands,
                                  llvm::SmallVectorImpl<Tensor> &results) {
  results.push_back(mapUnary(*operands[0], [](auto x) { return OpTy::apply(x); }));
  return ctx.finish(results);
}

template <typename OpTy>
llvm::LogicalResult evaluateBinary(EvalContext &ctx,
                                   llvm::ArrayRef<const Tensor *> operands,
                                   llvm::SmallVectorImpl<Tensor> &results) {
  results.push_back(mapBinary(*operands[0], *operands[1],
                              [](auto a, auto b) { return OpTy::apply(a, b); }));
  return ctx.finish(results);
}

} // namespace kiln::ref

#endif // KILN_IR_REFERENCEELEMENTWISE_H
