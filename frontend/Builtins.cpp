//===- Builtins.cpp - Builtin functions of the .kiln language -------------===//
//
// Each builtin binds its arguments against a signature (positional, then by
// keyword), checks dtypes and shapes in the user's terms, and emits kiln ops.
// docs/language.md lists the same signatures; keep the two in step.
//
//===----------------------------------------------------------------------===//
#include "frontend/Lowering.h"
#include "ir/Dialect.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSwitch.h"

#include <cmath>
#include <numeric>

using namespace kiln::frontend;
using llvm::SMRange;
using llvm::StringRef;
using mlir::RankedTensorType;
using mlir::Type;
using mlir::Value;

namespace {

struct Param {
  const char *name;
  const char *dflt; // nullptr: required
};

/// The bound arguments of one builtin call, with typed accessors that
/// report "expected X for argument 'a' of f, found Y".
class Args {
public:
  Args(Elaborator &el, const Expr &call, Scope &scope, StringRef fname)
      : el(el), call(call), scope(scope), fname(fname) {}

  /// Binds positional then keyword arguments to `params`.
  bool bind(llvm::ArrayRef<Param> params) {
    this->params = params;
    slots.assign(params.size(), nullptr);
    size_t positional = 0;
    for (const Arg &a : call.args) {
      size_t slot;
      if (a.name.empty()) {
        slot = positional++;
        if (slot >= params.size()) {
          el.diag.error(a.value->range,
                        fname + " takes at most " +
                            llvm::Twine(params.size()) + " argument" +
                            (params.size() == 1 ? "" : "s") + ", found " +
                            llvm::Twine(call.args.size()) + "; signature: " +
                            signature());
          return false;
        }
      } else {
        auto it = llvm::find_if(params, [&](const Param &p) {
          return a.name == p.name;
        });
        if (it == params.end()) {
          el.diag.error(a.nameRange, fname + " has no argument '" + a.name +
                                         "'; signature: " + signature());
          return false;
        }
        slot = it - params.begin();
      }
      if (slots[slot]) {
        el.diag.error(a.value->range, "argument '" +
                                          llvm::Twine(params[slot].name) +
                                          "' of " + fname + " is given twice");
        return false;
      }
      slots[slot] = a.value.get();
    }
    for (size_t i = 0; i < params.size(); ++i)
      if (!slots[i] && !params[i].dflt) {
        el.diag.error(call.range, fname + " is missing argument '" +
                                      params[i].name + "'; signature: " +
                                      signature());
        return false;
      }
    return true;
  }

  std::string signature() const {
    std::string s = (fname + "(").str();
    for (size_t i = 0; i < params.size(); ++i) {
      if (i)
        s += ", ";
      s += params[i].name;
      if (params[i].dflt) {
        s += "=";
        s += params[i].dflt;
      }
    }
    return s + ")";
  }

  bool has(size_t i) const { return slots[i] != nullptr; }
  SMRange range(size_t i) const {
    return i < slots.size() && slots[i] ? slots[i]->range : call.range;
  }
  Val value(size_t i) {
    if (!slots[i])
      return Val::poison();
    return el.eval(*slots[i], scope);
  }
  void wrong(size_t i, const llvm::Twine &expected, const Val &found) {
    if (found.isPoison())
      return;
    el.diag.error(range(i), "expected " + expected + " for argument '" +
                                params[i].name + "' of " + fname +
                                ", found " + Elaborator::describe(found));
  }
  std::optional<Val> tensor(size_t i) {
    Val v = value(i);
    if (v.kind != Val::Tensor) {
      wrong(i, "a tensor", v);
      return std::nullopt;
    }
    return v;
  }
  std::optional<Val> floatTensor(size_t i) {
    auto v = tensor(i);
    if (v && !mlir::isa<mlir::FloatType>(v->type().getElementType())) {
      wrong(i, "a float tensor", *v);
      return std::nullopt;
    }
    return v;
  }
  /// A tensor, or a number (returned as Int/Float for unify()).
  std::optional<Val> tensorOrNumber(size_t i) {
    Val v = value(i);
    if (v.kind != Val::Tensor && !v.isNumber() && v.kind != Val::Bool) {
      wrong(i, "a tensor or a number", v);
      return std::nullopt;
    }
    return v;
  }
  std::optional<int64_t> integer(size_t i, int64_t dflt = 0) {
    if (!slots[i])
      return dflt;
    Val v = value(i);
    if (v.kind != Val::Int) {
      wrong(i, "an integer", v);
      return std::nullopt;
    }
    return v.i;
  }
  std::optional<double> number(size_t i, double dflt = 0) {
    if (!slots[i])
      return dflt;
    Val v = value(i);
    if (!v.isNumber()) {
      wrong(i, "a number", v);
      return std::nullopt;
    }
    return v.num();
  }
  std::optional<bool> boolean(size_t i, bool dflt) {
    if (!slots[i])
      return dflt;
    Val v = value(i);
    if (v.kind != Val::Bool) {
      wrong(i, "true or false", v);
      return std::nullopt;
    }
    return v.i != 0;
  }
  std::optional<std::string> string(size_t i, StringRef dflt) {
    if (!slots[i])
      return dflt.str();
    Val v = value(i);
    if (v.kind != Val::String) {
      wrong(i, "a string", v);
      return std::nullopt;
    }
    return v.s;
  }
  std::optional<Type> dtype(size_t i, Type dflt) {
    if (!slots[i])
      return dflt;
    Val v = value(i);
    if (v.kind != Val::DType) {
      wrong(i, "a dtype (f16, bf16, f32, f64, i1, i32, i64)", v);
      return std::nullopt;
    }
    return v.dtype;
  }
  /// A list of integers; a single integer is accepted as a list of one (or
  /// `splatTo` copies of it when splatTo > 0).
  std::optional<llvm::SmallVector<int64_t>> ints(size_t i,
                                                 unsigned splatTo = 0) {
    Val v = value(i);
    llvm::SmallVector<int64_t> out;
    if (v.kind == Val::Int) {
      out.assign(splatTo ? splatTo : 1, v.i);
      return out;
    }
    if (v.kind == Val::List) {
      for (const Val &e : v.elems) {
        if (e.kind != Val::Int) {
          wrong(i, "a list of integers", v);
          return std::nullopt;
        }
        out.push_back(e.i);
      }
      return out;
    }
    wrong(i, "an integer or a list of integers", v);
    return std::nullopt;
  }
  /// Normalizes a possibly negative dimension against `rank`.
  std::optional<int64_t> dim(size_t i, int64_t d, int64_t rank) {
    if (d < -rank || d >= rank || rank == 0) {
      el.diag.error(range(i), "dimension " + llvm::Twine(d) +
                                  " is out of range for a tensor of rank " +
                                  llvm::Twine(rank) + " in " + fname);
      return std::nullopt;
    }
    return d < 0 ? d + rank : d;
  }

