//===- Lowering.cpp - Elaboration of a .kiln model into kiln IR -----------===//
//
// 1. Model arguments are evaluated (defaults, then command-line overrides).
// 2. The model body runs statement by statement: inputs and params become
//    @forward arguments, blocks are recorded, instantiations run the block
//    body under a dotted path, bindings evaluate expressions into kiln ops.
// 3. Outputs, the loss and the train clause become results and attributes;
//    the function type is fixed up and the module verified.
//
//===----------------------------------------------------------------------===//
#include "frontend/Lowering.h"
#include "ir/Dialect.h"

#include "mlir/IR/Verifier.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSwitch.h"

#include <cmath>

using namespace kiln::frontend;
using llvm::SMRange;
using llvm::StringRef;
using mlir::RankedTensorType;
using mlir::Type;
using mlir::Value;

namespace {
constexpr unsigned kMaxInstanceDepth = 64;
/// Block instances and params cost more of the op budget than an op: each
/// holds a scope and becomes IR arguments (keeps memory bounded on fuzzing).
constexpr uint64_t kInstanceCost = 16;
} // namespace

Elaborator::Elaborator(llvm::SourceMgr &srcMgr, Diagnostics &diag,
                       mlir::MLIRContext &ctx, StringRef filename)
    : diag(diag), ctx(ctx), b(&ctx), srcMgr(srcMgr),
      file(mlir::StringAttr::get(&ctx, filename)) {}

Elaborator::~Elaborator() {
  // Scopes refer to each other in cycles (a block's definition holds the
  // scope it is bound in); drop every binding so they are all freed.
  for (auto &scope : scopes) {
    scope->vars.clear();
    scope->parent.reset();
  }
}

std::shared_ptr<Scope> Elaborator::newScope() {
  scopes.push_back(std::make_shared<Scope>());
  return scopes.back();
}

//===----------------------------------------------------------------------===//
// Blocks
//===----------------------------------------------------------------------===//

Val Elaborator::instantiate(const Expr &call, const Val &def, Scope &scope,
                            const std::string &path) {
  const Stmt &block = *def.block;
  StringRef name = block.names[0];
  size_t nparams = block.names.size() - 1;
  if (call.args.size() != nparams) {
    diag.error(call.range, "block '" + name + "' takes " +
                               llvm::Twine(nparams) + " argument" +
                               (nparams == 1 ? "" : "s") + ", found " +
                               llvm::Twine(call.args.size()));
    return Val::poison();
  }
  if (instDepth >= kMaxInstanceDepth) {
    diag.error(call.range, "blocks are nested more than " +
                               llvm::Twine(kMaxInstanceDepth) +
                               " deep (does block '" + name +
                               "' instantiate itself?)");
    return Val::poison();
  }
  if (!spend(call.range, kInstanceCost))
    return Val::poison();
  auto inst = std::make_shared<Instance>();
  inst->path = path;
  inst->blockName = name;
  inst->scope = newScope();
  inst->scope->parent = def.blockScope;
  // Arguments: positional, or by parameter name.
  std::vector<Val> vals(nparams);
  std::vector<bool> set(nparams, false);
  for (size_t i = 0; i < call.args.size(); ++i) {
    const Arg &a = call.args[i];
    size_t slot = i;
    if (!a.name.empty()) {
      auto it = llvm::find(llvm::ArrayRef(block.names).drop_front(), a.name);
      if (it == block.names.end()) {
        diag.error(a.nameRange, "block '" + name + "' has no argument '" +
                                    a.name + "'");
        return Val::poison();
      }
      slot = it - block.names.begin() - 1;
    }
    if (set[slot]) {
      diag.error(a.value->range, "argument '" + block.names[slot + 1] +
                                     "' of block '" + name +
                                     "' is given twice");
      return Val::poison();
    }
    set[slot] = true;
    vals[slot] = eval(*a.value, scope);
    if (vals[slot].isPoison())
      return Val::poison();
  }
  for (size_t i = 0; i < nparams; ++i)
    bind(*inst->scope, block.names[i + 1], block.nameRanges[i + 1], vals[i],
         false);
  ++instDepth;
  unsigned errorsBefore = diag.errorCount();
  bool ok = exec(block.body, inst->scope, StmtContext::Block, path + ".",
                 nullptr);
  --instDepth;
  if (diag.errorCount() != errorsBefore)
    diag.note(call.range, "in '" + path + "', an instance of block '" + name +
                              "' created here");
  if (!ok)
    return Val::poison();
  for (auto &s : block.body)
    if (s->kind == Stmt::Fn) {
      inst->fn = s.get();
      break;
    }
  Val r;
  r.kind = Val::Inst;
  r.insts.push_back(std::move(inst));
  return r;
}

