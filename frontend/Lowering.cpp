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
constexpr uint64_t kMaxOps = 1u << 20;
constexpr int64_t kMaxElements = int64_t(1) << 40;
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
// Helpers
//===----------------------------------------------------------------------===//

mlir::Location Elaborator::loc(SMRange r) {
  if (!r.Start.isValid())
    return mlir::UnknownLoc::get(&ctx);
  auto lc = srcMgr.getLineAndColumn(r.Start);
  return mlir::FileLineColLoc::get(file, lc.first, lc.second);
}

std::string Elaborator::fmt(Type t) {
  std::string s;
  llvm::raw_string_ostream os(s);
  if (auto rt = mlir::dyn_cast<RankedTensorType>(t)) {
    rt.getElementType().print(os);
    os << "[";
    llvm::interleave(rt.getShape(), os, ",");
    os << "]";
  } else {
    t.print(os);
  }
  return s;
}

std::string Elaborator::describe(const Val &v) {
  switch (v.kind) {
  case Val::Poison: return "an invalid value";
  case Val::Int: return "the integer " + std::to_string(v.i);
  case Val::Float: return "the number " + fmtNum(v.f);
  case Val::Bool: return v.i ? "true" : "false";
  case Val::String: return "the string \"" + v.s + "\"";
  case Val::DType: return "the dtype " + fmt(v.dtype);
  case Val::Tensor: return "a tensor " + fmt(v.v.getType());
  case Val::List: return "a list of " + std::to_string(v.elems.size());
  case Val::Tuple:
    return "a tuple of " + std::to_string(v.elems.size()) + " values";
  case Val::BlockDef: return "the block '" + v.block->names[0].str() + "'";
  case Val::Inst:
    if (v.insts.size() == 1)
      return "the block instance '" + v.insts[0]->path + "'";
    return "a repetition of " + std::to_string(v.insts.size()) + " '" +
           v.insts[0]->blockName.str() + "' instances";
  }
  return "a value";
}

std::optional<Type> Elaborator::parseDType(StringRef name) {
  Type t = llvm::StringSwitch<Type>(name)
               .Case("f16", b.getF16Type())
               .Case("bf16", b.getBF16Type())
               .Case("f32", b.getF32Type())
               .Case("f64", b.getF64Type())
               .Case("i1", b.getI1Type())
               .Case("i32", b.getI32Type())
               .Case("i64", b.getI64Type())
               .Default(Type());
  if (!t)
    return std::nullopt;
  return t;
}

bool Elaborator::spend(SMRange r, uint64_t n) {
  opsEmitted += n;
  if (opsEmitted <= kMaxOps)
    return true;
  if (!budgetReported)
    diag.error(r, "the model is too large: it expands to more than " +
                      llvm::Twine(kMaxOps) +
                      " operations (check repeat counts and loop ranges)");
  budgetReported = true;
  return false;
}

bool Elaborator::recordBufferUpdate(Value old, Value updated, SMRange r) {
  auto arg = mlir::dyn_cast<mlir::BlockArgument>(old);
  if (!arg || arg.getOwner() != entry ||
      arg.getArgNumber() < inputNames.size() ||
      !params[arg.getArgNumber() - inputNames.size()].isBuffer)
    return false;
  std::string name = params[arg.getArgNumber() - inputNames.size()].name;
  // A buffer updated twice (an instance called twice) keeps the last update.
  llvm::erase_if(outputs, [&](const Output &o) { return o.updates == name; });
  outputs.push_back({name + ".updated", updated, r, name});
  return true;
}

bool Elaborator::checkShape(llvm::ArrayRef<int64_t> shape, SMRange r) {
  int64_t count = 1;
  for (int64_t d : shape) {
    if (d <= 0) {
      diag.error(r, "dimensions must be positive, found " +
                        llvm::Twine(d) + " in [" +
                        llvm::join(llvm::map_range(shape,
                                                   [](int64_t x) {
                                                     return std::to_string(x);
                                                   }),
                                   ",") +
                        "]");
      return false;
    }
    if (__builtin_mul_overflow(count, d, &count) || count > kMaxElements) {
      diag.error(r, "tensor is too large: more than 2^40 elements");
      return false;
    }
  }
  return true;
}

std::optional<RankedTensorType>
Elaborator::makeType(Type dtype, llvm::ArrayRef<int64_t> shape, SMRange r) {
  if (!checkShape(shape, r))
    return std::nullopt;
  return RankedTensorType::get(shape, dtype);
}