  Elaborator &el;
  const Expr &call;
  Scope &scope;
  StringRef fname;
  llvm::ArrayRef<Param> params;
  llvm::SmallVector<const Expr *> slots;
};

const char *const kUnary[] = {"neg",  "abs",  "sign",    "exp",  "log",
                              "sqrt", "rsqrt", "tanh",   "sigmoid", "relu",
                              "sin",  "cos",  "erf",     "floor", "ceil",
                              "logical_not"};

std::string shapeStr(llvm::ArrayRef<int64_t> s) {
  return "[" +
         llvm::join(llvm::map_range(s, [](int64_t x) {
                      return std::to_string(x);
                    }),
                    ", ") +
         "]";
}

} // namespace

llvm::ArrayRef<StringRef> Elaborator::builtinNames() {
  static const StringRef names[] = {
      "neg", "abs", "sign", "exp", "log", "sqrt", "rsqrt", "tanh", "sigmoid",
      "relu", "sin", "cos", "erf", "floor", "ceil", "logical_not", "gelu",
      "maximum", "minimum", "pow", "logical_and", "logical_or", "where",
      "select", "split",
      "cast", "softmax", "log_softmax", "cross_entropy", "layer_norm",
      "batch_norm", "dropout", "matmul", "transpose", "reshape", "flatten",
      "sum", "mean", "max", "min", "prod", "argmax", "conv2d", "max_pool2d",
      "avg_pool2d", "concat", "slice", "pad", "gather", "embedding", "iota",
      "zeros", "ones", "full", "size", "repeat"};
  return names;
}

