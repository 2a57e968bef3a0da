//===- OptimizerAttr.cpp - #kiln.optimizer<...> ---------------------------===//
//
// The typed optimizer configuration: PyTorch's defaults per kind, the rules
// that the verifier and the frontend share (OptimizerConfig::check), and
// the `kind, name = value, ...` assembly.
//
//===----------------------------------------------------------------------===//
#include "ir/Dialect.h"

#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/Format.h"

#include <cmath>
#include <cstdlib>

using namespace mlir;
using namespace kiln;

namespace {
/// The shortest of %g and %.17g that reads back as `v`: "0.001", "1e-08".
std::string fmt(double v) {
  std::string s;
  llvm::raw_string_ostream(s) << llvm::format("%g", v);
  if (std::strtod(s.c_str(), nullptr) == v || std::isnan(v))
    return s;
  s.clear();
  llvm::raw_string_ostream(s) << llvm::format("%.17g", v);
  return s;
}

/// The assembly's numbers: MLIR's `1.000000e-03` look, with as many more
/// digits as it takes to read back exactly (0.999 stays `9.990000e-01`
/// where APFloat's truncating printer would write 0.99899999999999999).
std::string fmtAsm(double v) {
  std::string s;
  for (int digits = 6;; ++digits) {
    s.clear();
    llvm::raw_string_ostream(s) << llvm::format("%.*e", digits, v);
    if (digits >= 16 || std::strtod(s.c_str(), nullptr) == v || !std::isfinite(v))
      return s;
  }
}

constexpr llvm::StringLiteral kFields =
    "lr, momentum, beta1, beta2, eps, weight_decay, clip_norm, schedule, "
    "warmup_steps, total_steps, min_lr";
} // namespace

double *OptimizerConfig::realField(llvm::StringRef name) {
  return llvm::StringSwitch<double *>(name)
      .Case("lr", &lr)
      .Case("momentum", &momentum)
      .Case("beta1", &beta1)
      .Case("beta2", &beta2)
      .Case("eps", &eps)
      .Case("weight_decay", &weightDecay)
      .Case("clip_norm", &clipNorm)
      .Case("min_lr", &minLr)
      .Default(nullptr);
}

int64_t *OptimizerConfig::integerField(llvm::StringRef name) {
  return llvm::StringSwitch<int64_t *>(name)
      .Case("warmup_steps", &warmupSteps)
      .Case("total_steps", &totalSteps)
      .Default(nullptr);
}

OptimizerConfig OptimizerConfig::defaults(OptimizerKind kind) {
  OptimizerConfig c;
  c.kind = kind;
  switch (kind) {
  case OptimizerKind::sgd:
    c.lr = 1e-2;
    break;
  case OptimizerKind::momentum:
  case OptimizerKind::nesterov:
    c.lr = 1e-2;
    c.momentum = 0.9;
    break;
  case OptimizerKind::adam:
  case OptimizerKind::adamw:
    c.lr = 1e-3;
    c.beta1 = 0.9;
    c.beta2 = 0.999;
    c.eps = 1e-8;
    // torch.optim.AdamW's default; Adam's L2 term defaults to off.
    c.weightDecay = kind == OptimizerKind::adamw ? 1e-2 : 0.0;
    break;
  }
  return c;
}

