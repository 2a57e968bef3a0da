//===- Optimizer.cpp - --kiln-optimizer -----------------------------------===//
//
// Turns the gradient form of @train_step into the full training step
// (docs/training.md), following its #kiln.optimizer<...> with PyTorch's
// semantics. Each formula is written in the order PyTorch 1.13 evaluates it
// (torch/optim/sgd.py, adam.py, adamw.py: the single-tensor loops;
// torch/nn/utils/clip_grad.py), so that f64 runs agree with the PyTorch
// oracle to rounding:
//
// 1. Check the gradient form: arguments inputs/params/buffers then `step`;
//    results loss, one `kiln.grad_of` per parameter in order, buffer updates.
// 2. Add the state arguments before `step`, parameter by parameter.
// 3. Clip: total = sqrt(sum of sum(g*g)), g *= min(clip / (total + 1e-6), 1).
// 4. lr_t at `step` on 0-d f64 tensors: base = lr (constant) or
//    min_lr + ((lr - min_lr) * 0.5) * (1 + cos(pi * clamp((s - W) / (T - W),
//    0, 1))) (cosine); lr_t = base * min((s + 1) / W, 1) with warmup W.
// 5. Per parameter, in its element type (scalars cast, then broadcast):
//      sgd       g += wd*p; p -= lr_t*g
//      momentum  g += wd*p; buf = buf*mu + g; p -= lr_t*buf
//      nesterov  as momentum, then p -= lr_t*(g + mu*buf)
//      adam      g += wd*p; m = m*b1 + (1-b1)*g; v = v*b2 + ((1-b2)*g)*g;
//                p -= ((lr_t / bc1) * m) / (sqrt(v) / sqrt(bc2) + eps)
//      adamw     p *= 1 - lr_t*wd, then adam without the g += wd*p
//    with bc = 1 - beta^(s+1). `kiln.no_gradient` parameters and their
//    state pass through unchanged, as PyTorch skips a None gradient.
// 6. Return loss, parameters, buffer updates and state, each result named
//    `<arg>.updated` with `kiln.updates = "<arg>"`.
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"
#include "passes/TrainStep.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/MathExtras.h"

namespace kiln {
#define GEN_PASS_DEF_KILNOPTIMIZER
#include "passes/Passes.h.inc"
} // namespace kiln

using namespace mlir;
using namespace kiln;

namespace {

/// A parameter of the gradient-form @train_step and what the pass adds.
struct Param {
  unsigned arg;          // argument index
  std::string name;      // kiln.name
  RankedTensorType type; // its (float) tensor type
  Value grad;            // the gradient result's value
  bool noGradient;       // the gradient result carries kiln.no_gradient
  SmallVector<Value> state; // state arguments, one per slot
};

/// The state slots of an optimizer kind (docs/training.md).
SmallVector<StringRef> slotsOf(OptimizerKind kind) {
  switch (kind) {
  case OptimizerKind::sgd:
    return {};
  case OptimizerKind::momentum:
  case OptimizerKind::nesterov:
    return {"momentum"};
  case OptimizerKind::adam:
  case OptimizerKind::adamw:
    return {"m", "v"};
  }
  return {};
}

/// Builds the update with kiln ops. Scalars are 0-d f64 tensors; `at`
/// brings one to a parameter's type (cast, then broadcast), once per type.
class UpdateBuilder {
public:
  UpdateBuilder(OpBuilder &b, Location loc) : b(b), loc(loc) {}

  Value f64(double v) { return splat(v, RankedTensorType::get({}, b.getF64Type())); }
  /// A constant of `type` holding `v` rounded to its element type (one op
  /// per value and type, so that the IR reads like the formulas).
  Value splat(double v, RankedTensorType type) {
    auto [it, inserted] = constants.try_emplace({llvm::bit_cast<uint64_t>(v), type});
    if (inserted)
      it->second = ConstantOp::create(
          b, loc, DenseElementsAttr::get(type, b.getFloatAttr(type.getElementType(), v)));
    return it->second;
  }
  /// A hyperparameter in a parameter's type: an f64 constant cast to it, so
  /// that an f64 run computes with the exact value (PyTorch's f64 numbers)
  /// and a native run with the value rounded to the parameter's type.
  Value hyper(double v, RankedTensorType type) { return at(f64(v), type); }
  Value at(Value scalar, RankedTensorType type) {
    if (type == scalar.getType())
      return scalar;
    if (Value v = placed.lookup({scalar, type}))
      return v;
    Value v;
    if (type.getRank() == 0)
      v = CastOp::create(b, loc, type, scalar);
    else
      v = BroadcastOp::create(b, loc, type,
                              at(scalar, RankedTensorType::get({}, type.getElementType())),
                              b.getDenseI64ArrayAttr({}));
    placed[{scalar, type}] = v;
    return v;
  }

