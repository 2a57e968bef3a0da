//===- Autodiff.cpp - --kiln-autodiff -------------------------------------===//
//
// Reverse-mode differentiation of @forward's loss with respect to its
// parameters. The per-op rules live with the ops (GradientOpInterface,
// ir/Gradients.cpp); this file only orders them:
//
// 1. Clone @forward's body into @train_step and append the `step` argument.
// 2. Rekey random ops by the step (offset + step * 2^32).
// 3. Activity: a float value is active if it depends on a parameter; only
//    active operands receive adjoints, so labels, indices, buffers and
//    inputs never do.
// 4. Reverse sweep from d(loss) = 1; an op contributes when one of its
//    results has an adjoint and one of its operands is active. Adjoints of
//    values with several uses are summed with kiln.add.
// 5. Results: loss, one gradient per parameter, buffer updates. Forward
//    work that only fed @forward's other outputs is erased.
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"
#include "passes/TrainStep.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/DenseMap.h"

namespace kiln {
#define GEN_PASS_DEF_KILNAUTODIFF
#include "passes/Passes.h.inc"
} // namespace kiln

using namespace mlir;
using namespace kiln;

namespace {

bool isFloatTensor(Type type) {
  auto t = dyn_cast<RankedTensorType>(type);
  return t && isa<FloatType>(t.getElementType());
}

Value splatConstant(OpBuilder &b, Location loc, Type type, double value) {
  auto shaped = cast<RankedTensorType>(type);
  Attribute element = b.getFloatAttr(shaped.getElementType(), value);
  return ConstantOp::create(b, loc, DenseElementsAttr::get(shaped, element));
}

struct AutodiffPass : public kiln::impl::KilnAutodiffBase<AutodiffPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto forward = module.lookupSymbol<func::FuncOp>("forward");
    if (!forward) {
      module.emitError("kiln-autodiff: expected a func.func @forward to differentiate");
      return signalPassFailure();
    }
    if (module.lookupSymbol("train_step")) {
      module.emitError("kiln-autodiff: the module already has a @train_step");
      return signalPassFailure();
    }
    if (failed(buildTrainStep(module, forward))) {
      // Leave no half-built @train_step behind.
      if (Operation *partial = module.lookupSymbol("train_step"))
        partial->erase();
      signalPassFailure();
    }
  }

  LogicalResult buildTrainStep(ModuleOp module, func::FuncOp forward);
};

