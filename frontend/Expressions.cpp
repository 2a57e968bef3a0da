//===- Expressions.cpp - Evaluation of .kiln expressions -------------------===//
//
// Names, literals, operators, calls (builtins and block instances),
// indexing and slicing, and types.
//
//===----------------------------------------------------------------------===//
#include "frontend/Lowering.h"
#include "ir/Dialect.h"

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



void Elaborator::unknownName(StringRef name, SMRange r, const Scope &scope) {
  if (diag.tooMany()) // the message would be dropped: skip the search
    return diag.error(r, "unknown name");
  // Suggest the closest visible name or builtin.
  StringRef best;
  unsigned bestDist = 3;
  auto consider = [&](StringRef cand) {
    unsigned d = name.edit_distance(cand, true, bestDist);
    if (d < bestDist || (d == bestDist && best.empty() && d < 3)) {
      if (d < bestDist) {
        bestDist = d;
        best = cand;
      }
    }
  };
  for (const Scope *s = &scope; s; s = s->parent.get())
    for (auto &kv : s->vars)
      consider(kv.getKey());
  for (StringRef bn : builtinNames())
    consider(bn);
  if (!best.empty() && best.size() > 1)
    diag.error(r, "unknown name '" + name + "'; did you mean '" + best +
                      "'?");
  else
    diag.error(r, "unknown name '" + name + "'");
}

Val Elaborator::evalName(const Expr &e, Scope &scope) {
  if (const Binding *bnd = scope.lookup(e.text))
    return bnd->val;
  if (e.text == "true" || e.text == "false")
    return Val::ofBool(e.text == "true");
  if (auto dt = parseDType(e.text)) {
    Val v;
    v.kind = Val::DType;
    v.dtype = *dt;
    return v;
  }
  if (llvm::is_contained(builtinNames(), e.text)) {
    diag.error(e.range, "'" + e.text +
                            "' is a builtin function; call it with "
                            "arguments, e.g. " +
                            e.text + "(x)");
    return Val::poison();
  }
  unknownName(e.text, e.range, scope);
  return Val::poison();
}

Val Elaborator::eval(const Expr &e, Scope &scope) {
  // Block calls re-enter eval from inside an expression; bound the total
  // depth so that nested calls of deep expressions cannot exhaust the stack.
  constexpr unsigned kMaxEvalDepth = 2000;
  if (evalDepth >= kMaxEvalDepth) {
    diag.error(e.range, "expression evaluation is nested too deeply (more "
                        "than " + llvm::Twine(kMaxEvalDepth) +
                            " levels through block calls)");
    return Val::poison();
  }
  ++evalDepth;
  Val result = evalImpl(e, scope);
  --evalDepth;
  return result;
}