Value Elaborator::emit(StringRef opName, mlir::ValueRange operands,
                       mlir::TypeRange results,
                       llvm::ArrayRef<mlir::NamedAttribute> attrs, SMRange r) {
  ++opsEmitted;
  mlir::OperationState state(loc(r), opName);
  state.addOperands(operands);
  state.addTypes(results);
  state.addAttributes(attrs);
  mlir::Operation *op = b.create(state);
  return op->getNumResults() ? op->getResult(0) : Value();
}

Value Elaborator::constantScalar(Type dtype, double value, SMRange r) {
  return splat(RankedTensorType::get({}, dtype), value, r);
}

Value Elaborator::splat(RankedTensorType type, double value, SMRange r) {
  Type et = type.getElementType();
  mlir::Attribute attr;
  if (auto ft = mlir::dyn_cast<mlir::FloatType>(et)) {
    bool lost = false;
    llvm::APFloat f(value);
    f.convert(ft.getFloatSemantics(), llvm::APFloat::rmNearestTiesToEven,
              &lost);
    attr = mlir::DenseElementsAttr::get(type, f);
  } else {
    unsigned width = et.getIntOrFloatBitWidth();
    llvm::APInt v(width, width == 1 ? (value != 0) : int64_t(value),
                  /*isSigned=*/width != 1);
    attr = mlir::DenseElementsAttr::get(type, v);
  }
  return emit("kiln.constant", {}, {type},
              {b.getNamedAttr("value", attr)}, r);
}

Value Elaborator::broadcastTo(Value v, llvm::ArrayRef<int64_t> shape,
                              SMRange r) {
  auto t = mlir::cast<RankedTensorType>(v.getType());
  if (t.getShape() == shape)
    return v;
  llvm::SmallVector<int64_t> dims;
  int64_t offset = int64_t(shape.size()) - t.getRank();
  for (int64_t i = 0; i < t.getRank(); ++i)
    dims.push_back(offset + i);
  return emit("kiln.broadcast", {v},
              {RankedTensorType::get(shape, t.getElementType())},
              {b.getNamedAttr("dims", b.getDenseI64ArrayAttr(dims))}, r);
}

Value Elaborator::reshape(Value v, llvm::ArrayRef<int64_t> shape, SMRange r) {
  auto t = mlir::cast<RankedTensorType>(v.getType());
  if (t.getShape() == shape)
    return v;
  return emit("kiln.reshape", {v},
              {RankedTensorType::get(shape, t.getElementType())}, {}, r);
}

std::optional<llvm::SmallVector<int64_t>>
Elaborator::broadcastShapes(RankedTensorType a, RankedTensorType bt, SMRange r,
                            StringRef what) {
  auto sa = a.getShape(), sb = bt.getShape();
  size_t rank = std::max(sa.size(), sb.size());
  llvm::SmallVector<int64_t> out(rank);
  for (size_t i = 0; i < rank; ++i) {
    int64_t da = i < rank - sa.size() ? 1 : sa[i - (rank - sa.size())];
    int64_t db = i < rank - sb.size() ? 1 : sb[i - (rank - sb.size())];
    if (da != db && da != 1 && db != 1) {
      diag.error(r, "cannot " + what + " " + fmt(a) + " and " + fmt(bt) +
                        ": shapes do not broadcast (dimension " +
                        llvm::Twine(i) + " of the broadcast shape is " +
                        llvm::Twine(da) + " vs " + llvm::Twine(db) + ")");
      return std::nullopt;
    }
    out[i] = da == 1 ? db : da;
  }
  return out;
}

