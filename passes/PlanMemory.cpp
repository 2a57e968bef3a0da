//===- PlanMemory.cpp - --kiln-plan-memory --------------------------------===//
//
// Gives every value of a fused step a buffer (docs/fusion.md, "Memory
// plan"). Per function:
//
// 1. Check that the top level holds only kiln.fusion ops and func.return.
// 2. Liveness over the top-level order (kiln::liveValues): [def, last use],
//    arguments from -1, returned values to the return's index.
// 3. Arguments: role param/opt_state/buffer/step -> persistent, input (or
//    no role) -> input; each region packed in argument order.
// 4. Fusion results: one arena buffer each, except a view's result, which
//    joins its input's buffer (the interval is the union).
// 5. kiln.updates: a result returned as the update of a persistent argument
//    takes the argument's buffer when its fusion reads the argument, nothing
//    later reads that buffer, and canReuseInPlace holds.
// 6. In-place arena reuse, in op order: a loop result takes the buffer of an
//    operand that dies there when canReuseInPlace holds for every operand
//    in that buffer (sizes are then equal, so the plan never gets worse).
// 7. Offsets: several greedy placements (best fit by decreasing size, first
//    fit by start, ...); each places a buffer in a gap among the placed
//    buffers whose intervals intersect it, else on top. The smallest arena
//    wins.
// 8. Write the buffers and #kiln.memory_plan, then run verifyMemoryPlan: a
//    planner bug fails the pass instead of reaching codegen.
//
//===----------------------------------------------------------------------===//
#include "passes/MemoryPlan.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SmallSet.h"
#include "llvm/Support/MathExtras.h"

#include <algorithm>
#include <limits>

namespace kiln {
#define GEN_PASS_DEF_KILNPLANMEMORY
#include "passes/Passes.h.inc"
} // namespace kiln

using namespace mlir;
using namespace kiln;

namespace {

/// A buffer being planned: the values in it (indices into the value list)
/// and the union of their intervals.
struct Buffer {
  MemoryRegion region = MemoryRegion::arena;
  int64_t size = 0, offset = 0;
  int64_t start = 0, end = 0;
  SmallVector<size_t> members;
};

/// Places `order` greedily; returns the arena size. With `bestFit`, each
/// buffer goes to the gap that wastes least, else to the lowest that fits.
int64_t place(ArrayRef<Buffer *> order, bool bestFit) {
  std::vector<Buffer *> placed;
  int64_t arena = 0;
  for (Buffer *b : order) {
    SmallVector<std::pair<int64_t, int64_t>> taken;
    for (Buffer *p : placed)
      if (p->start <= b->end && b->start <= p->end)
        taken.emplace_back(p->offset, p->offset + p->size);
    llvm::sort(taken);
    int64_t cursor = 0, best = -1, bestWaste = std::numeric_limits<int64_t>::max();
    for (auto [lo, hi] : taken) {
      if (lo - cursor >= b->size && lo - cursor - b->size < bestWaste) {
        best = cursor;
        bestWaste = lo - cursor - b->size;
        if (!bestFit)
          break;
      }
      cursor = std::max(cursor, hi);
    }
    b->offset = best >= 0 ? best : cursor;
    arena = std::max(arena, b->offset + b->size);
    placed.push_back(b);
  }
  return arena;
}

class FunctionPlanner {
public:
  FunctionPlanner(func::FuncOp fn, int64_t alignment) : fn(fn), alignment(alignment) {}

