//===- TensorOps.cpp - Checked construction of kiln tensor ops -------------===//
//
// The elaborator's building blocks: tensor types and their printing,
// constants, NumPy broadcasting made explicit with kiln.broadcast, the
// infix elementwise operators and matmul. Each checks its operands and
// reports in the user's terms before it builds anything.
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

namespace {
constexpr uint64_t kMaxOps = 1u << 20;
constexpr int64_t kMaxElements = int64_t(1) << 40;
} // namespace


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