std::optional<OptimizerConfig::Problem> OptimizerConfig::check() const {
  auto problem = [](llvm::StringRef field, std::string message) {
    return Problem{field, std::move(message)};
  };
  llvm::StringRef kindName = stringifyOptimizerKind(kind);
  // `!(x > 0)` rather than `x <= 0` so that NaN is rejected too.
  if (!std::isfinite(lr) || !(lr > 0))
    return problem("lr", "lr must be a finite number > 0, found " + fmt(lr));
  if (usesMomentum()) {
    bool nesterov = kind == OptimizerKind::nesterov;
    if (!(momentum >= 0 && momentum < 1) || (nesterov && momentum == 0))
      return problem("momentum", std::string(nesterov ? "nesterov needs momentum in (0, 1)"
                                                      : "momentum must be in [0, 1)") +
                                     ", found " + fmt(momentum));
  } else if (momentum != 0) {
    return problem("momentum", "momentum applies only to the momentum and "
                               "nesterov optimizers, found momentum = " +
                                   fmt(momentum) + " for " + kindName.str());
  }
  for (auto [field, value] : {std::pair<llvm::StringRef, double>{"beta1", beta1},
                              {"beta2", beta2}}) {
    if (!usesAdam() && value != 0)
      return problem(field, field.str() + " applies only to adam and adamw, found " +
                                field.str() + " = " + fmt(value) + " for " +
                                kindName.str());
    if (usesAdam() && !(value >= 0 && value < 1))
      return problem(field, field.str() + " must be in [0, 1), found " + fmt(value));
  }
  if (!usesAdam() && eps != 0)
    return problem("eps", "eps applies only to adam and adamw, found eps = " +
                              fmt(eps) + " for " + kindName.str());
  if (usesAdam() && (!std::isfinite(eps) || !(eps > 0)))
    return problem("eps", "eps must be a finite number > 0, found " + fmt(eps));
  if (!std::isfinite(weightDecay) || !(weightDecay >= 0))
    return problem("weight_decay",
                   "weight_decay must be a finite number >= 0, found " + fmt(weightDecay));
  if (!std::isfinite(clipNorm) || !(clipNorm >= 0))
    return problem("clip_norm", "clip_norm must be a finite number >= 0 (0 turns "
                                "clipping off), found " +
                                    fmt(clipNorm));
  if (warmupSteps < 0)
    return problem("warmup_steps",
                   "warmup_steps must be >= 0, found " + std::to_string(warmupSteps));
  if (totalSteps < 0)
    return problem("total_steps",
                   "total_steps must be >= 0, found " + std::to_string(totalSteps));
  if (schedule == LrSchedule::constant) {
    if (totalSteps != 0)
      return problem("total_steps", "total_steps applies only to the cosine "
                                    "schedule, found total_steps = " +
                                        std::to_string(totalSteps) +
                                        " with schedule = constant");
    if (minLr != 0)
      return problem("min_lr", "min_lr applies only to the cosine schedule, found "
                               "min_lr = " +
                                   fmt(minLr) + " with schedule = constant");
    return std::nullopt;
  }
  // Cosine. total_steps = 0 leaves the length of the run to the driver.
  if (totalSteps != 0 && totalSteps <= warmupSteps)
    return problem("total_steps",
                   "the cosine schedule needs total_steps > warmup_steps, found "
                   "total_steps = " +
                       std::to_string(totalSteps) +
                       " and warmup_steps = " + std::to_string(warmupSteps));
  if (!(minLr >= 0 && minLr <= lr))
    return problem("min_lr", "min_lr must be in [0, lr] = [0, " + fmt(lr) +
                                 "], found " + fmt(minLr));
  return std::nullopt;
}

//===----------------------------------------------------------------------===//
// OptimizerAttr
//===----------------------------------------------------------------------===//

OptimizerConfig OptimizerAttr::getConfig() const {
  OptimizerConfig c;
  c.kind = getKind();
  c.lr = getLr().convertToDouble();
  c.momentum = getMomentum().convertToDouble();
  c.beta1 = getBeta1().convertToDouble();
  c.beta2 = getBeta2().convertToDouble();
  c.eps = getEps().convertToDouble();
  c.weightDecay = getWeightDecay().convertToDouble();
  c.clipNorm = getClipNorm().convertToDouble();
  c.schedule = getSchedule();
  c.warmupSteps = getWarmupSteps();
  c.totalSteps = getTotalSteps();
  c.minLr = getMinLr().convertToDouble();
  return c;
}

LogicalResult OptimizerAttr::verify(
    llvm::function_ref<InFlightDiagnostic()> emitError, OptimizerKind kind,
    llvm::APFloat lr, llvm::APFloat momentum, llvm::APFloat beta1,
    llvm::APFloat beta2, llvm::APFloat eps, llvm::APFloat weightDecay,
    llvm::APFloat clipNorm, LrSchedule schedule, int64_t warmupSteps,
    int64_t totalSteps, llvm::APFloat minLr) {
  for (const llvm::APFloat *f :
       {&lr, &momentum, &beta1, &beta2, &eps, &weightDecay, &clipNorm, &minLr})
    if (&f->getSemantics() != &llvm::APFloat::IEEEdouble())
      return emitError() << "#kiln.optimizer holds its numbers as f64";
  OptimizerConfig c;
  c.kind = kind;
  c.lr = lr.convertToDouble();
  c.momentum = momentum.convertToDouble();
  c.beta1 = beta1.convertToDouble();
  c.beta2 = beta2.convertToDouble();
  c.eps = eps.convertToDouble();
  c.weightDecay = weightDecay.convertToDouble();
  c.clipNorm = clipNorm.convertToDouble();
  c.schedule = schedule;
  c.warmupSteps = warmupSteps;
  c.totalSteps = totalSteps;
  c.minLr = minLr.convertToDouble();
  if (std::optional<OptimizerConfig::Problem> p = c.check())
    return emitError() << "invalid #kiln.optimizer: " << p->message;
  return success();
}