Val Elaborator::bindInstance(const Stmt &let, Scope &scope,
                             const std::string &path) {
  const Expr &call = *let.value;
  const Expr &callee = *call.lhs;
  if (callee.text == "repeat") {
    if (call.args.size() != 2 || !call.args[0].name.empty() ||
        !call.args[1].name.empty()) {
      diag.error(call.range, "repeat takes 2 arguments (a count and a block "
                             "instantiation), found " +
                                 llvm::Twine(call.args.size()));
      return Val::poison();
    }
    Val count = eval(*call.args[0].value, scope);
    if (count.isPoison())
      return count;
    if (count.kind != Val::Int || count.i < 1 || count.i > 65536) {
      diag.error(call.args[0].value->range,
                 "expected a repeat count between 1 and 65536, found " +
                     describe(count));
      return Val::poison();
    }
    const Expr &inner = *call.args[1].value;
    const Binding *def = inner.kind == Expr::Call &&
                                 inner.lhs->kind == Expr::Name
                             ? scope.lookup(inner.lhs->text)
                             : nullptr;
    if (!def || def->val.kind != Val::BlockDef) {
      diag.error(inner.range, "expected a block instantiation such as "
                              "'decoder(d, heads)' as the second argument of "
                              "repeat");
      return Val::poison();
    }
    Val r;
    r.kind = Val::Inst;
    for (int64_t i = 0; i < count.i; ++i) {
      Val one = instantiate(inner, def->val, scope,
                            path + "." + std::to_string(i));
      if (one.isPoison())
        return one;
      r.insts.push_back(one.insts[0]);
    }
    return r;
  }
  const Binding *def = scope.lookup(callee.text);
  return instantiate(call, def->val, scope, path);
}

Val Elaborator::callInstance(const Expr &call, const Val &target,
                             Scope &scope) {
  std::vector<Val> args;
  for (auto &a : call.args) {
    if (!a.name.empty()) {
      diag.error(a.nameRange, "block instances take positional arguments "
                              "only");
      return Val::poison();
    }
    Val v = eval(*a.value, scope);
    if (v.isPoison())
      return v;
    args.push_back(std::move(v));
  }
  // A repetition threads its first argument through every instance; the
  // other arguments are passed unchanged to each.
  for (auto &inst : target.insts) {
    Val out = callFn(*inst, args, call);
    if (out.isPoison())
      return out;
    if (target.insts.size() > 1) {
      if (out.kind == Val::Tuple) {
        diag.error(call.range, "a repetition of '" + inst->blockName +
                                   "' must return one value to thread "
                                   "through the next instance");
        return Val::poison();
      }
      args[0] = out;
    } else {
      return out;
    }
  }
  return args[0];
}

Val Elaborator::callFn(const Instance &inst, llvm::ArrayRef<Val> args,
                       const Expr &call) {
  if (!inst.fn) {
    diag.error(call.range, "block '" + inst.blockName +
                               "' has no 'fn(...)', so its instance '" +
                               inst.path + "' cannot be called");
    return Val::poison();
  }
  const Stmt &fn = *inst.fn;
  if (fn.names.size() != args.size()) {
    diag.error(call.range, "'" + inst.path + "' (block '" + inst.blockName +
                               "') takes " + llvm::Twine(fn.names.size()) +
                               " argument" +
                               (fn.names.size() == 1 ? "" : "s") +
                               ", found " + llvm::Twine(args.size()));
    return Val::poison();
  }
  if (instDepth >= kMaxInstanceDepth) {
    diag.error(call.range, "block calls are nested more than " +
                               llvm::Twine(kMaxInstanceDepth) + " deep");
    return Val::poison();
  }
  auto local = newScope();
  local->parent = inst.scope;
  for (size_t i = 0; i < args.size(); ++i)
    bind(*local, fn.names[i], fn.nameRanges[i], args[i], false);
  ++instDepth;
  unsigned errorsBefore = diag.errorCount();
  Val result;
  if (fn.exprBody) {
    result = eval(*fn.value, *local);
  } else {
    std::optional<Val> ret;
    if (exec(fn.body, local, StmtContext::Fn, inst.path + ".", &ret)) {
      if (ret)
        result = *ret;
      else
        diag.error(fn.range, "fn of block '" + inst.blockName +
                                 "' ends without 'return'");
    }
  }
  --instDepth;
  if (diag.errorCount() != errorsBefore)
    diag.note(call.range, "in a call of '" + inst.path + "' (block '" +
                              inst.blockName + "')");
  return result;
}