  LogicalResult run() {
    Block &body = fn.getBody().front();
    for (Operation &op : body.without_terminator())
      if (!isa<FusionOp>(op))
        return op.emitError("'")
               << op.getName()
               << "' is not inside a kiln.fusion: run --kiln-fuse before --kiln-plan-memory";
    values = liveValues(fn);
    for (auto [i, v] : llvm::enumerate(values))
      indexOf[v.value] = i;
    if (failed(makeBuffers()))
      return failure();
    updateInPlace();
    reuseInPlace();
    int64_t arena = placeArena();
    int64_t persistent = 0, input = 0;
    for (Buffer &b : buffers) {
      if (b.members.empty() || b.region == MemoryRegion::arena)
        continue;
      int64_t &top = b.region == MemoryRegion::persistent ? persistent : input;
      b.offset = top;
      top += b.size;
    }
    write(arena, persistent, input);
    return verifyMemoryPlan(fn);
  }

private:
  /// Steps 3 and 4: one buffer per argument and per non-view result.
  LogicalResult makeBuffers() {
    bufferOf.assign(values.size(), 0);
    for (auto [i, v] : llvm::enumerate(values)) {
      std::optional<int64_t> size = plannedBytes(v.value.getType(), alignment);
      if (!size) {
        Operation *at = v.value.getDefiningOp();
        return (at ? at : fn.getOperation())->emitError("kiln-plan-memory: ")
               << v.name << " has type " << v.value.getType()
               << ", expected a statically shaped int or float tensor";
      }
      auto fusion = dyn_cast_or_null<FusionOp>(v.value.getDefiningOp());
      if (fusion && fusion.getKind() == FusionKind::view) {
        join(i, bufferOf[indexOf.lookup(fusion.getInputs()[0])]);
        continue;
      }
      Buffer b;
      b.size = *size;
      b.start = v.start;
      b.end = v.end;
      b.members.push_back(i);
      if (auto arg = dyn_cast<BlockArgument>(v.value)) {
        auto role = fn.getArgAttrOfType<ArgRoleAttr>(arg.getArgNumber(), "kiln.role");
        b.region = role && role.getValue() != ArgRole::input ? MemoryRegion::persistent
                                                               : MemoryRegion::input;
      }
      bufferOf[i] = buffers.size();
      buffers.push_back(std::move(b));
    }
    return success();
  }

  /// Moves value `i` (alone) into buffer `target`.
  void join(size_t i, size_t target) {
    Buffer &b = buffers[target];
    b.start = std::min(b.start, values[i].start);
    b.end = std::max(b.end, values[i].end);
    b.members.push_back(i);
    bufferOf[i] = target;
  }
  /// Moves every value of buffer `from` into buffer `to`.
  void merge(size_t from, size_t to) {
    SmallVector<size_t> members = std::move(buffers[from].members);
    buffers[from].members.clear();
    for (size_t m : members)
      join(m, to);
  }

  /// Whether result `r` of `op` may be written over buffer `b` where `b`
  /// dies at `op` (index `at`): every operand in `b` passes canReuseInPlace.
  bool canTake(FusionOp op, int64_t at, unsigned r, size_t b) {
    const Buffer &buffer = buffers[b];
    if (buffer.end != at || buffer.size != buffers[bufferOf[indexOf.lookup(op.getResult(r))]].size)
      return false;
    bool reads = false;
    for (auto [k, input] : llvm::enumerate(op.getInputs())) {
      if (bufferOf[indexOf.lookup(input)] != b)
        continue;
      if (!canReuseInPlace(op, k, r))
        return false;
      reads = true;
    }
    return reads;
  }

  /// Step 5: results returned as `kiln.updates` of a persistent argument.
  void updateInPlace() {
    Operation *ret = fn.getBody().front().getTerminator();
    llvm::SmallSet<size_t, 8> claimed;
    for (auto [j, operand] : llvm::enumerate(ret->getOperands())) {
      auto updates = fn.getResultAttrOfType<StringAttr>(j, "kiln.updates");
      auto op = dyn_cast_or_null<FusionOp>(operand.getDefiningOp());
      if (!updates || !op || op.getKind() == FusionKind::view)
        continue;
      std::optional<unsigned> arg;
      for (unsigned a = 0, e = fn.getNumArguments(); a < e; ++a)
        if (auto n = fn.getArgAttrOfType<StringAttr>(a, "kiln.name");
            n && n.getValue() == updates.getValue())
          arg = a;
      size_t mine = bufferOf[indexOf.lookup(operand)];
      if (!arg || buffers[mine].region != MemoryRegion::arena)
        continue;
      size_t target = bufferOf[*arg];
      if (buffers[target].region != MemoryRegion::persistent || claimed.contains(target) ||
          !llvm::is_contained(op.getInputs(), fn.getArgument(*arg)))
        continue;
      int64_t at = values[indexOf.lookup(operand)].start;
      if (!canTake(op, at, cast<OpResult>(operand).getResultNumber(), target))
        continue;
      claimed.insert(target);
      merge(mine, target);
    }
  }

