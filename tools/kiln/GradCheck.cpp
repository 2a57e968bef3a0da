//===- GradCheck.cpp - kiln gradcheck and kiln run --gradients ------------===//
//
// `kiln gradcheck` differentiates the model with --kiln-autodiff and checks
// every parameter's gradient against central finite differences of @forward's
// loss, all in f64 through the reference interpreter:
//
// 1. Random inputs and initial parameters from --seed (as `kiln run`).
// 2. The analytic gradients: @train_step (gradient form) at step 0.
// 3. Per parameter, up to --max-elements elements (all of a small parameter;
//    otherwise a seeded random sample plus the element of largest gradient)
//    and two random unit directions over the whole parameter: the central
//    difference of f along d against <g, d>.
// 4. Relative error |a - n| / max(|a|, |n|, 1e-3 * max|g| + 1e-12): the
//    floor keeps elements whose gradient is ~0 from dividing noise by noise.
//    The difference is the five-point stencil (truncation O(h^4)) with
//    h = 1e-3 * max(1, |p|), h / 10 and h / 100 (unless one already agrees
//    to 1e-3 * tolerance): the best agreement counts, so a kink of relu/max crossed by the larger step does
//    not fail a correct rule (a wrong rule fails at every step).
//
//===----------------------------------------------------------------------===//
#include "tools/kiln/Commands.h"

#include "ir/Philox.h"
#include "ir/Reference.h"
#include "passes/Passes.h"
#include "tools/kiln/Initializers.h"

#include "mlir/Pass/PassManager.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cmath>
#include <set>

using namespace mlir;