//===----------------------------------------------------------------------===//
// Statements
//===----------------------------------------------------------------------===//

bool Elaborator::bind(Scope &scope, StringRef name, SMRange r, Val v,
                      bool fixed) {
  auto it = scope.vars.find(name);
  if (it != scope.vars.end() && (it->second.fixed || fixed)) {
    diag.error(r, "redefinition of '" + name + "'");
    diag.note(it->second.defRange, "'" + name + "' was defined here");
    return false;
  }
  Binding &bnd = scope.vars[name];
  bnd.val = std::move(v);
  bnd.defRange = r;
  bnd.fixed = fixed;
  return true;
}

static const char *const kInitNames[] = {
    "zeros", "ones", "constant", "uniform", "normal", "xavier_uniform",
    "xavier_normal", "kaiming_uniform", "kaiming_normal"};

bool Elaborator::declareParam(const Stmt &s,
                              const std::shared_ptr<Scope> &scope,
                              const std::string &pathPrefix) {
  auto prev = scope->vars.find(s.names[0]);
  if (prev != scope->vars.end()) {
    diag.error(s.nameRanges[0], "redefinition of '" + s.names[0] + "'");
    diag.note(prev->second.defRange, "'" + s.names[0] + "' was defined here");
    return false;
  }
  auto type = evalType(s.type, *scope);
  if (!type)
    return false;
  // The initializer: NAME or NAME(numbers...).
  const Expr &init = *s.value;
  const Expr *nameExpr = init.kind == Expr::Call ? init.lhs.get() : &init;
  if (nameExpr->kind != Expr::Name) {
    diag.error(init.range, "expected an initializer name such as zeros or "
                           "kaiming_uniform");
    return false;
  }
  StringRef iname = nameExpr->text;
  auto kind = kiln::symbolizeInitKind(iname);
  if (!kind) {
    diag.error(nameExpr->range,
               "unknown initializer '" + iname + "'; expected one of " +
                   llvm::join(llvm::ArrayRef(kInitNames), ", "));
    return false;
  }
  unsigned want = llvm::StringSwitch<unsigned>(iname)
                      .Case("constant", 1)
                      .Cases({"uniform", "normal"}, 2)
                      .Default(0);
  ParamInfo info;
  info.isBuffer = s.isBuffer;
  info.init = kiln::InitKindAttr::get(&ctx, *kind);
  size_t given = init.kind == Expr::Call ? init.args.size() : 0;
  if (given != want) {
    static const char *const sigs[] = {"", "constant(value)",
                                       "uniform(lo, hi) / normal(mean, std)"};
    diag.error(init.range, "initializer '" + iname + "' takes " +
                               llvm::Twine(want) + " argument" +
                               (want == 1 ? "" : "s") +
                               (want ? std::string(" (") + sigs[want] + ")"
                                     : std::string()) +
                               ", found " + llvm::Twine(given));
    return false;
  }
  for (size_t i = 0; i < given; ++i) {
    Val v = eval(*init.args[i].value, *scope);
    if (v.isPoison())
      return false;
    if (!v.isNumber()) {
      diag.error(init.args[i].value->range,
                 "expected a number as initializer argument, found " +
                     describe(v));
      return false;
    }
    info.initArgs.push_back(v.num());
  }
  if (iname == "uniform" && !(info.initArgs[0] < info.initArgs[1])) {
    diag.error(init.range, "uniform(lo, hi) needs lo < hi, found lo = " +
                               fmtNum(info.initArgs[0]) + " and hi = " +
                               fmtNum(info.initArgs[1]));
    return false;
  }
  if (iname == "normal" && !(info.initArgs[1] >= 0)) {
    diag.error(init.range, "normal(mean, std) needs std >= 0, found " +
                               fmtNum(info.initArgs[1]));
    return false;
  }
  if ((iname.starts_with("xavier") || iname.starts_with("kaiming")) &&
      type->getRank() < 2) {
    diag.error(init.range, "initializer '" + iname +
                               "' needs a parameter of rank >= 2 (it reads "
                               "fan-in and fan-out), found " + fmt(*type));
    return false;
  }
  if (!mlir::isa<mlir::FloatType>(type->getElementType())) {
    diag.error(s.type.range, "parameters must have a float dtype, found " +
                                 fmt(*type));
    return false;
  }
  info.name = pathPrefix + s.names[0].str();
  auto [it, inserted] = paramPaths.try_emplace(info.name, s.nameRanges[0]);
  if (!inserted) {
    diag.error(s.nameRanges[0], "parameter '" + info.name +
                                    "' is defined twice");
    diag.note(it->second, "first defined here");
    return false;
  }
  if (!spend(s.range, kInstanceCost))
    return false;
  Value arg = entry->addArgument(*type, loc(s.nameRanges[0]));
  params.push_back(std::move(info));
  return bind(*scope, s.names[0], s.nameRanges[0], Val::ofTensor(arg), true);
}