bool Elaborator::unify(Val &a, Val &bv, SMRange ra, SMRange rb, SMRange whole,
                       StringRef what) {
  // A number next to a tensor becomes a scalar constant of the tensor's dtype.
  auto numberToTensor = [&](Val &num, const Val &tensor, SMRange rn) {
    Type et = tensor.type().getElementType();
    if (num.kind == Val::Float && !mlir::isa<mlir::FloatType>(et) &&
        num.f != std::trunc(num.f)) {
      diag.error(rn, "cannot " + what + " the number " +
                         fmtNum(num.f) + " and an integer tensor " +
                         fmt(tensor.type()) + "; cast the tensor first");
      return false;
    }
    if (num.kind == Val::Bool)
      num = Val::ofInt(num.i);
    num = Val::ofTensor(constantScalar(et, num.num(), rn));
    return true;
  };
  if (a.kind != Val::Tensor && a.kind != Val::Bool && !a.isNumber()) {
    diag.error(ra, "expected a tensor or a number in '" + what +
                       "', found " + describe(a));
    return false;
  }
  if (bv.kind != Val::Tensor && bv.kind != Val::Bool && !bv.isNumber()) {
    diag.error(rb, "expected a tensor or a number in '" + what +
                       "', found " + describe(bv));
    return false;
  }
  if (a.kind != Val::Tensor && !numberToTensor(a, bv, ra))
    return false;
  if (bv.kind != Val::Tensor && !numberToTensor(bv, a, rb))
    return false;
  RankedTensorType ta = a.type(), tb = bv.type();
  if (ta.getElementType() != tb.getElementType()) {
    diag.error(whole, "cannot " + what + " " + fmt(ta) + " and " + fmt(tb) +
                          ": element types differ (" +
                          fmt(ta.getElementType()) + " vs " +
                          fmt(tb.getElementType()) +
                          "); convert one with cast(x, dtype)");
    return false;
  }
  auto shape = broadcastShapes(ta, tb, whole, what);
  if (!shape || !checkShape(*shape, whole))
    return false;
  a.v = broadcastTo(a.v, *shape, ra);
  bv.v = broadcastTo(bv.v, *shape, rb);
  return true;
}

static bool foldNumbers(StringRef op, const Val &a, const Val &b, Val &out,
                        std::string &err) {
  bool ints = a.kind != Val::Float && b.kind != Val::Float;
  double x = a.num(), y = b.num();
  auto cmp = [&](bool r) { out = Val::ofBool(r); return true; };
  if (op == "<") return cmp(x < y);
  if (op == "<=") return cmp(x <= y);
  if (op == ">") return cmp(x > y);
  if (op == ">=") return cmp(x >= y);
  if (op == "==") return cmp(x == y);
  if (op == "!=") return cmp(x != y);
  if (op == "@") {
    err = "'@' needs tensors, found two numbers";
    return false;
  }
  if (ints) {
    int64_t r = 0;
    if (op == "+" && !__builtin_add_overflow(a.i, b.i, &r)) { out = Val::ofInt(r); return true; }
    if (op == "-" && !__builtin_sub_overflow(a.i, b.i, &r)) { out = Val::ofInt(r); return true; }
    if (op == "*" && !__builtin_mul_overflow(a.i, b.i, &r)) { out = Val::ofInt(r); return true; }
    if (op == "/" || op == "%") {
      if (b.i == 0) {
        err = "division by zero";
        return false;
      }
      if (a.i == INT64_MIN && b.i == -1) {
        err = "integer overflow";
        return false;
      }
      if (op == "%") { out = Val::ofInt(a.i % b.i); return true; }
      if (a.i % b.i == 0) { out = Val::ofInt(a.i / b.i); return true; }
      out = Val::ofFloat(double(a.i) / double(b.i));
      return true;
    }
    err = "integer overflow";
    return false;
  }
  if (op == "+") out = Val::ofFloat(x + y);
  else if (op == "-") out = Val::ofFloat(x - y);
  else if (op == "*") out = Val::ofFloat(x * y);
  else if (op == "/") out = Val::ofFloat(x / y);
  else if (op == "%") out = Val::ofFloat(std::fmod(x, y));
  return true;
}

