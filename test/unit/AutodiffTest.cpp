//===- AutodiffTest.cpp - --kiln-autodiff on the interpreter --------------===//
//
// What lit cannot show: the train step's numbers. Dropout in @train_step is
// keyed by the step (the same step draws the same mask, another step a
// fresh one), and its gradient is exactly the forward mask scaled by
// 1 / (1 - ratio).
//
//===----------------------------------------------------------------------===//
#include "ir/Dialect.h"
#include "ir/Reference.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"

#include <gtest/gtest.h>

using namespace mlir;
using namespace kiln::ref;

namespace {

constexpr const char *kDropoutModel = R"mlir(
func.func @forward(%w: tensor<4096xf32> {kiln.name = "w", kiln.role = #kiln<role param>, kiln.init = #kiln<init ones>})
    -> (tensor<f32> {kiln.name = "loss", kiln.loss}) {
  %seed = kiln.constant dense<11> : tensor<i64>
  %site = kiln.constant dense<2> : tensor<i64>
  %0 = kiln.dropout %w, %seed, %site, ratio = 2.500000e-01 : tensor<4096xf32>
  %1 = kiln.mul %0, %0 : tensor<4096xf32>
  %2 = kiln.reduce sum %1, dims = [0] : tensor<4096xf32>
  return %2 : tensor<f32>
}
)mlir";

struct Step {
  double loss;
  std::vector<double> grad;
};

class AutodiffTest : public ::testing::Test {
protected:
  void SetUp() override {
    ctx.loadDialect<kiln::KilnDialect, func::FuncDialect>();
    module = parseSourceString<ModuleOp>(kDropoutModel, &ctx);
    ASSERT_TRUE(module);
    PassManager pm(&ctx);
    pm.addPass(kiln::createKilnAutodiff());
    ASSERT_TRUE(succeeded(pm.run(*module)));
    step = module->lookupSymbol<func::FuncOp>("train_step");
    ASSERT_TRUE(step);
  }

  Step run(int64_t stepIndex) {
    std::vector<Tensor> args = {
        Tensor::fromDoubles(ElemType::F32, {4096}, std::vector<double>(4096, 1.0)),
        Tensor::fromInts(ElemType::I64, {}, {stepIndex})};
    RunOptions opts;
    opts.precision = Precision::F64;
    auto results = runFunction(step, args, opts);
    EXPECT_TRUE(bool(results)) << llvm::toString(results.takeError());
    return {(*results)[0].getDouble(0), (*results)[1].floats()};
  }

  MLIRContext ctx;
  OwningOpRef<ModuleOp> module;
  func::FuncOp step;
};

TEST_F(AutodiffTest, DropoutMaskIsKeyedByStep) {
  Step a = run(0), again = run(0), b = run(1);
  EXPECT_EQ(a.grad, again.grad) << "the same step must draw the same mask";
  int64_t differ = 0, kept = 0;
  for (size_t i = 0; i < a.grad.size(); ++i) {
    differ += (a.grad[i] != 0) != (b.grad[i] != 0);
    kept += a.grad[i] != 0;
  }
  // Independent masks with keep probability 0.75 differ in 2 * 0.75 * 0.25
  // of the elements (37.5%); the same mask would differ in none.
  EXPECT_GT(differ, 4096 * 0.30);
  EXPECT_NEAR(double(kept) / 4096, 0.75, 0.03);
}

TEST_F(AutodiffTest, DropoutGradientIsTheScaledMask) {
  // loss = sum((m * w / 0.75)^2) with m in {0, 1}: d/dw = 2 * m / 0.75^2 at w = 1.
  Step s = run(3);
  double keptLoss = 0;
  for (double g : s.grad) {
    ASSERT_TRUE(g == 0 || std::abs(g - 2 / (0.75 * 0.75)) < 1e-12) << g;
    keptLoss += g != 0 ? 1 / (0.75 * 0.75) : 0;
  }
  EXPECT_NEAR(s.loss, keptLoss, 1e-9);
}

} // namespace
