//===- CudaEmitter.cpp - kiln.fusion -> CUDA C++ kernels ------------------===//
//
// The elemental emitter (`Kernel::at`) prints "the value of %v at this
// multi-index" as C++ statements, memoized per (value, index) within the
// current C scope; the three kernel shapes (loop, reduction, composite) are
// drivers around it. See CudaEmitter.h for the launch structure and
// docs/codegen.md for the generated code's contract.
//
//===----------------------------------------------------------------------===//

#include "codegen/CudaEmitter.h"

#include "ir/Dialect.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/xxhash.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"

#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <optional>

using namespace mlir;

namespace kiln::codegen {

FailureOr<rt::DType> toDType(Type t, Location loc) {
  if (t.isF32())
    return rt::DType::f32;
  if (t.isF64())
    return rt::DType::f64;
  if (t.isF16())
    return rt::DType::f16;
  if (t.isBF16())
    return rt::DType::bf16;
  if (t.isInteger(1))
    return rt::DType::i1;
  if (t.isInteger(32))
    return rt::DType::i32;
  if (t.isInteger(64))
    return rt::DType::i64;
  return emitError(loc) << "the artifact cannot hold element type " << t;
}

namespace {

using Idx = SmallVector<std::string, 4>;

ArrayRef<int64_t> shapeOf(Value v) { return cast<RankedTensorType>(v.getType()).getShape(); }
Type elemOf(Value v) { return cast<RankedTensorType>(v.getType()).getElementType(); }
int64_t product(ArrayRef<int64_t> s) {
  int64_t n = 1;
  for (int64_t d : s)
    n *= d;
  return n;
}

/// A C++ literal of `v` in the type `t`.
std::string literal(double v, Type t) {
  if (t.isInteger(1))
    return v != 0 ? "true" : "false";
  if (t.isInteger(32))
    return "(" + std::to_string(static_cast<int64_t>(v)) + ")";
  if (t.isInteger(64))
    return "(" + std::to_string(static_cast<int64_t>(v)) + "LL)";
  const bool f32 = t.isF32();
  const char *cast = f32 ? "(float)" : "(double)";
  if (std::isnan(v))
    return std::string(cast) + "KILN_NAN";
  if (std::isinf(v))
    return std::string(cast) + (v > 0 ? "KILN_INF" : "(-KILN_INF)");
  char buf[64];
  std::snprintf(buf, sizeof buf, f32 ? "%.9g" : "%.17g", v);
  std::string s = buf;
  if (s.find_first_of(".e") == std::string::npos)
    s += ".0";
  if (f32)
    s += "f";
  return "(" + s + ")";
}

std::string identityOf(ReduceKind kind, Type t) {
  switch (kind) {
  case ReduceKind::sum:
  case ReduceKind::mean:
    return literal(0, t);
  case ReduceKind::prod:
    return literal(1, t);
  case ReduceKind::max:
    if (t.isInteger(32))
      return "(-2147483647-1)";
    if (t.isInteger(64))
      return "(-9223372036854775807LL-1)";
    return literal(-INFINITY, t);
  case ReduceKind::min:
    if (t.isInteger(32))
      return "2147483647";
    if (t.isInteger(64))
      return "9223372036854775807LL";
    return literal(INFINITY, t);
  }
  return "0";
}

const char *reduceFunctor(ReduceKind kind) {
  switch (kind) {
  case ReduceKind::sum:
  case ReduceKind::mean:
    return "SumOp";
  case ReduceKind::prod:
    return "ProdOp";
  case ReduceKind::max:
    return "MaxOp";
  case ReduceKind::min:
    return "MinOp";
  }
  return "SumOp";
}

/// Text of one kernel under construction.
class Kernel {
public:
  explicit Kernel(FusionOp fusion) : fusion(fusion) {}

  FusionOp fusion;
  std::string body;    ///< statements of the kernel function
  std::string globals; ///< file-scope constant tables
  int depth = 1;
  unsigned counter = 0;
  bool hasError = false;
  std::vector<std::map<std::pair<const void *, std::string>, std::string>> scopes{1};
  llvm::DenseMap<Value, std::string> inputPtr; ///< block argument -> parameter
  /// A vectorized loop iteration: 4 consecutive elements (lanes) of
  /// `shape` at float4 index `v_4`; an f32 input read at a lane's own index
  /// is one float4 load per iteration (emitted at loop depth `depth`).
  struct Lanes {
    SmallVector<int64_t> shape;
    SmallVector<Idx, 4> lanes;
    int depth = 0;
    llvm::DenseMap<Value, std::string> loads;
  };
  std::optional<Lanes> vec;

  void line(const Twine &t) {
    body.append(static_cast<size_t>(depth) * 2, ' ');
    body += t.str();
    body += '\n';
  }
  void open(const Twine &head) {
    line(head + " {");
    ++depth;
    scopes.emplace_back();
  }
  void close() {
    --depth;
    scopes.pop_back();
    line("}");
  }
  std::string fresh(StringRef prefix = "v") { return (prefix + Twine(counter++)).str(); }