Val Elaborator::binaryOp(StringRef op, Val a, Val bv, SMRange ra, SMRange rb,
                         SMRange whole) {
  if (a.isPoison() || bv.isPoison())
    return Val::poison();
  if ((a.isNumber() || a.kind == Val::Bool) &&
      (bv.isNumber() || bv.kind == Val::Bool)) {
    Val out;
    std::string err;
    if (!foldNumbers(op, a, bv, out, err)) {
      diag.error(whole, err + " in '" + op + "'");
      return Val::poison();
    }
    return out;
  }
  if (op == "@") {
    for (auto [v, r] : {std::pair<Val &, SMRange>{a, ra}, {bv, rb}})
      if (v.kind != Val::Tensor) {
        diag.error(r, "expected a tensor operand of '@', found " +
                          describe(v));
        return Val::poison();
      }
    return matmul(a, bv, false, false, ra, rb, whole);
  }
  StringRef name = llvm::StringSwitch<StringRef>(op)
                       .Case("+", "add")
                       .Case("-", "subtract")
                       .Case("*", "multiply")
                       .Case("/", "divide")
                       .Default("compare");
  if (op == "%") {
    diag.error(whole, "'%' is only defined on integers, found " +
                          describe(a) + " and " + describe(bv));
    return Val::poison();
  }
  if (!unify(a, bv, ra, rb, whole, name))
    return Val::poison();
  if (!spend(whole))
    return Val::poison();
  RankedTensorType t = a.type();
  if (name == "compare") {
    auto dir = llvm::StringSwitch<kiln::CompareDirection>(op)
                   .Case("==", kiln::CompareDirection::eq)
                   .Case("!=", kiln::CompareDirection::ne)
                   .Case("<", kiln::CompareDirection::lt)
                   .Case("<=", kiln::CompareDirection::le)
                   .Case(">", kiln::CompareDirection::gt)
                   .Default(kiln::CompareDirection::ge);
    return Val::ofTensor(emit(
        "kiln.compare", {a.v, bv.v},
        {RankedTensorType::get(t.getShape(), b.getI1Type())},
        {b.getNamedAttr("direction",
                        kiln::CompareDirectionAttr::get(&ctx, dir))},
        whole));
  }
  if (t.getElementType().isInteger(1)) {
    diag.error(whole, "cannot " + name + " boolean tensors " + fmt(t) +
                          "; cast them first");
    return Val::poison();
  }
  StringRef opName = llvm::StringSwitch<StringRef>(op)
                         .Case("+", "kiln.add")
                         .Case("-", "kiln.sub")
                         .Case("*", "kiln.mul")
                         .Default("kiln.div");
  return Val::ofTensor(emit(opName, {a.v, bv.v}, {t}, {}, whole));
}

Val Elaborator::matmul(Val a, Val bv, bool ta, bool tb, SMRange ra, SMRange rb,
                       SMRange whole) {
  RankedTensorType at = a.type(), bt = bv.type();
  auto isFloat = [](RankedTensorType t) {
    return mlir::isa<mlir::FloatType>(t.getElementType());
  };
  if (at.getRank() < 2 || bt.getRank() < 2) {
    diag.error(at.getRank() < 2 ? ra : rb,
               "cannot matmul " + fmt(at) + " by " + fmt(bt) +
                   ": both operands need rank >= 2 (reshape vectors to "
                   "[1, n] or [n, 1])");
    return Val::poison();
  }
  if (!isFloat(at) || at.getElementType() != bt.getElementType()) {
    diag.error(whole, "cannot matmul " + fmt(at) + " by " + fmt(bt) +
                          ": operands must have the same float element type");
    return Val::poison();
  }
  auto sa = at.getShape(), sb = bt.getShape();
  int64_t ra_ = at.getRank(), rb_ = bt.getRank();
  int64_t m = ta ? sa[ra_ - 1] : sa[ra_ - 2];
  int64_t ka = ta ? sa[ra_ - 2] : sa[ra_ - 1];
  int64_t kb = tb ? sb[rb_ - 1] : sb[rb_ - 2];
  int64_t n = tb ? sb[rb_ - 2] : sb[rb_ - 1];
  if (ka != kb) {
    diag.error(whole, "cannot matmul " + fmt(at) + " by " + fmt(bt) +
                          ": inner dimensions " + llvm::Twine(ka) + " and " +
                          llvm::Twine(kb) + " differ");
    return Val::poison();
  }
  if (!spend(whole, 3))
    return Val::poison();
  Type et = at.getElementType();
  auto attrs = [&](bool x, bool y) {
    llvm::SmallVector<mlir::NamedAttribute> v;
    if (x)
      v.push_back(b.getNamedAttr("transpose_a", b.getUnitAttr()));
    if (y)
      v.push_back(b.getNamedAttr("transpose_b", b.getUnitAttr()));
    return v;
  };
  // [..., m, k] @ [k, n]: fold the leading dims into one matmul.
  if (rb_ == 2 && ra_ > 2 && !ta) {
    int64_t rows = 1;
    for (int64_t i = 0; i < ra_ - 1; ++i)
      rows *= sa[i];
    Value flat = reshape(a.v, {rows, ka}, ra);
    Value prod = emit("kiln.matmul", {flat, bv.v},
                      {RankedTensorType::get({rows, n}, et)}, attrs(false, tb),
                      whole);
    llvm::SmallVector<int64_t> shape(sa.begin(), sa.end());
    shape.back() = n;
    return Val::ofTensor(reshape(prod, shape, whole));
  }
  // Batched: broadcast the batch dims to a common shape.
  auto batchA = RankedTensorType::get(sa.drop_back(2), et);
  auto batchB = RankedTensorType::get(sb.drop_back(2), et);
  std::optional<llvm::SmallVector<int64_t>> batch;
  if (batchA.getRank() == 0 && batchB.getRank() == 0)
    batch.emplace();
  else {
    batch = broadcastShapes(batchA, batchB, whole, "matmul (batch dims of)");
    if (!batch)
      return Val::poison();
  }
  auto extend = [&](Value v, llvm::ArrayRef<int64_t> s, SMRange r) {
    llvm::SmallVector<int64_t> shape(*batch);
    shape.append(s.end() - 2, s.end());
    return broadcastTo(v, shape, r);
  };
  Value lhs = extend(a.v, sa, ra), rhs = extend(bv.v, sb, rb);
  llvm::SmallVector<int64_t> shape(*batch);
  shape.push_back(m);
  shape.push_back(n);
  if (!checkShape(shape, whole))
    return Val::poison();
  return Val::ofTensor(emit("kiln.matmul", {lhs, rhs},
                            {RankedTensorType::get(shape, et)}, attrs(ta, tb),
                            whole));
}

