//===- ReferencePlanned.cpp - Running a function in its planned memory ----===//
//
// runPlannedFunction executes a fused, planned function (docs/fusion.md) the
// way the runtime will: every value lives only in the bytes its
// #kiln.buffer names, so a planning error (two live values sharing bytes, a
// buffer too small, a value read after its buffer was reused) changes the
// numbers instead of going unnoticed.
//
// 1. Read the plan from the IR: kiln.memory_plan (region sizes), kiln.buffer
//    of every argument, `buffers` of every top-level op. Check that each
//    value fits its buffer and each buffer its region.
// 2. One host array per region, one 8-byte slot per planned byte: a value at
//    byte offset o with element width s keeps element i in slot o + i * s
//    (as a double for floats, an int64 for integers), so values of any
//    mix of element types overlap exactly where their bytes would.
// 3. Poison the whole arena (NaN), copy the arguments into their buffers.
// 4. Per top-level op: load the operands from their buffers, evaluate the
//    op (ReferenceOpInterface; FusionOp::evaluate runs its body), store the
//    results, then poison (NaN for floats, 0x5A.. for integers) the arena
//    bytes of every operand that dies here, except bytes a live value or a
//    result of this op owns (in-place results, views).
// 5. func.return loads the results from their buffers.
//
//===----------------------------------------------------------------------===//
#include "ir/Dialect.h"
#include "ir/Reference.h"
#include "ir/ReferenceRunSupport.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/DenseMap.h"

#include <cstring>

using namespace mlir;
using namespace kiln;
using namespace kiln::ref::detail;

namespace {

/// A quiet NaN with a recognizable payload, and the integer garbage.
constexpr uint64_t kFloatPoison = 0x7FF8DEAD5A5A5A5AULL;
constexpr uint64_t kIntPoison = 0x5A5A5A5A5A5A5A5AULL;

/// Where one value lives, with the bytes it actually occupies.
struct Placement {
  MemoryRegion region = MemoryRegion::arena;
  int64_t offset = 0, size = 0; ///< The planned (aligned) buffer.
  int64_t bytes = 0;            ///< numElements * element width.
  int64_t width = 1;            ///< Bytes of one element.
  int64_t def = -1, last = -1;  ///< Live interval in top-level op indices.
  bool isFloat = true;
};

unsigned regionIndex(MemoryRegion r) { return static_cast<unsigned>(r); }

/// The three regions as slot arrays.
class PlannedMemory {
public:
  void resize(MemoryRegion r, int64_t bytes) {
    regions[regionIndex(r)].assign(bytes, kFloatPoison);
  }

  void store(const Placement &p, const ref::Tensor &t) {
    std::vector<uint64_t> &mem = regions[regionIndex(p.region)];
    for (int64_t i = 0, n = t.numElements(); i < n; ++i) {
      uint64_t bits;
      if (t.isFloat()) {
        double d = t.floats()[i];
        std::memcpy(&bits, &d, sizeof(bits));
      } else {
        int64_t v = t.ints()[i];
        std::memcpy(&bits, &v, sizeof(bits));
      }
      mem[p.offset + i * p.width] = bits;
    }
  }

  ref::Tensor load(const Placement &p, ref::ElemType type,
                   const std::vector<int64_t> &shape) const {
    const std::vector<uint64_t> &mem = regions[regionIndex(p.region)];
    ref::Tensor t(type, shape);
    for (int64_t i = 0, n = t.numElements(); i < n; ++i) {
      uint64_t bits = mem[p.offset + i * p.width];
      if (t.isFloat()) {
        std::memcpy(&t.floats()[i], &bits, sizeof(bits));
      } else {
        int64_t v;
        std::memcpy(&v, &bits, sizeof(v));
        t.ints()[i] = ref::wrapToType(v, type);
      }
    }
    return t;
  }