LogicalResult AutodiffPass::buildTrainStep(ModuleOp module, func::FuncOp forward) {
  MLIRContext *ctx = module.getContext();
  // The loss: the one result marked kiln.loss, a 0-d float tensor.
  std::optional<unsigned> lossIndex;
  for (unsigned i = 0; i < forward.getNumResults(); ++i) {
    if (!forward.getResultAttr(i, "kiln.loss"))
      continue;
    if (lossIndex)
      return forward.emitError("kiln-autodiff: results #")
             << *lossIndex << " and #" << i
             << " of @forward are both marked kiln.loss: expected one loss";
    lossIndex = i;
  }
  if (!lossIndex)
    return forward.emitError("kiln-autodiff: @forward has no loss result (a result "
                             "marked kiln.loss): there is nothing to differentiate");
  auto lossType = dyn_cast<RankedTensorType>(forward.getResultTypes()[*lossIndex]);
  if (!lossType || lossType.getRank() != 0 || !isa<FloatType>(lossType.getElementType()))
    return forward.emitError("kiln-autodiff: the loss must be a 0-d float tensor, found ")
           << forward.getResultTypes()[*lossIndex];
  if (!forward.getBody().hasOneBlock())
    return forward.emitError("kiln-autodiff: @forward must have a single block");
  for (unsigned i = 0; i < forward.getNumArguments(); ++i)
    if (auto name = forward.getArgAttrOfType<StringAttr>(i, "kiln.name");
        name && name.getValue() == "step")
      return forward.emitError("kiln-autodiff: argument #")
             << i << " of @forward is named 'step', the name of @train_step's step "
             << "counter; rename it";

  // 1. @train_step's entry block: @forward's arguments, then `step`.
  OpBuilder b(ctx);
  b.setInsertionPointAfter(forward);
  Location loc = forward.getLoc();
  auto stepType = RankedTensorType::get({}, b.getI64Type());
  SmallVector<Type> argTypes(forward.getArgumentTypes());
  argTypes.push_back(stepType);
  auto step = func::FuncOp::create(b, loc, "train_step",
                                   b.getFunctionType(argTypes, {}));
  Block *entry = step.addEntryBlock();
  Value stepArg = entry->getArgument(forward.getNumArguments());
  IRMapping map;
  for (unsigned i = 0; i < forward.getNumArguments(); ++i) {
    map.map(forward.getArgument(i), entry->getArgument(i));
    step.setArgAttrs(i, forward.getArgAttrDict(i));
  }
  step.setArgAttrs(forward.getNumArguments(),
                   b.getDictionaryAttr({
                       b.getNamedAttr("kiln.name", b.getStringAttr("step")),
                       b.getNamedAttr("kiln.role", ArgRoleAttr::get(ctx, ArgRole::step)),
                   }));
  if (Attribute opt = forward->getAttr("kiln.optimizer"))
    step->setAttr("kiln.optimizer", opt);

  b.setInsertionPointToEnd(entry);
  Operation *forwardReturn = forward.getBody().front().getTerminator();
  for (Operation &op : forward.getBody().front().without_terminator())
    b.clone(op, map);
  SmallVector<Value> forwardResults;
  for (Value v : forwardReturn->getOperands())
    forwardResults.push_back(map.lookupOrDefault(v));
  SmallVector<Operation *> forwardOps;
  for (Operation &op : *entry)
    forwardOps.push_back(&op);

  // 2. Rekey random ops by the step counter.
  for (Operation *op : forwardOps) {
    auto random = dyn_cast<RandomOpInterface>(op);
    if (!random)
      continue;
    b.setInsertionPoint(op);
    OpOperand &offset = random.getOffsetOperand();
    auto i64 = cast<RankedTensorType>(offset.get().getType());
    Value stride = ConstantOp::create(
        b, op->getLoc(), DenseElementsAttr::get(i64, APInt(64, uint64_t(1) << 32)));
    Value scaled = MulOp::create(b, op->getLoc(), i64, stepArg, stride);
    offset.set(AddOp::create(b, op->getLoc(), i64, offset.get(), scaled));
  }

  // 3. Activity: which parameter (index into `params`) a value depends on.
  SmallVector<unsigned> params;
  for (unsigned i = 0; i < forward.getNumArguments(); ++i) {
    auto role = forward.getArgAttrOfType<ArgRoleAttr>(i, "kiln.role");
    if (role && role.getValue() == ArgRole::param)
      params.push_back(i);
  }
  llvm::DenseMap<Value, unsigned> activeFrom;
  for (unsigned p = 0; p < params.size(); ++p)
    if (isFloatTensor(entry->getArgument(params[p]).getType()))
      activeFrom[entry->getArgument(params[p])] = p;
  for (Operation *op : forwardOps) {
    std::optional<unsigned> from;
    for (Value v : op->getOperands())
      if (auto it = activeFrom.find(v); it != activeFrom.end()) {
        from = it->second;
        break;
      }
    if (!from)
      continue;
    for (Value r : op->getResults())
      if (isFloatTensor(r.getType()))
        activeFrom[r] = *from;
  }
  auto paramName = [&](unsigned p) {
    auto name = forward.getArgAttrOfType<StringAttr>(params[p], "kiln.name");
    return name ? name.str() : "#" + std::to_string(params[p]);
  };

  // 4. The reverse sweep, appended after the forward ops.
  b.setInsertionPointToEnd(entry);
  llvm::DenseMap<Value, Value> adjoint;
  Value loss = forwardResults[*lossIndex];
  if (activeFrom.count(loss))
    adjoint[loss] = splatConstant(b, loc, loss.getType(), 1.0);
  for (Operation *op : llvm::reverse(forwardOps)) {
    SmallVector<Value> resultGrads;
    bool anyGrad = false;
    for (Value r : op->getResults()) {
      resultGrads.push_back(adjoint.lookup(r));
      anyGrad |= resultGrads.back() != nullptr;
    }
    std::optional<unsigned> from;
    for (Value v : op->getOperands())
      if (auto it = activeFrom.find(v); it != activeFrom.end() && !from)
        from = it->second;
    if (!anyGrad || !from)
      continue;
    auto rule = dyn_cast<GradientOpInterface>(op);
    if (!rule)
      return op->emitError("kiln-autodiff: '")
             << op->getName() << "' has no gradient rule; it is on the path from "
             << "parameter '" << paramName(*from) << "' to the loss";
    SmallVector<Value> operandGrads;
    b.setInsertionPointToEnd(entry);
    if (failed(rule.buildGradients(b, resultGrads, operandGrads)))
      return failure();
    if (operandGrads.size() != op->getNumOperands())
      return op->emitError("kiln-autodiff: internal error: the gradient rule of '")
             << op->getName() << "' returned " << operandGrads.size()
             << " adjoints for " << op->getNumOperands() << " operands";
    for (auto [operand, grad] : llvm::zip_equal(op->getOperands(), operandGrads)) {
      if (!grad || !activeFrom.count(operand))
        continue;
      if (grad.getType() != operand.getType())
        return op->emitError("kiln-autodiff: internal error: the gradient rule of '")
               << op->getName() << "' built an adjoint of type " << grad.getType()
               << " for an operand of type " << operand.getType();
      Value &acc = adjoint[operand];
      acc = acc ? AddOp::create(b, op->getLoc(), acc.getType(), acc, grad).getResult()
                : grad;
    }
  }

  // 5. Results: loss, gradients in parameter order, buffer updates.
  SmallVector<Value> results = {loss};
  SmallVector<DictionaryAttr> resultAttrs = {forward.getResultAttrDict(*lossIndex)};
  for (unsigned p = 0; p < params.size(); ++p) {
    Value param = entry->getArgument(params[p]);
    std::string name = paramName(p);
    SmallVector<NamedAttribute> attrs = {
        b.getNamedAttr("kiln.name", b.getStringAttr(name + ".grad")),
        b.getNamedAttr("kiln.grad_of", b.getStringAttr(name))};
    Value grad = adjoint.lookup(param);
    if (!grad) {
      if (!isFloatTensor(param.getType()))
        return forward.emitError("kiln-autodiff: parameter '")
               << name << "' has type " << param.getType()
               << ": only float parameters can be trained";
      mlir::emitWarning(forward.getArgument(params[p]).getLoc())
          << "parameter '" << name
          << "' receives no gradient from the loss; the optimizer leaves it unchanged";
      grad = splatConstant(b, loc, param.getType(), 0.0);
      attrs.push_back(b.getNamedAttr("kiln.no_gradient", b.getUnitAttr()));
    }
    results.push_back(grad);
    resultAttrs.push_back(b.getDictionaryAttr(attrs));
  }
  for (unsigned i = 0; i < forward.getNumResults(); ++i)
    if (forward.getResultAttr(i, "kiln.updates")) {
      results.push_back(forwardResults[i]);
      resultAttrs.push_back(forward.getResultAttrDict(i));
    }
  if (std::optional<StringRef> name = repeatedName(resultAttrs))
    return forward.emitError("kiln-autodiff: @train_step would have two results named '")
           << *name << "' (a gradient is named '<param>.grad'); rename the "
           << "@forward result";
  func::ReturnOp::create(b, forwardReturn->getLoc(), results);
  step.setFunctionType(b.getFunctionType(argTypes, ValueRange(results).getTypes()));
  for (unsigned i = 0; i < resultAttrs.size(); ++i)
    step.setResultAttrs(i, resultAttrs[i]);

  // Erase what only @forward's other outputs needed, and unused adjoints.
  for (Operation &op : llvm::make_early_inc_range(llvm::reverse(*entry)))
    if (isOpTriviallyDead(&op))
      op.erase();
  return success();
}

} // namespace