//===----------------------------------------------------------------------===//
// Expressions
//===----------------------------------------------------------------------===//

void Elaborator::unknownName(StringRef name, SMRange r, const Scope &scope) {
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
                    e.rhs->range, SMRange(e.opLoc, e.opLoc).isValid()
                                      ? e.range
                                      : e.range);
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
    kept.push_back((hi - lo + st - 1) / st);
  }
  if (!spend(e.range, 2))
    return Val::poison();
  llvm::SmallVector<int64_t> sliced;
  for (size_t d = 0; d < shape.size(); ++d)
    sliced.push_back((limit[d] - start[d] + step[d] - 1) / step[d]);
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
  if (!spend(call.range))
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
  if (!spend(s.range))
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
      llvm::SmallVector<StringRef> allowed = {"lr", "weight_decay",
                                              "clip_norm"};
      if (*kind == kiln::OptimizerKind::momentum ||
          *kind == kiln::OptimizerKind::nesterov)
        allowed.push_back("momentum");
      if (*kind == kiln::OptimizerKind::adam ||
          *kind == kiln::OptimizerKind::adamw)
        allowed.append({"beta1", "beta2", "eps"});
      llvm::SmallVector<mlir::NamedAttribute> hp;
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
        if (llvm::any_of(hp, [&](auto &n) { return n.getName() == a.name; })) {
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
        if (!v.isNumber()) {
          diag.error(a.value->range, "expected a number for '" + a.name +
                                         "', found " + describe(v));
          good = false;
          continue;
        }
        hp.push_back(b.getNamedAttr(a.name, b.getF64FloatAttr(v.num())));
      }
      if (!good) {
        ok = false;
        break;
      }
      optimizer = kiln::OptimizerKindAttr::get(&ctx, *kind);
      hparams = b.getDictionaryAttr(hp);
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
        ok &= exec(s.body, scope, context == StmtContext::Block
                                      ? StmtContext::Block
                                      : context,
                   pathPrefix, ret);
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
                       kiln::ArgRoleAttr::get(&ctx, kiln::ArgRole::param)),
        b.getNamedAttr("kiln.init", p.init)};
    if (!p.initArgs.empty())
      attrs.push_back(b.getNamedAttr("kiln.init_args",
                                     b.getDenseF64ArrayAttr(p.initArgs)));
    if (p.isBuffer)
      attrs.push_back(b.getNamedAttr("kiln.buffer", b.getUnitAttr()));
    func.setArgAttrs(inputNames.size() + i, b.getDictionaryAttr(attrs));
  }
  for (size_t i = 0; i < resAttrs.size(); ++i)
    func.setResultAttrs(i, resAttrs[i]);
  if (optimizer) {
    func->setAttr("kiln.optimizer", *optimizer);
    func->setAttr("kiln.hparams", *hparams);
  }

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
