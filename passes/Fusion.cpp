//===- Fusion.cpp - --kiln-fuse -------------------------------------------===//
//
// Partitions the top level of every function into kiln.fusion regions
// (docs/fusion.md). The partition is a set of groups of ops; each group
// becomes one kernel (loop, reduction, composite) or one library call.
//
// 1. Seed groups: every op its own group, except splat constants, which are
//    cloned into every group that reads them (they cost no memory traffic).
// 2. Library epilogues: each matmul takes the consumers cuBLASLt computes
//    in its epilogue (bias add, relu, gelu; backward drelu/dgelu and the
//    bias gradient), matched through reshapes that keep the last dimension.
// 3. Greedy merging: producer-consumer edges sorted by the bytes a merge
//    saves (2x the value's bytes when all its readers join, else 1x) are
//    merged when the kinds fit (kindsFit) and the merge creates no cycle
//    in the group graph. Repeated until nothing merges. Only splat
//    constants are ever duplicated: no matmul, convolution or reduction is
//    recomputed.
// 4. Materialize: groups in a topological order (original order where it
//    is free), each as a kiln.fusion whose inputs are the values it reads
//    and whose results are the values read outside it.
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/SetVector.h"

#include <queue>

namespace kiln {
#define GEN_PASS_DEF_KILNFUSE
#include "passes/Passes.h.inc"
} // namespace kiln

using namespace mlir;
using namespace kiln;

namespace {

RankedTensorType tensorType(Value v) { return cast<RankedTensorType>(v.getType()); }

int64_t bytesOf(Value v) {
  auto t = tensorType(v);
  int64_t width = t.getElementType().isInteger(1)
                      ? 1
                      : (t.getElementType().getIntOrFloatBitWidth() + 7) / 8;
  return t.getNumElements() * width;
}

bool isSplatConstant(Operation *op) {
  auto c = dyn_cast<ConstantOp>(op);
  if (!c)
    return false;
  if (auto dense = dyn_cast<DenseElementsAttr>(c.getValue()))
    return dense.isSplat();
  return false;
}

FusionClass classOf(Operation *op) {
  return cast<FusionOpInterface>(op).getFusionClass();
}

/// One group of the partition (a future kiln.fusion).
struct Group {
  FusionKind kind = FusionKind::loop;
  SmallVector<Operation *> ops; // in original order once sorted
  /// reduction: the reduce operand's shape and result shape; composite:
  /// the main operand's shape (both shapes equal).
  SmallVector<int64_t> anchor, resultShape;
  std::optional<Epilogue> epilogue;
  bool frozen = false; // an existing kiln.fusion, kept as it is
  bool alive = true;
};

class Partition {
public:
  explicit Partition(Block &body) {
    for (Operation &op : body.without_terminator()) {
      index[&op] = order.size();
      order.push_back(&op);
    }
  }

  LogicalResult seed();
  void fuseEpilogues();
  void mergeGreedily();
  LogicalResult materialize(Block &body);

private:
  int groupOf(Operation *op) const { return owner.lookup(op); }
  bool inGroups(Operation *op) const { return owner.count(op); }
  /// Moves every op of `from` into `into`.
  void absorb(int into, int from);
  /// Adds `op` to group `g` (op must be a singleton group or unowned).
  void take(int g, Operation *op) {
    if (inGroups(op)) {
      int s = groupOf(op);
      if (s == g)
        return;
      absorb(g, s);
      return;
    }
    owner[op] = g;
    groups[g].ops.push_back(op);
  }
  /// Groups that read a value of group g.
  SmallVector<int> successors(int g) const;
  /// Whether a path from `from` to `to` leaves {from, to} on the way.
  bool indirectPath(int from, int to) const;
  bool kindsFit(int producer, int consumer) const;
  /// The single user of `v` if it has exactly one use, else null.
  static Operation *singleUser(Value v) {
    return v.hasOneUse() ? *v.getUsers().begin() : nullptr;
  }
  /// Whether `op` is still alone in its group (loop or, for the bias
  /// gradient, reduction), so an epilogue may take it.
  bool freeSingleton(Operation *op) const {
    if (!op || !inGroups(op))
      return false;
    const Group &g = groups[groupOf(op)];
    return g.ops.size() == 1 && !g.frozen &&
           (g.kind == FusionKind::loop || g.kind == FusionKind::reduction);
  }
  void fuseMatmulEpilogue(MatmulOp mm);

