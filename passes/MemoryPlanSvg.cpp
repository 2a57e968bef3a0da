//===- MemoryPlanSvg.cpp - Drawing a step's arena over time ---------------===//
//
// kiln::writeMemoryPlanSvg: x = top-level op index, y = arena offset; one
// box per arena value (views drawn as dashed outlines over their input's
// box), colored by the kind of the fusion that writes it, with a <title>
// tooltip. The lower bound and the arena's peak are horizontal lines; the
// legend repeats the numbers, so the picture says how far the plan is from
// the best this op order allows.
//
//===----------------------------------------------------------------------===//
#include "passes/MemoryPlan.h"

#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>

using namespace mlir;
using namespace kiln;

namespace {
// Integers, so that raw_ostream prints them plainly.
constexpr int kWidth = 960, kHeight = 540;
constexpr int kLeft = 80, kRight = 230, kTop = 40, kBottom = 50;

std::string escape(StringRef s) {
  std::string out;
  for (char c : s) {
    switch (c) {
    case '<': out += "&lt;"; break;
    case '>': out += "&gt;"; break;
    case '&': out += "&amp;"; break;
    case '"': out += "&quot;"; break;
    default: out += c;
    }
  }
  return out;
}

/// Bytes in the unit that suits `scale` (the largest number drawn).
struct Unit {
  double divisor;
  const char *name;
};
Unit unitFor(int64_t scale) {
  if (scale >= (1 << 20))
    return {double(1 << 20), "MiB"};
  if (scale >= (1 << 10))
    return {double(1 << 10), "KiB"};
  return {1, "B"};
}

const char *colorOf(FusionKind kind) {
  switch (kind) {
  case FusionKind::loop: return "#4e79a7";
  case FusionKind::reduction: return "#f28e2b";
  case FusionKind::composite: return "#59a14f";
  case FusionKind::library: return "#e15759";
  case FusionKind::view: return "#b07aa1";
  }
  return "#999999";
}
} // namespace

