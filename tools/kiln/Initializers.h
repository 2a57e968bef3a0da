//===- Initializers.h - Parameter initializers ------------------*- C++ -*-===//
//
// Reference semantics of `kiln.init`: a parameter's initial value is a pure
// function of (initializer, its arguments, shape, seed, parameter name), so
// two runs with one seed start from identical parameters whatever the
// parameter order. Fans follow Kiln's layouts: a matrix is [fan_in, fan_out]
// (h @ w), a convolution filter is OIHW (fan_in = I*KH*KW, fan_out = O*KH*KW).
//
//===----------------------------------------------------------------------===//
#ifndef KILN_TOOLS_KILN_INITIALIZERS_H
#define KILN_TOOLS_KILN_INITIALIZERS_H

#include "ir/Dialect.h"
#include "ir/ReferenceTensor.h"
#include "llvm/Support/Error.h"

namespace kiln::tool {

/// Stream offset of a named tensor: FNV-1a of the name, so that values do
/// not depend on declaration order.
int64_t streamOffsetForName(llvm::StringRef name);

/// Computes the initial value of a parameter.
llvm::Expected<ref::Tensor> initializeParameter(InitKind kind,
                                                llvm::ArrayRef<double> args,
                                                ref::ElemType type,
                                                const std::vector<int64_t> &shape,
                                                int64_t seed, llvm::StringRef name);

} // namespace kiln::tool

#endif // KILN_TOOLS_KILN_INITIALIZERS_H