/// `<KIND (, NAME = VALUE)*>`; fields left out take the kind's defaults.
Attribute OptimizerAttr::parse(AsmParser &parser, Type) {
  llvm::SMLoc loc = parser.getCurrentLocation();
  if (parser.parseLess())
    return {};
  llvm::SMLoc kindLoc = parser.getCurrentLocation();
  llvm::StringRef kindName;
  if (parser.parseKeyword(&kindName))
    return {};
  std::optional<OptimizerKind> kind = symbolizeOptimizerKind(kindName);
  if (!kind) {
    parser.emitError(kindLoc, "unknown optimizer '")
        << kindName << "'; expected one of sgd, momentum, nesterov, adam, adamw";
    return {};
  }
  OptimizerConfig c = OptimizerConfig::defaults(*kind);
  llvm::StringSet<> seen;
  while (succeeded(parser.parseOptionalComma())) {
    llvm::SMLoc fieldLoc = parser.getCurrentLocation();
    llvm::StringRef field;
    if (parser.parseKeyword(&field))
      return {};
    if (!seen.insert(field).second) {
      parser.emitError(fieldLoc, "field '") << field << "' is given twice";
      return {};
    }
    if (parser.parseEqual())
      return {};
    double *number = c.realField(field);
    int64_t *count = c.integerField(field);
    if (number) {
      // `lr = 1` reads as 1.0, as the .kiln train clause does.
      llvm::SMLoc valueLoc = parser.getCurrentLocation();
      Attribute value;
      if (parser.parseAttribute(value))
        return {};
      if (auto f = dyn_cast<FloatAttr>(value)) {
        *number = f.getValueAsDouble();
      } else if (auto i = dyn_cast<IntegerAttr>(value)) {
        *number = static_cast<double>(i.getValue().getSExtValue());
      } else {
        parser.emitError(valueLoc, "expected a number for '") << field << "'";
        return {};
      }
    } else if (count) {
      if (parser.parseInteger(*count))
        return {};
    } else if (field == "schedule") {
      llvm::SMLoc valueLoc = parser.getCurrentLocation();
      llvm::StringRef name;
      if (parser.parseKeyword(&name))
        return {};
      std::optional<LrSchedule> schedule = symbolizeLrSchedule(name);
      if (!schedule) {
        parser.emitError(valueLoc, "unknown schedule '")
            << name << "'; expected constant or cosine";
        return {};
      }
      c.schedule = *schedule;
    } else {
      parser.emitError(fieldLoc, "unknown field '")
          << field << "' of #kiln.optimizer; expected one of " << kFields;
      return {};
    }
  }
  if (parser.parseGreater())
    return {};
  return getChecked([&] { return parser.emitError(loc); }, parser.getContext(), c);
}

/// The update rule's fields always; clipping and the schedule only when on.
void OptimizerAttr::print(AsmPrinter &printer) const {
  OptimizerConfig c = getConfig();
  auto field = [&](llvm::StringRef name, const llvm::APFloat &value) {
    printer << ", " << name << " = " << fmtAsm(value.convertToDouble());
  };
  printer << '<' << stringifyOptimizerKind(c.kind);
  field("lr", getLr());
  if (c.usesMomentum())
    field("momentum", getMomentum());
  if (c.usesAdam()) {
    field("beta1", getBeta1());
    field("beta2", getBeta2());
    field("eps", getEps());
  }
  field("weight_decay", getWeightDecay());
  if (c.clipNorm != 0)
    field("clip_norm", getClipNorm());
  if (c.schedule != LrSchedule::constant)
    printer << ", schedule = " << stringifyLrSchedule(c.schedule);
  if (c.warmupSteps != 0)
    printer << ", warmup_steps = " << c.warmupSteps;
  if (c.totalSteps != 0)
    printer << ", total_steps = " << c.totalSteps;
  if (c.minLr != 0)
    field("min_lr", getMinLr());
  printer << '>';
}