  FailureOr<std::string> ctype(Type t) {
    if (t.isF32())
      return std::string("float");
    if (t.isF64())
      return std::string("double");
    if (t.isInteger(1))
      return std::string("bool");
    if (t.isInteger(32))
      return std::string("int");
    if (t.isInteger(64))
      return std::string("long long");
    return fail(fusion, "no CUDA kernel for element type " + toString(t));
  }
  static std::string toString(Type t) {
    std::string s;
    llvm::raw_string_ostream os(s);
    os << t;
    return s;
  }
  FailureOr<std::string> fail(Operation *op, const Twine &why) {
    if (!hasError)
      op->emitError() << "CUDA codegen: " << why;
    hasError = true;
    return failure();
  }

  static std::string key(ArrayRef<std::string> idx) {
    std::string k;
    for (const std::string &s : idx)
      k += s + ",";
    return k;
  }
  void preset(Value v, ArrayRef<std::string> idx, const std::string &var) {
    scopes.back()[{v.getAsOpaquePointer(), key(idx)}] = var;
  }
  const std::string *lookup(Value v, ArrayRef<std::string> idx) {
    auto k = std::make_pair(v.getAsOpaquePointer(), key(idx));
    for (auto it = scopes.rbegin(); it != scopes.rend(); ++it) {
      auto f = it->find(k);
      if (f != it->end())
        return &f->second;
    }
    return nullptr;
  }

  /// Row-major linear index of `idx` in `shape`.
  static std::string linearize(ArrayRef<std::string> idx, ArrayRef<int64_t> shape) {
    if (shape.empty())
      return "0LL";
    std::string e = "(long long)(" + idx[0] + ")";
    for (size_t i = 1; i < shape.size(); ++i)
      e = "(" + e + " * " + std::to_string(shape[i]) + "LL + (" + idx[i] + "))";
    return e;
  }
  /// Emits the multi-index of linear `flat` in `shape`.
  Idx delinearize(const std::string &flat, ArrayRef<int64_t> shape) {
    Idx r(shape.size());
    int64_t stride = 1;
    for (size_t i = shape.size(); i-- > 0;) {
      std::string n = fresh("i");
      std::string e = "(" + flat + ")";
      if (stride != 1)
        e += " / " + std::to_string(stride) + "LL";
      if (i != 0)
        e = "(" + e + ") % " + std::to_string(shape[i]) + "LL";
      line("const long long " + n + " = " + e + ";");
      r[i] = n;
      stride *= shape[i];
    }
    return r;
  }

  /// Declares `name` = `expr` of `v`'s element type and memoizes it.
  FailureOr<std::string> def(Value v, ArrayRef<std::string> idx, const std::string &expr) {
    FailureOr<std::string> t = ctype(elemOf(v));
    if (failed(t))
      return failure();
    std::string n = fresh();
    line("const " + *t + " " + n + " = " + expr + ";");
    preset(v, idx, n);
    return n;
  }

