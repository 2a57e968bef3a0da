//===- MemoryPlan.cpp - Reading and checking a step's memory plan ---------===//
//
// What every consumer of a plan shares (passes/MemoryPlan.h): liveness from
// the top-level op order, the in-place rule and the verifier of
// docs/fusion.md. The verifier trusts nothing it reads: it recomputes the
// intervals and the lower bound and checks every pair of simultaneously
// live values, so a planner bug or a hand-edited plan cannot reach codegen.
//
//===----------------------------------------------------------------------===//
#include "passes/MemoryPlan.h"

#include "mlir/IR/AsmState.h"
#include "mlir/IR/Diagnostics.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/MathExtras.h"

#include <algorithm>
#include <map>

using namespace mlir;
using namespace kiln;

namespace {
/// Bytes of a statically shaped int or float tensor, without alignment.
std::optional<int64_t> rawBytes(Type type) {
  auto tensor = dyn_cast<RankedTensorType>(type);
  if (!tensor || !tensor.hasStaticShape() || !tensor.getElementType().isIntOrFloat())
    return std::nullopt;
  int64_t width = llvm::divideCeil(tensor.getElementType().getIntOrFloatBitWidth(), 8);
  return tensor.getNumElements() * width;
}

StringRef regionNoun(MemoryRegion region) {
  switch (region) {
  case MemoryRegion::persistent:
    return "persistent region";
  case MemoryRegion::input:
    return "input region";
  case MemoryRegion::arena:
    return "arena";
  }
  return "arena";
}

/// "[offset O, size S]" of a planned value, for messages.
std::string bytesOf(const PlannedValue &v) {
  return ("[offset " + Twine(v.offset) + ", size " + Twine(v.size) + "]").str();
}
std::string liveOf(const PlannedValue &v) {
  return ("live [" + Twine(v.start) + ", " + Twine(v.end) + "]").str();
}

/// The name of the function argument `<name>` as a kiln.updates target.
std::optional<unsigned> argumentNamed(func::FuncOp fn, StringRef name) {
  for (unsigned i = 0, e = fn.getNumArguments(); i < e; ++i)
    if (auto n = fn.getArgAttrOfType<StringAttr>(i, "kiln.name"); n && n.getValue() == name)
      return i;
  return std::nullopt;
}

/// The result index of `v` in its defining op.
unsigned resultIndexOf(Value v) { return cast<OpResult>(v).getResultNumber(); }
} // namespace

std::optional<int64_t> kiln::plannedBytes(Type type, int64_t alignment) {
  std::optional<int64_t> bytes = rawBytes(type);
  if (!bytes)
    return std::nullopt;
  return std::max<int64_t>(llvm::alignTo(*bytes, alignment), alignment);
}

bool kiln::canReuseInPlace(FusionOp op, unsigned operandIndex, unsigned resultIndex) {
  if (op.getKind() != FusionKind::loop || operandIndex >= op.getInputs().size() ||
      resultIndex >= op.getNumResults())
    return false;
  Value input = op.getInputs()[operandIndex];
  auto inType = dyn_cast<RankedTensorType>(input.getType());
  auto outType = dyn_cast<RankedTensorType>(op.getResult(resultIndex).getType());
  std::optional<int64_t> inBytes = rawBytes(input.getType());
  if (!inType || !outType || !inBytes || inBytes != rawBytes(outType) ||
      inType.getShape() != outType.getShape())
    return false;
  // Every block argument bound to this value, and everything computed from
  // it, must stay inside the result's loop and keep the element index:
  // elementwise ops of the result's shape only (or the yield).
  Block &body = op.getBody().front();
  SmallVector<Value> worklist;
  for (auto [arg, in] : llvm::zip(body.getArguments(), op.getInputs()))
    if (in == input)
      worklist.push_back(arg);
  llvm::SmallPtrSet<Operation *, 16> seen;
  while (!worklist.empty()) {
    Value v = worklist.pop_back_val();
    for (Operation *user : v.getUsers()) {
      if (isa<YieldOp>(user) || !seen.insert(user).second)
        continue;
      auto iface = dyn_cast<FusionOpInterface>(user);
      if (!iface || iface.getFusionClass() != FusionClass::elementwise)
        return false;
      for (Value r : user->getResults()) {
        auto t = dyn_cast<RankedTensorType>(r.getType());
        if (!t || t.getShape() != outType.getShape())
          return false;
        worklist.push_back(r);
      }
    }
  }
  return true;
}