bool Elaborator::setLoss(Val v, SMRange r) {
  if (v.isPoison())
    return false;
  if (loss) {
    diag.error(r, "the model already has a loss");
    diag.note(lossRange, "the loss was set here");
    return false;
  }
  if (v.kind != Val::Tensor || v.type().getRank() != 0 ||
      !mlir::isa<mlir::FloatType>(v.type().getElementType())) {
    diag.error(r, "the loss must be a float scalar (f32[]), found " +
                      describe(v) +
                      (v.kind == Val::Tensor ? "; reduce it with mean(...)"
                                             : ""));
    return false;
  }
  loss = v.v;
  lossRange = r;
  return true;
}

static const char *kindName(Stmt::Kind k) {
  switch (k) {
  case Stmt::Input: return "input";
  case Stmt::Param: return "param";
  case Stmt::Block: return "block";
  case Stmt::Fn: return "fn";
  case Stmt::Let: return "binding";
  case Stmt::Output: return "output";
  case Stmt::Train: return "train";
  case Stmt::Minimize: return "minimize";
  case Stmt::For: return "for";
  case Stmt::Return: return "return";
  }
  return "statement";
}

bool Elaborator::exec(const StmtList &stmts,
                      const std::shared_ptr<Scope> &scope, StmtContext context,
                      const std::string &pathPrefix, std::optional<Val> *ret) {
  bool ok = true;
  bool sawFn = false;
  for (const StmtPtr &sp : stmts) {
    if (diag.tooMany() || budgetReported)
      return false;
    const Stmt &s = *sp;
    auto misplaced = [&](const char *where) {
      diag.error(SMRange(s.keywordLoc, s.keywordLoc),
                 llvm::Twine("'") + kindName(s.kind) +
                     "' is only allowed " + where);
      ok = false;
    };
    switch (s.kind) {
    case Stmt::Input: {
      if (context != StmtContext::Model) {
        misplaced("at model level");
        break;
      }
      auto type = evalType(s.type, *scope);
      if (!type) {
        ok = false;
        if (!scope->vars.count(s.names[0]))
          bind(*scope, s.names[0], s.nameRanges[0], Val::poison(), true);
        break;
      }
      Value arg = entry->insertArgument(unsigned(inputNames.size()), *type,
                                        loc(s.nameRanges[0]));
      inputNames.push_back(s.names[0].str());
      ok &= bind(*scope, s.names[0], s.nameRanges[0], Val::ofTensor(arg),
                 true);
      break;
    }
    case Stmt::Param:
      if (context == StmtContext::Fn) {
        misplaced("at model or block level, not inside fn");
        break;
      }
      if (!declareParam(s, scope, pathPrefix)) {
        ok = false;
        // Later uses of the name stay quiet.
        if (!scope->vars.count(s.names[0]))
          bind(*scope, s.names[0], s.nameRanges[0], Val::poison(), true);
      }
      break;
    case Stmt::Block: {
      if (context == StmtContext::Fn) {
        misplaced("at model or block level, not inside fn");
        break;
      }
      Val v;
      v.kind = Val::BlockDef;
      v.block = &s;
      v.blockScope = scope;
      // Block argument names must be distinct.
      for (size_t i = 1; i < s.names.size(); ++i)
        for (size_t j = 1; j < i; ++j)
          if (s.names[i] == s.names[j]) {
            diag.error(s.nameRanges[i], "duplicate argument '" + s.names[i] +
                                            "' of block '" + s.names[0] +
                                            "'");
            ok = false;
          }
      ok &= bind(*scope, s.names[0], s.nameRanges[0], v, true);
      break;
    }
    case Stmt::Fn:
      if (context != StmtContext::Block) {
        misplaced("inside a block");
        break;
      }
      if (sawFn) {
        diag.error(SMRange(s.keywordLoc, s.keywordLoc),
                   "a block has one 'fn'; found a second one");
        ok = false;
      }
      sawFn = true;
      break;
    case Stmt::Let: {
      const Expr &e = *s.value;
      // `NAME = block(...)` and `NAME = repeat(N, block(...))` instantiate.
      if (e.kind == Expr::Call && e.lhs->kind == Expr::Name) {
        const Binding *def = scope->lookup(e.lhs->text);
        bool isRepeat = !def && e.lhs->text == "repeat";
        if (isRepeat || (def && def->val.kind == Val::BlockDef)) {
          if (s.names.size() != 1) {
            diag.error(s.nameRanges[1], "a block instance is bound to one "
                                        "name");
            ok = false;
            break;
          }
          if (context == StmtContext::Fn) {
            diag.error(e.range, "blocks are instantiated at model or block "
                                "level, not inside fn (the instance's "
                                "params would be created on every call)");
            ok = false;
            break;
          }
          Val inst = bindInstance(s, *scope, pathPrefix + s.names[0].str());
          if (inst.isPoison()) {
            ok = false;
            break;
          }
          ok &= bind(*scope, s.names[0], s.nameRanges[0], inst, true);
          break;
        }
      }
      Val v = eval(e, *scope);
      if (v.isPoison()) {
        ok = false;
        // Bind the name anyway so that later uses stay quiet.
        for (size_t i = 0; i < s.names.size(); ++i)
          if (!scope->vars.count(s.names[i]))
            bind(*scope, s.names[i], s.nameRanges[i], Val::poison(), false);
        break;
      }
      if (v.kind == Val::BlockDef || v.kind == Val::Inst) {
        diag.error(e.range, "cannot bind " + describe(v) +
                                " to another name");
        ok = false;
        break;
      }
      if (s.names.size() > 1) {
        if (v.kind != Val::Tuple || v.elems.size() != s.names.size()) {
          diag.error(e.range, "expected " + llvm::Twine(s.names.size()) +
                                  " values to unpack, found " + describe(v));
          ok = false;
          break;
        }
        for (size_t i = 0; i < s.names.size(); ++i)
          ok &= bind(*scope, s.names[i], s.nameRanges[i], v.elems[i], false);
        break;
      }
      if (context == StmtContext::Model && s.names[0] == "loss" &&
          !setLoss(v, s.nameRanges[0])) {
        ok = false;
        v = Val::poison(); // later uses of `loss` stay quiet
      }
      ok &= bind(*scope, s.names[0], s.nameRanges[0], std::move(v), false);
      break;
    }
    case Stmt::Output: {
      if (context != StmtContext::Model) {
        misplaced("at model level");
        break;
      }
      Val v;
      if (s.value) {
        v = eval(*s.value, *scope);
        if (!v.isPoison() &&
            !bind(*scope, s.names[0], s.nameRanges[0], v, false)) {
          ok = false;
          break;
        }
      } else {
        Expr nameExpr(Expr::Name, s.nameRanges[0]);
        nameExpr.text = s.names[0];
        v = eval(nameExpr, *scope);
      }
      if (v.isPoison()) {
        ok = false;
        break;
      }
      if (v.kind != Val::Tensor) {
        diag.error(s.nameRanges[0], "an output must be a tensor, found " +
                                        describe(v));
        ok = false;
        break;
      }
      bool dup = false;
      for (auto &o : outputs)
        if (o.name == s.names[0]) {
          diag.error(s.nameRanges[0], "output '" + s.names[0] +
                                          "' is declared twice");
          diag.note(o.range, "first declared here");
          dup = true;
        }
      if (s.names[0] == "loss") {
        diag.error(s.nameRanges[0], "'loss' is returned as the loss result; "
                                    "it cannot also be an output");
        dup = true;
      }
      if (dup) {
        ok = false;
        break;
      }
      outputs.push_back({s.names[0].str(), v.v, s.nameRanges[0], ""});
      break;
    }
    case Stmt::Minimize:
    case Stmt::Train: {
      if (context != StmtContext::Model) {
        misplaced("at model level");
        break;
      }
      if (s.value) {
        Val v = eval(*s.value, *scope);
        // `train minimize loss` names the loss binding itself.
        bool isLossName = s.value->kind == Expr::Name &&
                          s.value->text == "loss" && loss && v.kind ==
                          Val::Tensor && v.v == loss;
        if (!isLossName && !setLoss(v, s.value->range))
          ok = false;
      }
      if (s.kind == Stmt::Minimize)
        break;
      if (optimizer) {
        diag.error(SMRange(s.keywordLoc, s.keywordLoc),
                   "the model already has a train clause");
        ok = false;
        break;
      }
      auto kind = kiln::symbolizeOptimizerKind(s.optimizer);
      if (!kind) {
        diag.error(s.optimizerRange,
                   "unknown optimizer '" + s.optimizer +
                       "'; expected one of sgd, momentum, nesterov, adam, "
                       "adamw");
        ok = false;
        break;
      }
      llvm::SmallVector<StringRef> allowed = {"lr"};
      if (*kind == kiln::OptimizerKind::momentum ||
          *kind == kiln::OptimizerKind::nesterov)
        allowed.push_back("momentum");
      if (*kind == kiln::OptimizerKind::adam ||
          *kind == kiln::OptimizerKind::adamw)
        allowed.append({"beta1", "beta2", "eps"});
      allowed.append({"weight_decay", "clip_norm", "schedule", "warmup_steps",
                      "total_steps", "min_lr"});
      kiln::OptimizerConfig config = kiln::OptimizerConfig::defaults(*kind);
      llvm::StringMap<SMRange> given; // name -> value range
      bool good = true;
      for (const Arg &a : s.args) {
        if (a.name.empty()) {
          diag.error(a.value->range,
                     "optimizer hyperparameters are given by name, e.g. "
                     "adam(lr = 1e-3)");
          good = false;
          continue;
        }
        if (!llvm::is_contained(allowed, a.name)) {
          diag.error(a.nameRange, "unknown hyperparameter '" + a.name +
                                      "' for " + s.optimizer +
                                      "; expected one of " +
                                      llvm::join(allowed, ", "));
          good = false;
          continue;
        }
        if (!given.try_emplace(a.name, a.value->range).second) {
          diag.error(a.nameRange, "hyperparameter '" + a.name +
                                      "' is given twice");
          good = false;
          continue;
        }
        Val v = eval(*a.value, *scope);
        if (v.isPoison()) {
          good = false;
          continue;
        }
        if (a.name == "schedule") {
          std::optional<kiln::LrSchedule> schedule;
          if (v.kind == Val::String)
            schedule = kiln::symbolizeLrSchedule(v.s);
          if (!schedule) {
            diag.error(a.value->range,
                       "expected \"constant\" or \"cosine\" for 'schedule', "
                       "found " + describe(v));
            good = false;
            continue;
          }
          config.schedule = *schedule;
          continue;
        }
        if (a.name == "warmup_steps" || a.name == "total_steps") {
          if (v.kind != Val::Int) {
            diag.error(a.value->range, "expected an integer for '" + a.name +
                                           "', found " + describe(v));
            good = false;
            continue;
          }
          *config.integerField(a.name) = v.i;
          continue;
        }
        if (!v.isNumber()) {
          diag.error(a.value->range, "expected a number for '" + a.name +
                                         "', found " + describe(v));
          good = false;
          continue;
        }
        // The name is one of `allowed`, all of them real-valued by now.
        double *field = config.realField(a.name);
        *field = v.num();
      }
      if (!good) {
        ok = false;
        break;
      }
      // Value rules (ranges, what belongs to the cosine schedule) are the
      // attribute's: point at the value at fault, or at the optimizer when
      // the problem comes from a default.
      if (std::optional<kiln::OptimizerConfig::Problem> problem = config.check()) {
        auto it = given.find(problem->field);
        diag.error(it != given.end() ? it->second : s.optimizerRange,
                   problem->message);
        ok = false;
        break;
      }
      optimizer = kiln::OptimizerAttr::get(&ctx, config);
      break;
    }
    case Stmt::For: {
      Val lo = eval(*s.value, *scope);
      Val hi = eval(*s.hi, *scope);
      if (lo.isPoison() || hi.isPoison()) {
        ok = false;
        break;
      }
      if (lo.kind != Val::Int || hi.kind != Val::Int) {
        diag.error(lo.kind != Val::Int ? s.value->range : s.hi->range,
                   "expected integer loop bounds, found " +
                       describe(lo.kind != Val::Int ? lo : hi));
        ok = false;
        break;
      }
      for (int64_t i = lo.i; i < hi.i && ok; ++i) {
        if (!spend(s.range)) {
          ok = false;
          break;
        }
        Binding &var = scope->vars[s.names[0]];
        if (var.fixed) {
          diag.error(s.nameRanges[0], "redefinition of '" + s.names[0] + "'");
          ok = false;
          break;
        }
        var.val = Val::ofInt(i);
        var.defRange = s.nameRanges[0];
        // The body runs in the enclosing scope: assignments update the
        // loop-carried bindings (`h = cell(x[:, t, :], h)`).
        ok &= exec(s.body, scope, context, pathPrefix, ret);
        if (ret && *ret)
          return ok;
      }
      break;
    }
    case Stmt::Return: {
      if (context != StmtContext::Fn || !ret) {
        misplaced("inside fn { ... }");
        break;
      }
      Val r;
      if (s.values.size() == 1) {
        r = eval(*s.values[0], *scope);
      } else {
        r.kind = Val::Tuple;
        for (auto &e : s.values) {
          Val x = eval(*e, *scope);
          if (x.isPoison()) {
            r = x;
            break;
          }
          r.elems.push_back(std::move(x));
        }
      }
      if (r.isPoison())
        return false;
      *ret = std::move(r);
      return ok;
    }
    }
  }
  return ok;
}

