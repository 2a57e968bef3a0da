//===- Dialect.h - The kiln dialect -----------------------------*- C++ -*-===//
#ifndef KILN_IR_DIALECT_H
#define KILN_IR_DIALECT_H

#include "ir/Scalar.h"

#include <optional>
#include <string>
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

namespace kiln {
/// The fields of `#kiln.optimizer<...>` (OptimizerAttr) as plain numbers:
/// what the frontend builds it from and what --kiln-optimizer reads.
/// Fields that the kind or the schedule does not use are 0.
struct OptimizerConfig {
  OptimizerKind kind = OptimizerKind::sgd;
  double lr = 0, momentum = 0, beta1 = 0, beta2 = 0, eps = 0;
  double weightDecay = 0, clipNorm = 0;
  LrSchedule schedule = LrSchedule::constant;
  int64_t warmupSteps = 0, totalSteps = 0;
  double minLr = 0;

  /// PyTorch's defaults for `kind` (lr, which PyTorch's SGD requires, is
  /// 1e-2 for the SGD family): see OptimizerAttr's description.
  static OptimizerConfig defaults(OptimizerKind kind);

  bool usesMomentum() const {
    return kind == OptimizerKind::momentum || kind == OptimizerKind::nesterov;
  }
  bool usesAdam() const {
    return kind == OptimizerKind::adam || kind == OptimizerKind::adamw;
  }

  /// The field spelled `name` in the assembly and the train clause: a
  /// real-valued one (lr, momentum, ..., min_lr) or an integer one
  /// (warmup_steps, total_steps); null for any other name.
  double *realField(llvm::StringRef name);
  int64_t *integerField(llvm::StringRef name);

  /// Why a config is invalid: the field at fault, spelled as in the
  /// assembly and the train clause, and a message naming it and the value.
  struct Problem {
    llvm::StringRef field;
    std::string message;
  };
  /// The first problem of this config, or nullopt. OptimizerAttr's verifier
  /// and the frontend's train clause share it.
  std::optional<Problem> check() const;
};
} // namespace kiln

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

namespace kiln {
/// Whether `op` may join a `loop` fusion: its fusion class is elementwise,
/// broadcast or injective.
bool isLoopFusible(mlir::Operation *op);
} // namespace kiln

#endif // KILN_IR_DIALECT_H