  FailureOr<std::string> at(Value v, ArrayRef<std::string> idx);

private:
  FailureOr<std::string> atOp(Operation *op, Value v, ArrayRef<std::string> idx);
  FailureOr<std::string> guarded(Value v, ArrayRef<std::string> idx,
                                 ArrayRef<std::pair<std::string, std::function<FailureOr<std::string>()>>> arms);
};

FailureOr<std::string> Kernel::at(Value v, ArrayRef<std::string> idx) {
  if (hasError)
    return failure();
  if (const std::string *s = lookup(v, idx))
    return *s;
  if (auto arg = dyn_cast<BlockArgument>(v)) {
    auto it = inputPtr.find(v);
    if (it == inputPtr.end())
      return fail(fusion, "a block argument that is not a fusion input");
    if (vec && elemOf(v).isF32() && shapeOf(v) == ArrayRef<int64_t>(vec->shape)) {
      for (unsigned l = 0; l < 4; ++l) {
        if (ArrayRef<std::string>(vec->lanes[l]) != idx)
          continue;
        auto q = vec->loads.find(v);
        if (q == vec->loads.end() && depth == vec->depth) {
          std::string n = fresh("q");
          line("const float4 " + n + " = reinterpret_cast<const float4*>(" + it->second + ")[v_4];");
          q = vec->loads.try_emplace(v, n).first;
        }
        if (q != vec->loads.end())
          return def(v, idx, q->second + "." + "xyzw"[l]);
      }
    }
    std::string load = it->second + "[" + linearize(idx, shapeOf(v)) + "]";
    if (elemOf(v).isInteger(1))
      load = "(" + load + " != 0)";
    return def(v, idx, load);
  }
  return atOp(v.getDefiningOp(), v, idx);
}

FailureOr<std::string>
Kernel::guarded(Value v, ArrayRef<std::string> idx,
                ArrayRef<std::pair<std::string, std::function<FailureOr<std::string>()>>> arms) {
  FailureOr<std::string> t = ctype(elemOf(v));
  if (failed(t))
    return failure();
  std::string n = fresh();
  line(*t + " " + n + ";");
  for (size_t i = 0; i < arms.size(); ++i) {
    const std::string &cond = arms[i].first;
    open(i == 0 ? "if (" + cond + ")" : cond.empty() ? std::string("else") : "else if (" + cond + ")");
    FailureOr<std::string> r = arms[i].second();
    if (failed(r))
      return failure();
    line(n + " = " + *r + ";");
    close();
  }
  preset(v, idx, n);
  return n;
}

FailureOr<std::string> Kernel::atOp(Operation *op, Value v, ArrayRef<std::string> idx) {
  auto operands = [&](ValueRange vs) -> FailureOr<SmallVector<std::string>> {
    SmallVector<std::string> r;
    for (Value o : vs) {
      FailureOr<std::string> s = at(o, idx);
      if (failed(s))
        return failure();
      r.push_back(*s);
    }
    return r;
  };
  if (auto f = dyn_cast<ScalarFormulaOpInterface>(op)) {
    FailureOr<SmallVector<std::string>> a = operands(op->getOperands());
    if (failed(a))
      return failure();
    FailureOr<std::string> t = ctype(elemOf(v));
    if (failed(t))
      return failure();
    std::string call = "kiln_dev::" + f.getScalarFn().str() + "(";
    for (size_t i = 0; i < a->size(); ++i)
      call += (i ? ", " : "") + std::string("(") + *t + ")" + (*a)[i];
    return def(v, idx, call + ")");
  }
  return llvm::TypeSwitch<Operation *, FailureOr<std::string>>(op)
      .Case<CompareOp>([&](CompareOp c) -> FailureOr<std::string> {
        FailureOr<SmallVector<std::string>> a = operands(c->getOperands());
        if (failed(a))
          return failure();
        static const char *ops[] = {"==", "!=", "<", "<=", ">", ">="};
        unsigned d = static_cast<unsigned>(c.getDirection());
        if (d >= 6)
          return fail(c, "unknown compare direction");
        return def(v, idx, "((" + (*a)[0] + ") " + ops[d] + " (" + (*a)[1] + "))");
      })
      .Case<SelectOp>([&](SelectOp s) -> FailureOr<std::string> {
        FailureOr<SmallVector<std::string>> a = operands(s->getOperands());
        if (failed(a))
          return failure();
        return def(v, idx, "(" + (*a)[0] + " ? " + (*a)[1] + " : " + (*a)[2] + ")");
      })
      .Case<CastOp>([&](CastOp c) -> FailureOr<std::string> {
        FailureOr<std::string> x = at(c.getX(), idx);
        FailureOr<std::string> to = ctype(elemOf(v)), from = ctype(elemOf(c.getX()));
        if (failed(x) || failed(to) || failed(from))
          return failure();
        Type tt = elemOf(v), ft = elemOf(c.getX());
        if (tt.isInteger(1))
          return def(v, idx, "(" + *x + " != 0)");
        if (isa<IntegerType>(tt) && isa<FloatType>(ft)) {
          const char *lo = tt.isInteger(32) ? "-2147483648.0" : "-9223372036854775808.0";
          const char *hi = tt.isInteger(32) ? "2147483647.0" : "9223372036854775807.0";
          return def(v, idx, "kiln_dev::ftoi<" + *to + ", " + *from + ">(" + *x + ", " + lo + ", " + hi + ")");
        }
        return def(v, idx, "(" + *to + ")(" + *x + ")");
      })
      .Case<StopGradientOp>([&](StopGradientOp s) { return at(s.getX(), idx); })
      .Case<BroadcastOp>([&](BroadcastOp b) -> FailureOr<std::string> {
        ArrayRef<int64_t> xs = shapeOf(b.getX());
        ArrayRef<int64_t> dims = b.getDims();
        Idx oi;
        for (size_t k = 0; k < xs.size(); ++k)
          oi.push_back(xs[k] == 1 ? std::string("0") : idx[dims[k]]);
        return at(b.getX(), oi);
      })
      .Case<ReshapeOp>([&](ReshapeOp r) -> FailureOr<std::string> {
        std::string flat = fresh("f");
        line("const long long " + flat + " = " + linearize(idx, shapeOf(v)) + ";");
        return at(r.getX(), delinearize(flat, shapeOf(r.getX())));
      })
      .Case<TransposeOp>([&](TransposeOp t) -> FailureOr<std::string> {
        ArrayRef<int64_t> perm = t.getPerm();
        Idx oi(perm.size());
        for (size_t i = 0; i < perm.size(); ++i)
          oi[perm[i]] = idx[i];
        return at(t.getX(), oi);
      })
      .Case<SliceOp>([&](SliceOp s) -> FailureOr<std::string> {
        Idx oi;
        for (size_t i = 0; i < idx.size(); ++i)
          oi.push_back("(" + std::to_string(s.getStart()[i]) + "LL + (" + idx[i] + ") * " +
                       std::to_string(s.getStep()[i]) + "LL)");
        return at(s.getX(), oi);
      })
      .Case<PadOp>([&](PadOp p) -> FailureOr<std::string> {
        ArrayRef<int64_t> xs = shapeOf(p.getX());
        Idx oi;
        std::string cond = "true";
        for (size_t i = 0; i < idx.size(); ++i) {
          std::string n = fresh("p");
          line("const long long " + n + " = (" + idx[i] + ") - " + std::to_string(p.getLow()[i]) + "LL;");
          cond += " && " + n + " >= 0 && " + n + " < " + std::to_string(xs[i]) + "LL";
          oi.push_back(n);
        }
        std::string pad = literal(p.getValue().convertToDouble(), elemOf(v));
        return guarded(v, idx, {{cond, [&] { return at(p.getX(), oi); }},
                                {"", [&]() -> FailureOr<std::string> { return pad; }}});
      })
      .Case<ConcatOp>([&](ConcatOp c) -> FailureOr<std::string> {
        const int64_t d = static_cast<int64_t>(c.getDim());
        SmallVector<std::pair<std::string, std::function<FailureOr<std::string>()>>> arms;
        int64_t off = 0;
        auto inputs = c.getInputs();
        for (size_t k = 0; k < inputs.size(); ++k) {
          Value in = inputs[k];
          const int64_t size = shapeOf(in)[d], start = off;
          off += size;
          std::string cond = k + 1 == inputs.size() ? "" : "(" + idx[d] + ") < " + std::to_string(off) + "LL";
          arms.push_back({cond, [this, in, idx, d, start]() -> FailureOr<std::string> {
                            Idx oi(idx.begin(), idx.end());
                            oi[d] = "((" + idx[d] + ") - " + std::to_string(start) + "LL)";
                            return at(in, oi);
                          }});
        }
        if (arms.size() == 1)
          return arms[0].second();
        return guarded(v, idx, arms);
      })
      .Case<GatherOp>([&](GatherOp g) -> FailureOr<std::string> {
        const int64_t axis = static_cast<int64_t>(g.getAxis());
        ArrayRef<int64_t> ts = shapeOf(g.getTable());
        const size_t ri = shapeOf(g.getIndices()).size();
        Idx ji(idx.begin() + axis, idx.begin() + axis + ri);
        FailureOr<std::string> raw = at(g.getIndices(), ji);
        if (failed(raw))
          return failure();
        std::string n = fresh("g"), size = std::to_string(ts[axis]) + "LL";
        line("const long long " + n + " = (long long)" + *raw + " < 0 ? 0LL : (long long)" + *raw +
             " >= " + size + " ? " + size + " - 1 : (long long)" + *raw + ";");
        Idx ti(idx.begin(), idx.begin() + axis);
        ti.push_back(n);
        ti.append(idx.begin() + axis + ri, idx.end());
        return at(g.getTable(), ti);
      })
      .Case<IotaOp>([&](IotaOp i) -> FailureOr<std::string> {
        FailureOr<std::string> t = ctype(elemOf(v));
        if (failed(t))
          return failure();
        return def(v, idx, "(" + *t + ")(" + idx[i.getDim()] + ")");
      })
      .Case<ConstantOp>([&](ConstantOp c) -> FailureOr<std::string> {
        auto dense = dyn_cast<DenseElementsAttr>(c.getValue());
        if (!dense)
          return fail(c, "a constant that is not a dense elements attribute");
        Type et = elemOf(v);
        auto value = [&](Attribute a) {
          if (auto f = dyn_cast<FloatAttr>(a))
            return literal(f.getValueAsDouble(), et);
          auto i = cast<IntegerAttr>(a);
          return literal(static_cast<double>(et.isInteger(1) ? i.getValue().getZExtValue()
                                                             : i.getValue().getSExtValue()),
                         et);
        };
        if (dense.isSplat())
          return def(v, idx, value(dense.getSplatValue<Attribute>()));
        FailureOr<std::string> t = ctype(et);
        if (failed(t))
          return failure();
        std::string table = fresh("kiln_const");
        globals += "__device__ const " + *t + " " + table + "[] = {";
        bool first = true;
        for (Attribute a : dense.getValues<Attribute>()) {
          globals += (first ? "" : ", ") + value(a);
          first = false;
        }
        globals += "};\n";
        return def(v, idx, table + "[" + linearize(idx, shapeOf(v)) + "]");
      })
      .Case<RngOp>([&](RngOp r) -> FailureOr<std::string> {
        FailureOr<std::string> seed = at(r.getSeed(), {}), off = at(r.getOffset(), {});
        FailureOr<std::string> t = ctype(elemOf(v));
        if (failed(seed) || failed(off) || failed(t))
          return failure();
        const double a = r.getA().convertToDouble(), b = r.getB().convertToDouble();
        std::string flat = "(kiln_dev::u64)" + linearize(idx, shapeOf(v));
        std::string args = "(kiln_dev::i64)" + *seed + ", (kiln_dev::i64)" + *off + ", " + flat;
        Type f64 = Float64Type::get(r.getContext());
        switch (r.getDistribution()) {
        case Distribution::uniform: {
          std::string u = fresh("u");
          line("const double " + u + " = " + literal(a, f64) + " + " + literal(b - a, f64) +
               " * kiln_dev::uniform01(" + args + ");");
          std::string bl = literal(b, elemOf(v));
          std::string next = elemOf(v).isF32() ? "nextafterf" : "nextafter";
          return def(v, idx, "((" + *t + ")" + u + " >= " + bl + " ? " + next + "(" + bl + ", -KILN_INF) : (" + *t + ")" + u + ")");
        }
        case Distribution::normal:
          return def(v, idx, "(" + *t + ")(" + literal(a, Float64Type::get(r.getContext())) + " + " +
                                 literal(b, Float64Type::get(r.getContext())) + " * kiln_dev::standard_normal(" + args + "))");
        case Distribution::bernoulli:
          return def(v, idx, "(" + *t + ")(kiln_dev::uniform01(" + args + ") < " +
                                 literal(a, Float64Type::get(r.getContext())) + " ? 1 : 0)");
        }
        return fail(r, "unknown distribution");
      })
      .Case<DropoutOp>([&](DropoutOp d) -> FailureOr<std::string> {
        const double ratio = d.getRatio().convertToDouble();
        if (ratio <= 0)
          return at(d.getX(), idx);
        if (ratio >= 1)
          return def(v, idx, literal(0, elemOf(v)));
        FailureOr<std::string> x = at(d.getX(), idx), seed = at(d.getSeed(), {}),
                               off = at(d.getOffset(), {}), t = ctype(elemOf(v));
        if (failed(x) || failed(seed) || failed(off) || failed(t))
          return failure();
        Type f64 = Float64Type::get(d.getContext());
        return def(v, idx, "(" + *t + ")((double)" + *x + " * (kiln_dev::uniform01((kiln_dev::i64)" + *seed +
                               ", (kiln_dev::i64)" + *off + ", (kiln_dev::u64)" + linearize(idx, shapeOf(v)) +
                               ") >= " + literal(ratio, f64) + " ? 1.0 : 0.0) / " + literal(1.0 - ratio, f64) + ")");
      })
      .Case<GeluOp>([&](GeluOp g) -> FailureOr<std::string> {
        FailureOr<std::string> x = at(g.getX(), idx);
        if (failed(x))
          return failure();
        return def(v, idx, "kiln_dev::gelu(" + *x + ", " +
                               (g.getApproximate() == GeluApproximation::tanh ? "true" : "false") + ")");
      })
      .Case<GeluGradOp>([&](GeluGradOp g) -> FailureOr<std::string> {
        FailureOr<std::string> x = at(g.getX(), idx), dy = at(g.getDy(), idx);
        if (failed(x) || failed(dy))
          return failure();
        return def(v, idx, "kiln_dev::gelu_grad(" + *x + ", " + *dy + ", " +
                               (g.getApproximate() == GeluApproximation::tanh ? "true" : "false") + ")");
      })
      .Default([&](Operation *o) -> FailureOr<std::string> {
        return fail(o, "'" + o->getName().getStringRef() +
                           "' cannot be computed per element here (a reduction or composite result used "
                           "at an index other than its own, or an op the emitter does not know)");
      });
}

//===----------------------------------------------------------------------===//
// Kernel drivers
//===----------------------------------------------------------------------===//

struct Driver {
  Kernel k;
  SmallVector<std::string> outPtr; ///< result -> parameter
  std::vector<rt::DType> argDTypes;
  std::vector<std::string> paramTypes; ///< C type each pointer points to
  std::vector<std::string> paramNames;
  unsigned block = 256, grid = 1;
  std::string kind;

