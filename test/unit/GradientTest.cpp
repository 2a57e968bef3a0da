//===- GradientTest.cpp - Gradient rules against finite differences -------===//
//
// For every differentiable kiln op, on several shapes and attribute
// combinations: parse a function @f whose results are the results of one
// op, call the op's GradientOpInterface::buildGradients with random
// adjoints `a` in a copy @g, and compare what @g returns (evaluated by the
// reference interpreter in f64) with central finite differences of
// L(x) = <a, f(x)> for every element of every float argument.
//
// - Differences use the 4-point stencil
//   (8 (L(x+h) - L(x-h)) - (L(x+2h) - L(x-2h))) / 12h, h = 1e-3: truncation
//   ~h^4, rounding ~1e-13 |L|.
// - Float inputs have pairwise distinct magnitudes in [0.1, 2] (random
//   signs unless the case needs positive values), so no input sits within
//   2h of a kink (0 for relu/abs, a tie for max/min/max pooling) in these
//   small tensors.
// - The error of an adjoint is normwise: max |analytic - numeric| over
//   max |numeric| (1 if that is 0); the tolerance is 1e-6. A null adjoint
//   of a float argument must match a zero numeric derivative, unless the
//   contract makes it null (stop_gradient, running statistics).
//
// The test prints one line per case and, at exit, the worst error per op
// family (the table for docs and reviews).
//
//===----------------------------------------------------------------------===//
#include "ir/Dialect.h"
#include "ir/Reference.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <iostream>
#include <map>
#include <numeric>
#include <random>
#include <set>

using namespace kiln::ref;
using mlir::Value;

namespace {

constexpr double kTolerance = 1e-6;
constexpr double kStep = 1e-3;

//===----------------------------------------------------------------------===//
// Cases
//===----------------------------------------------------------------------===//

struct Case {
  std::string name;
  /// A module holding func.func @f, whose results are exactly the results
  /// of its one op that implements GradientOpInterface.
  std::string mlir;
  /// Float arguments drawn positive (the others get random signs).
  std::set<unsigned> positive = {};
  /// Results that get a null adjoint (and weigh 0 in L).
  std::set<unsigned> nullAdjoints = {};
  /// Float arguments whose adjoint is null by contract (not checked).
  std::set<unsigned> nullByContract = {};
};

const std::set<unsigned> kAllPositive = {0, 1, 2, 3, 4, 5, 6, 7};

/// `func.func @f(ARGS) -> (RESULTS) { %r:N = OP; return %r#0, ... }`.
std::string fn(const std::string &args, const std::string &op,
               const std::vector<std::string> &results) {
  std::string s = "func.func @f(" + args + ") -> (";
  for (size_t i = 0; i < results.size(); ++i)
    s += (i ? ", " : "") + results[i];
  s += ") {\n  %r:" + std::to_string(results.size()) + " = " + op + "\n  return ";
  for (size_t i = 0; i < results.size(); ++i)
    s += (i ? ", %r#" : "%r#") + std::to_string(i);
  s += " : ";
  for (size_t i = 0; i < results.size(); ++i)
    s += (i ? ", " : "") + results[i];
  return s + "\n}\n";
}

std::string t(const std::string &shapeAndType) { return "tensor<" + shapeAndType + ">"; }

//===----------------------------------------------------------------------===//
// The check
//===----------------------------------------------------------------------===//

struct FamilyStats {
  int cases = 0;
  int64_t elements = 0;
  double worst = 0;
  std::string worstCase;
};

std::map<std::string, FamilyStats> &table() {
  static std::map<std::string, FamilyStats> stats;
  return stats;
}

class GradientCheck {
public:
  GradientCheck() { ctx.loadDialect<kiln::KilnDialect, mlir::func::FuncDialect>(); }