  /// Step 6: a loop result takes the arena buffer of an operand dying there.
  void reuseInPlace() {
    for (auto [at, opRef] : llvm::enumerate(fn.getBody().front().without_terminator())) {
      auto op = cast<FusionOp>(opRef);
      if (op.getKind() != FusionKind::loop)
        continue;
      llvm::SmallSet<size_t, 4> claimed;
      for (OpResult r : op.getResults()) {
        size_t mine = bufferOf[indexOf.lookup(r)];
        if (buffers[mine].region != MemoryRegion::arena || buffers[mine].start != (int64_t)at)
          continue;
        for (Value input : op.getInputs()) {
          size_t theirs = bufferOf[indexOf.lookup(input)];
          if (theirs == mine || buffers[theirs].region != MemoryRegion::arena ||
              claimed.contains(theirs) || !canTake(op, at, r.getResultNumber(), theirs))
            continue;
          claimed.insert(theirs);
          merge(mine, theirs);
          break;
        }
      }
    }
  }

  /// Step 7: arena offsets; the smallest of several greedy placements.
  int64_t placeArena() {
    std::vector<Buffer *> arena;
    for (Buffer &b : buffers)
      if (!b.members.empty() && b.region == MemoryRegion::arena)
        arena.push_back(&b);
    auto bySize = [](Buffer *x, Buffer *y) {
      return std::make_tuple(-x->size, x->start, x->end) <
             std::make_tuple(-y->size, y->start, y->end);
    };
    auto byStart = [](Buffer *x, Buffer *y) {
      return std::make_tuple(x->start, -x->size, x->end) <
             std::make_tuple(y->start, -y->size, y->end);
    };
    std::vector<Buffer *> sizeOrder = arena, startOrder = arena;
    llvm::stable_sort(sizeOrder, bySize);
    llvm::stable_sort(startOrder, byStart);
    struct Candidate {
      ArrayRef<Buffer *> order;
      bool bestFit;
    };
    Candidate candidates[] = {{sizeOrder, true}, {startOrder, false},
                              {sizeOrder, false}, {startOrder, true}};
    int64_t best = std::numeric_limits<int64_t>::max();
    std::vector<int64_t> bestOffsets;
    for (const Candidate &c : candidates) {
      int64_t size = place(c.order, c.bestFit);
      if (size < best) {
        best = size;
        bestOffsets.clear();
        for (Buffer *b : arena)
          bestOffsets.push_back(b->offset);
      }
    }
    for (auto [b, offset] : llvm::zip(arena, bestOffsets))
      b->offset = offset;
    return arena.empty() ? 0 : best;
  }

  /// Step 8: the attributes.
  void write(int64_t arena, int64_t persistent, int64_t input) {
    MLIRContext *ctx = fn.getContext();
    for (size_t i = 0; i < values.size(); ++i) {
      const Buffer &b = buffers[bufferOf[i]];
      values[i].region = b.region;
      values[i].offset = b.offset;
      values[i].size = b.size;
    }
    auto bufferAttr = [&](Value v) {
      const PlannedValue &p = values[indexOf.lookup(v)];
      return BufferAttr::get(ctx, p.region, p.offset, p.size);
    };
    for (BlockArgument arg : fn.getArguments())
      fn.setArgAttr(arg.getArgNumber(), "kiln.buffer", bufferAttr(arg));
    for (Operation &op : fn.getBody().front().without_terminator()) {
      SmallVector<Attribute> attrs;
      for (Value r : op.getResults())
        attrs.push_back(bufferAttr(r));
      cast<FusionOp>(op).setBuffersAttr(ArrayAttr::get(ctx, attrs));
    }
    fn->setAttr("kiln.memory_plan",
                MemoryPlanAttr::get(ctx, arena, arenaLowerBound(values), persistent, input,
                                    alignment));
  }

  func::FuncOp fn;
  int64_t alignment;
  std::vector<PlannedValue> values;
  llvm::DenseMap<Value, size_t> indexOf;
  std::vector<Buffer> buffers;
  std::vector<size_t> bufferOf; // value index -> buffer index
};

struct PlanMemoryPass : kiln::impl::KilnPlanMemoryBase<PlanMemoryPass> {
  using KilnPlanMemoryBase::KilnPlanMemoryBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    int64_t align = alignment;
    if (align <= 0 || !llvm::isPowerOf2_64(align)) {
      module.emitError("kiln-plan-memory: alignment ") << align << " is not a power of two";
      return signalPassFailure();
    }
    for (auto fn : module.getOps<func::FuncOp>())
      if (!fn.isExternal() && failed(FunctionPlanner(fn, align).run()))
        return signalPassFailure();
  }
};

} // namespace