  explicit Driver(FusionOp f) : k(f) {}

  LogicalResult signature() {
    Block &b = k.fusion.getBody().front();
    unsigned n = 0;
    auto add = [&](Value v, bool input) -> LogicalResult {
      Type et = elemOf(v);
      FailureOr<rt::DType> dt = toDType(et, k.fusion.getLoc());
      if (failed(dt))
        return failure();
      FailureOr<std::string> t = k.ctype(et);
      if (failed(t))
        return failure();
      std::string ct = et.isInteger(1) ? "unsigned char" : *t;
      std::string name = (input ? "in" : "out") + std::to_string(n++);
      paramTypes.push_back((input ? "const " : "") + ct);
      paramNames.push_back(name);
      argDTypes.push_back(*dt);
      if (input)
        k.inputPtr[v] = name;
      else
        outPtr.push_back(name);
      return success();
    };
    for (BlockArgument a : b.getArguments())
      if (failed(add(a, true)))
        return failure();
    n = 0;
    for (Value r : k.fusion.getYield().getValues())
      if (failed(add(r, false)))
        return failure();
    return success();
  }

  /// Stores result `r` (yield operand number) at linear index `lin`.
  LogicalResult store(unsigned r, ArrayRef<std::string> idx) {
    Value v = k.fusion.getYield().getValues()[r];
    FailureOr<std::string> x = k.at(v, idx);
    if (failed(x))
      return failure();
    std::string val = elemOf(v).isInteger(1) ? "(unsigned char)(" + *x + ")" : *x;
    k.line(outPtr[r] + "[" + Kernel::linearize(idx, shapeOf(v)) + "] = " + val + ";");
    return success();
  }