  /// Runs one case; adds failures to the current test and its error to the
  /// family's row.
  void run(const std::string &family, const Case &c, unsigned seed);

private:
  mlir::MLIRContext ctx;
};

double l(const std::vector<Tensor> &outs, const std::vector<Tensor> &adjoints) {
  double s = 0;
  for (size_t r = 0; r < outs.size(); ++r)
    for (int64_t i = 0; adjoints[r].isFloat() && i < outs[r].numElements(); ++i)
      s += adjoints[r].floats()[i] * outs[r].getDouble(i);
  return s;
}

void GradientCheck::run(const std::string &family, const Case &c, unsigned seed) {
  SCOPED_TRACE(family + " / " + c.name + "\n" + c.mlir);
  mlir::OwningOpRef<mlir::ModuleOp> module =
      mlir::parseSourceString<mlir::ModuleOp>(c.mlir, &ctx);
  ASSERT_TRUE(module) << "the case does not parse";
  auto f = module->lookupSymbol<mlir::func::FuncOp>("f");
  ASSERT_TRUE(f);

  // @g: @f's arguments and one adjoint argument per non-null result; returns
  // the adjoint of every argument that gets one.
  auto g = f.clone();
  g.setSymName("g");
  module->getBody()->push_back(g);
  mlir::Block &body = g.getBody().front();
  kiln::GradientOpInterface rule = nullptr;
  g.walk([&](kiln::GradientOpInterface op) {
    ASSERT_FALSE(rule) << "the case has two differentiable ops";
    rule = op;
  });
  ASSERT_TRUE(rule) << "the case has no op with a gradient rule";
  mlir::Operation *op = rule.getOperation();
  auto ret = mlir::cast<mlir::func::ReturnOp>(body.getTerminator());
  ASSERT_TRUE(llvm::equal(ret->getOperands(), op->getResults()))
      << "@f must return exactly the op's results";
  const unsigned numArgs = f.getNumArguments(), numResults = op->getNumResults();
  std::vector<Value> resultGrads;
  for (unsigned r = 0; r < numResults; ++r)
    resultGrads.push_back(c.nullAdjoints.count(r)
                              ? Value()
                              : body.addArgument(op->getResult(r).getType(), op->getLoc()));
  mlir::OpBuilder b(ret);
  llvm::SmallVector<Value> operandGrads;
  ASSERT_TRUE(mlir::succeeded(rule.buildGradients(b, resultGrads, operandGrads)))
      << "buildGradients failed";
  ASSERT_EQ(operandGrads.size(), op->getNumOperands()) << "one adjoint per operand";
  std::vector<Value> argGrad(numArgs);
  for (auto [operand, grad] : llvm::zip_equal(op->getOperands(), operandGrads)) {
    if (!grad)
      continue;
    ASSERT_EQ(grad.getType(), operand.getType()) << "an adjoint has its operand's type";
    auto arg = mlir::dyn_cast<mlir::BlockArgument>(operand);
    ASSERT_TRUE(arg && arg.getOwner() == &body) << "operands must be arguments";
    Value &acc = argGrad[arg.getArgNumber()];
    acc = acc ? kiln::AddOp::create(b, op->getLoc(), acc, grad).getResult() : grad;
  }
  std::vector<unsigned> returned; // argument numbers, in @g's result order
  llvm::SmallVector<Value> returnValues;
  for (unsigned a = 0; a < numArgs; ++a) {
    Value arg = body.getArgument(a);
    bool isFloat = mlir::isa<mlir::FloatType>(
        mlir::cast<mlir::RankedTensorType>(arg.getType()).getElementType());
    if (!isFloat) {
      EXPECT_FALSE(argGrad[a]) << "integer argument #" << a << " got an adjoint";
      continue;
    }
    if (argGrad[a]) {
      returned.push_back(a);
      returnValues.push_back(argGrad[a]);
    }
  }
  ret->setOperands(returnValues);
  g.setFunctionType(b.getFunctionType(body.getArgumentTypes(),
                                      mlir::ValueRange(returnValues).getTypes()));
  ASSERT_TRUE(mlir::succeeded(mlir::verify(*module))) << "@g does not verify";

  // Inputs and adjoints.
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::vector<Tensor> args;
  int64_t numFloats = 0;
  for (unsigned a = 0; a < numArgs; ++a) {
    auto type = mlir::cast<mlir::RankedTensorType>(f.getArgument(a).getType());
    args.push_back(*zerosOf(type));
    if (args.back().isFloat())
      numFloats += args.back().numElements();
  }
  std::vector<int64_t> rank(numFloats); // distinct magnitudes, shuffled
  std::iota(rank.begin(), rank.end(), 0);
  std::shuffle(rank.begin(), rank.end(), rng);
  int64_t next = 0;
  for (unsigned a = 0; a < numArgs; ++a) {
    Tensor &x = args[a];
    for (int64_t i = 0; i < x.numElements(); ++i) {
      if (x.isFloat()) {
        double slot = (rank[next++] + 0.5 + 0.6 * (unit(rng) - 0.5)) / double(numFloats);
        double magnitude = 0.1 + 1.9 * slot;
        bool negative = !c.positive.count(a) && unit(rng) < 0.5;
        x.floats()[i] = negative ? -magnitude : magnitude;
        continue;
      }
      // Indices and labels in their valid range; other integers small.
      int64_t bound = x.type() == ElemType::I1 ? 2 : 100;
      for (mlir::OpOperand &use : f.getArgument(a).getUses())
        if (auto index = mlir::dyn_cast<kiln::IndexOperandOpInterface>(use.getOwner()))
          if (std::optional<int64_t> valid = index.getIndexBound(use.getOperandNumber()))
            bound = *valid;
      x.setInt(i, std::min<int64_t>(int64_t(unit(rng) * bound), bound - 1));
    }
  }
  std::vector<Tensor> adjoints;
  for (unsigned r = 0; r < numResults; ++r) {
    adjoints.push_back(*zerosOf(op->getResult(r).getType()));
    if (!c.nullAdjoints.count(r) && adjoints.back().isFloat())
      for (double &v : adjoints.back().floats())
        v = 2 * unit(rng) - 1;
  }

  // Analytic adjoints.
  const RunOptions opts{Precision::F64};
  std::vector<Tensor> gArgs = args;
  for (unsigned r = 0; r < numResults; ++r)
    if (!c.nullAdjoints.count(r))
      gArgs.push_back(adjoints[r]);
  auto analytic = runFunction(g, gArgs, opts);
  ASSERT_TRUE(bool(analytic)) << llvm::toString(analytic.takeError());

  // Numeric adjoints, one float argument at a time.
  auto loss = [&](const std::vector<Tensor> &in) {
    auto out = runFunction(f, in, opts);
    if (!out) {
      ADD_FAILURE() << llvm::toString(out.takeError());
      return 0.0;
    }
    return l(*out, adjoints);
  };
  double worst = 0;
  int64_t checked = 0;
  for (unsigned a = 0; a < numArgs; ++a) {
    if (!args[a].isFloat() || c.nullByContract.count(a))
      continue;
    auto pos = std::find(returned.begin(), returned.end(), a);
    const Tensor *an = pos == returned.end() ? nullptr : &(*analytic)[pos - returned.begin()];
    std::vector<double> numeric(args[a].numElements());
    std::vector<Tensor> in = args;
    for (int64_t i = 0; i < args[a].numElements(); ++i) {
      const double x0 = args[a].floats()[i];
      auto at = [&](double dx) {
        in[a].floats()[i] = x0 + dx;
        return loss(in);
      };
      numeric[i] = (8 * (at(kStep) - at(-kStep)) - (at(2 * kStep) - at(-2 * kStep))) /
                   (12 * kStep);
      in[a].floats()[i] = x0;
    }
    double scale = 0, diff = 0;
    int64_t worstIndex = 0;
    for (size_t i = 0; i < numeric.size(); ++i) {
      scale = std::max(scale, std::fabs(numeric[i]));
      double d = std::fabs((an ? an->floats()[i] : 0.0) - numeric[i]);
      if (d > diff || std::isnan(d)) {
        diff = d;
        worstIndex = int64_t(i);
      }
    }
    double error = diff / (scale > 0 ? scale : 1.0);
    checked += int64_t(numeric.size());
    if (!(error <= kTolerance))
      ADD_FAILURE() << "argument #" << a << ": error " << error << " at element "
                    << worstIndex << ": analytic "
                    << (an ? an->floats()[worstIndex] : 0.0) << ", numeric "
                    << numeric[worstIndex] << (an ? "" : " (the adjoint is null)");
    if (!(error <= worst))
      worst = error;
  }
  std::cout << "  " << std::left << std::setw(14) << family << std::setw(44) << c.name
            << std::right << std::setw(6) << checked << "  " << std::scientific
            << std::setprecision(2) << worst << std::defaultfloat << "\n";
  FamilyStats &row = table()[family];
  ++row.cases;
  row.elements += checked;
  if (row.worstCase.empty() || !(worst <= row.worst)) {
    row.worst = worst;
    row.worstCase = c.name;
  }
}

void checkAll(const std::string &family, const std::vector<Case> &cases) {
  static GradientCheck check;
  unsigned seed = 1;
  for (const Case &c : cases)
    check.run(family, c, seed++);
}

/// Prints the per-family table after all tests.
class TableReporter : public ::testing::Environment {
public:
  void TearDown() override {
    if (table().empty())
      return;
    std::cout << "\nworst normwise relative error per op family (tolerance "
              << kTolerance << ", f64, 4-point central differences, h = " << kStep
              << ")\n";
    std::cout << std::left << std::setw(16) << "family" << std::right << std::setw(6)
              << "cases" << std::setw(10) << "elements" << std::setw(12) << "worst"
              << "  worst case\n";
    for (auto &[family, row] : table())
      std::cout << std::left << std::setw(16) << family << std::right << std::setw(6)
                << row.cases << std::setw(10) << row.elements << std::setw(12)
                << std::scientific << std::setprecision(2) << row.worst
                << std::defaultfloat << "  " << row.worstCase << "\n";
  }
};
[[maybe_unused]] const auto *const kReporter =
    ::testing::AddGlobalTestEnvironment(new TableReporter);

//===----------------------------------------------------------------------===//
// The op families
//===----------------------------------------------------------------------===//

TEST(Gradient, Unary) {
  std::vector<Case> cases;
  for (std::string op : {"neg", "abs", "exp", "tanh", "sigmoid", "relu", "sin", "cos",
                         "erf", "sign", "floor", "ceil"})
    for (std::string type : {"2x3xf64", "5xf64"})
      cases.push_back({op + " " + type,
                       fn("%x: " + t(type), "kiln." + op + " %x : " + t(type), {t(type)})});
  for (std::string op : {"log", "sqrt", "rsqrt"})
    cases.push_back({op + " (x > 0)",
                     fn("%x: " + t("2x3xf64"), "kiln." + op + " %x : " + t("2x3xf64"),
                        {t("2x3xf64")}),
                     {0}});
  // f32 IR evaluated in f64: the rules' constants are f32 attributes.
  cases.push_back({"erf f32", fn("%x: " + t("4xf32"), "kiln.erf %x : " + t("4xf32"),
                                 {t("4xf32")})});
  cases.push_back({"rsqrt f32 (x > 0)",
                   fn("%x: " + t("4xf32"), "kiln.rsqrt %x : " + t("4xf32"), {t("4xf32")}),
                   {0}});
  cases.push_back({"stop_gradient (null by contract)",
                   fn("%x: " + t("2x3xf64"), "kiln.stop_gradient %x : " + t("2x3xf64"),
                      {t("2x3xf64")}),
                   {}, {}, {0}});
  checkAll("unary", cases);
}

TEST(Gradient, Binary) {
  std::vector<Case> cases;
  for (std::string op : {"add", "sub", "mul", "div", "maximum", "minimum"})
    for (std::string type : {"2x3xf64", "4xf32"})
      cases.push_back({op + " " + type,
                       fn("%a: " + t(type) + ", %b: " + t(type),
                          "kiln." + op + " %a, %b : " + t(type), {t(type)})});
  cases.push_back({"pow (a > 0)",
                   fn("%a: " + t("2x3xf64") + ", %b: " + t("2x3xf64"),
                      "kiln.pow %a, %b : " + t("2x3xf64"), {t("2x3xf64")}),
                   {0}});
  // Ties: maximum(x, x) = x, so the two halves must add up to dy.
  for (std::string op : {"maximum", "minimum"})
    cases.push_back({op + " (x, x) ties", fn("%a: " + t("2x3xf64"),
                                            "kiln." + op + " %a, %a : " + t("2x3xf64"),
                                            {t("2x3xf64")})});
  cases.push_back({"mul (x, x)", fn("%a: " + t("3xf64"), "kiln.mul %a, %a : " + t("3xf64"),
                                    {t("3xf64")})});
  checkAll("binary", cases);
}

TEST(Gradient, SelectCast) {
  std::vector<Case> cases;
  cases.push_back({"select", fn("%c: " + t("2x3xi1") + ", %a: " + t("2x3xf64") +
                                    ", %b: " + t("2x3xf64"),
                                "kiln.select %c, %a, %b : " + t("2x3xi1") + ", " +
                                    t("2x3xf64"),
                                {t("2x3xf64")})});
  cases.push_back({"cast f64 -> f32", fn("%x: " + t("2x3xf64"),
                                         "kiln.cast %x : " + t("2x3xf64") + " -> " +
                                             t("2x3xf32"),
                                         {t("2x3xf32")})});
  cases.push_back({"cast f32 -> f64", fn("%x: " + t("4xf32"),
                                         "kiln.cast %x : " + t("4xf32") + " -> " + t("4xf64"),
                                         {t("4xf64")})});
  // An integer result has no adjoint; the rule must still answer (null).
  cases.push_back({"cast f64 -> i32 (null)",
                   fn("%x: " + t("4xf64"), "kiln.cast %x : " + t("4xf64") + " -> " + t("4xi32"),
                      {t("4xi32")}),
                   {}, {0}});
  checkAll("select/cast", cases);
}

TEST(Gradient, Broadcast) {
  struct B {
    std::string from, dims, to;
  };
  std::vector<Case> cases;
  for (B c : std::vector<B>{{"3xf64", "1", "2x3xf64"},
                            {"2xf64", "0", "2x3xf64"},
                            {"f64", "", "2x3xf64"},
                            {"1x3xf64", "0, 1", "4x3xf64"},
                            {"3x1xf64", "1, 2", "2x3x4xf64"},
                            {"1x1xf64", "0, 2", "1x3x1xf64"},
                            {"2x1x3xf64", "0, 1, 3", "2x4x5x3xf64"},
                            {"2x3xf64", "0, 1", "2x3xf64"}})
    cases.push_back({c.from + " [" + c.dims + "] -> " + c.to,
                     fn("%x: " + t(c.from),
                        "kiln.broadcast %x, dims = [" + c.dims + "] : " + t(c.from) +
                            " -> " + t(c.to),
                        {t(c.to)})});
  checkAll("broadcast", cases);
}

TEST(Gradient, Reduce) {
  std::vector<Case> cases;
  // Result shapes of [2, 3, 4] reduced over `dims`, without and with keep_dims.
  struct R {
    std::string dims, dropped, kept;
  };
  for (std::string kind : {"sum", "mean", "max", "min", "prod"})
    for (R r : std::vector<R>{{"0", "3x4xf64", "1x3x4xf64"},
                              {"1", "2x4xf64", "2x1x4xf64"},
                              {"2", "2x3xf64", "2x3x1xf64"},
                              {"0, 2", "3xf64", "1x3x1xf64"},
                              {"0, 1, 2", "f64", "1x1x1xf64"},
                              {"", "2x3x4xf64", "2x3x4xf64"}})
      for (bool keep : {false, true})
        cases.push_back({kind + " dims = [" + r.dims + "]" + (keep ? " keep_dims" : ""),
                         fn("%x: " + t("2x3x4xf64"),
                            "kiln.reduce " + kind + " %x, dims = [" + r.dims + "]" +
                                (keep ? " keep_dims" : "") + " : " + t("2x3x4xf64"),
                            {t(keep ? r.kept : r.dropped)})});
  checkAll("reduce", cases);
}

TEST(Gradient, Matmul) {
  std::vector<Case> cases;
  // [batch..] x (M=3, K=4, N=2) with every transpose combination.
  for (std::string batch : {"", "2x", "2x3x"})
    for (bool ta : {false, true})
      for (bool tb : {false, true}) {
        std::string a = batch + (ta ? "4x3" : "3x4") + "xf64",
                    b = batch + (tb ? "2x4" : "4x2") + "xf64";
        std::string attrs = std::string(ta ? " transpose_a" : "") + (tb ? " transpose_b" : "");
        cases.push_back({"[" + batch + "]" + attrs,
                         fn("%a: " + t(a) + ", %b: " + t(b),
                            "kiln.matmul %a, %b" + attrs + " : " + t(a) + ", " + t(b),
                            {t(batch + "3x2xf64")})});
      }
  cases.push_back({"f32 [] transpose_b",
                   fn("%a: " + t("3x4xf32") + ", %b: " + t("2x4xf32"),
                      "kiln.matmul %a, %b transpose_b : " + t("3x4xf32") + ", " + t("2x4xf32"),
                      {t("3x2xf32")})});
  checkAll("matmul", cases);
}

TEST(Gradient, Conv2d) {
  struct C {
    std::string input, filter, strides, padding, dilations, groups, result;
  };
  std::vector<Case> cases;
  for (C c : std::vector<C>{
           {"2x3x5x5", "4x3x3x3", "1, 1", "1, 1, 1, 1", "1, 1", "1", "2x4x5x5"},
           {"1x2x6x6", "3x2x3x3", "2, 2", "1, 1, 1, 1", "1, 1", "1", "1x3x3x3"},
           {"1x2x7x7", "2x2x3x3", "1, 1", "0, 0, 0, 0", "2, 2", "1", "1x2x3x3"},
           {"1x4x5x5", "6x2x3x3", "1, 1", "1, 1, 1, 1", "1, 1", "2", "1x6x5x5"},
           {"1x4x4x4", "4x1x3x3", "1, 1", "1, 1, 1, 1", "1, 1", "4", "1x4x4x4"},
           {"1x2x5x6", "2x2x2x3", "2, 1", "0, 2, 1, 0", "1, 2", "1", "1x2x3x4"},
           // 1x1 filter, stride 2: odd rows and columns are never read.
           {"1x2x6x6", "3x2x1x1", "2, 2", "0, 0, 0, 0", "1, 1", "1", "1x3x3x3"},
           // Stride 3 with a tail that no window reaches.
           {"1x1x8x8", "2x1x2x2", "3, 3", "0, 0, 0, 0", "1, 1", "1", "1x2x3x3"}})
    cases.push_back({"x " + c.input + " w " + c.filter + " s [" + c.strides + "] p [" +
                         c.padding + "] d [" + c.dilations + "] g " + c.groups,
                     fn("%x: " + t(c.input + "xf64") + ", %w: " + t(c.filter + "xf64"),
                        "kiln.conv2d %x, %w, strides = [" + c.strides + "], padding = [" +
                            c.padding + "], dilations = [" + c.dilations +
                            "], groups = " + c.groups + " : " + t(c.input + "xf64") +
                            ", " + t(c.filter + "xf64"),
                        {t(c.result + "xf64")})});
  checkAll("conv2d", cases);
}

TEST(Gradient, Pool2d) {
  struct P {
    std::string kind, input, window, strides, padding, extra, result;
  };
  std::vector<Case> cases;
  for (P p : std::vector<P>{
           {"max", "1x2x4x4", "2, 2", "2, 2", "0, 0, 0, 0", "", "1x2x2x2"},
           {"max", "1x2x5x5", "3, 3", "2, 2", "1, 1, 1, 1", "", "1x2x3x3"},
           {"max", "2x1x4x5", "2, 3", "1, 1", "1, 0, 0, 2", "", "2x1x4x5"},
           {"avg", "1x2x4x4", "2, 2", "2, 2", "0, 0, 0, 0", "", "1x2x2x2"},
           {"avg", "1x2x5x5", "3, 3", "2, 2", "1, 1, 1, 1", "", "1x2x3x3"},
           {"avg", "1x2x5x5", "3, 3", "2, 2", "1, 1, 1, 1", " {count_include_pad}",
            "1x2x3x3"},
           {"avg", "2x1x4x5", "2, 3", "1, 1", "1, 0, 0, 2", " {count_include_pad}",
            "2x1x4x5"},
           {"avg", "1x1x7x7", "2, 2", "3, 3", "0, 0, 0, 0", "", "1x1x2x2"}})
    cases.push_back({p.kind + " x " + p.input + " k [" + p.window + "] s [" + p.strides +
                         "] p [" + p.padding + "]" + p.extra,
                     fn("%x: " + t(p.input + "xf64"),
                        "kiln.pool2d " + p.kind + " %x, window = [" + p.window +
                            "], strides = [" + p.strides + "], padding = [" + p.padding +
                            "]" + p.extra + " : " + t(p.input + "xf64"),
                        {t(p.result + "xf64")})});
  checkAll("pool2d", cases);
}

TEST(Gradient, DataMovement) {
  std::vector<Case> cases;
  cases.push_back({"reshape 2x3x4 -> 6x4",
                   fn("%x: " + t("2x3x4xf64"),
                      "kiln.reshape %x : " + t("2x3x4xf64") + " -> " + t("6x4xf64"),
                      {t("6x4xf64")})});
  cases.push_back({"transpose [2, 0, 1]",
                   fn("%x: " + t("2x3x4xf64"),
                      "kiln.transpose %x, perm = [2, 0, 1] : " + t("2x3x4xf64"),
                      {t("4x2x3xf64")})});
  struct S {
    std::string start, limit, step, result;
  };
  for (S s : std::vector<S>{{"1, 0", "5, 8", "2, 1", "2x8xf64"},
                            {"0, 1", "6, 8", "1, 3", "6x3xf64"},
                            {"2, 3", "5, 7", "1, 1", "3x4xf64"},
                            {"1, 2", "6, 8", "4, 2", "2x3xf64"},
                            {"0, 5", "6, 6", "1, 9223372036854775807", "6x1xf64"},
                            {"5, 7", "6, 8", "3, 3", "1x1xf64"}})
    cases.push_back({"slice [" + s.start + "] [" + s.limit + "] [" + s.step + "]",
                     fn("%x: " + t("6x8xf64"),
                        "kiln.slice %x, start = [" + s.start + "], limit = [" + s.limit +
                            "], step = [" + s.step + "] : " + t("6x8xf64"),
                        {t(s.result)})});
  cases.push_back({"concat dim = 1",
                   fn("%a: " + t("2x1xf64") + ", %b: " + t("2x3xf64") + ", %c: " +
                          t("2x2xf64"),
                      "kiln.concat %a, %b, %c dim = 1 : " + t("2x1xf64") + ", " +
                          t("2x3xf64") + ", " + t("2x2xf64"),
                      {t("2x6xf64")})});
  cases.push_back({"concat dim = 0 (same value twice)",
                   fn("%a: " + t("2x3xf64"),
                      "kiln.concat %a, %a dim = 0 : " + t("2x3xf64") + ", " + t("2x3xf64"),
                      {t("4x3xf64")})});
  cases.push_back({"pad low [1, 0] high [2, 3]",
                   fn("%x: " + t("2x3xf64"),
                      "kiln.pad %x, low = [1, 0], high = [2, 3], value = 5.0 : " +
                          t("2x3xf64"),
                      {t("5x6xf64")})});
  cases.push_back({"gather axis 0 (repeated ids)",
                   fn("%e: " + t("4x3xf64") + ", %i: " + t("2x5xi64"),
                      "kiln.gather %e, %i, axis = 0 : " + t("4x3xf64") + ", " + t("2x5xi64"),
                      {t("2x5x3xf64")})});
  cases.push_back({"gather axis 1 (i32 ids)",
                   fn("%e: " + t("2x4x3xf64") + ", %i: " + t("3xi32"),
                      "kiln.gather %e, %i, axis = 1 : " + t("2x4x3xf64") + ", " + t("3xi32"),
                      {t("2x3x3xf64")})});
  cases.push_back({"scatter_add axis 0",
                   fn("%u: " + t("2x5x3xf64") + ", %i: " + t("2x5xi64"),
                      "kiln.scatter_add %u, %i, axis = 0 : " + t("2x5x3xf64") + ", " +
                          t("2x5xi64") + " -> " + t("4x3xf64"),
                      {t("4x3xf64")})});
  cases.push_back({"scatter_add axis 1",
                   fn("%u: " + t("2x3x3xf64") + ", %i: " + t("3xi64"),
                      "kiln.scatter_add %u, %i, axis = 1 : " + t("2x3x3xf64") + ", " +
                          t("3xi64") + " -> " + t("2x4x3xf64"),
                      {t("2x4x3xf64")})});
  checkAll("data movement", cases);
}

TEST(Gradient, Softmax) {
  std::vector<Case> cases;
  for (std::string op : {"softmax", "log_softmax"})
    for (int dim : {0, 1, 2})
      cases.push_back({op + " dim = " + std::to_string(dim),
                       fn("%x: " + t("2x3x4xf64"),
                          "kiln." + op + " %x, dim = " + std::to_string(dim) + " : " +
                              t("2x3x4xf64"),
                          {t("2x3x4xf64")})});
  for (std::string reduction : {"mean", "sum", "none"})
    cases.push_back({"cross_entropy " + reduction,
                     fn("%x: " + t("4x5xf64") + ", %y: " + t("4xi64"),
                        "kiln.cross_entropy %x, %y reduction = " + reduction + " : " +
                            t("4x5xf64") + ", " + t("4xi64"),
                        {t(reduction == "none" ? "4xf64" : "f64")})});
  checkAll("softmax/xent", cases);
}

TEST(Gradient, Normalization) {
  std::vector<Case> cases;
  struct L {
    std::string x, gamma;
    int axis;
  };
  for (L c : std::vector<L>{{"3x4xf64", "4xf64", 1},
                            {"2x3x4xf64", "3x4xf64", 1},
                            {"2x3x4xf64", "4xf64", 2},
                            {"5xf64", "5xf64", 0}})
    cases.push_back({"layer_norm x " + c.x + " axis = " + std::to_string(c.axis),
                     fn("%x: " + t(c.x) + ", %g: " + t(c.gamma) + ", %b: " + t(c.gamma),
                        "kiln.layer_norm %x, %g, %b, axis = " + std::to_string(c.axis) +
                            " {epsilon = 0.01 : f64} : " + t(c.x) + ", " + t(c.gamma),
                        {t(c.x)})});
  // batch_norm: x, gamma, beta, running mean and variance (buffers: null).
  for (std::string x : {"4x3xf64", "2x3x2x2xf64", "3x2x4xf64"}) {
    std::string args = "%x: " + t(x) + ", %g: " + t("3xf64") + ", %b: " + t("3xf64") +
                       ", %m: " + t("3xf64") + ", %v: " + t("3xf64");
    if (x == "3x2x4xf64")
      args = "%x: " + t(x) + ", %g: " + t("2xf64") + ", %b: " + t("2xf64") +
             ", %m: " + t("2xf64") + ", %v: " + t("2xf64");
    std::string c = x == "3x2x4xf64" ? "2xf64" : "3xf64";
    for (std::string attrs : {"{training, momentum = 0.2 : f64}", "{epsilon = 0.1 : f64}"}) {
      std::string op = "kiln.batch_norm %x, %g, %b, %m, %v " + attrs + " : " + t(x) +
                       ", " + t(c);
      bool training = attrs.find("training") != std::string::npos;
      cases.push_back({"batch_norm x " + x + (training ? " training" : " eval"),
                       fn(args, op, {t(x), t(c), t(c)}), {4}, {1, 2}, {3, 4}});
      if (training)
        cases.push_back({"batch_norm x " + x + " training, running-stat adjoints",
                         fn(args, op, {t(x), t(c), t(c)}), {4}, {}, {3, 4}});
    }
  }
  checkAll("normalization", cases);
}

TEST(Gradient, GeluDropout) {
  std::vector<Case> cases;
  cases.push_back({"gelu none", fn("%x: " + t("2x5xf64"), "kiln.gelu %x : " + t("2x5xf64"),
                                   {t("2x5xf64")})});
  cases.push_back({"gelu tanh",
                   fn("%x: " + t("2x5xf64"),
                      "kiln.gelu %x {approximate = #kiln<gelu_approx tanh>} : " +
                          t("2x5xf64"),
                      {t("2x5xf64")})});
  for (std::string ratio : {"0.3", "0.0"})
    cases.push_back({"dropout ratio = " + ratio,
                     fn("%x: " + t("4x5xf64") + ", %s: " + t("i64") + ", %o: " + t("i64"),
                        "kiln.dropout %x, %s, %o, ratio = " + ratio + " : " + t("4x5xf64"),
                        {t("4x5xf64")})});
  checkAll("gelu/dropout", cases);
}

} // namespace