std::vector<PlannedValue> kiln::liveValues(func::FuncOp fn) {
  std::vector<PlannedValue> values;
  if (fn.isExternal())
    return values;
  Block &body = fn.getBody().front();
  llvm::DenseMap<Operation *, int64_t> index;
  for (auto [i, op] : llvm::enumerate(body))
    index[&op] = static_cast<int64_t>(i);
  Operation *terminator = body.getTerminator();
  AsmState state(fn);
  // Returned values carry their result attribute kiln.name.
  llvm::DenseMap<Value, StringRef> returnedName;
  if (terminator)
    for (auto [i, v] : llvm::enumerate(terminator->getOperands()))
      if (auto n = fn.getResultAttrOfType<StringAttr>(i, "kiln.name"))
        returnedName.try_emplace(v, n.getValue());

  auto add = [&](Value v, int64_t start, StringRef kiln, std::string detail) {
    PlannedValue p;
    p.value = v;
    llvm::raw_string_ostream os(p.name);
    v.printAsOperand(os, state);
    if (!kiln.empty())
      os << " \"" << kiln << "\"";
    if (!detail.empty())
      os << " (" << detail << ")";
    p.start = p.end = start;
    for (Operation *user : v.getUsers()) {
      Operation *top = body.findAncestorOpInBlock(*user);
      if (top)
        p.end = std::max(p.end, index.lookup(top));
    }
    values.push_back(std::move(p));
  };
  for (BlockArgument arg : body.getArguments()) {
    auto n = fn.getArgAttrOfType<StringAttr>(arg.getArgNumber(), "kiln.name");
    add(arg, -1, n ? n.getValue() : StringRef(), "");
  }
  for (Operation &op : body) {
    auto fusion = dyn_cast<FusionOp>(op);
    for (OpResult r : op.getResults()) {
      std::string detail = fusion ? (stringifyFusionKind(fusion.getKind()) + "#" +
                                     Twine(r.getResultNumber())).str()
                                  : op.getName().getStringRef().str();
      add(r, index[&op], returnedName.lookup(r), detail);
    }
  }
  return values;
}

FailureOr<std::vector<PlannedValue>> kiln::readMemoryPlan(func::FuncOp fn) {
  std::vector<PlannedValue> values = liveValues(fn);
  for (PlannedValue &v : values) {
    BufferAttr buffer;
    if (auto arg = dyn_cast<BlockArgument>(v.value)) {
      buffer = fn.getArgAttrOfType<BufferAttr>(arg.getArgNumber(), "kiln.buffer");
      if (!buffer)
        return fn.emitError("memory plan of @")
               << fn.getSymName() << ": argument " << v.name << " has no kiln.buffer";
    } else {
      Operation *op = v.value.getDefiningOp();
      auto fusion = dyn_cast<FusionOp>(op);
      std::optional<ArrayAttr> buffers;
      if (fusion)
        buffers = fusion.getBuffers();
      if (!buffers || buffers->size() != op->getNumResults())
        return op->emitError("memory plan of @")
               << fn.getSymName() << ": result " << v.name
               << " has no buffer (every top-level op must be a kiln.fusion with "
                  "`buffers`: run --kiln-plan-memory)";
      buffer = cast<BufferAttr>((*buffers)[resultIndexOf(v.value)]);
    }
    v.region = buffer.getRegion();
    v.offset = buffer.getOffset();
    v.size = buffer.getSize();
  }
  return values;
}

int64_t kiln::arenaLowerBound(llvm::ArrayRef<PlannedValue> values) {
  // Sweep the op indices; values live at the same time at the same bytes
  // (a view and its input, an in-place pair) count once.
  std::vector<std::tuple<int64_t, int, size_t>> sweep;
  for (auto [i, v] : llvm::enumerate(values))
    if (v.region == MemoryRegion::arena) {
      sweep.emplace_back(v.start, 1, i);
      sweep.emplace_back(v.end + 1, 0, i); // removals first at equal time
    }
  llvm::sort(sweep);
  std::map<std::pair<int64_t, int64_t>, int> live;
  int64_t total = 0, peak = 0;
  for (auto [time, isStart, i] : sweep) {
    const PlannedValue &v = values[i];
    int &count = live[{v.offset, v.size}];
    if (isStart) {
      if (count++ == 0)
        total += v.size;
      peak = std::max(peak, total);
    } else if (--count == 0) {
      total -= v.size;
    }
  }
  return peak;
}