  static unsigned blockFor(int64_t work) {
    int64_t b = 32;
    while (b < work && b < 256)
      b *= 2;
    return static_cast<unsigned>(b);
  }
  static unsigned gridFor(int64_t n, unsigned block) {
    int64_t g = (n + block - 1) / block;
    return static_cast<unsigned>(std::max<int64_t>(1, std::min<int64_t>(g, 4096)));
  }

  LogicalResult loop();
  LogicalResult reduction();
  LogicalResult composite();
  LogicalResult scatterAdd(ScatterAddOp op);
};

LogicalResult Driver::loop() {
  kind = "loop";
  auto yields = k.fusion.getYield().getValues();
  SmallVector<SmallVector<int64_t>> shapes;
  for (Value y : yields)
    if (!llvm::is_contained(shapes, SmallVector<int64_t>(shapeOf(y))))
      shapes.push_back(SmallVector<int64_t>(shapeOf(y)));
  // A shape whose element count is a multiple of 4 runs 4 elements per
  // iteration with float4 loads/stores of f32 tensors accessed at the
  // loop's own index (every tensor starts 64-byte aligned: the plan's
  // alignment, checked by the artifact builder).
  auto vectorized = [](ArrayRef<int64_t> s) { return product(s) % 4 == 0 && product(s) >= 4; };
  int64_t maxWork = 1;
  for (auto &s : shapes)
    maxWork = std::max(maxWork, vectorized(s) ? product(s) / 4 : product(s));
  block = blockFor(maxWork);
  grid = gridFor(maxWork, block);
  for (auto &s : shapes) {
    if (vectorized(s)) {
      k.open("for (long long v_4 = (long long)blockIdx.x * blockDim.x + threadIdx.x; v_4 < " +
             std::to_string(product(s) / 4) + "LL; v_4 += (long long)gridDim.x * blockDim.x)");
      Kernel::Lanes lanes;
      lanes.shape.assign(s.begin(), s.end());
      lanes.depth = k.depth;
      for (int l = 0; l < 4; ++l) {
        std::string flat = k.fresh("e");
        k.line("const long long " + flat + " = v_4 * 4 + " + std::to_string(l) + ";");
        lanes.lanes.push_back(k.delinearize(flat, s));
      }
      k.vec = std::move(lanes);
      for (unsigned r = 0; r < yields.size(); ++r) {
        if (shapeOf(yields[r]) != ArrayRef<int64_t>(s))
          continue;
        if (!elemOf(yields[r]).isF32()) {
          for (int l = 0; l < 4; ++l)
            if (failed(store(r, k.vec->lanes[l])))
              return failure();
          continue;
        }
        SmallVector<std::string, 4> vals;
        for (int l = 0; l < 4; ++l) {
          FailureOr<std::string> x = k.at(yields[r], k.vec->lanes[l]);
          if (failed(x))
            return failure();
          vals.push_back(*x);
        }
        std::string w = k.fresh("w");
        k.line("float4 " + w + "; " + w + ".x = " + vals[0] + "; " + w + ".y = " + vals[1] + "; " + w +
               ".z = " + vals[2] + "; " + w + ".w = " + vals[3] + ";");
        k.line("reinterpret_cast<float4*>(" + outPtr[r] + ")[v_4] = " + w + ";");
      }
      k.vec.reset();
      k.close();
      continue;
    }
    k.open("for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < " +
           std::to_string(product(s)) + "LL; i += (long long)gridDim.x * blockDim.x)");
    Idx idx = k.delinearize("i", s);
    for (unsigned r = 0; r < yields.size(); ++r)
      if (shapeOf(yields[r]) == ArrayRef<int64_t>(s) && failed(store(r, idx)))
        return failure();
    k.close();
  }
  return success(!k.hasError);
}

LogicalResult Driver::reduction() {
  kind = "reduction";
  SmallVector<Operation *> reds;
  k.fusion.getBody().walk([&](Operation *op) {
    if (isa<ReduceOp, ArgmaxOp>(op))
      reds.push_back(op);
  });
  if (reds.empty())
    return failure(succeeded(k.fail(k.fusion, "a reduction fusion without kiln.reduce or kiln.argmax")));
  auto dimsOf = [](Operation *op) {
    if (auto r = dyn_cast<ReduceOp>(op)) {
      SmallVector<int64_t> d(r.getDims());
      llvm::sort(d);
      return d;
    }
    return SmallVector<int64_t>{static_cast<int64_t>(cast<ArgmaxOp>(op).getDim())};
  };
  Value x0 = reds[0]->getOperand(0);
  SmallVector<int64_t> xs(shapeOf(x0)), rdims = dimsOf(reds[0]);
  for (Operation *op : reds)
    if (shapeOf(op->getOperand(0)) != ArrayRef<int64_t>(xs) || dimsOf(op) != rdims)
      return failure(succeeded(k.fail(op, "reductions of one fusion over different shapes or dims")));
  SmallVector<int64_t> keptShape, redShape, keptDims;
  for (int64_t d = 0; d < static_cast<int64_t>(xs.size()); ++d) {
    if (llvm::is_contained(rdims, d))
      redShape.push_back(xs[d]);
    else {
      keptShape.push_back(xs[d]);
      keptDims.push_back(d);
    }
  }
  const int64_t nOut = product(keptShape), nRed = product(redShape);
  block = blockFor(nRed);
  grid = static_cast<unsigned>(std::max<int64_t>(1, std::min<int64_t>(nOut, 4096)));

  // Scratch per reduction.
  SmallVector<std::string> scratch, scratchIdx, acc, accIdx;
  for (Operation *op : reds) {
    FailureOr<std::string> t = k.ctype(elemOf(op->getOperand(0)));
    if (failed(t))
      return failure();
    scratch.push_back(k.fresh("s"));
    k.line("__shared__ " + *t + " " + scratch.back() + "[32];");
    scratchIdx.push_back("");
    if (isa<ArgmaxOp>(op)) {
      scratchIdx.back() = k.fresh("si");
      k.line("__shared__ long long " + scratchIdx.back() + "[32];");
    }
  }
  auto yields = k.fusion.getYield().getValues();
  k.open("for (long long o = blockIdx.x; o < " + std::to_string(nOut) + "LL; o += gridDim.x)");
  Idx kept = k.delinearize("o", keptShape);
  for (size_t r = 0; r < reds.size(); ++r) {
    Operation *op = reds[r];
    Type et = elemOf(op->getOperand(0));
    std::string t = *k.ctype(et);
    acc.push_back(k.fresh("acc"));
    accIdx.push_back("");
    if (auto red = dyn_cast<ReduceOp>(op)) {
      k.line(t + " " + acc.back() + " = " + identityOf(red.getKind(), et) + ";");
    } else {
      accIdx.back() = k.fresh("ai");
      k.line(t + " " + acc.back() + " = " + identityOf(ReduceKind::max, et) + ";");
      k.line("long long " + accIdx.back() + " = 9223372036854775807LL;");
    }
  }
  k.open("for (long long r = threadIdx.x; r < " + std::to_string(nRed) + "LL; r += blockDim.x)");
  Idx red = k.delinearize("r", redShape);
  Idx full(xs.size());
  for (size_t i = 0, a = 0, b = 0; i < xs.size(); ++i)
    full[i] = llvm::is_contained(rdims, static_cast<int64_t>(i)) ? red[b++] : kept[a++];
  for (size_t r = 0; r < reds.size(); ++r) {
    FailureOr<std::string> x = k.at(reds[r]->getOperand(0), full);
    if (failed(x))
      return failure();
    if (auto rop = dyn_cast<ReduceOp>(reds[r]))
      k.line(acc[r] + " = kiln_dev::" + reduceFunctor(rop.getKind()) + "<" + *k.ctype(elemOf(rop.getX())) +
             ">()(" + acc[r] + ", " + *x + ");");
    else
      k.line("kiln_dev::argmax_combine(" + acc[r] + ", " + accIdx[r] + ", " + *x + ", " + red[0] + ");");
  }
  // Results on the operand's shape that need no reduced value.
  for (unsigned y = 0; y < yields.size(); ++y)
    if (shapeOf(yields[y]) == ArrayRef<int64_t>(xs) && !llvm::is_contained(reds, yields[y].getDefiningOp()) &&
        failed(store(y, full)))
      return failure();
  k.close();
  for (size_t r = 0; r < reds.size(); ++r) {
    if (auto rop = dyn_cast<ReduceOp>(reds[r])) {
      std::string t = *k.ctype(elemOf(rop.getX()));
      k.line(acc[r] + " = kiln_dev::block_reduce(" + acc[r] + ", kiln_dev::" + reduceFunctor(rop.getKind()) +
             "<" + t + ">(), " + identityOf(rop.getKind(), elemOf(rop.getX())) + ", " + scratch[r] + ");");
      if (rop.getKind() == ReduceKind::mean)
        k.line(acc[r] + " = " + acc[r] + " / (" + t + ")" + std::to_string(nRed) + ";");
    } else {
      k.line("kiln_dev::block_argmax(" + acc[r] + ", " + accIdx[r] + ", " + scratch[r] + ", " + scratchIdx[r] + ");");
    }
  }
  k.open("if (threadIdx.x == 0)");
  // The index of each reduction result at this output.
  auto resultIdx = [&](Operation *op) {
    bool keep = isa<ReduceOp>(op) && cast<ReduceOp>(op).getKeepDims();
    Idx ri;
    for (size_t i = 0, a = 0; i < xs.size(); ++i) {
      if (llvm::is_contained(rdims, static_cast<int64_t>(i))) {
        if (keep)
          ri.push_back("0");
      } else {
        ri.push_back(kept[a++]);
      }
    }
    return ri;
  };
  for (size_t r = 0; r < reds.size(); ++r)
    k.preset(reds[r]->getResult(0), resultIdx(reds[r]), isa<ArgmaxOp>(reds[r]) ? accIdx[r] : acc[r]);
  for (unsigned y = 0; y < yields.size(); ++y) {
    if (shapeOf(yields[y]) == ArrayRef<int64_t>(xs) && !llvm::is_contained(reds, yields[y].getDefiningOp()))
      continue;
    // The epilogue runs on a reduction result's shape.
    Operation *match = nullptr;
    for (Operation *op : reds)
      if (shapeOf(op->getResult(0)) == shapeOf(yields[y]))
        match = op;
    if (!match)
      return failure(succeeded(k.fail(k.fusion, "a reduction-fusion result of a shape that is neither the "
                                                "operand's nor a reduction result's")));
    if (failed(store(y, resultIdx(match))))
      return failure();
  }
  k.close();
  k.close();
  return success(!k.hasError);
}

} // namespace
} // namespace kiln::codegen