  /// Poisons the slots [begin, end) of region `r` where `keep` is false.
  void poison(MemoryRegion r, int64_t begin, const std::vector<bool> &keep,
              uint64_t bits) {
    std::vector<uint64_t> &mem = regions[regionIndex(r)];
    for (size_t i = 0; i < keep.size(); ++i)
      if (!keep[i])
        mem[begin + i] = bits;
  }

private:
  std::vector<uint64_t> regions[3];
};

std::string opLabel(Operation *op, int64_t index) {
  return "'" + op->getName().getStringRef().str() + "' (top-level op #" +
         std::to_string(index) + ")";
}

/// Fills the size fields of `p` from the value's type; false if unsupported.
bool describeValue(Type type, Placement &p, ref::ElemType &elem,
                   std::vector<int64_t> &shape) {
  auto tt = dyn_cast<RankedTensorType>(type);
  if (!tt || !tt.hasStaticShape())
    return false;
  FailureOr<ref::ElemType> et = ref::elemTypeOf(tt.getElementType());
  if (failed(et))
    return false;
  elem = *et;
  shape.assign(tt.getShape().begin(), tt.getShape().end());
  p.width = ref::byteWidth(elem);
  p.bytes = ref::numElementsOf(shape) * p.width;
  p.isFloat = ref::isFloatType(elem);
  return true;
}

} // namespace

