//===- Builtins.cpp - Builtin functions of the .kiln language -------------===//
//
// Each builtin binds its arguments against a signature (positional, then by
// keyword), checks dtypes and shapes in the user's terms, and emits kiln ops.
// docs/language.md lists the same signatures; keep the two in step. This
// file has the elementwise and tensor-creation builtins and the dispatch;
// BuiltinsNN.cpp the neural-network ones, BuiltinsShape.cpp the shape ones.
//
//===----------------------------------------------------------------------===//
#include "frontend/BuiltinArgs.h"
#include "ir/Dialect.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"

using namespace kiln::frontend;
using namespace kiln::frontend::builtins;
using llvm::SMRange;
using llvm::StringRef;
using mlir::RankedTensorType;
using mlir::Type;
using mlir::Value;

namespace {
const char *const kUnary[] = {"neg",  "abs",  "sign",    "exp",  "log",
                              "sqrt", "rsqrt", "tanh",   "sigmoid", "relu",
                              "sin",  "cos",  "erf",     "floor", "ceil",
                              "logical_not"};
} // namespace

llvm::ArrayRef<StringRef> Elaborator::builtinNames() {
  static const StringRef names[] = {
      "neg", "abs", "sign", "exp", "log", "sqrt", "rsqrt", "tanh", "sigmoid",
      "relu", "sin", "cos", "erf", "floor", "ceil", "logical_not", "gelu",
      "maximum", "minimum", "pow", "logical_and", "logical_or", "where",
      "select", "split", "cast", "stop_gradient",
      "softmax", "log_softmax", "cross_entropy", "layer_norm",
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

  if (name == "stop_gradient") {
    static const Param sig[] = {{"x", nullptr}};
    if (!a.bind(sig))
      return Val::poison();
    auto x = a.tensor(0);
    if (!x)
      return Val::poison();
    return tensorResult(emit("kiln.stop_gradient", {x->v}, {x->type()}, {}, r));
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

  Val v = evalNNBuiltin(name, call, scope, found);
  if (found)
    return v;
  return evalShapeBuiltin(name, call, scope, found);
}