namespace kiln::tool {
namespace {

/// Runs --kiln-autodiff (after --kiln-verify-model); false after printing.
bool differentiate(ModuleOp module) {
  PassManager pm(module.getContext());
  pm.addPass(createKilnVerifyModel());
  pm.addPass(createKilnAutodiff());
  return succeeded(pm.run(module));
}

struct Check {
  std::string param;
  std::string type;
  int64_t checked = 0;
  double worst = 0;
  double worstAnalytic = 0, worstNumeric = 0;
  std::string worstWhere;
};

} // namespace

int runGradcheck(const Options &opts, ModuleOp module) {
  if (!differentiate(module))
    return 1;
  auto forward = module.lookupSymbol<func::FuncOp>("forward");
  auto step = module.lookupSymbol<func::FuncOp>("train_step");
  if (llvm::Error err = checkSignature(forward))
    return fail(opts.model + ": " + llvm::toString(std::move(err)));
  std::vector<ref::Tensor> stepArgs;
  auto analytic = runOnce(step, opts, ref::Precision::F64, stepArgs);
  if (!analytic)
    return 1;
  ref::RunOptions run;
  run.precision = ref::Precision::F64;

  // @forward's arguments are @train_step's without the trailing step.
  std::vector<ref::Tensor> args(stepArgs.begin(), stepArgs.end() - 1);
  unsigned lossIndex = 0;
  for (unsigned i = 0; i < forward.getNumResults(); ++i)
    if (forward.getResultAttr(i, "kiln.loss"))
      lossIndex = i;
  llvm::Error runError = llvm::Error::success();
  // The loss with argument `arg` replaced by `value`.
  auto lossAt = [&](unsigned arg, ref::Tensor value) -> double {
    std::swap(args[arg], value);
    auto r = ref::runFunction(forward, args, run);
    std::swap(args[arg], value);
    if (!r) {
      if (!runError)
        runError = r.takeError();
      else
        llvm::consumeError(r.takeError());
      return NAN;
    }
    return (*r)[lossIndex].getDouble(0);
  };

  std::vector<Check> checks;
  for (unsigned res = 0; res < step.getNumResults(); ++res) {
    auto of = step.getResultAttrOfType<StringAttr>(res, "kiln.grad_of");
    if (!of)
      continue;
    unsigned arg = 0;
    while (argName(forward, arg) != of.getValue())
      ++arg;
    const ref::Tensor &grad = (*analytic)[res];
    const ref::Tensor &param = args[arg];
    int64_t n = param.numElements();
    double gmax = 0;
    for (double g : grad.floats())
      gmax = std::max(gmax, std::abs(g));
    double floor = 1e-3 * gmax + 1e-12;

    Check check;
    check.param = of.str();
    check.type = describe(param.type(), param.shape());
    auto compare = [&](const std::vector<double> &dir, double a, const std::string &where) {
      double scale = 0;
      for (int64_t i = 0; i < n; ++i)
        if (dir[i] != 0)
          scale = std::max(scale, std::abs(param.floats()[i]));
      double best = INFINITY, bestNumeric = 0;
      for (double h : {1e-3, 1e-4, 1e-5}) {
        h *= std::max(1.0, scale);
        auto at = [&](double t) {
          ref::Tensor shifted = param;
          for (int64_t i = 0; i < n; ++i)
            shifted.floats()[i] += t * dir[i];
          return lossAt(arg, std::move(shifted));
        };
        // Five-point stencil: truncation error O(h^4).
        double numeric =
            (8 * (at(h) - at(-h)) - (at(2 * h) - at(-2 * h))) / (12 * h);
        double err = std::abs(a - numeric) /
                     std::max({std::abs(a), std::abs(numeric), floor});
        if (std::isnan(err))
          err = INFINITY;
        if (err < best) {
          best = err;
          bestNumeric = numeric;
        }
        if (best <= 1e-3 * opts.tolerance)
          break;
      }
      ++check.checked;
      if (best > check.worst || check.worstWhere.empty()) {
        check.worst = best;
        check.worstAnalytic = a;
        check.worstNumeric = bestNumeric;
        check.worstWhere = where;
      }
    };

    // Elements: all of a small parameter, else a sample plus the largest.
    std::set<int64_t> elements;
    if (n <= opts.maxElements) {
      for (int64_t i = 0; i < n; ++i)
        elements.insert(i);
    } else {
      int64_t offset = streamOffsetForName(("gradcheck:" + of.getValue()).str());
      for (uint64_t k = 0; int64_t(elements.size()) < opts.maxElements - 1; ++k)
        elements.insert(std::min<int64_t>(
            n - 1, int64_t(philox::uniform01(opts.seed, offset, k) * double(n))));
      elements.insert(std::max_element(grad.floats().begin(), grad.floats().end(),
                                       [](double x, double y) {
                                         return std::abs(x) < std::abs(y);
                                       }) -
                      grad.floats().begin());
    }
    for (int64_t e : elements) {
      std::vector<double> dir(n, 0.0);
      dir[e] = 1.0;
      compare(dir, grad.floats()[e], "element " + std::to_string(e));
    }
    if (n > opts.maxElements) {
      int64_t offset = streamOffsetForName(("gradcheck-dir:" + of.getValue()).str());
      for (int d = 0; d < 2; ++d) {
        std::vector<double> dir(n);
        double norm = 0;
        for (int64_t i = 0; i < n; ++i) {
          dir[i] = philox::standardNormal(opts.seed, offset + d, i);
          norm += dir[i] * dir[i];
        }
        norm = std::sqrt(norm);
        double a = 0;
        for (int64_t i = 0; i < n; ++i) {
          dir[i] /= norm;
          a += grad.floats()[i] * dir[i];
        }
        compare(dir, a, "random direction " + std::to_string(d));
      }
    }
    if (runError)
      return reportError(std::move(runError));
    checks.push_back(std::move(check));
  }
  if (runError)
    return reportError(std::move(runError));

  size_t width = 9;
  for (const Check &c : checks)
    width = std::max(width, c.param.size());
  llvm::outs() << llvm::left_justify("parameter", width) << "  "
               << llvm::left_justify("type", 18) << "  checks  worst rel. error\n";
  bool ok = true;
  for (const Check &c : checks) {
    bool pass = c.worst <= opts.tolerance;
    ok &= pass;
    llvm::outs() << llvm::left_justify(c.param, width) << "  "
                 << llvm::left_justify(c.type, 18) << "  "
                 << llvm::right_justify(std::to_string(c.checked), 6) << "  "
                 << llvm::format("%.2e", c.worst) << (pass ? "  ok" : "  FAIL");
    if (!pass)
      llvm::outs() << " (" << c.worstWhere << ": analytic "
                   << llvm::format("%.9g", c.worstAnalytic) << ", numeric "
                   << llvm::format("%.9g", c.worstNumeric) << ")";
    llvm::outs() << "\n";
  }
  double worst = 0;
  for (const Check &c : checks)
    worst = std::max(worst, c.worst);
  llvm::outs() << (ok ? "gradcheck passed" : "gradcheck FAILED") << ": " << checks.size()
               << " parameters, worst relative error "
               << llvm::format("%.2e", worst) << " (tolerance "
               << llvm::format("%.0e", opts.tolerance) << ")\n";
  return ok ? 0 : 1;
}

int runGradients(const Options &opts, ModuleOp module) {
  if (!differentiate(module))
    return 1;
  auto step = module.lookupSymbol<func::FuncOp>("train_step");
  if (llvm::Error err = checkSignature(step))
    return fail(opts.model + ": " + llvm::toString(std::move(err)));
  // checkSignature vetted the result names; parameters and buffers are
  // written under their argument names.
  for (unsigned i = 0; i < step.getNumArguments(); ++i) {
    ArgRole role = roleOf(step, i);
    if ((role == ArgRole::param || role == ArgRole::buffer) &&
        !isPlainFileName(argName(step, i)))
      return fail(opts.model + ": " + stringifyArgRole(role) + " '" + argName(step, i) +
                  "' cannot name an output file (params/NAME.npy): expected a name "
                  "without '/' that is not '.' or '..'");
  }
  ref::Precision precision = precisionOf(opts);
  std::vector<ref::Tensor> args;
  auto results = runOnce(step, opts, precision, args);
  if (!results)
    return 1;

  // DIR/loss.npy, DIR/params/NAME.npy (values used), DIR/gradients/NAME.npy.
  auto write = [&](llvm::StringRef sub, const std::string &name,
                   const ref::Tensor &t) -> bool {
    llvm::SmallString<256> path(opts.outputDir);
    llvm::sys::path::append(path, sub);
    if (std::error_code ec = llvm::sys::fs::create_directories(path)) {
      fail("cannot create directory '" + path + "': " + ec.message());
      return false;
    }
    llvm::sys::path::append(path, name + ".npy");
    // Under --precision f64 the values are f64: write them without rounding.
    ref::Tensor exact = t;
    if (precision == ref::Precision::F64 && t.isFloat())
      exact = ref::Tensor::fromDoubles(ref::ElemType::F64, t.shape(), t.floats());
    std::string error;
    if (!writeOutput(path.str().str(), exact, error)) {
      fail(error);
      return false;
    }
    llvm::outs() << "wrote " << path << " (" << describe(exact.type(), exact.shape())
                 << ")\n";
    return true;
  };
  for (unsigned i = 0; i < step.getNumArguments(); ++i) {
    ArgRole role = roleOf(step, i);
    if ((role == ArgRole::param || role == ArgRole::buffer) &&
        !write("params", argName(step, i), args[i]))
      return 1;
  }
  for (unsigned i = 0; i < step.getNumResults(); ++i) {
    auto of = step.getResultAttrOfType<StringAttr>(i, "kiln.grad_of");
    if (of ? !write("gradients", of.str(), (*results)[i])
           : !write("", resultName(step, i), (*results)[i]))
      return 1;
  }
  return 0;
}

} // namespace kiln::tool