LogicalResult kiln::writeMemoryPlanSvg(func::FuncOp fn, llvm::raw_ostream &os) {
  auto plan = fn->getAttrOfType<MemoryPlanAttr>("kiln.memory_plan");
  if (!plan)
    return fn.emitError("memory plan of @")
           << fn.getSymName() << ": the function has no kiln.memory_plan to draw";
  FailureOr<std::vector<PlannedValue>> values = readMemoryPlan(fn);
  if (failed(values))
    return failure();
  int64_t ops = static_cast<int64_t>(fn.getBody().front().getOperations().size());
  int64_t scale = std::max<int64_t>({plan.getArena(), plan.getLowerBound(), int64_t(1)});
  Unit unit = unitFor(scale);
  double plotW = kWidth - kLeft - kRight, plotH = kHeight - kTop - kBottom;
  auto x = [&](double op) { return kLeft + plotW * op / std::max<int64_t>(ops, 1); };
  auto y = [&](double bytes) { return kTop + plotH * (1 - bytes / scale); };
  auto num = [](double v) { return llvm::format("%.1f", v); };

  os << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << kWidth << "\" height=\""
     << kHeight << "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  os << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  os << "<text x=\"" << kLeft << "\" y=\"24\" font-size=\"16\">arena of @"
     << escape(fn.getSymName()) << "</text>\n";

  // Axes, with ticks: op index along x, arena offset along y.
  os << "<g stroke=\"#333\" fill=\"none\"><path d=\"M" << kLeft << " " << kTop << " V"
     << num(y(0)) << " H" << num(x(ops)) << "\"/></g>\n<g fill=\"#333\">\n";
  int64_t xStep = std::max<int64_t>(1, (ops + 9) / 10);
  for (int64_t i = 0; i <= ops; i += xStep)
    os << "<text x=\"" << num(x(i)) << "\" y=\"" << num(y(0) + 16)
       << "\" text-anchor=\"middle\">" << i << "</text>\n";
  for (int t = 0; t <= 4; ++t) {
    double bytes = scale * t / 4.0;
    os << "<text x=\"" << kLeft - 6 << "\" y=\"" << num(y(bytes) + 4)
       << "\" text-anchor=\"end\">" << llvm::format("%.2f", bytes / unit.divisor)
       << "</text>\n";
  }
  os << "<text x=\"" << num(kLeft + plotW / 2) << "\" y=\"" << kHeight - 12
     << "\" text-anchor=\"middle\">op index</text>\n";
  os << "<text transform=\"translate(20," << num(kTop + plotH / 2)
     << ") rotate(-90)\" text-anchor=\"middle\">offset (" << unit.name << ")</text>\n</g>\n";

  // One box per arena value; a view outlines its input's bytes.
  for (const PlannedValue &v : *values) {
    if (v.region != MemoryRegion::arena)
      continue;
    auto fusion = dyn_cast_or_null<FusionOp>(v.value.getDefiningOp());
    FusionKind kind = fusion ? fusion.getKind() : FusionKind::loop;
    bool view = kind == FusionKind::view;
    os << "<rect x=\"" << num(x(v.start)) << "\" y=\"" << num(y(v.offset + v.size))
       << "\" width=\"" << num(x(v.end + 1) - x(v.start)) << "\" height=\""
       << num(y(v.offset) - y(v.offset + v.size)) << "\" fill=\""
       << (view ? "none" : colorOf(kind)) << "\" fill-opacity=\"0.8\" stroke=\""
       << (view ? colorOf(kind) : "#222") << "\" stroke-width=\"0.5\""
       << (view ? " stroke-dasharray=\"4 2\"" : "") << "><title>" << escape(v.name) << ": "
       << v.size << " bytes at offset " << v.offset << ", live [" << v.start << ", "
       << v.end << "]</title></rect>\n";
  }

  // The lower bound and the peak.
  // The two labels sit beside their lines, the lower bound's below the
  // peak's when the lines are too close to read both.
  auto line = [&](int64_t bytes, const char *color, const char *dash, StringRef label,
                  double nudge) {
    os << "<line x1=\"" << kLeft << "\" x2=\"" << num(x(ops)) << "\" y1=\"" << num(y(bytes))
       << "\" y2=\"" << num(y(bytes)) << "\" stroke=\"" << color << "\" stroke-width=\"1.5\""
       << (*dash ? " stroke-dasharray=\"" : "") << dash << (*dash ? "\"" : "") << "/>\n";
    os << "<text x=\"" << num(x(ops) + 4) << "\" y=\"" << num(y(bytes) + 4 + nudge) << "\" fill=\""
       << color << "\">" << label << "</text>\n";
  };
  double gap = y(plan.getLowerBound()) - y(plan.getArena());
  line(plan.getArena(), "#000", "", "peak", 0);
  line(plan.getLowerBound(), "#c00", "6 3", "lower bound", gap < 14 ? 14 - gap : 0);

  // Legend: kinds, then the numbers.
  int lx = kWidth - kRight + 70, ly = kTop + 10;
  for (FusionKind kind : {FusionKind::loop, FusionKind::reduction, FusionKind::composite,
                          FusionKind::library, FusionKind::view}) {
    os << "<rect x=\"" << lx << "\" y=\"" << ly << "\" width=\"12\" height=\"12\" fill=\""
       << colorOf(kind) << "\"/><text x=\"" << lx + 18 << "\" y=\"" << ly + 10 << "\">"
       << stringifyFusionKind(kind) << "</text>\n";
    ly += 18;
  }
  auto figure = [&](StringRef label, int64_t bytes) {
    ly += 18;
    os << "<text x=\"" << lx << "\" y=\"" << ly << "\">" << label << " = "
       << llvm::format("%.2f", bytes / unit.divisor) << " " << unit.name << "</text>\n";
  };
  figure("arena", plan.getArena());
  figure("lower bound", plan.getLowerBound());
  figure("persistent", plan.getPersistent());
  figure("input", plan.getInput());
  ly += 18;
  os << "<text x=\"" << lx << "\" y=\"" << ly << "\">arena / lower bound = "
     << llvm::format("%.3f", plan.getLowerBound()
                                 ? double(plan.getArena()) / plan.getLowerBound()
                                 : 1.0)
     << "</text>\n</svg>\n";
  return success();
}
