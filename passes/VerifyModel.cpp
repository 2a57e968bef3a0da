//===- VerifyModel.cpp - --kiln-verify-model ------------------------------===//
//
// 1. Find exactly one func.func @forward.
// 2. Every argument has a unique `kiln.name` and a `kiln.role`; parameters
//    and buffers have a `kiln.init`, and `kiln.init_args` only as f64 arrays.
//    A result with `kiln.updates` names a buffer of its type.
// 3. At most one result has `kiln.loss`, and it is a 0-d float tensor;
//    every result has a unique `kiln.name`.
// 4. `kiln.optimizer`, if present, is the typed #kiln.optimizer<...> and
//    comes with a loss to minimize.
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"

namespace kiln {
#define GEN_PASS_DEF_KILNVERIFYMODEL
#include "passes/Passes.h.inc"
} // namespace kiln

using namespace mlir;

namespace {
struct VerifyModelPass
    : public kiln::impl::KilnVerifyModelBase<VerifyModelPass> {
  void runOnOperation() override {
    auto forward = getOperation().lookupSymbol<func::FuncOp>("forward");
    if (!forward) {
      getOperation().emitError("expected a func.func @forward in the model module");
      return signalPassFailure();
    }
    if (failed(verifyForward(forward)))
      signalPassFailure();
  }

  LogicalResult verifyForward(func::FuncOp fn) {
    llvm::StringSet<> names;
    llvm::StringMap<Type> buffers;
    for (unsigned i = 0, e = fn.getNumArguments(); i < e; ++i) {
      auto name = fn.getArgAttrOfType<StringAttr>(i, "kiln.name");
      if (!name || name.getValue().empty())
        return fn.emitError("argument #") << i << " has no kiln.name";
      if (!names.insert(name.getValue()).second)
        return fn.emitError("argument #")
               << i << " reuses the name '" << name.getValue() << "'";
      auto role = fn.getArgAttrOfType<kiln::ArgRoleAttr>(i, "kiln.role");
      if (!role)
        return fn.emitError("argument '")
               << name.getValue()
               << "' has no kiln.role (expected #kiln<role input>, "
                  "#kiln<role param> or #kiln<role buffer>)";
      if (role.getValue() == kiln::ArgRole::opt_state ||
          role.getValue() == kiln::ArgRole::step)
        return fn.emitError("argument '")
               << name.getValue() << "' has the role " << role
               << ", which only @train_step has; @forward's arguments are "
                  "inputs, parameters and buffers";
      bool isState = role.getValue() != kiln::ArgRole::input;
      bool hasInit = fn.getArgAttrOfType<kiln::InitKindAttr>(i, "kiln.init") != nullptr;
      if (isState && !hasInit)
        return fn.emitError(role.getValue() == kiln::ArgRole::param ? "parameter '"
                                                                    : "buffer '")
               << name.getValue() << "' has no kiln.init";
      if (!isState && hasInit)
        return fn.emitError("input '")
               << name.getValue() << "' has a kiln.init; only parameters and buffers do";
      if (role.getValue() == kiln::ArgRole::buffer)
        buffers[name.getValue()] = fn.getArgumentTypes()[i];
      Attribute args = fn.getArgAttr(i, "kiln.init_args");
      if (args && !isa<DenseF64ArrayAttr>(args))
        return fn.emitError("parameter '")
               << name.getValue() << "' has kiln.init_args " << args
               << ", expected an array<f64: ...>";
    }
    llvm::StringSet<> resultNames;
    int losses = 0;
    for (unsigned i = 0, e = fn.getNumResults(); i < e; ++i) {
      auto name = fn.getResultAttrOfType<StringAttr>(i, "kiln.name");
      if (!name || name.getValue().empty())
        return fn.emitError("result #") << i << " has no kiln.name";
      if (!resultNames.insert(name.getValue()).second)
        return fn.emitError("result #")
               << i << " reuses the name '" << name.getValue() << "'";
      if (Attribute updates = fn.getResultAttr(i, "kiln.updates")) {
        auto target = dyn_cast<StringAttr>(updates);
        auto it = target ? buffers.find(target.getValue()) : buffers.end();
        if (it == buffers.end())
          return fn.emitError("result '")
                 << name.getValue() << "' has kiln.updates = " << updates
                 << ", expected the name of a buffer argument";
        if (it->second != fn.getResultTypes()[i])
          return fn.emitError("result '")
                 << name.getValue() << "' updates buffer '" << target.getValue()
                 << "' of type " << it->second << " with a value of type "
                 << fn.getResultTypes()[i];
      }
      if (!fn.getResultAttr(i, "kiln.loss"))
        continue;
      Type resultType = fn.getResultTypes()[i];
      auto type = dyn_cast<RankedTensorType>(resultType);
      if (!type || type.getRank() != 0 || !isa<FloatType>(type.getElementType()))
        return fn.emitError("the loss '")
               << name.getValue() << "' must be a 0-d float tensor, found " << resultType;
      if (++losses > 1)
        return fn.emitError("more than one result is marked kiln.loss");
    }
    if (Attribute optimizer = fn->getAttr("kiln.optimizer")) {
      if (!isa<kiln::OptimizerAttr>(optimizer))
        return fn.emitError("kiln.optimizer is ")
               << optimizer << ", expected a #kiln.optimizer<...>";
      if (losses == 0)
        return fn.emitError("@forward has a kiln.optimizer but no result "
                            "marked kiln.loss to minimize");
    }
    return success();
  }
};
} // namespace