#include "codegen/CudaComposite.inc"

namespace kiln::codegen {
namespace {

std::string hex16(uint64_t h) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

/// The kernel's source: `paramTypes[i]* paramNames[i]` parameters, `body`,
/// the host trampoline, and the content-derived name.
EmittedKernel finish(const std::string &kind, const std::vector<std::string> &paramTypes,
                     const std::vector<std::string> &paramNames, const std::string &globals,
                     const std::string &body, const std::vector<rt::DType> &argDTypes, unsigned grid,
                     unsigned block) {
  std::string params;
  for (size_t i = 0; i < paramTypes.size(); ++i)
    params += (i ? ", " : "") + paramTypes[i] + "* " + paramNames[i];
  const std::string placeholder = "KILN_KERNEL";
  std::string text = globals + "extern \"C\" __global__ void __launch_bounds__(" + std::to_string(block) + ") " +
                     placeholder + "(" + params + ") {\n" + body + "}\n";
  EmittedKernel e;
  e.name = "kiln_" + kind + "_" + hex16(llvm::xxh3_64bits(text));
  std::string kernel = text;
  size_t p = kernel.find(placeholder);
  kernel.replace(p, placeholder.size(), e.name);
  std::string host = "#ifdef KILN_HOST_SIMT\nextern \"C\" void " + e.name + "_host(void **args) {\n  " + e.name + "(";
  for (size_t i = 0; i < paramTypes.size(); ++i)
    host += (i ? ", " : "") + std::string("*(") + paramTypes[i] + "**)args[" + std::to_string(i) + "]";
  host += ");\n}\n#endif\n";
  e.source = std::string(cudaPrelude()) + "\n" + kernel + host;
  e.argDTypes = argDTypes;
  e.grid[0] = grid;
  e.block[0] = block;
  return e;
}

} // namespace

FailureOr<EmittedKernel> emitFusionKernel(FusionOp fusion) {
  Driver d(fusion);
  if (failed(d.signature()))
    return failure();
  LogicalResult ok = failure();
  switch (fusion.getKind()) {
  case FusionKind::loop:
    ok = d.loop();
    break;
  case FusionKind::reduction:
    ok = d.reduction();
    break;
  case FusionKind::composite:
    ok = d.composite();
    break;
  default:
    fusion.emitError() << "CUDA codegen: a " << stringifyFusionKind(fusion.getKind())
                       << " fusion is not a kernel";
    return failure();
  }
  if (failed(ok) || d.k.hasError) {
    if (!d.k.hasError)
      fusion.emitError() << "CUDA codegen failed";
    return failure();
  }
  return finish(d.kind, d.paramTypes, d.paramNames, d.k.globals, d.k.body, d.argDTypes, d.grid, d.block);
}

EmittedKernel emitActivationKernel(bool gelu, bool tanhApprox, int64_t n, rt::DType dtype) {
  const std::string t = dtype == rt::DType::f64 ? "double" : "float";
  const unsigned block = 256;
  const unsigned grid = static_cast<unsigned>(std::max<int64_t>(1, std::min<int64_t>((n + block - 1) / block, 4096)));
  std::string body = "  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < " + std::to_string(n) +
                     "LL; i += (long long)gridDim.x * blockDim.x)\n    out0[i] = " +
                     (gelu ? "kiln_dev::gelu(in0[i], " + std::string(tanhApprox ? "true" : "false") + ")"
                           : std::string("kiln_dev::relu(in0[i])")) +
                     ";\n";
  return finish("loop", {"const " + t, t}, {"in0", "out0"}, "", body, {dtype, dtype}, grid, block);
}

EmittedKernel emitStepIncrementKernel() {
  return finish("step", {"long long"}, {"step"}, "", "  if (blockIdx.x == 0 && threadIdx.x == 0) step[0] += 1;\n",
                {rt::DType::i64}, 1, 32);
}

} // namespace kiln::codegen
