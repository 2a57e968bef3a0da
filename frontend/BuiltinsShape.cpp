//===- BuiltinsShape.cpp - Shape builtins of .kiln -------------------------===//
//
// transpose, reshape, reductions, argmax, concat, slice, split, pad, gather:
// see docs/language.md section 7.2.
//
//===----------------------------------------------------------------------===//
#include "frontend/BuiltinArgs.h"
#include "ir/Dialect.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CheckedArithmetic.h"

using namespace kiln::frontend;
using namespace kiln::frontend::builtins;
using llvm::SMRange;
using llvm::StringRef;
using mlir::RankedTensorType;
using mlir::Type;
using mlir::Value;

Val Elaborator::evalShapeBuiltin(StringRef name, const Expr &call, Scope &scope,
                             bool &found) {
  found = true;
  Args a(*this, call, scope, name);
  SMRange r = call.range;
  auto tensorResult = [&](Value v) { return Val::ofTensor(v); };

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
      if (shape[i] <= 0) {
        diag.error(a.range(1), "invalid target shape " + shapeStr(shape) +
                                   " for reshape (dimensions must be "
                                   "positive, with at most one -1)");
        return Val::poison();
      }
      std::optional<int64_t> prod = llvm::checkedMul(known, shape[i]);
      if (!prod) {
        diag.error(a.range(1), "invalid target shape " + shapeStr(shape) +
                                   " for reshape: the product of its "
                                   "dimensions overflows a 64-bit integer");
        return Val::poison();
      }
      known = *prod;
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
      if (i) {
        // Each operand has at most 2^40 elements, but a long enough list of
        // them can still overflow the summed dimension.
        std::optional<int64_t> sum =
            llvm::checkedAdd(shape[*dim], t.getDimSize(*dim));
        if (!sum) {
          diag.error(r, "concat along dimension " + llvm::Twine(*dim) +
                            " is too large: the summed size overflows a "
                            "64-bit integer");
          return Val::poison();
        }
        shape[*dim] = *sum;
      }
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
    shape[*dim] = stridedCount(l, h, *st);
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
      // Charge the budget before allocating: a huge part count (found by
      // fuzzing) must be an error, not an allocation failure.
      if (!spend(r, parts.i))
        return Val::poison();
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
      if (!spend(r, sizes.size()))
        return Val::poison();
    }
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
      diag.error(r, "pad expects low and high with one amount in [0, 2^30] "
                    "per dimension of " + fmt(xt) + ", found low " +
                        shapeStr(*lo) + " and high " + shapeStr(*hi));
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

  found = false;
  return Val::poison();
}