//===----------------------------------------------------------------------===//
// Model
//===----------------------------------------------------------------------===//

mlir::OwningOpRef<mlir::ModuleOp>
Elaborator::run(const ModelDecl &model,
                llvm::ArrayRef<std::pair<std::string, int64_t>> overrides) {
  mlir::Location modelLoc = loc(model.nameRange);
  mlir::OwningOpRef<mlir::ModuleOp> module = mlir::ModuleOp::create(modelLoc);
  module->getOperation()->setAttr("kiln.model", b.getStringAttr(model.name));
  b.setInsertionPointToEnd(module->getBody());
  func = mlir::func::FuncOp::create(b, modelLoc, "forward",
                                    b.getFunctionType({}, {}));
  entry = func.addEntryBlock();
  b.setInsertionPointToEnd(entry);

  auto scope = newScope();
  bool ok = true;
  // 1. Model arguments.
  for (const auto &[name, value] : overrides)
    if (llvm::none_of(model.args, [&](const Arg &a) { return a.name == name; })) {
      diag.error(model.nameRange,
                 "no model argument named '" + name + "' to override; model '" +
                     model.name + "' has: " +
                     (model.args.empty()
                          ? std::string("none")
                          : llvm::join(llvm::map_range(model.args,
                                                       [](const Arg &a) {
                                                         return a.name;
                                                       }),
                                       ", ")));
      ok = false;
    }
  for (const Arg &a : model.args) {
    Val v = eval(*a.value, *scope);
    for (const auto &[name, value] : overrides)
      if (name == a.name)
        v = Val::ofInt(value);
    if (v.isPoison()) {
      ok = false;
      continue;
    }
    if (!v.isNumber()) {
      diag.error(a.value->range, "model argument '" + a.name +
                                     "' must be a number, found " +
                                     describe(v));
      ok = false;
      continue;
    }
    if (a.name == "seed" && v.kind == Val::Int)
      dropoutSeed = v.i;
    ok &= bind(*scope, a.name, a.nameRange, v, true);
  }
  if (!ok)
    return nullptr;

  // 2. The body.
  ok = exec(model.body, scope, StmtContext::Model, "", nullptr);
  if (!ok || diag.errorCount())
    return nullptr;

  // 3. Results and attributes.
  if (optimizer && !loss) {
    diag.error(model.nameRange,
               "the train clause needs a loss: bind 'loss = ...' or write "
               "'train minimize EXPR with ...'");
    return nullptr;
  }
  llvm::SmallVector<Value> results;
  llvm::SmallVector<mlir::DictionaryAttr> resAttrs;
  if (loss) {
    results.push_back(loss);
    resAttrs.push_back(b.getDictionaryAttr(
        {b.getNamedAttr("kiln.loss", b.getUnitAttr()),
         b.getNamedAttr("kiln.name", b.getStringAttr("loss"))}));
  }
  for (const Output &o : outputs) {
    results.push_back(o.value);
    llvm::SmallVector<mlir::NamedAttribute> attrs = {
        b.getNamedAttr("kiln.name", b.getStringAttr(o.name))};
    if (!o.updates.empty())
      attrs.push_back(
          b.getNamedAttr("kiln.updates", b.getStringAttr(o.updates)));
    resAttrs.push_back(b.getDictionaryAttr(attrs));
  }
  if (results.empty()) {
    diag.error(model.nameRange, "model '" + model.name +
                                    "' has no loss and no outputs; add "
                                    "'output NAME' or 'loss = ...'");
    return nullptr;
  }
  mlir::func::ReturnOp::create(b, loc(model.nameRange), results);
  func.setType(b.getFunctionType(entry->getArgumentTypes(),
                                 mlir::ValueRange(results).getTypes()));
  for (size_t i = 0; i < inputNames.size(); ++i)
    func.setArgAttrs(
        i, b.getDictionaryAttr(
               {b.getNamedAttr("kiln.name", b.getStringAttr(inputNames[i])),
                b.getNamedAttr("kiln.role",
                               kiln::ArgRoleAttr::get(
                                   &ctx, kiln::ArgRole::input))}));
  for (size_t i = 0; i < params.size(); ++i) {
    const ParamInfo &p = params[i];
    llvm::SmallVector<mlir::NamedAttribute> attrs = {
        b.getNamedAttr("kiln.name", b.getStringAttr(p.name)),
        b.getNamedAttr("kiln.role",
                       kiln::ArgRoleAttr::get(&ctx, p.isBuffer ? kiln::ArgRole::buffer
                                                              : kiln::ArgRole::param)),
        b.getNamedAttr("kiln.init", p.init)};
    if (!p.initArgs.empty())
      attrs.push_back(b.getNamedAttr("kiln.init_args",
                                     b.getDenseF64ArrayAttr(p.initArgs)));
    func.setArgAttrs(inputNames.size() + i, b.getDictionaryAttr(attrs));
  }
  for (size_t i = 0; i < resAttrs.size(); ++i)
    func.setResultAttrs(i, resAttrs[i]);
  if (optimizer)
    func->setAttr("kiln.optimizer", optimizer);

  // A verifier failure here is a frontend bug (the checks above should have
  // caught the user's mistake): say so instead of printing a bad module.
  std::string msg;
  llvm::raw_string_ostream os(msg);
  mlir::ScopedDiagnosticHandler handler(&ctx, [&](mlir::Diagnostic &d) {
    os << d.getLocation() << ": " << d.str() << "\n";
    return mlir::success();
  });
  if (mlir::failed(mlir::verify(*module))) {
    diag.error(model.nameRange,
               "internal error: the generated IR does not verify; please "
               "report this model. Verifier says:\n" +
                   msg);
    return nullptr;
  }
  return module;
}