  std::vector<Operation *> order;
  llvm::DenseMap<Operation *, size_t> index;
  llvm::DenseMap<Operation *, int> owner;
  std::vector<Group> groups;
};

LogicalResult Partition::seed() {
  for (Operation *op : order) {
    if (auto f = dyn_cast<FusionOp>(op)) {
      Group g;
      g.kind = f.getKind();
      g.frozen = true;
      g.ops.push_back(op);
      owner[op] = groups.size();
      groups.push_back(std::move(g));
      continue;
    }
    if (!isa<FusionOpInterface>(op) || op->getNumRegions() != 0)
      return op->emitError("kiln-fuse: cannot fuse '")
             << op->getName() << "': it is not a kiln op with a fusion class";
    // Splat constants are cloned into their readers; one that a group does
    // not read (it is returned) still needs a kernel of its own.
    // A library call reads its operands from memory, so a constant operand
    // of one is materialized too.
    if (isSplatConstant(op) && llvm::none_of(op->getUsers(), [](Operation *u) {
          return isa<func::ReturnOp>(u) ||
                 (isa<FusionOpInterface>(u) && classOf(u) == FusionClass::library);
        }))
      continue;
    Group g;
    g.ops.push_back(op);
    switch (classOf(op)) {
    case FusionClass::library:
      g.kind = FusionKind::library;
      break;
    case FusionClass::reduction:
      g.kind = FusionKind::reduction;
      g.anchor = llvm::to_vector(tensorType(op->getOperand(0)).getShape());
      g.resultShape = llvm::to_vector(tensorType(op->getResult(0)).getShape());
      break;
    case FusionClass::composite:
    case FusionClass::opaque:
      g.kind = FusionKind::composite;
      g.anchor = llvm::to_vector(tensorType(op->getOperand(0)).getShape());
      g.resultShape = g.anchor;
      break;
    default:
      g.kind = FusionKind::loop;
      break;
    }
    owner[op] = groups.size();
    groups.push_back(std::move(g));
  }
  return success();
}

void Partition::absorb(int into, int from) {
  for (Operation *op : groups[from].ops) {
    owner[op] = into;
    groups[into].ops.push_back(op);
  }
  groups[from].ops.clear();
  groups[from].alive = false;
}

SmallVector<int> Partition::successors(int g) const {
  llvm::SmallSetVector<int, 8> out;
  for (Operation *op : groups[g].ops)
    for (Operation *user : op->getUsers())
      if (inGroups(user) && groupOf(user) != g)
        out.insert(groupOf(user));
  return out.takeVector();
}

bool Partition::indirectPath(int from, int to) const {
  llvm::DenseSet<int> seen;
  SmallVector<int> stack;
  for (int s : successors(from))
    if (s != to)
      stack.push_back(s);
  while (!stack.empty()) {
    int g = stack.pop_back_val();
    if (g == to)
      return true;
    if (!seen.insert(g).second)
      continue;
    for (int s : successors(g))
      stack.push_back(s);
  }
  return false;
}

/// Whether every op of group `g` has results of shape `shape` or rank 0.
static bool allShaped(const Group &g, ArrayRef<int64_t> shape) {
  return llvm::all_of(g.ops, [&](Operation *op) {
    return llvm::all_of(op->getResults(), [&](Value r) {
      auto t = tensorType(r);
      return t.getRank() == 0 || t.getShape() == shape;
    });
  });
}

bool Partition::kindsFit(int producer, int consumer) const {
  const Group &p = groups[producer], &c = groups[consumer];
  if (p.frozen || c.frozen)
    return false;
  if (p.kind == FusionKind::loop && c.kind == FusionKind::loop)
    return true;
  // A loop group as the prologue of a reduction or composite: computed at
  // each element of the anchor's index space.
  if (p.kind == FusionKind::loop &&
      (c.kind == FusionKind::reduction || c.kind == FusionKind::composite))
    return allShaped(p, c.anchor);
  // A loop group as the epilogue: on the result's index space, reading only
  // results of that shape (not a composite's side reductions).
  if (c.kind == FusionKind::loop &&
      (p.kind == FusionKind::reduction || p.kind == FusionKind::composite)) {
    if (!allShaped(c, p.resultShape))
      return false;
    for (Operation *op : c.ops)
      for (Value v : op->getOperands())
        if (Operation *def = v.getDefiningOp();
            def && inGroups(def) && groupOf(def) == producer &&
            tensorType(v).getShape() != ArrayRef<int64_t>(p.resultShape) &&
            tensorType(v).getRank() != 0)
          return false;
    return true;
  }
  return false;
}

//===----------------------------------------------------------------------===//
// Library epilogues
//===----------------------------------------------------------------------===//

/// `v` seen through single-use reshapes that keep the last dimension (a
/// [B*T, N] product viewed as [B, T, N] has the same bias layout). Appends
/// the reshapes to `chain`.
static Value throughReshapes(Value v, SmallVectorImpl<Operation *> &chain) {
  while (Operation *user = v.hasOneUse() ? *v.getUsers().begin() : nullptr) {
    auto reshape = dyn_cast<ReshapeOp>(user);
    if (!reshape || tensorType(reshape.getResult()).getRank() == 0 ||
        tensorType(reshape.getResult()).getShape().back() !=
            tensorType(v).getShape().back())
      break;
    chain.push_back(reshape);
    v = reshape.getResult();
  }
  return v;
}

/// Whether `op` sums `v` over every dimension but the last (a bias gradient).
static bool isBiasGradientOf(Operation *op, Value v) {
  auto reduce = dyn_cast<ReduceOp>(op);
  if (!reduce || reduce.getKind() != ReduceKind::sum || reduce.getKeepDims() ||
      reduce.getX() != v)
    return false;
  int64_t rank = tensorType(v).getRank();
  return llvm::equal(reduce.getDims(), llvm::seq<int64_t>(0, rank - 1));
}

/// The bias of `add` = x + broadcast(b, dims = [rank - 1]) (either order)
/// with x == `v`: the broadcast op, or null.
static BroadcastOp biasBroadcastOf(AddOp add, Value v) {
  Value other = add.getLhs() == v ? add.getRhs() : add.getLhs();
  if (add.getLhs() != v && add.getRhs() != v)
    return nullptr;
  auto bcast = other.getDefiningOp<BroadcastOp>();
  int64_t rank = tensorType(v).getRank();
  if (!bcast || tensorType(bcast.getX()).getRank() != 1 ||
      !llvm::equal(bcast.getDims(), ArrayRef<int64_t>{rank - 1}))
    return nullptr;
  return bcast;
}

/// Whether `v` is a splat zero constant.
static bool isZero(Value v) {
  auto c = v.getDefiningOp<ConstantOp>();
  auto dense = c ? dyn_cast<DenseElementsAttr>(c.getValue()) : nullptr;
  if (!dense || !dense.isSplat())
    return false;
  if (isa<FloatType>(dense.getElementType()))
    return dense.getSplatValue<APFloat>().isZero();
  return dense.getSplatValue<APInt>().isZero();
}

void Partition::fuseMatmulEpilogue(MatmulOp mm) {
  if (tensorType(mm.getResult()).getRank() != 2)
    return;
  int g = groupOf(mm);
  SmallVector<Operation *> chain;
  Value v = throughReshapes(mm.getResult(), chain);
  Operation *user = singleUser(v);
  auto commit = [&](Epilogue e) {
    for (Operation *op : chain)
      take(g, op);
    groups[g].epilogue = e;
  };

  // Forward: bias, then relu or gelu(tanh).
  if (auto add = dyn_cast_or_null<AddOp>(user); add && freeSingleton(add)) {
    BroadcastOp bcast = biasBroadcastOf(add, v);
    if (bcast && freeSingleton(bcast) && bcast.getResult().hasOneUse()) {
      chain.push_back(bcast);
      chain.push_back(add);
      Operation *act = singleUser(add.getResult());
      if (isa_and_nonnull<ReluOp>(act) && freeSingleton(act)) {
        chain.push_back(act);
        return commit(Epilogue::bias_relu);
      }
      // gelu: cuBLASLt's GELU is the tanh form; the pre-activation may have
      // other readers (GELU_AUX_BIAS writes it for the backward pass).
      for (Operation *u : add.getResult().getUsers())
        if (auto gelu = dyn_cast<GeluOp>(u);
            gelu && gelu.getApproximate() == GeluApproximation::tanh &&
            freeSingleton(gelu)) {
          chain.push_back(gelu);
          return commit(Epilogue::bias_gelu);
        }
      return commit(Epilogue::bias);
    }
  }
  if (isa_and_nonnull<ReluOp>(user) && freeSingleton(user)) {
    chain.push_back(user);
    return commit(Epilogue::relu);
  }
  // Backward: select(y > 0, dY, 0) (the relu rule) or gelu_grad(x, dY),
  // optionally followed by the bias gradient.
  Operation *derivative = nullptr;
  std::optional<Epilogue> plain, withBias;
  if (auto select = dyn_cast_or_null<SelectOp>(user);
      select && freeSingleton(select) && select.getOnTrue() == v &&
      isZero(select.getOnFalse())) {
    auto cmp = select.getCond().getDefiningOp<CompareOp>();
    if (cmp && cmp.getDirection() == CompareDirection::gt && isZero(cmp.getRhs()) &&
        freeSingleton(cmp) && cmp.getResult().hasOneUse()) {
      chain.push_back(cmp);
      derivative = select;
      plain = Epilogue::drelu;
      withBias = Epilogue::drelu_bgrad;
    }
  } else if (auto gg = dyn_cast_or_null<GeluGradOp>(user);
             gg && freeSingleton(gg) && gg.getDy() == v &&
             gg.getApproximate() == GeluApproximation::tanh) {
    derivative = gg;
    plain = Epilogue::dgelu;
    withBias = Epilogue::dgelu_bgrad;
  }
  if (derivative) {
    chain.push_back(derivative);
    Value d = derivative->getResult(0);
    for (Operation *u : d.getUsers())
      if (isBiasGradientOf(u, d) && freeSingleton(u)) {
        chain.push_back(u);
        return commit(*withBias);
      }
    return commit(*plain);
  }
}

void Partition::fuseEpilogues() {
  for (Operation *op : order)
    if (auto mm = dyn_cast<MatmulOp>(op))
      fuseMatmulEpilogue(mm);
  // BGRADB: a weight-gradient product Xᵀ·dZ also sums dZ over its rows
  // (the bias gradient), reading dZ once.
  for (Operation *op : order) {
    auto mm = dyn_cast<MatmulOp>(op);
    if (!mm || !mm.getTransposeA() || mm.getTransposeB() ||
        tensorType(mm.getResult()).getRank() != 2 || groups[groupOf(mm)].epilogue)
      continue;
    // dZ, possibly a reshape of the value the reduce reads.
    SmallVector<Value> views{mm.getRhs()};
    if (auto r = mm.getRhs().getDefiningOp<ReshapeOp>())
      views.push_back(r.getX());
    for (Value dz : views) {
      if (tensorType(dz).getShape().back() != tensorType(mm.getRhs()).getShape().back())
        continue;
      for (Operation *u : dz.getUsers())
        if (isBiasGradientOf(u, dz) && freeSingleton(u) &&
            !indirectPath(groupOf(u), groupOf(mm)) &&
            !indirectPath(groupOf(mm), groupOf(u))) {
          absorb(groupOf(mm), groupOf(u));
          groups[groupOf(mm)].epilogue = Epilogue::bgradb;
          break;
        }
      if (groups[groupOf(mm)].epilogue)
        break;
    }
  }
}

//===----------------------------------------------------------------------===//
// Greedy merging
//===----------------------------------------------------------------------===//

void Partition::mergeGreedily() {
  struct Edge {
    int64_t saved;
    size_t order;
    Operation *producer, *consumer;
  };
  for (bool changed = true; changed;) {
    changed = false;
    std::vector<Edge> edges;
    for (Operation *op : order) {
      if (!inGroups(op))
        continue;
      for (Value r : op->getResults()) {
        SmallVector<Operation *> users(r.getUsers());
        bool allInGroups = llvm::all_of(users, [&](Operation *u) { return inGroups(u); });
        for (Operation *u : users)
          if (inGroups(u) && groupOf(u) != groupOf(op)) {
            bool sole = allInGroups && llvm::all_of(users, [&](Operation *o) {
                          return groupOf(o) == groupOf(u);
                        });
            edges.push_back({bytesOf(r) * (sole ? 2 : 1), edges.size(), op, u});
          }
      }
    }
    llvm::stable_sort(edges, [](const Edge &a, const Edge &b) { return a.saved > b.saved; });
    for (const Edge &e : edges) {
      int p = groupOf(e.producer), c = groupOf(e.consumer);
      if (p == c || !kindsFit(p, c) || indirectPath(p, c))
        continue;
      // The merged group keeps the kind of its reduction/composite.
      if (groups[p].kind != FusionKind::loop) {
        absorb(p, c);
      } else {
        absorb(c, p);
      }
      changed = true;
    }
  }
}

//===----------------------------------------------------------------------===//
// Materialization
//===----------------------------------------------------------------------===//

LogicalResult Partition::materialize(Block &body) {
  // Sort each group's ops by original position.
  std::vector<int> live;
  for (auto [i, g] : llvm::enumerate(groups)) {
    if (!g.alive || g.ops.empty())
      continue;
    llvm::sort(g.ops, [&](Operation *a, Operation *b) { return index[a] < index[b]; });
    live.push_back(i);
  }
  // Kahn's algorithm, smallest first-op position first.
  llvm::DenseMap<int, int> indegree;
  llvm::DenseMap<int, SmallVector<int>> succ;
  for (int g : live) {
    indegree.try_emplace(g, 0);
    for (int s : successors(g)) {
      succ[g].push_back(s);
      ++indegree[s];
    }
  }
  auto later = [&](int a, int b) {
    return index[groups[a].ops.front()] > index[groups[b].ops.front()];
  };
  std::priority_queue<int, std::vector<int>, decltype(later)> ready(later);
  for (int g : live)
    if (indegree[g] == 0)
      ready.push(g);
  std::vector<int> sorted;
  while (!ready.empty()) {
    int g = ready.top();
    ready.pop();
    sorted.push_back(g);
    for (int s : succ[g])
      if (--indegree[s] == 0)
        ready.push(s);
  }
  if (sorted.size() != live.size())
    return body.getParentOp()->emitError(
        "kiln-fuse: internal error: the fusion groups form a cycle");

  Operation *terminator = body.getTerminator();
  OpBuilder builder(terminator);
  IRMapping outer; // original value -> value at the new top level
  for (int gi : sorted) {
    Group &g = groups[gi];
    if (g.frozen) {
      g.ops.front()->moveBefore(terminator);
      continue;
    }
    llvm::DenseSet<Operation *> members(g.ops.begin(), g.ops.end());
    llvm::SetVector<Value> inputs;
    SmallVector<Operation *> clonedConstants;
    llvm::SetVector<Operation *> constantSet;
    for (Operation *op : g.ops)
      for (Value v : op->getOperands()) {
        Operation *def = v.getDefiningOp();
        if (def && members.contains(def))
          continue;
        if (def && isSplatConstant(def) && !inGroups(def))
          constantSet.insert(def);
        else
          inputs.insert(v);
      }
    SmallVector<Value> results;
    for (Operation *op : g.ops)
      for (Value r : op->getResults())
        if (llvm::any_of(r.getUsers(), [&](Operation *u) { return !members.contains(u); }))
          results.push_back(r);

    SmallVector<Value> operands;
    SmallVector<Type> inputTypes, resultTypes;
    for (Value v : inputs) {
      operands.push_back(outer.lookupOrDefault(v));
      inputTypes.push_back(v.getType());
    }
    for (Value r : results)
      resultTypes.push_back(r.getType());
    FusionKind kind = g.kind;
    if (kind == FusionKind::loop && g.ops.size() == 1 && isa<ReshapeOp>(g.ops.front()))
      kind = FusionKind::view;
    auto fusion = FusionOp::create(
        builder, g.ops.front()->getLoc(), resultTypes, operands,
        FusionKindAttr::get(builder.getContext(), kind),
        g.epilogue ? EpilogueAttr::get(builder.getContext(), *g.epilogue) : nullptr,
        /*buffers=*/nullptr);
    Block *block = new Block();
    fusion.getBody().push_back(block);
    IRMapping inner;
    for (Value v : inputs)
      inner.map(v, block->addArgument(v.getType(), v.getLoc()));
    OpBuilder bodyBuilder = OpBuilder::atBlockEnd(block);
    for (Operation *c : constantSet)
      bodyBuilder.clone(*c, inner);
    for (Operation *op : g.ops)
      bodyBuilder.clone(*op, inner);
    SmallVector<Value> yielded;
    for (Value r : results)
      yielded.push_back(inner.lookup(r));
    YieldOp::create(bodyBuilder, fusion.getLoc(), yielded);
    for (auto [r, f] : llvm::zip(results, fusion.getResults()))
      outer.map(r, f);
  }
  // The return reads the new values; the original ops go.
  for (OpOperand &operand : terminator->getOpOperands())
    if (Value mapped = outer.lookupOrNull(operand.get()))
      operand.set(mapped);
  for (Operation *op : llvm::reverse(order))
    if (!isa<FusionOp>(op) || !inGroups(op) || !groups[groupOf(op)].frozen) {
      op->dropAllUses();
      op->erase();
    }
  return success();
}

struct FusePass : public kiln::impl::KilnFuseBase<FusePass> {
  using KilnFuseBase::KilnFuseBase;

  void runOnOperation() override {
    for (auto fn : getOperation().getOps<func::FuncOp>()) {
      if (fn.isExternal())
        continue;
      if (!fn.getBody().hasOneBlock()) {
        fn.emitError("kiln-fuse: @") << fn.getSymName() << " must have a single block";
        return signalPassFailure();
      }
      Block &body = fn.getBody().front();
      Partition partition(body);
      if (failed(partition.seed()))
        return signalPassFailure();
      if (epilogues)
        partition.fuseEpilogues();
      partition.mergeGreedily();
      if (failed(partition.materialize(body)))
        return signalPassFailure();
    }
  }
};

} // namespace