Val Elaborator::evalBuiltin(StringRef name, const Expr &call, Scope &scope,
                            bool &found) {
  found = true;
  Args a(*this, call, scope, name);
  SMRange r = call.range;
  auto tensorResult = [&](Value v) { return Val::ofTensor(v); };

  // --- unary elementwise -----------------------------------------------
  if (llvm::is_contained(kUnary, name)) {
    static const Param sig[] = {{"x", nullptr}};
    if (!a.bind(sig))
      return Val::poison();
    Val x = a.value(0);
    if (x.isPoison())
      return x;
    if (x.isNumber()) {
      // Compile-time arithmetic on numbers, e.g. 1 / sqrt(d_head).
      double v = x.num(), out;
      if (name == "sqrt") out = std::sqrt(v);
      else if (name == "rsqrt") out = 1 / std::sqrt(v);
      else if (name == "exp") out = std::exp(v);
      else if (name == "log") out = std::log(v);
      else if (name == "abs") out = std::fabs(v);
      else if (name == "neg") out = -v;
      else {
        a.wrong(0, "a tensor", x);
        return Val::poison();
      }
      return Val::ofFloat(out);
    }
    if (x.kind != Val::Tensor) {
      a.wrong(0, "a tensor", x);
      return Val::poison();
    }
    Type et = x.type().getElementType();
    bool isFloat = mlir::isa<mlir::FloatType>(et);
    bool numericOnly = name == "neg" || name == "abs" || name == "sign" ||
                       name == "relu";
    if (name == "logical_not" ? isFloat
                              : (et.isInteger(1) ||
                                 (!isFloat && !numericOnly))) {
      a.wrong(0, name == "logical_not" ? "an i1 or integer tensor"
                                       : (numericOnly ? "a numeric tensor"
                                                      : "a float tensor"),
              x);
      return Val::poison();
    }
    std::string op = "kiln." + (name == "logical_not" ? std::string("not")
                                                      : name.str());
    if (!spend(r))
      return Val::poison();
    return tensorResult(emit(op, {x.v}, {x.type()}, {}, r));
  }

  if (name == "gelu") {
    static const Param sig[] = {{"x", nullptr}, {"approximate", "\"none\""}};
    if (!a.bind(sig))
      return Val::poison();
    auto x = a.floatTensor(0);
    auto approx = a.string(1, "none");
    if (!x || !approx)
      return Val::poison();
    auto kind = kiln::symbolizeGeluApproximation(*approx);
    if (!kind) {
      diag.error(a.range(1), "expected \"none\" or \"tanh\" for argument "
                             "'approximate' of gelu, found \"" +
                                 *approx + "\"");
      return Val::poison();
    }
    llvm::SmallVector<mlir::NamedAttribute> attrs;
    if (*kind != kiln::GeluApproximation::none)
      attrs.push_back(b.getNamedAttr(
          "approximate", kiln::GeluApproximationAttr::get(&ctx, *kind)));
    return tensorResult(emit("kiln.gelu", {x->v}, {x->type()}, attrs, r));
  }

  // --- binary elementwise ----------------------------------------------
  if (name == "maximum" || name == "minimum" || name == "pow" ||
      name == "logical_and" || name == "logical_or") {
    static const Param sig[] = {{"a", nullptr}, {"b", nullptr}};
    if (!a.bind(sig))
      return Val::poison();
    auto x = a.tensorOrNumber(0), y = a.tensorOrNumber(1);
    if (!x || !y)
      return Val::poison();
    if (x->kind != Val::Tensor && y->kind != Val::Tensor) {
      a.wrong(0, "a tensor", *x);
      return Val::poison();
    }
    if (!unify(*x, *y, a.range(0), a.range(1), r, name))
      return Val::poison();
    Type et = x->type().getElementType();
    bool logical = name.starts_with("logical");
    if (logical != !mlir::isa<mlir::FloatType>(et) ||
        (!logical && et.isInteger(1))) {
      diag.error(r, name + " expects " +
                        (logical ? "i1 or integer" : "numeric") +
                        " operands, found " + fmt(x->type()));
      return Val::poison();
    }
    std::string op = "kiln." + (logical ? name.drop_front(8).str()
                                        : name.str());
    return tensorResult(emit(op, {x->v, y->v}, {x->type()}, {}, r));
  }

  if (name == "where" || name == "select") {
    static const Param sig[] = {
        {"cond", nullptr}, {"a", nullptr}, {"b", nullptr}};
    if (!a.bind(sig))
      return Val::poison();
    auto c = a.tensor(0);
    auto x = a.tensorOrNumber(1), y = a.tensorOrNumber(2);
    if (!c || !x || !y)
      return Val::poison();
    if (!c->type().getElementType().isInteger(1)) {
      a.wrong(0, "an i1 tensor (e.g. from a comparison)", *c);
      return Val::poison();
    }
    if (x->kind != Val::Tensor && y->kind != Val::Tensor) {
      // where(mask, 0.0, -1e9): values take f32.
      *x = Val::ofTensor(constantScalar(b.getF32Type(), x->num(), a.range(1)));
    }
    if (!unify(*x, *y, a.range(1), a.range(2), r, "select between"))
      return Val::poison();
    auto shape = broadcastShapes(c->type(), x->type(), r, "select with");
    if (!shape || !checkShape(*shape, r))
      return Val::poison();
    Value cv = broadcastTo(c->v, *shape, a.range(0));
    Value xv = broadcastTo(x->v, *shape, a.range(1));
    Value yv = broadcastTo(y->v, *shape, a.range(2));
    return tensorResult(emit(
        "kiln.select", {cv, xv, yv},
        {RankedTensorType::get(*shape, x->type().getElementType())}, {}, r));
  }

  if (name == "cast") {
    static const Param sig[] = {{"x", nullptr}, {"dtype", nullptr}};
    if (!a.bind(sig))
      return Val::poison();
    auto x = a.tensor(0);
    auto dt = a.dtype(1, Type());
    if (!x || !dt)
      return Val::poison();
    if (x->type().getElementType() == *dt)
      return *x;
    return tensorResult(emit(
        "kiln.cast", {x->v},
        {RankedTensorType::get(x->type().getShape(), *dt)}, {}, r));
  }

  // --- composites ------------------------------------------------------
  if (name == "softmax" || name == "log_softmax") {
    static const Param sig[] = {{"x", nullptr}, {"dim", "-1"}};
    if (!a.bind(sig))
      return Val::poison();
    auto x = a.floatTensor(0);
    auto d = a.integer(1, -1);
    if (!x || !d)
      return Val::poison();
    auto dim = a.dim(1, *d, x->type().getRank());
    if (!dim)
      return Val::poison();
    return tensorResult(emit("kiln." + name.str(), {x->v}, {x->type()},
                             {b.getNamedAttr("dim", b.getI64IntegerAttr(*dim))},
                             r));
  }

  if (name == "cross_entropy") {
    static const Param sig[] = {
        {"logits", nullptr}, {"labels", nullptr}, {"reduction", "\"mean\""}};
    if (!a.bind(sig))
      return Val::poison();
    auto lg = a.floatTensor(0);
    auto lb = a.tensor(1);
    auto red = a.string(2, "mean");
    if (!lg || !lb || !red)
      return Val::poison();
    auto kind = kiln::symbolizeLossReduction(*red);
    if (!kind) {
      diag.error(a.range(2), "expected \"mean\", \"sum\" or \"none\" for "
                             "argument 'reduction' of cross_entropy, found \"" +
                                 *red + "\"");
      return Val::poison();
    }
    RankedTensorType lt = lg->type(), bt = lb->type();
    Type le = bt.getElementType();
    if (!(le.isInteger(32) || le.isInteger(64))) {
      a.wrong(1, "integer class labels (i32 or i64)", *lb);
      return Val::poison();
    }
    if (lt.getRank() != 2 || bt.getRank() != 1 ||
        lt.getDimSize(0) != bt.getDimSize(0)) {
      diag.error(r, "cross_entropy expects logits [N, C] and labels [N], "
                    "found " + fmt(lt) + " and " + fmt(bt) +
                        (lt.getRank() > 2
                             ? "; flatten them first, e.g. reshape(logits, "
                               "[-1, C]) and reshape(labels, [-1])"
                             : ""));
      return Val::poison();
    }
    llvm::SmallVector<int64_t> shape;
    if (*kind == kiln::LossReduction::none)
      shape.push_back(lt.getDimSize(0));
    llvm::SmallVector<mlir::NamedAttribute> attrs;
    if (*kind != kiln::LossReduction::mean)
      attrs.push_back(b.getNamedAttr(
          "reduction", kiln::LossReductionAttr::get(&ctx, *kind)));
    return tensorResult(emit("kiln.cross_entropy", {lg->v, lb->v},
                             {RankedTensorType::get(shape, lt.getElementType())},
                             attrs, r));
  }

  if (name == "layer_norm") {
    static const Param sig[] = {
        {"x", nullptr}, {"gamma", nullptr}, {"beta", nullptr}, {"eps", "1e-5"}};
    if (!a.bind(sig))
      return Val::poison();
    auto x = a.floatTensor(0), g = a.floatTensor(1), be = a.floatTensor(2);
    auto eps = a.number(3, 1e-5);
    if (!x || !g || !be || !eps)
      return Val::poison();
    if (!(*eps >= 0)) {
      diag.error(a.range(3), "expected eps >= 0 for layer_norm, found " +
                                 fmtNum(*eps));
      return Val::poison();
    }
    RankedTensorType xt = x->type(), gt = g->type();
    int64_t axis = xt.getRank() - gt.getRank();
    if (gt.getRank() == 0 || axis < 0 ||
        xt.getShape().drop_front(axis) != gt.getShape() ||
        be->type() != gt || gt.getElementType() != xt.getElementType()) {
      diag.error(r, "layer_norm expects gamma and beta shaped like the "
                    "trailing dims of x, found x " + fmt(xt) + ", gamma " +
                        fmt(gt) + ", beta " + fmt(be->type()));
      return Val::poison();
    }
    return tensorResult(
        emit("kiln.layer_norm", {x->v, g->v, be->v}, {xt},
             {b.getNamedAttr("axis", b.getI64IntegerAttr(axis)),
              b.getNamedAttr("epsilon", b.getF64FloatAttr(*eps))},
             r));
  }

  if (name == "batch_norm") {
    static const Param sig[] = {{"x", nullptr},
                                {"gamma", nullptr},
                                {"beta", nullptr},
                                {"running_mean", nullptr},
                                {"running_var", nullptr},
                                {"eps", "1e-5"},
                                {"momentum", "0.1"},
                                {"training", "true"}};
    if (!a.bind(sig))
      return Val::poison();
    auto x = a.floatTensor(0), g = a.floatTensor(1), be = a.floatTensor(2),
         rm = a.floatTensor(3), rv = a.floatTensor(4);
    auto eps = a.number(5, 1e-5), mom = a.number(6, 0.1);
    auto training = a.boolean(7, true);
    if (!x || !g || !be || !rm || !rv || !eps || !mom || !training)
      return Val::poison();
    if (!(*eps >= 0) || !(*mom >= 0 && *mom <= 1)) {
      diag.error(a.range(*eps >= 0 ? 6 : 5),
                 "expected eps >= 0 and momentum in [0, 1] for batch_norm, "
                 "found eps " + fmtNum(*eps) + " and momentum " +
                 fmtNum(*mom));
      return Val::poison();
    }
    RankedTensorType xt = x->type();
    if (xt.getRank() < 2) {
      a.wrong(0, "a tensor [N, C, ...]", *x);
      return Val::poison();
    }
    auto ct = RankedTensorType::get({xt.getDimSize(1)}, xt.getElementType());
    for (size_t i = 1; i <= 4; ++i) {
      Val v = i == 1 ? *g : i == 2 ? *be : i == 3 ? *rm : *rv;
      if (v.type() != ct) {
        a.wrong(i, "a tensor " + fmt(ct) + " (one value per channel of x " +
                       fmt(xt) + ")",
                v);
        return Val::poison();
      }
    }
    llvm::SmallVector<mlir::NamedAttribute> attrs = {
        b.getNamedAttr("epsilon", b.getF64FloatAttr(*eps)),
        b.getNamedAttr("momentum", b.getF64FloatAttr(*mom))};
    if (*training)
      attrs.push_back(b.getNamedAttr("training", b.getUnitAttr()));
    mlir::OperationState state(loc(r), "kiln.batch_norm");
    state.addOperands({x->v, g->v, be->v, rm->v, rv->v});
    state.addTypes({xt, ct, ct});
    state.addAttributes(attrs);
    if (!spend(r))
      return Val::poison();
    mlir::Operation *op = b.create(state);
    if (*training) {
      bool okm = recordBufferUpdate(rm->v, op->getResult(1), a.range(3));
      bool okv = recordBufferUpdate(rv->v, op->getResult(2), a.range(4));
      if (!okm || !okv) {
        diag.error(a.range(okm ? 4 : 3),
                   "in training mode the running statistics of batch_norm "
                   "must be declared with 'buffer NAME : TYPE = INIT' so "
                   "that their updates can be stored");
        return Val::poison();
      }
    }
    return tensorResult(op->getResult(0));
  }

  if (name == "dropout") {
    static const Param sig[] = {{"x", nullptr}, {"p", nullptr}};
    if (!a.bind(sig))
      return Val::poison();
    auto x = a.floatTensor(0);
    auto p = a.number(1);
    if (!x || !p)
      return Val::poison();
    if (!(*p >= 0 && *p < 1)) {
      diag.error(a.range(1), "expected a dropout probability in [0, 1), "
                             "found " + fmtNum(*p));
      return Val::poison();
    }
    Value seed = constantScalar(b.getI64Type(), double(dropoutSeed), r);
    Value offset = constantScalar(b.getI64Type(), double(dropoutSite++), r);
    return tensorResult(emit("kiln.dropout", {x->v, seed, offset}, {x->type()},
                             {b.getNamedAttr("ratio", b.getF64FloatAttr(*p))},
                             r));
  }

  // --- linear algebra and shapes ---------------------------------------
  if (name == "matmul") {
    static const Param sig[] = {{"a", nullptr},
                                {"b", nullptr},
                                {"transpose_a", "false"},
                                {"transpose_b", "false"}};
    if (!a.bind(sig))
      return Val::poison();
    auto x = a.tensor(0), y = a.tensor(1);
    auto ta = a.boolean(2, false), tb = a.boolean(3, false);
    if (!x || !y || !ta || !tb)
      return Val::poison();
    if ((*ta || *tb) && x->type().getRank() != y->type().getRank()) {
      diag.error(r, "matmul with transpose flags needs operands of equal "
                    "rank, found " + fmt(x->type()) + " and " +
                        fmt(y->type()));
      return Val::poison();
    }
    return matmul(*x, *y, *ta, *tb, a.range(0), a.range(1), r);
  }

  if (name == "transpose") {
    static const Param sig[] = {{"x", nullptr}, {"perm", "reversed"}};
    if (!a.bind(sig))
      return Val::poison();
    auto x = a.tensor(0);
    if (!x)
      return Val::poison();
    int64_t rank = x->type().getRank();
    llvm::SmallVector<int64_t> perm;
    if (a.has(1)) {
      auto p = a.ints(1);
      if (!p)
        return Val::poison();
      perm = *p;
    } else {
      for (int64_t i = rank - 1; i >= 0; --i)
        perm.push_back(i);
    }
    llvm::SmallVector<int64_t> sorted(perm);
    llvm::sort(sorted);
    for (int64_t i = 0; i < int64_t(sorted.size()); ++i)
      if (sorted[i] != i || int64_t(perm.size()) != rank) {
        diag.error(a.range(1), "expected a permutation of 0.." +
                                   llvm::Twine(rank - 1) + " for " +
                                   fmt(x->type()) + ", found " +
                                   shapeStr(perm));
        return Val::poison();
      }
    llvm::SmallVector<int64_t> shape;
    for (int64_t p : perm)
      shape.push_back(x->type().getDimSize(p));
    return tensorResult(emit(
        "kiln.transpose", {x->v},
        {RankedTensorType::get(shape, x->type().getElementType())},
        {b.getNamedAttr("perm", b.getDenseI64ArrayAttr(perm))}, r));
  }

  if (name == "reshape" || name == "flatten") {
    bool flat = name == "flatten";
    static const Param rsig[] = {{"x", nullptr}, {"shape", nullptr}};
    static const Param fsig[] = {{"x", nullptr}, {"start_dim", "1"}};
    if (!a.bind(flat ? llvm::ArrayRef<Param>(fsig) : rsig))
      return Val::poison();
    auto x = a.tensor(0);
    if (!x)
      return Val::poison();
    RankedTensorType xt = x->type();
    int64_t total = xt.getNumElements();
    llvm::SmallVector<int64_t> shape;
    if (flat) {
      auto s = a.integer(1, 1);
      if (!s)
        return Val::poison();
      auto d = a.dim(1, *s, xt.getRank());
      if (!d)
        return Val::poison();
      shape.assign(xt.getShape().begin(), xt.getShape().begin() + *d);
      shape.push_back(-1);
    } else {
      auto s = a.ints(1);
      if (!s)
        return Val::poison();
      shape = *s;
    }
    int64_t known = 1, infer = -1;
    for (size_t i = 0; i < shape.size(); ++i) {
      if (shape[i] == -1 && infer < 0) {
        infer = i;
        continue;
      }
      if (shape[i] <= 0 || __builtin_mul_overflow(known, shape[i], &known)) {
        diag.error(a.range(1), "invalid target shape " + shapeStr(shape) +
                                   " for reshape (dimensions must be "
                                   "positive, with at most one -1)");
        return Val::poison();
      }
    }
    if (infer >= 0) {
      if (known == 0 || total % known) {
        diag.error(r, "cannot reshape " + fmt(xt) + " (" +
                          llvm::Twine(total) + " elements) to " +
                          shapeStr(shape));
        return Val::poison();
      }
      shape[infer] = total / known;
      known = total;
    }
    if (known != total) {
      diag.error(r, "cannot reshape " + fmt(xt) + " (" + llvm::Twine(total) +
                        " elements) to " + shapeStr(shape) + " (" +
                        llvm::Twine(known) + " elements)");
      return Val::poison();
    }
    return tensorResult(reshape(x->v, shape, r));
  }

  if (name == "sum" || name == "mean" || name == "max" || name == "min" ||
      name == "prod") {
    static const Param sig[] = {
        {"x", nullptr}, {"dims", "all"}, {"keepdims", "false"}};
    if (!a.bind(sig))
      return Val::poison();
    auto x = a.tensor(0);
    if (!x)
      return Val::poison();
    RankedTensorType xt = x->type();
    int64_t rank = xt.getRank();
    llvm::SmallVector<int64_t> dims;
    if (a.has(1)) {
      auto d = a.ints(1);
      if (!d)
        return Val::poison();
      for (int64_t v : *d) {
        auto n = a.dim(1, v, rank);
        if (!n)
          return Val::poison();
        dims.push_back(*n);
      }
    } else {
      for (int64_t i = 0; i < rank; ++i)
        dims.push_back(i);
    }
    llvm::sort(dims);
    if (std::adjacent_find(dims.begin(), dims.end()) != dims.end()) {
      diag.error(a.range(1), "a dimension is listed twice in " + name);
      return Val::poison();
    }
    auto keep = a.boolean(2, false);
    if (!keep)
      return Val::poison();
    Type et = xt.getElementType();
    if (et.isInteger(1) || (name == "mean" && !mlir::isa<mlir::FloatType>(et))) {
      a.wrong(0, name == "mean" ? "a float tensor" : "a numeric tensor", *x);
      return Val::poison();
    }
    if (dims.empty())
      return *x;
    llvm::SmallVector<int64_t> shape;
    for (int64_t i = 0; i < rank; ++i) {
      if (llvm::is_contained(dims, i)) {
        if (*keep)
          shape.push_back(1);
      } else {
        shape.push_back(xt.getDimSize(i));
      }
    }
    auto kind = *kiln::symbolizeReduceKind(name);
    llvm::SmallVector<mlir::NamedAttribute> attrs = {
        b.getNamedAttr("kind", kiln::ReduceKindAttr::get(&ctx, kind)),
        b.getNamedAttr("dims", b.getDenseI64ArrayAttr(dims))};
    if (*keep)
      attrs.push_back(b.getNamedAttr("keep_dims", b.getUnitAttr()));
    return tensorResult(emit("kiln.reduce", {x->v},
                             {RankedTensorType::get(shape, et)}, attrs, r));
  }

  if (name == "argmax") {
    static const Param sig[] = {{"x", nullptr}, {"dim", "-1"}};
    if (!a.bind(sig))
      return Val::poison();
    auto x = a.tensor(0);
    auto d = a.integer(1, -1);
    if (!x || !d)
      return Val::poison();
    auto dim = a.dim(1, *d, x->type().getRank());
    if (!dim)
      return Val::poison();
    llvm::SmallVector<int64_t> shape(x->type().getShape());
    shape.erase(shape.begin() + *dim);
    return tensorResult(emit("kiln.argmax", {x->v},
                             {RankedTensorType::get(shape, b.getI64Type())},
                             {b.getNamedAttr("dim", b.getI64IntegerAttr(*dim))},
                             r));
  }

  if (name == "conv2d") {
    static const Param sig[] = {{"x", nullptr},     {"w", nullptr},
                                {"bias", "none"},   {"stride", "1"},
                                {"padding", "0"},   {"dilation", "1"},
                                {"groups", "1"}};
    if (!a.bind(sig))
      return Val::poison();
    auto x = a.floatTensor(0), w = a.floatTensor(1);
    if (!x || !w)
      return Val::poison();
    std::optional<Val> bias;
    if (a.has(2) && !(bias = a.floatTensor(2)))
      return Val::poison();
    llvm::SmallVector<int64_t> stride{1, 1}, pad{0, 0, 0, 0}, dil{1, 1};
    if (a.has(3)) {
      auto s = a.ints(3, 2);
      if (!s)
        return Val::poison();
      stride = *s;
    }
    if (a.has(4)) {
      auto p = a.ints(4, 2);
      if (!p)
        return Val::poison();
      pad = *p;
      if (pad.size() == 2)
        pad = {pad[0], pad[1], pad[0], pad[1]};
    }
    if (a.has(5)) {
      auto d = a.ints(5, 2);
      if (!d)
        return Val::poison();
      dil = *d;
    }
    auto groups = a.integer(6, 1);
    if (!groups)
      return Val::poison();
    RankedTensorType xt = x->type(), wt = w->type();
    if (stride.size() != 2 || dil.size() != 2 || pad.size() != 4 ||
        llvm::any_of(stride, [](int64_t v) { return v < 1; }) ||
        llvm::any_of(dil, [](int64_t v) { return v < 1; }) ||
        llvm::any_of(pad, [](int64_t v) { return v < 0; }) || *groups < 1) {
      diag.error(r, "conv2d expects stride and dilation as 1 or [h, w] "
                    "(positive), padding as p, [h, w] or [top, left, bottom, "
                    "right] (non-negative), groups >= 1");
      return Val::poison();
    }
    if (xt.getRank() != 4 || wt.getRank() != 4) {
      diag.error(r, "conv2d expects x [N, C, H, W] and w [O, C/groups, KH, "
                    "KW], found " + fmt(xt) + " and " + fmt(wt));
      return Val::poison();
    }
    if (xt.getElementType() != wt.getElementType() ||
        xt.getDimSize(1) % *groups || wt.getDimSize(0) % *groups ||
        xt.getDimSize(1) / *groups != wt.getDimSize(1)) {
      diag.error(r, "cannot convolve " + fmt(xt) + " with filter " +
                        fmt(wt) + ": input channels " +
                        llvm::Twine(xt.getDimSize(1)) + " / groups " +
                        llvm::Twine(*groups) +
                        " must equal the filter's dimension 1 (" +
                        llvm::Twine(wt.getDimSize(1)) + ")");
      return Val::poison();
    }
    int64_t oh = 0, ow = 0;
    for (int i = 0; i < 2; ++i) {
      int64_t in = xt.getDimSize(2 + i) + pad[i] + pad[2 + i];
      int64_t k = dil[i] * (wt.getDimSize(2 + i) - 1) + 1;
      int64_t o = in < k ? 0 : (in - k) / stride[i] + 1;
      (i ? ow : oh) = o;
    }
    if (oh <= 0 || ow <= 0) {
      diag.error(r, "conv2d filter " + fmt(wt) + " is larger than the "
                    "padded input " + fmt(xt));
      return Val::poison();
    }
    auto rt = RankedTensorType::get({xt.getDimSize(0), wt.getDimSize(0), oh, ow},
                                    xt.getElementType());
    if (!checkShape(rt.getShape(), r))
      return Val::poison();
    Value out = emit("kiln.conv2d", {x->v, w->v}, {rt},
                     {b.getNamedAttr("strides", b.getDenseI64ArrayAttr(stride)),
                      b.getNamedAttr("padding", b.getDenseI64ArrayAttr(pad)),
                      b.getNamedAttr("dilations", b.getDenseI64ArrayAttr(dil)),
                      b.getNamedAttr("groups", b.getI64IntegerAttr(*groups))},
                     r);
    if (bias) {
      if (bias->type() !=
          RankedTensorType::get({wt.getDimSize(0)}, xt.getElementType())) {
        a.wrong(2, "a bias " + fmt(RankedTensorType::get(
                                   {wt.getDimSize(0)}, xt.getElementType())),
                *bias);
        return Val::poison();
      }
      Value bb = emit("kiln.broadcast", {bias->v}, {rt},
                      {b.getNamedAttr("dims", b.getDenseI64ArrayAttr({1}))},
                      a.range(2));
      out = emit("kiln.add", {out, bb}, {rt}, {}, r);
    }
    return tensorResult(out);
  }

  if (name == "max_pool2d" || name == "avg_pool2d") {
    static const Param sig[] = {
        {"x", nullptr}, {"window", nullptr}, {"stride", "window"},
        {"padding", "0"}};
    if (!a.bind(sig))
      return Val::poison();
    auto x = a.floatTensor(0);
    auto win = a.ints(1, 2);
    if (!x || !win)
      return Val::poison();
    llvm::SmallVector<int64_t> stride = *win, pad{0, 0, 0, 0};
    if (a.has(2)) {
      auto s = a.ints(2, 2);
      if (!s)
        return Val::poison();
      stride = *s;
    }
    if (a.has(3)) {
      auto p = a.ints(3, 2);
      if (!p)
        return Val::poison();
      pad = *p;
      if (pad.size() == 2)
        pad = {pad[0], pad[1], pad[0], pad[1]};
    }
    RankedTensorType xt = x->type();
    if (win->size() != 2 || stride.size() != 2 || pad.size() != 4 ||
        llvm::any_of(*win, [](int64_t v) { return v < 1; }) ||
        llvm::any_of(stride, [](int64_t v) { return v < 1; }) ||
        llvm::any_of(pad, [](int64_t v) { return v < 0; }) ||
        xt.getRank() != 4) {
      diag.error(r, name + " expects x [N, C, H, W], window and stride as k "
                           "or [kh, kw] (positive), padding as p, [h, w] or "
                           "[top, left, bottom, right]; found x " + fmt(xt));
      return Val::poison();
    }
    int64_t oh = 0, ow = 0;
    for (int i = 0; i < 2; ++i) {
      int64_t in = xt.getDimSize(2 + i) + pad[i] + pad[2 + i];
      int64_t o = in < (*win)[i] ? 0 : (in - (*win)[i]) / stride[i] + 1;
      (i ? ow : oh) = o;
    }
    if (oh <= 0 || ow <= 0) {
      diag.error(r, name + " window " + shapeStr(*win) +
                        " is larger than the padded input " + fmt(xt));
      return Val::poison();
    }
    auto kind = name == "max_pool2d" ? kiln::PoolKind::max : kiln::PoolKind::avg;
    return tensorResult(emit(
        "kiln.pool2d", {x->v},
        {RankedTensorType::get({xt.getDimSize(0), xt.getDimSize(1), oh, ow},
                               xt.getElementType())},
        {b.getNamedAttr("kind", kiln::PoolKindAttr::get(&ctx, kind)),
         b.getNamedAttr("window", b.getDenseI64ArrayAttr(*win)),
         b.getNamedAttr("strides", b.getDenseI64ArrayAttr(stride)),
         b.getNamedAttr("padding", b.getDenseI64ArrayAttr(pad))},
        r));
  }

  if (name == "concat") {
    static const Param sig[] = {{"tensors", nullptr}, {"dim", "0"}};
    if (!a.bind(sig))
      return Val::poison();
    Val list = a.value(0);
    auto d = a.integer(1, 0);
    if (list.isPoison() || !d)
      return Val::poison();
    if (list.kind != Val::List || list.elems.empty() ||
        llvm::any_of(list.elems,
                     [](const Val &v) { return v.kind != Val::Tensor; })) {
      a.wrong(0, "a non-empty list of tensors [a, b, ...]", list);
      return Val::poison();
    }
    RankedTensorType t0 = list.elems[0].type();
    auto dim = a.dim(1, *d, t0.getRank());
    if (!dim)
      return Val::poison();
    llvm::SmallVector<int64_t> shape(t0.getShape());
    llvm::SmallVector<Value> vals;
    for (size_t i = 0; i < list.elems.size(); ++i) {
      RankedTensorType t = list.elems[i].type();
      bool same = t.getRank() == t0.getRank() &&
                  t.getElementType() == t0.getElementType();
      for (int64_t k = 0; same && k < t.getRank(); ++k)
        same = k == *dim || t.getDimSize(k) == t0.getDimSize(k);
      if (!same) {
        diag.error(a.range(0), "cannot concat " + fmt(t0) + " and " + fmt(t) +
                                   " along dimension " + llvm::Twine(*dim) +
                                   ": the other dimensions and dtypes must "
                                   "match");
        return Val::poison();
      }
      if (i)
        shape[*dim] += t.getDimSize(*dim);
      vals.push_back(list.elems[i].v);
    }
    if (!checkShape(shape, r))
      return Val::poison();
    return tensorResult(emit("kiln.concat", vals,
                             {RankedTensorType::get(shape, t0.getElementType())},
                             {b.getNamedAttr("dim", b.getI64IntegerAttr(*dim))},
                             r));
  }

  if (name == "slice") {
    static const Param sig[] = {{"x", nullptr},     {"dim", nullptr},
                                {"start", nullptr}, {"stop", nullptr},
                                {"step", "1"}};
    if (!a.bind(sig))
      return Val::poison();
    auto x = a.tensor(0);
    auto d = a.integer(1), lo = a.integer(2), hi = a.integer(3),
         st = a.integer(4, 1);
    if (!x || !d || !lo || !hi || !st)
      return Val::poison();
    RankedTensorType xt = x->type();
    auto dim = a.dim(1, *d, xt.getRank());
    if (!dim)
      return Val::poison();
    int64_t size = xt.getDimSize(*dim);
    int64_t l = *lo < 0 ? *lo + size : *lo, h = *hi < 0 ? *hi + size : *hi;
    if (l < 0 || h > size || l >= h || *st < 1) {
      diag.error(r, "slice [" + llvm::Twine(*lo) + ", " + llvm::Twine(*hi) +
                        ") step " + llvm::Twine(*st) +
                        " is empty or out of range for dimension " +
                        llvm::Twine(*dim) + " of " + fmt(xt));
      return Val::poison();
    }
    llvm::SmallVector<int64_t> start(xt.getRank(), 0),
        limit(xt.getShape()), step(xt.getRank(), 1);
    start[*dim] = l;
    limit[*dim] = h;
    step[*dim] = *st;
    llvm::SmallVector<int64_t> shape(xt.getShape());
    shape[*dim] = (h - l + *st - 1) / *st;
    return tensorResult(emit(
        "kiln.slice", {x->v}, {RankedTensorType::get(shape, xt.getElementType())},
        {b.getNamedAttr("start", b.getDenseI64ArrayAttr(start)),
         b.getNamedAttr("limit", b.getDenseI64ArrayAttr(limit)),
         b.getNamedAttr("step", b.getDenseI64ArrayAttr(step))},
        r));
  }

  if (name == "split") {
    static const Param sig[] = {
        {"x", nullptr}, {"parts", nullptr}, {"dim", "-1"}};
    if (!a.bind(sig))
      return Val::poison();
    auto x = a.tensor(0);
    auto d = a.integer(2, -1);
    if (!x || !d)
      return Val::poison();
    RankedTensorType xt = x->type();
    auto dim = a.dim(2, *d, xt.getRank());
    if (!dim)
      return Val::poison();
    int64_t size = xt.getDimSize(*dim);
    Val parts = a.value(1);
    llvm::SmallVector<int64_t> sizes;
    if (parts.kind == Val::Int) {
      if (parts.i < 1 || parts.i > size || size % parts.i) {
        diag.error(a.range(1), "cannot split dimension " + llvm::Twine(*dim) +
                                   " of " + fmt(xt) + " into " +
                                   llvm::Twine(parts.i) + " equal parts");
        return Val::poison();
      }
      sizes.assign(parts.i, size / parts.i);
    } else {
      auto list = a.ints(1);
      if (!list)
        return Val::poison();
      int64_t total = 0;
      for (int64_t s : *list)
        if (s < 1 || __builtin_add_overflow(total, s, &total))
          total = -1;
      if (list->empty() || total != size) {
        diag.error(a.range(1), "split sizes " + shapeStr(*list) +
                                   " must be positive and add up to " +
                                   llvm::Twine(size) + " (dimension " +
                                   llvm::Twine(*dim) + " of " + fmt(xt) + ")");
        return Val::poison();
      }
      sizes = *list;
    }
    if (!spend(r, sizes.size()))
      return Val::poison();
    Val out;
    out.kind = Val::Tuple;
    int64_t offset = 0;
    for (int64_t s : sizes) {
      llvm::SmallVector<int64_t> start(xt.getRank(), 0),
          limit(xt.getShape()), step(xt.getRank(), 1), shape(xt.getShape());
      start[*dim] = offset;
      limit[*dim] = offset + s;
      shape[*dim] = s;
      offset += s;
      out.elems.push_back(Val::ofTensor(emit(
          "kiln.slice", {x->v},
          {RankedTensorType::get(shape, xt.getElementType())},
          {b.getNamedAttr("start", b.getDenseI64ArrayAttr(start)),
           b.getNamedAttr("limit", b.getDenseI64ArrayAttr(limit)),
           b.getNamedAttr("step", b.getDenseI64ArrayAttr(step))},
          r)));
    }
    return out;
  }

  if (name == "pad") {
    static const Param sig[] = {
        {"x", nullptr}, {"low", nullptr}, {"high", nullptr}, {"value", "0"}};
    if (!a.bind(sig))
      return Val::poison();
    auto x = a.tensor(0);
    if (!x)
      return Val::poison();
    RankedTensorType xt = x->type();
    auto lo = a.ints(1, xt.getRank()), hi = a.ints(2, xt.getRank());
    auto v = a.number(3, 0);
    if (!lo || !hi || !v)
      return Val::poison();
    if (int64_t(lo->size()) != xt.getRank() ||
        int64_t(hi->size()) != xt.getRank() ||
        llvm::any_of(*lo, [](int64_t p) { return p < 0 || p > (1 << 30); }) ||
        llvm::any_of(*hi, [](int64_t p) { return p < 0 || p > (1 << 30); })) {
      diag.error(r, "pad expects low and high with one non-negative amount "
                    "per dimension of " + fmt(xt));
      return Val::poison();
    }
    llvm::SmallVector<int64_t> shape(xt.getShape());
    for (size_t i = 0; i < shape.size(); ++i)
      shape[i] += (*lo)[i] + (*hi)[i];
    if (!checkShape(shape, r))
      return Val::poison();
    return tensorResult(emit(
        "kiln.pad", {x->v}, {RankedTensorType::get(shape, xt.getElementType())},
        {b.getNamedAttr("low", b.getDenseI64ArrayAttr(*lo)),
         b.getNamedAttr("high", b.getDenseI64ArrayAttr(*hi)),
         b.getNamedAttr("value", b.getF64FloatAttr(*v))},
        r));
  }

  if (name == "gather" || name == "embedding") {
    static const Param gsig[] = {
        {"table", nullptr}, {"indices", nullptr}, {"axis", "0"}};
    if (!a.bind(name == "gather" ? llvm::ArrayRef<Param>(gsig)
                                 : llvm::ArrayRef<Param>(gsig).take_front(2)))
      return Val::poison();
    auto t = a.tensor(0), ids = a.tensor(1);
    auto ax = name == "gather" ? a.integer(2, 0) : std::optional<int64_t>(0);
    if (!t || !ids || !ax)
      return Val::poison();
    Type ie = ids->type().getElementType();
    if (!(ie.isInteger(32) || ie.isInteger(64))) {
      a.wrong(1, "integer indices (i32 or i64)", *ids);
      return Val::poison();
    }
    RankedTensorType tt = t->type();
    auto axis = a.dim(2, *ax, tt.getRank());
    if (!axis)
      return Val::poison();
    llvm::SmallVector<int64_t> shape(tt.getShape().take_front(*axis));
    shape.append(ids->type().getShape().begin(), ids->type().getShape().end());
    shape.append(tt.getShape().begin() + *axis + 1, tt.getShape().end());
    if (!checkShape(shape, r))
      return Val::poison();
    return tensorResult(emit(
        "kiln.gather", {t->v, ids->v},
        {RankedTensorType::get(shape, tt.getElementType())},
        {b.getNamedAttr("axis", b.getI64IntegerAttr(*axis))}, r));
  }

  // --- tensor creation ---------------------------------------------------
  if (name == "iota" || name == "zeros" || name == "ones" || name == "full") {
    bool isIota = name == "iota", isFull = name == "full";
    static const Param isig[] = {
        {"shape", nullptr}, {"dim", nullptr}, {"dtype", "i64"}};
    static const Param zsig[] = {{"shape", nullptr}, {"dtype", "f32"}};
    static const Param fsig[] = {
        {"shape", nullptr}, {"value", nullptr}, {"dtype", "f32"}};
    if (!a.bind(isIota ? llvm::ArrayRef<Param>(isig)
                       : isFull ? llvm::ArrayRef<Param>(fsig) : zsig))
      return Val::poison();
    auto shape = a.ints(0);
    if (!shape)
      return Val::poison();
    size_t dtSlot = isIota || isFull ? 2 : 1;
    auto dt = a.dtype(dtSlot, isIota ? Type(b.getI64Type())
                                     : Type(b.getF32Type()));
    if (!dt)
      return Val::poison();
    auto type = makeType(*dt, *shape, a.range(0));
    if (!type)
      return Val::poison();
    if (isIota) {
      auto d = a.integer(1);
      if (!d)
        return Val::poison();
      auto dim = a.dim(1, *d, type->getRank());
      if (!dim)
        return Val::poison();
      if (dt->isInteger(1)) {
        a.wrong(2, "a numeric dtype", Val());
        return Val::poison();
      }
      return tensorResult(emit("kiln.iota", {}, {*type},
                               {b.getNamedAttr("dim", b.getI64IntegerAttr(*dim))},
                               r));
    }
    double value = name == "ones" ? 1 : 0;
    if (isFull) {
      auto v = a.number(1);
      if (!v)
        return Val::poison();
      value = *v;
    }
    return tensorResult(splat(*type, value, r));
  }

  if (name == "size") {
    static const Param sig[] = {{"x", nullptr}, {"dim", nullptr}};
    if (!a.bind(sig))
      return Val::poison();
    auto x = a.tensor(0);
    auto d = a.integer(1);
    if (!x || !d)
      return Val::poison();
    auto dim = a.dim(1, *d, x->type().getRank());
    if (!dim)
      return Val::poison();
    return Val::ofInt(x->type().getDimSize(*dim));
  }

  found = false;
  return Val::poison();
}