Val Elaborator::evalImpl(const Expr &e, Scope &scope) {
  switch (e.kind) {
  case Expr::Int:
    return Val::ofInt(e.intValue);
  case Expr::Float:
    return Val::ofFloat(e.floatValue);
  case Expr::String: {
    Val v;
    v.kind = Val::String;
    v.s = e.text.str();
    return v;
  }
  case Expr::Name:
    return evalName(e, scope);
  case Expr::List: {
    Val v;
    v.kind = Val::List;
    for (auto &el : e.elements) {
      Val x = eval(*el, scope);
      if (x.isPoison())
        return x;
      v.elems.push_back(std::move(x));
    }
    return v;
  }
  case Expr::Unary: {
    Val x = eval(*e.lhs, scope);
    switch (x.kind) {
    case Val::Poison: return x;
    case Val::Int:
      if (x.i == INT64_MIN) {
        diag.error(e.range, "integer overflow in '-'");
        return Val::poison();
      }
      return Val::ofInt(-x.i);
    case Val::Float: return Val::ofFloat(-x.f);
    case Val::Tensor:
      if (x.type().getElementType().isInteger(1)) {
        diag.error(e.range, "cannot negate a boolean tensor " +
                                fmt(x.type()));
        return Val::poison();
      }
      if (!spend(e.range))
        return Val::poison();
      return Val::ofTensor(emit("kiln.neg", {x.v}, {x.type()}, {}, e.range));
    default:
      diag.error(e.lhs->range, "cannot negate " + describe(x));
      return Val::poison();
    }
  }
  case Expr::Binary: {
    Val l = eval(*e.lhs, scope);
    Val r = eval(*e.rhs, scope);
    return binaryOp(e.text, std::move(l), std::move(r), e.lhs->range,
                    e.rhs->range, e.range);
  }
  case Expr::Call: {
    const Expr &callee = *e.lhs;
    if (callee.kind == Expr::Name) {
      if (const Binding *bnd = scope.lookup(callee.text)) {
        const Val &target = bnd->val;
        if (target.kind == Val::Inst)
          return callInstance(e, target, scope);
        if (target.kind == Val::BlockDef) {
          diag.error(e.range, "block '" + callee.text +
                                  "' must be instantiated with a name "
                                  "before use: 'NAME = " +
                                  callee.text + "(...)', then NAME(x)");
          return Val::poison();
        }
        if (target.isPoison())
          return target;
        diag.error(callee.range, "'" + callee.text + "' is " +
                                     describe(target) +
                                     ", which cannot be called");
        return Val::poison();
      }
      bool found = false;
      Val r = evalBuiltin(callee.text, e, scope, found);
      if (found)
        return r;
      if (callee.text == "repeat") {
        diag.error(e.range, "repeat(...) must be bound to a name: "
                            "'NAME = repeat(N, block(...))'");
        return Val::poison();
      }
      unknownName(callee.text, callee.range, scope);
      return Val::poison();
    }
    Val target = eval(callee, scope);
    if (target.kind == Val::Inst)
      return callInstance(e, target, scope);
    if (!target.isPoison())
      diag.error(callee.range, describe(target) + " cannot be called");
    return Val::poison();
  }
  case Expr::Index:
    return evalIndex(e, scope);
  }
  return Val::poison();
}