  Value add(Value x, Value y) { return AddOp::create(b, loc, x, y); }
  Value sub(Value x, Value y) { return SubOp::create(b, loc, x, y); }
  Value mul(Value x, Value y) { return MulOp::create(b, loc, x, y); }
  Value div(Value x, Value y) { return DivOp::create(b, loc, x, y); }
  Value min(Value x, Value y) { return MinimumOp::create(b, loc, x, y); }
  Value max(Value x, Value y) { return MaximumOp::create(b, loc, x, y); }
  Value pow(Value x, Value y) { return PowOp::create(b, loc, x, y); }
  Value sqrt(Value x) { return SqrtOp::create(b, loc, x); }
  Value cos(Value x) { return CosOp::create(b, loc, x); }
  Value toF64(Value x) {
    auto type = RankedTensorType::get({}, b.getF64Type());
    return x.getType() == type ? x : CastOp::create(b, loc, type, x);
  }
  /// sum(x * x) over all dimensions, as a 0-d f64 tensor.
  Value sumOfSquares(Value x) {
    auto type = cast<RankedTensorType>(x.getType());
    Value sq = mul(x, x);
    if (type.getRank() != 0) {
      SmallVector<int64_t> dims = llvm::to_vector(llvm::seq<int64_t>(0, type.getRank()));
      sq = ReduceOp::create(b, loc, ReduceKind::sum, sq, dims);
    }
    return toF64(sq);
  }

private:
  OpBuilder &b;
  Location loc;
  llvm::DenseMap<std::pair<Value, Type>, Value> placed;
  llvm::DenseMap<std::pair<uint64_t, Type>, Value> constants;
};

struct OptimizerPass : public kiln::impl::KilnOptimizerBase<OptimizerPass> {
  using KilnOptimizerBase::KilnOptimizerBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto step = module.lookupSymbol<func::FuncOp>("train_step");
    if (!step) {
      module.emitError("kiln-optimizer: expected a func.func @train_step in "
                       "gradient form (run --kiln-autodiff first)");
      return signalPassFailure();
    }
    if (failed(rewrite(step)))
      signalPassFailure();
  }

  FailureOr<OptimizerConfig> configOf(func::FuncOp fn);
  LogicalResult rewrite(func::FuncOp fn);
};

/// The function's optimizer, with the total-steps option applied.
FailureOr<OptimizerConfig> OptimizerPass::configOf(func::FuncOp fn) {
  Attribute attr = fn->getAttr("kiln.optimizer");
  if (!attr)
    return fn.emitError("kiln-optimizer: @train_step has no kiln.optimizer; the "
                        "model needs a train clause (train with adam(...))");
  auto optimizer = dyn_cast<OptimizerAttr>(attr);
  if (!optimizer)
    return fn.emitError("kiln-optimizer: @train_step's kiln.optimizer is ")
           << attr << ", expected a #kiln.optimizer<...>";
  OptimizerConfig config = optimizer.getConfig();
  int64_t runSteps = totalSteps;
  if (runSteps < 0)
    return fn.emitError("kiln-optimizer: total-steps must be >= 0, found ")
           << runSteps;
  if (config.schedule != LrSchedule::cosine)
    return config;
  if (runSteps > 0)
    config.totalSteps = runSteps;
  if (config.totalSteps == 0)
    return fn.emitError("kiln-optimizer: the cosine schedule of @train_step needs "
                        "total_steps: give it in the train clause or as "
                        "--kiln-optimizer=\"total-steps=N\"");
  if (std::optional<OptimizerConfig::Problem> problem = config.check())
    return fn.emitError("kiln-optimizer: with total-steps = ")
           << runSteps << ": " << problem->message;
  return config;
}

