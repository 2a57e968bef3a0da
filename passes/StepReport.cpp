//===- StepReport.cpp - What a fused, planned step costs ------------------===//
#include "passes/StepReport.h"

#include "mlir/IR/BuiltinTypes.h"

using namespace mlir;

namespace kiln {

int64_t tensorBytes(Type type) {
  auto tt = dyn_cast<RankedTensorType>(type);
  if (!tt || !tt.hasStaticShape() || !tt.getElementType().isIntOrFloat())
    return 0;
  int64_t width = (tt.getElementType().getIntOrFloatBitWidth() + 7) / 8;
  return tt.getNumElements() * width;
}

namespace {
int64_t bytesOf(TypeRange types) {
  int64_t sum = 0;
  for (Type t : types)
    sum += tensorBytes(t);
  return sum;
}

double ratio(int64_t num, int64_t den) {
  return den > 0 ? double(num) / double(den) : 0.0;
}
} // namespace

UnfusedCounts countUnfused(func::FuncOp fn) {
  UnfusedCounts c;
  for (Operation &op : fn.getBody().front()) {
    if (!isa<KilnDialect>(op.getDialect()))
      continue;
    ++c.ops;
    if (isa<ReshapeOp>(op))
      continue;
    c.bytesMoved += bytesOf(op.getOperandTypes()) + bytesOf(op.getResultTypes());
  }
  return c;
}

FailureOr<StepReport> reportStep(func::FuncOp fn, UnfusedCounts unfused) {
  StepReport r;
  r.function = fn.getSymName().str();
  r.unfused = unfused;
  int64_t index = 0;
  for (Operation &op : fn.getBody().front()) {
    int64_t at = index++;
    if (isa<func::ReturnOp>(op))
      continue;
    auto fusion = dyn_cast<FusionOp>(op);
    if (!fusion)
      return op.emitError("report: @") << r.function << " still holds '" << op.getName()
                                        << "' outside a kiln.fusion (run --kiln-fuse)";
    FusionSummary s;
    s.index = at;
    s.kind = stringifyFusionKind(fusion.getKind()).str();
    if (auto e = fusion.getEpilogue())
      s.epilogue = stringifyEpilogue(*e).str();
    for (Operation &inner : fusion.getBody().front().without_terminator()) {
      if (!s.ops.empty())
        s.ops += "+";
      s.ops += inner.getName().stripDialect().str();
    }
    switch (fusion.getKind()) {
    case FusionKind::view:
      ++r.views;
      break;
    case FusionKind::library:
      ++r.libraryCalls;
      break;
    default:
      ++r.kernels;
      break;
    }
    if (fusion.getKind() != FusionKind::view) {
      s.bytesIn = bytesOf(fusion.getInputs().getTypes());
      s.bytesOut = bytesOf(fusion.getResultTypes());
      r.bytesMoved += s.bytesIn + s.bytesOut;
    }
    r.fusions.push_back(std::move(s));
  }
  if (auto plan = fn->getAttrOfType<MemoryPlanAttr>("kiln.memory_plan")) {
    r.arenaPeak = plan.getArena();
    r.arenaLowerBound = plan.getLowerBound();
    r.persistent = plan.getPersistent();
    r.input = plan.getInput();
  }
  return r;
}

llvm::json::Object toJson(const StepReport &r) {
  llvm::json::Array fusions;
  for (const FusionSummary &s : r.fusions) {
    llvm::json::Object f{{"index", s.index},       {"kind", s.kind},
                         {"ops", s.ops},           {"bytes_in", s.bytesIn},
                         {"bytes_out", s.bytesOut}};
    f["epilogue"] = s.epilogue.empty() ? llvm::json::Value(nullptr)
                                       : llvm::json::Value(s.epilogue);
    fusions.push_back(std::move(f));
  }
  llvm::json::Object o{
      {"function", r.function},
      {"ops_unfused", r.unfused.ops},
      {"kernels", r.kernels},
      {"library_calls", r.libraryCalls},
      {"views", r.views},
      {"bytes_moved", r.bytesMoved},
      {"bytes_moved_unfused", r.unfused.bytesMoved},
      {"kernels_per_op", ratio(r.kernels, r.unfused.ops)},
      {"bytes_moved_ratio", ratio(r.bytesMoved, r.unfused.bytesMoved)},
      {"fusions", std::move(fusions)}};
  if (r.arenaPeak >= 0) {
    o["arena_peak_bytes"] = r.arenaPeak;
    o["arena_lower_bound_bytes"] = r.arenaLowerBound;
    o["persistent_bytes"] = r.persistent;
    o["input_bytes"] = r.input;
    o["arena_peak_per_lower_bound"] = ratio(r.arenaPeak, r.arenaLowerBound);
  } else {
    for (const char *k : {"arena_peak_bytes", "arena_lower_bound_bytes",
                          "persistent_bytes", "input_bytes", "arena_peak_per_lower_bound"})
      o[k] = nullptr;
  }
  return o;
}

} // namespace kiln