Val Elaborator::evalIndex(const Expr &e, Scope &scope) {
  Val base = eval(*e.lhs, scope);
  if (base.isPoison())
    return base;
  if (base.kind == Val::Inst || base.kind == Val::List) {
    // blocks[i] selects one instance of a repetition; list[i] an element.
    if (e.indices.size() != 1 || e.indices[0].isSlice) {
      diag.error(e.range, "expected a single integer index into " +
                              describe(base));
      return Val::poison();
    }
    Val idx = eval(*e.indices[0].index, scope);
    if (idx.isPoison())
      return idx;
    int64_t n = base.kind == Val::Inst ? int64_t(base.insts.size())
                                       : int64_t(base.elems.size());
    if (idx.kind != Val::Int || idx.i < -n || idx.i >= n) {
      diag.error(e.indices[0].range,
                 "expected an index in [" + llvm::Twine(-n) + ", " +
                     llvm::Twine(n) + "), found " + describe(idx));
      return Val::poison();
    }
    int64_t i = idx.i < 0 ? idx.i + n : idx.i;
    if (base.kind == Val::List)
      return base.elems[i];
    Val r;
    r.kind = Val::Inst;
    r.insts.push_back(base.insts[i]);
    return r;
  }
  if (base.kind != Val::Tensor) {
    diag.error(e.lhs->range, "cannot index " + describe(base));
    return Val::poison();
  }
  RankedTensorType t = base.type();
  auto shape = t.getShape();
  if (e.indices.size() > shape.size()) {
    diag.error(e.range, "too many indices: " + fmt(t) + " has rank " +
                            llvm::Twine(t.getRank()) + ", found " +
                            llvm::Twine(e.indices.size()) + " indices");
    return Val::poison();
  }
  llvm::SmallVector<int64_t> start, limit, step, kept;
  for (size_t d = 0; d < shape.size(); ++d) {
    int64_t size = shape[d];
    if (d >= e.indices.size()) {
      start.push_back(0);
      limit.push_back(size);
      step.push_back(1);
      kept.push_back(size);
      continue;
    }
    const IndexItem &item = e.indices[d];
    auto evalInt = [&](const ExprPtr &x, int64_t dflt,
                       int64_t &out) -> bool {
      if (!x) {
        out = dflt;
        return true;
      }
      Val v = eval(*x, scope);
      if (v.isPoison())
        return false;
      if (v.kind != Val::Int) {
        diag.error(x->range, "expected an integer index, found " +
                                 describe(v));
        return false;
      }
      out = v.i;
      return true;
    };
    if (!item.isSlice) {
      int64_t i;
      if (!evalInt(item.index, 0, i))
        return Val::poison();
      if (i < -size || i >= size) {
        diag.error(item.range, "index " + llvm::Twine(i) +
                                   " is out of range for dimension " +
                                   llvm::Twine(d) + " of " + fmt(t) +
                                   " (size " + llvm::Twine(size) + ")");
        return Val::poison();
      }
      if (i < 0)
        i += size;
      start.push_back(i);
      limit.push_back(i + 1);
      step.push_back(1);
      continue;
    }
    int64_t lo, hi, st;
    if (!evalInt(item.start, 0, lo) || !evalInt(item.stop, size, hi) ||
        !evalInt(item.step, 1, st))
      return Val::poison();
    if (st < 1) {
      diag.error(item.range, "slice step must be positive, found " +
                                 llvm::Twine(st));
      return Val::poison();
    }
    if (lo < 0) lo = std::max<int64_t>(0, lo + size);
    if (hi < 0) hi = std::max<int64_t>(0, hi + size);
    lo = std::min(lo, size);
    hi = std::min(hi, size);
    if (hi <= lo) {
      diag.error(item.range, "slice of dimension " + llvm::Twine(d) + " of " +
                                 fmt(t) + " is empty");
      return Val::poison();
    }
    start.push_back(lo);
    limit.push_back(hi);
    step.push_back(st);
    kept.push_back(stridedCount(lo, hi, st));
  }
  if (!spend(e.range, 2))
    return Val::poison();
  llvm::SmallVector<int64_t> sliced;
  for (size_t d = 0; d < shape.size(); ++d)
    sliced.push_back(stridedCount(start[d], limit[d], step[d]));
  Value v = base.v;
  if (llvm::ArrayRef<int64_t>(sliced) != shape ||
      llvm::any_of(step, [](int64_t s) { return s != 1; }))
    v = emit("kiln.slice", {v},
             {RankedTensorType::get(sliced, t.getElementType())},
             {b.getNamedAttr("start", b.getDenseI64ArrayAttr(start)),
              b.getNamedAttr("limit", b.getDenseI64ArrayAttr(limit)),
              b.getNamedAttr("step", b.getDenseI64ArrayAttr(step))},
             e.range);
  return Val::ofTensor(reshape(v, kept, e.range));
}

std::optional<RankedTensorType> Elaborator::evalType(const TypeExpr &t,
                                                     Scope &scope) {
  auto dt = parseDType(t.dtype);
  if (!dt) {
    diag.error(t.dtypeRange, "unknown dtype '" + t.dtype +
                                 "'; expected one of f16, bf16, f32, f64, "
                                 "i1, i32, i64");
    return std::nullopt;
  }
  llvm::SmallVector<int64_t> shape;
  for (auto &d : t.dims) {
    Val v = eval(*d, scope);
    if (v.isPoison())
      return std::nullopt;
    if (v.kind != Val::Int) {
      diag.error(d->range, "expected an integer dimension, found " +
                               describe(v));
      return std::nullopt;
    }
    if (v.i <= 0) {
      diag.error(d->range, "dimensions must be positive, found " +
                               llvm::Twine(v.i));
      return std::nullopt;
    }
    shape.push_back(v.i);
  }
  return makeType(*dt, shape, t.range);
}