llvm::Expected<std::vector<ref::Tensor>>
ref::runPlannedFunction(func::FuncOp fn, ArrayRef<Tensor> args, const RunOptions &opts) {
  const std::string name = "@" + fn.getSymName().str();
  if (fn.isExternal() || !fn.getBody().hasOneBlock())
    return errorAt(fn.getLoc(), "cannot run " + name + ": expected a body of one block");
  if (llvm::Error err = checkSizes(fn, opts))
    return std::move(err);
  Block &body = fn.getBody().front();
  if (args.size() != body.getNumArguments())
    return errorAt(fn.getLoc(), name + " expects " +
                                    std::to_string(body.getNumArguments()) +
                                    " arguments, got " + std::to_string(args.size()));

  // 1. The plan.
  auto plan = fn->getAttrOfType<MemoryPlanAttr>("kiln.memory_plan");
  if (!plan)
    return errorAt(fn.getLoc(), name + " has no kiln.memory_plan: run --kiln-plan-memory first");
  const int64_t regionBytes[3] = {plan.getPersistent(), plan.getInput(), plan.getArena()};
  static_assert(static_cast<int>(MemoryRegion::persistent) == 0 &&
                static_cast<int>(MemoryRegion::input) == 1 &&
                static_cast<int>(MemoryRegion::arena) == 2);
  int64_t totalBytes = 0;
  for (int64_t b : regionBytes) {
    if (b < 0 || b > opts.maxLiveBytes / 8 - totalBytes)
      return errorAt(fn.getLoc(), name + ": the planned regions need more than " +
                                      std::to_string(opts.maxLiveBytes >> 20) +
                                      " MiB of host slots, the interpreter's limit");
    totalBytes += b;
  }

  llvm::DenseMap<Value, Placement> where;
  llvm::DenseMap<Value, std::pair<ElemType, std::vector<int64_t>>> types;
  auto place = [&](Value v, BufferAttr buffer, int64_t def,
                   const std::string &what, Location loc) -> llvm::Error {
    Placement p;
    ElemType elem;
    std::vector<int64_t> shape;
    if (!describeValue(v.getType(), p, elem, shape))
      return errorAt(loc, what + " has type " + typeString(v.getType()) +
                              ", which the interpreter cannot hold");
    p.region = buffer.getRegion();
    p.offset = buffer.getOffset();
    p.size = buffer.getSize();
    p.def = p.last = def;
    if (p.bytes > p.size)
      return errorAt(loc, what + " needs " + std::to_string(p.bytes) +
                              " bytes, but its buffer holds " + std::to_string(p.size));
    int64_t limit = regionBytes[regionIndex(p.region)];
    if (p.offset > limit || p.size > limit - p.offset)
      return errorAt(loc, what + ": buffer [" + std::to_string(p.offset) + ", " +
                              std::to_string(p.offset + p.size) + ") leaves the " +
                              stringifyMemoryRegion(p.region).str() + " region of " +
                              std::to_string(limit) + " bytes");
    where[v] = p;
    types[v] = {elem, std::move(shape)};
    return llvm::Error::success();
  };
  for (auto [i, arg] : llvm::enumerate(body.getArguments())) {
    std::string what = "argument #" + std::to_string(i) + " of " + name;
    auto buffer = fn.getArgAttrOfType<BufferAttr>(i, "kiln.buffer");
    if (!buffer)
      return errorAt(fn.getLoc(), what + " has no kiln.buffer");
    if (llvm::Error err = place(arg, buffer, -1, what, fn.getLoc()))
      return std::move(err);
  }
  std::vector<Operation *> ops;
  for (Operation &op : body)
    ops.push_back(&op);
  for (auto [k, op] : llvm::enumerate(ops)) {
    for (Value v : op->getOperands()) {
      auto it = where.find(v);
      if (it == where.end())
        return errorAt(op->getLoc(), opLabel(op, k) + " reads a value defined outside " +
                                         name + "'s top level");
      it->second.last = k;
    }
    if (isa<func::ReturnOp>(op) || op->getNumResults() == 0)
      continue;
    auto buffers = op->getAttrOfType<ArrayAttr>("buffers");
    if (!buffers || buffers.size() != op->getNumResults())
      return errorAt(op->getLoc(), opLabel(op, k) + " has " +
                                       (buffers ? std::to_string(buffers.size()) : "no") +
                                       " buffers, expected one per result (" +
                                       std::to_string(op->getNumResults()) + ")");
    for (auto [i, r] : llvm::enumerate(op->getResults())) {
      auto buffer = dyn_cast<BufferAttr>(buffers[i]);
      std::string what = "result #" + std::to_string(i) + " of " + opLabel(op, k);
      if (!buffer)
        return errorAt(op->getLoc(), what + ": buffers[" + std::to_string(i) +
                                         "] is not a #kiln.buffer");
      if (llvm::Error err = place(r, buffer, k, what, op->getLoc()))
        return std::move(err);
    }
  }
  if (ops.empty() || !isa<func::ReturnOp>(ops.back()))
    return errorAt(fn.getLoc(), name + " has no func.return");

  // 2.-3. The regions; the arena starts poisoned; the arguments.
  PlannedMemory memory;
  for (MemoryRegion r : {MemoryRegion::persistent, MemoryRegion::input, MemoryRegion::arena})
    memory.resize(r, regionBytes[regionIndex(r)]);
  for (auto [i, arg] : llvm::enumerate(body.getArguments())) {
    if (!matches(args[i], arg.getType()))
      return errorAt(fn.getLoc(), "argument #" + std::to_string(i) + " of " + name +
                                      ": expected " + typeString(arg.getType()) +
                                      ", got " + tensorTypeString(args[i]));
    Tensor t = args[i];
    t.applyPrecision(opts.precision);
    memory.store(where[arg], t);
  }
  auto load = [&](Value v) {
    auto &[elem, shape] = types[v];
    return memory.load(where[v], elem, shape);
  };

  // Arena values, for the poisoning's "does a live value own this byte".
  std::vector<Value> arenaValues;
  for (auto &entry : where)
    if (entry.second.region == MemoryRegion::arena)
      arenaValues.push_back(entry.first);

  // 4. The ops in order.
  EvalContext ctx(opts.precision);
  for (auto [k, op] : llvm::enumerate(ops)) {
    int64_t index = k;
    if (auto ret = dyn_cast<func::ReturnOp>(op)) {
      std::vector<Tensor> out;
      for (Value v : ret.getOperands())
        out.push_back(load(v));
      return out;
    }
    std::vector<Tensor> operandValues;
    for (Value v : op->getOperands())
      operandValues.push_back(load(v));
    SmallVector<const Tensor *> operands;
    for (const Tensor &t : operandValues)
      operands.push_back(&t);
    SmallVector<Tensor> results;
    if (llvm::Error err = evaluateOp(*op, ctx, operands, results))
      return std::move(err);
    for (auto [r, t] : llvm::zip(op->getResults(), results))
      memory.store(where[r], t);

    // Poison the bytes of operands that die here, but not bytes that a
    // value still live after this op, or a result of it, owns.
    llvm::SmallPtrSet<void *, 8> done;
    for (Value v : op->getOperands()) {
      const Placement &p = where[v];
      if (p.region != MemoryRegion::arena || p.last != index ||
          !done.insert(v.getAsOpaquePointer()).second)
        continue;
      std::vector<bool> keep(p.size, false);
      for (Value other : arenaValues) {
        const Placement &q = where[other];
        bool live = (q.def <= index && q.last > index) || q.def == index;
        if (!live || other == v)
          continue;
        int64_t lo = std::max(p.offset, q.offset),
                hi = std::min(p.offset + p.size, q.offset + q.size);
        for (int64_t b = lo; b < hi; ++b)
          keep[b - p.offset] = true;
      }
      memory.poison(MemoryRegion::arena, p.offset, keep,
                    p.isFloat ? kFloatPoison : kIntPoison);
    }
  }
  return errorAt(fn.getLoc(), name + " has no func.return");
}