namespace {
/// The checks of verifyMemoryPlan over one read plan.
class PlanVerifier {
public:
  PlanVerifier(func::FuncOp fn, MemoryPlanAttr plan, std::vector<PlannedValue> values)
      : fn(fn), plan(plan), values(std::move(values)) {
    for (auto [i, v] : llvm::enumerate(this->values))
      indexOf[v.value] = i;
  }

  LogicalResult verify() {
    for (const PlannedValue &v : values)
      if (failed(checkBuffer(v)))
        return failure();
    if (failed(checkPairs()))
      return failure();
    int64_t lowerBound = arenaLowerBound(values);
    if (lowerBound != plan.getLowerBound())
      return error(fn) << "lower_bound is " << plan.getLowerBound()
                       << ", but the arena values live at one time need " << lowerBound
                       << " bytes";
    return success();
  }

private:
  InFlightDiagnostic error(Operation *at) {
    return at->emitError("memory plan of @") << fn.getSymName() << ": ";
  }
  Operation *placeOf(const PlannedValue &v) {
    Operation *def = v.value.getDefiningOp();
    return def ? def : fn.getOperation();
  }
  int64_t regionSize(MemoryRegion region) {
    switch (region) {
    case MemoryRegion::persistent:
      return plan.getPersistent();
    case MemoryRegion::input:
      return plan.getInput();
    case MemoryRegion::arena:
      return plan.getArena();
    }
    return 0;
  }
  static bool sameBytes(const PlannedValue &a, const PlannedValue &b) {
    return a.region == b.region && a.offset == b.offset && a.size == b.size;
  }

  /// The buffer of one value: size, alignment, region bounds and kind.
  LogicalResult checkBuffer(const PlannedValue &v) {
    int64_t alignment = plan.getAlignment();
    std::optional<int64_t> expected = plannedBytes(v.value.getType(), alignment);
    if (!expected)
      return error(placeOf(v)) << v.name << " is not a statically shaped int or float tensor";
    if (v.size != *expected)
      return error(placeOf(v)) << "buffer of " << v.name << " " << bytesOf(v)
                               << " has size " << v.size << ", expected " << *expected
                               << " (its bytes rounded up to the alignment " << alignment << ")";
    if (v.offset % alignment)
      return error(placeOf(v)) << "buffer of " << v.name << " " << bytesOf(v)
                               << " is not aligned to " << alignment << " bytes";
    if (v.offset + v.size > regionSize(v.region))
      return error(placeOf(v)) << stringifyMemoryRegion(v.region) << " buffer of " << v.name
                               << " " << bytesOf(v) << " ends past the "
                               << regionNoun(v.region) << " (size " << regionSize(v.region)
                               << ")";
    if (isa<BlockArgument>(v.value)) {
      if (v.region == MemoryRegion::arena)
        return error(fn) << "argument " << v.name
                         << " is in the arena, expected the persistent or input region";
      return success();
    }
    auto fusion = cast<FusionOp>(v.value.getDefiningOp());
    if (fusion.getKind() == FusionKind::view) {
      const PlannedValue &input = values[indexOf.lookup(fusion.getInputs()[0])];
      if (!sameBytes(v, input))
        return error(fusion) << "view " << v.name << " has the "
                             << stringifyMemoryRegion(v.region) << " buffer " << bytesOf(v)
                             << ", expected its input " << input.name << "'s "
                             << stringifyMemoryRegion(input.region) << " buffer "
                             << bytesOf(input);
      return success();
    }
    if (v.region != MemoryRegion::arena && !updatesArgumentInPlace(v))
      return error(fusion) << v.name << " is in the " << regionNoun(v.region)
                           << " but is not returned as the kiln.updates of the argument "
                              "whose buffer it takes";
    return success();
  }

