//===- BuiltinArgs.h - Argument binding of .kiln builtins -------*- C++ -*-===//
//
// Internal to the frontend: binds a builtin call's arguments against its
// signature and converts them with messages in the user's terms.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_FRONTEND_BUILTINARGS_H
#define KILN_FRONTEND_BUILTINARGS_H

#include "frontend/Lowering.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"

namespace kiln::frontend::builtins {

using llvm::SMRange;
using llvm::StringRef;
using mlir::Type;

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



inline std::string shapeStr(llvm::ArrayRef<int64_t> s) {
  return "[" +
         llvm::join(llvm::map_range(s, [](int64_t x) {
                      return std::to_string(x);
                    }),
                    ", ") +
         "]";
}

} // namespace kiln::frontend::builtins

#endif // KILN_FRONTEND_BUILTINARGS_H
