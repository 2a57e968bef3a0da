//===- Dialect.h - The kiln dialect -----------------------------*- C++ -*-===//
#ifndef KILN_IR_DIALECT_H
#define KILN_IR_DIALECT_H

#include "ir/Scalar.h"

#include <optional>
#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace kiln::ref {
class EvalContext;
class Tensor;
} // namespace kiln::ref

#include "ir/KilnEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "ir/KilnAttrs.h.inc"

#include "ir/KilnDialect.h.inc"
#include "ir/KilnInterfaces.h.inc"

namespace kiln {
/// Gives an op a static fusion class, which the default implementation of
/// FusionOpInterface::getFusionClass returns.
template <FusionClass C> struct HasFusionClass {
  template <typename ConcreteType>
  class Impl : public mlir::OpTrait::TraitBase<ConcreteType, Impl> {
  public:
    static FusionClass getStaticFusionClass() { return C; }
  };
};
} // namespace kiln

namespace kiln {
/// The element count of a static shape, or nullopt if it overflows int64.
/// Shapes come from users and files: every size check goes through this.
std::optional<int64_t> checkedNumElements(llvm::ArrayRef<int64_t> shape);

/// `custom<KilnEnum>($attr)` in op formats: a kiln enum attribute as a bare
/// keyword (`kiln.reduce sum %x ...`). The attribute's own printer adds a
/// leading space meant for `#kiln<reduce sum>`, which would double the
/// space after the op name.
template <typename AttrT>
mlir::ParseResult parseKilnEnum(mlir::OpAsmParser &parser, AttrT &attr) {
  using EnumT = decltype(std::declval<AttrT>().getValue());
  llvm::SMLoc loc = parser.getCurrentLocation();
  llvm::StringRef keyword;
  if (parser.parseKeyword(&keyword))
    return mlir::failure();
  std::optional<EnumT> value = symbolizeEnum<EnumT>(keyword);
  if (!value)
    return parser.emitError(loc, "unknown ")
           << AttrT::getMnemonic() << " '" << keyword << "'";
  attr = AttrT::get(parser.getContext(), *value);
  return mlir::success();
}

template <typename AttrT>
void printKilnEnum(mlir::OpAsmPrinter &printer, mlir::Operation *, AttrT attr) {
  printer << stringifyEnum(attr.getValue());
}
} // namespace kiln

#define GET_OP_CLASSES
#include "ir/KilnOps.h.inc"

#endif // KILN_IR_DIALECT_H