  /// Whether `v` is returned with kiln.updates = "<arg>" and has <arg>'s buffer.
  bool updatesArgumentInPlace(const PlannedValue &v) {
    Operation *ret = fn.getBody().front().getTerminator();
    for (auto [i, operand] : llvm::enumerate(ret->getOperands())) {
      auto updates = fn.getResultAttrOfType<StringAttr>(i, "kiln.updates");
      if (operand != v.value || !updates)
        continue;
      if (std::optional<unsigned> arg = argumentNamed(fn, updates.getValue()))
        if (sameBytes(v, values[*arg]))
          return true;
    }
    return false;
  }

  /// Whether `a` and `b` may share bytes while both live: one is a view of
  /// the other (through a chain of views), or `b` is written in place of
  /// `a` where `a` dies (docs/fusion.md).
  bool mayShare(const PlannedValue &a, const PlannedValue &b) {
    if (rootOf(a.value) == rootOf(b.value))
      return true;
    const PlannedValue &first = a.start <= b.start ? a : b;
    const PlannedValue &second = a.start <= b.start ? b : a;
    auto fusion = dyn_cast_or_null<FusionOp>(second.value.getDefiningOp());
    if (!fusion || first.end != second.start || !sameBytes(first, second))
      return false;
    for (auto [k, input] : llvm::enumerate(fusion.getInputs()))
      if (input == first.value && canReuseInPlace(fusion, k, resultIndexOf(second.value)))
        return true;
    return false;
  }
  Value rootOf(Value v) {
    while (auto fusion = dyn_cast_or_null<FusionOp>(v.getDefiningOp())) {
      if (fusion.getKind() != FusionKind::view)
        break;
      v = fusion.getInputs()[0];
    }
    return v;
  }

  LogicalResult checkPairs() {
    // Sorting by offset bounds the inner loop to values that start before
    // the current one ends.
    std::vector<size_t> order(values.size());
    for (size_t i = 0; i < order.size(); ++i)
      order[i] = i;
    llvm::sort(order, [&](size_t x, size_t y) {
      return std::make_tuple(values[x].region, values[x].offset, x) <
             std::make_tuple(values[y].region, values[y].offset, y);
    });
    for (size_t i = 0; i < order.size(); ++i) {
      const PlannedValue &a = values[order[i]];
      for (size_t j = i + 1; j < order.size(); ++j) {
        const PlannedValue &b = values[order[j]];
        if (b.region != a.region || b.offset >= a.offset + a.size)
          break;
        if (b.size == 0 || a.size == 0 || b.end < a.start || a.end < b.start || mayShare(a, b))
          continue;
        const PlannedValue &later = order[i] < order[j] ? b : a;
        const PlannedValue &earlier = order[i] < order[j] ? a : b;
        return error(placeOf(later))
               << earlier.name << " " << bytesOf(earlier) << " " << liveOf(earlier) << " and "
               << later.name << " " << bytesOf(later) << " " << liveOf(later)
               << " overlap in the " << regionNoun(a.region) << " while both are live";
      }
    }
    return success();
  }

  func::FuncOp fn;
  MemoryPlanAttr plan;
  std::vector<PlannedValue> values;
  llvm::DenseMap<Value, size_t> indexOf;
};
} // namespace

LogicalResult kiln::verifyMemoryPlan(func::FuncOp fn) {
  auto plan = fn->getAttrOfType<MemoryPlanAttr>("kiln.memory_plan");
  if (!plan)
    return fn.emitError("memory plan of @")
           << fn.getSymName() << ": the function has no kiln.memory_plan";
  if (plan.getAlignment() <= 0 || !llvm::isPowerOf2_64(plan.getAlignment()))
    return fn.emitError("memory plan of @")
           << fn.getSymName() << ": alignment " << plan.getAlignment()
           << " is not a power of two";
  if (fn.isExternal())
    return success();
  for (Operation &op : fn.getBody().front().without_terminator())
    if (!isa<FusionOp>(op))
      return op.emitError("memory plan of @")
             << fn.getSymName() << ": '" << op.getName()
             << "' is not inside a kiln.fusion (a planned function holds only fusions)";
  FailureOr<std::vector<PlannedValue>> values = readMemoryPlan(fn);
  if (failed(values))
    return failure();
  return PlanVerifier(fn, plan, std::move(*values)).verify();
}