LogicalResult OptimizerPass::rewrite(func::FuncOp fn) {
  MLIRContext *ctx = fn.getContext();
  auto notGradientForm = [&]() {
    return fn.emitError("kiln-optimizer: @train_step is not in gradient form: ");
  };
  if (!fn.getBody().hasOneBlock())
    return notGradientForm() << "expected a single block";
  FailureOr<OptimizerConfig> maybeConfig = configOf(fn);
  if (failed(maybeConfig))
    return failure();
  const OptimizerConfig &config = *maybeConfig;

  // 1. Arguments: inputs, params, buffers, then the step counter.
  unsigned numArgs = fn.getNumArguments();
  SmallVector<Param> params;
  llvm::StringSet<> argNames, buffers;
  for (unsigned i = 0; i < numArgs; ++i) {
    auto name = fn.getArgAttrOfType<StringAttr>(i, "kiln.name");
    auto role = fn.getArgAttrOfType<ArgRoleAttr>(i, "kiln.role");
    if (!name || !role)
      return notGradientForm() << "argument #" << i
                               << " has no kiln.name or kiln.role";
    argNames.insert(name.getValue());
    ArgRole r = role.getValue();
    if (r == ArgRole::opt_state)
      return notGradientForm() << "argument '" << name.getValue()
                               << "' is already optimizer state (did "
                                  "--kiln-optimizer run twice?)";
    if ((r == ArgRole::step) != (i + 1 == numArgs))
      return notGradientForm()
             << "expected the step counter (kiln.role = #kiln<role step>) as "
                "the last argument, found '"
             << name.getValue() << "' with role " << role << " at #" << i;
    if (r == ArgRole::buffer)
      buffers.insert(name.getValue());
    if (r != ArgRole::param)
      continue;
    auto type = dyn_cast<RankedTensorType>(fn.getArgumentTypes()[i]);
    if (!type || !isa<FloatType>(type.getElementType()))
      return fn.emitError("kiln-optimizer: parameter '")
             << name.getValue() << "' has type " << fn.getArgumentTypes()[i]
             << ": only float parameters can be trained";
    params.push_back({i, name.str(), type, Value(), false, {}});
  }
  if (numArgs == 0)
    return notGradientForm() << "it has no step counter argument";
  Value stepArg = fn.getArgument(numArgs - 1);
  if (stepArg.getType() != RankedTensorType::get({}, IntegerType::get(ctx, 64)))
    return notGradientForm() << "the step counter has type " << stepArg.getType()
                             << ", expected tensor<i64>";

  // Results: loss, gradients in parameter order, buffer updates.
  auto ret = cast<func::ReturnOp>(fn.getBody().front().getTerminator());
  unsigned numResults = fn.getNumResults();
  if (numResults < 1 + params.size() || !fn.getResultAttr(0, "kiln.loss"))
    return notGradientForm() << "expected the loss (kiln.loss) and "
                             << params.size() << " gradients as its first "
                             << 1 + params.size() << " results";
  for (auto [p, param] : llvm::enumerate(params)) {
    unsigned r = 1 + p;
    auto of = fn.getResultAttrOfType<StringAttr>(r, "kiln.grad_of");
    if (!of || of.getValue() != param.name || fn.getResultTypes()[r] != param.type)
      return notGradientForm()
             << "result #" << r << " should be the gradient of parameter '"
             << param.name << "' of type " << param.type << " (kiln.grad_of = \""
             << param.name << "\"), found a result of type "
             << fn.getResultTypes()[r] << " with " << fn.getResultAttrDict(r);
    param.grad = ret.getOperand(r);
    param.noGradient = fn.getResultAttr(r, "kiln.no_gradient") != nullptr;
  }
  for (unsigned r = 1 + params.size(); r < numResults; ++r) {
    auto updates = fn.getResultAttrOfType<StringAttr>(r, "kiln.updates");
    if (!updates || !buffers.contains(updates.getValue()))
      return notGradientForm() << "result #" << r
                               << " should update a buffer (kiln.updates), found "
                               << fn.getResultAttrDict(r);
  }

  // 2. State arguments before `step`: per parameter, its slots in order.
  OpBuilder b(ctx);
  SmallVector<StringRef> slots = slotsOf(config.kind);
  SmallVector<unsigned> indices;
  SmallVector<Type> types;
  SmallVector<DictionaryAttr> attrs;
  SmallVector<Location> locs;
  SmallVector<std::string> stateNames;
  for (const Param &param : params)
    for (StringRef slot : slots) {
      std::string name = param.name + "." + slot.str();
      if (argNames.contains(name))
        return fn.emitError("kiln-optimizer: the state '")
               << name << "' of parameter '" << param.name
               << "' would reuse the name of an argument";
      indices.push_back(numArgs - 1);
      types.push_back(param.type);
      attrs.push_back(b.getDictionaryAttr({
          b.getNamedAttr("kiln.name", b.getStringAttr(name)),
          b.getNamedAttr("kiln.role", ArgRoleAttr::get(ctx, ArgRole::opt_state)),
          b.getNamedAttr("kiln.state_of", b.getStringAttr(param.name)),
          b.getNamedAttr("kiln.init", InitKindAttr::get(ctx, InitKind::zeros)),
      }));
      locs.push_back(fn.getArgument(param.arg).getLoc());
      stateNames.push_back(name);
    }
  if (failed(fn.insertArguments(indices, types, attrs, locs)))
    return fn.emitError("kiln-optimizer: could not add the optimizer state arguments");
  unsigned firstState = numArgs - 1;
  for (auto [p, param] : llvm::enumerate(params))
    for (unsigned s = 0; s < slots.size(); ++s)
      param.state.push_back(fn.getArgument(firstState + p * slots.size() + s));
  stepArg = fn.getArgument(fn.getNumArguments() - 1);

  b.setInsertionPoint(ret);
  UpdateBuilder u(b, ret.getLoc());

  // 3. Clipping by the global norm of the gradients that exist.
  SmallVector<Value> grads;
  for (const Param &param : params)
    grads.push_back(param.grad);
  if (config.clipNorm > 0) {
    Value sum;
    for (const Param &param : params)
      if (!param.noGradient) {
        Value part = u.sumOfSquares(param.grad);
        sum = sum ? u.add(sum, part) : part;
      }
    if (sum) {
      Value total = u.sqrt(sum);
      Value coef = u.min(u.div(u.f64(config.clipNorm), u.add(total, u.f64(1e-6))),
                         u.f64(1.0));
      for (auto [p, param] : llvm::enumerate(params))
        if (!param.noGradient)
          grads[p] = u.mul(grads[p], u.at(coef, param.type));
    }
  }

  // 4. The learning rate of this step.
  Value s, s1; // the step and step + 1 as f64, built on first use
  auto stepF64 = [&]() { return s ? s : (s = u.toF64(stepArg)); };
  auto stepPlus1 = [&]() { return s1 ? s1 : (s1 = u.add(stepF64(), u.f64(1.0))); };
  Value lr;
  if (config.schedule == LrSchedule::cosine) {
    double decaySteps = double(config.totalSteps - config.warmupSteps);
    Value progress = u.div(u.sub(stepF64(), u.f64(double(config.warmupSteps))),
                           u.f64(decaySteps));
    progress = u.min(u.max(progress, u.f64(0.0)), u.f64(1.0));
    Value cosine = u.cos(u.mul(u.f64(llvm::numbers::pi), progress));
    lr = u.add(u.f64(config.minLr),
               u.mul(u.f64((config.lr - config.minLr) * 0.5), u.add(u.f64(1.0), cosine)));
  } else {
    lr = u.f64(config.lr);
  }
  if (config.warmupSteps > 0) {
    Value ramp = u.div(stepPlus1(), u.f64(double(config.warmupSteps)));
    lr = u.mul(lr, u.min(ramp, u.f64(1.0)));
  }

  // Adam's bias corrections at t = step + 1.
  Value stepSize, bc2Sqrt;
  if (config.usesAdam()) {
    Value t = stepPlus1();
    Value bc1 = u.sub(u.f64(1.0), u.pow(u.f64(config.beta1), t));
    Value bc2 = u.sub(u.f64(1.0), u.pow(u.f64(config.beta2), t));
    stepSize = u.div(lr, bc1);
    bc2Sqrt = u.sqrt(bc2);
  }
  Value decayFactor; // adamw: 1 - lr_t * wd
  if (config.kind == OptimizerKind::adamw && config.weightDecay != 0)
    decayFactor = u.sub(u.f64(1.0), u.mul(lr, u.f64(config.weightDecay)));

  // 5. The update of each parameter and its state.
  SmallVector<Value> newParams, newState;
  for (auto [p, param] : llvm::enumerate(params)) {
    Value w = fn.getArgument(param.arg);
    if (param.noGradient) {
      newParams.push_back(w);
      newState.append(param.state.begin(), param.state.end());
      continue;
    }
    RankedTensorType type = param.type;
    Value g = grads[p];
    bool l2 = config.weightDecay != 0 && config.kind != OptimizerKind::adamw;
    if (l2)
      g = u.add(g, u.mul(u.hyper(config.weightDecay, type), w));
    switch (config.kind) {
    case OptimizerKind::sgd:
      newParams.push_back(u.sub(w, u.mul(u.at(lr, type), g)));
      break;
    case OptimizerKind::momentum:
    case OptimizerKind::nesterov: {
      Value mu = u.hyper(config.momentum, type);
      Value buf = u.add(u.mul(param.state[0], mu), g);
      Value d = config.kind == OptimizerKind::nesterov ? u.add(g, u.mul(mu, buf)) : buf;
      newParams.push_back(u.sub(w, u.mul(u.at(lr, type), d)));
      newState.push_back(buf);
      break;
    }
    case OptimizerKind::adam:
    case OptimizerKind::adamw: {
      if (decayFactor)
        w = u.mul(w, u.at(decayFactor, type));
      Value m = u.add(u.mul(param.state[0], u.hyper(config.beta1, type)),
                      u.mul(u.hyper(1.0 - config.beta1, type), g));
      Value v = u.add(u.mul(param.state[1], u.hyper(config.beta2, type)),
                      u.mul(u.mul(u.hyper(1.0 - config.beta2, type), g), g));
      Value denom = u.add(u.div(u.sqrt(v), u.at(bc2Sqrt, type)),
                          u.hyper(config.eps, type));
      newParams.push_back(u.sub(w, u.div(u.mul(u.at(stepSize, type), m), denom)));
      newState.append({m, v});
      break;
    }
    }
  }

  // 6. Results: loss, parameters, buffer updates, state.
  SmallVector<Value> results = {ret.getOperand(0)};
  SmallVector<DictionaryAttr> resultAttrs = {fn.getResultAttrDict(0)};
  auto updates = [&](StringRef arg) {
    return b.getDictionaryAttr({
        b.getNamedAttr("kiln.name", b.getStringAttr(arg + ".updated")),
        b.getNamedAttr("kiln.updates", b.getStringAttr(arg)),
    });
  };
  for (auto [p, param] : llvm::enumerate(params)) {
    results.push_back(newParams[p]);
    resultAttrs.push_back(updates(param.name));
  }
  for (unsigned r = 1 + params.size(); r < numResults; ++r) {
    results.push_back(ret.getOperand(r));
    resultAttrs.push_back(fn.getResultAttrDict(r));
  }
  for (auto [name, value] : llvm::zip_equal(stateNames, newState)) {
    results.push_back(value);
    resultAttrs.push_back(updates(name));
  }
  if (std::optional<StringRef> name = repeatedName(resultAttrs))
    return fn.emitError("kiln-optimizer: @train_step would have two results named '")
           << *name << "' (an update is named '<arg>.updated'); rename the "
           << "@forward result";
  func::ReturnOp::create(b, ret.getLoc(), results);
  ret.erase();
  fn.setFunctionType(
      b.getFunctionType(fn.getArgumentTypes(), ValueRange(results).getTypes()));
  fn.setAllResultAttrs(resultAttrs);

  // The gradients of untrained parameters (zero constants) are now dead.
  for (Operation &op : llvm::make_early_inc_range(llvm::reverse(fn.getBody().front())))
    if (isOpTriviallyDead(&op))
      op.erase();
  return success();
}

} // namespace
