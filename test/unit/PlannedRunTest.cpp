//===- PlannedRunTest.cpp - runPlannedFunction on hand-made plans --------===//
//
// A correct plan reproduces runFunction exactly (in-place reuse included); a
// plan that puts two live values on the same bytes gives a wrong result
// (exactly where the bytes overlap, whatever the element widths); missing or
// inconsistent plan attributes are errors that name the op.
//
//===----------------------------------------------------------------------===//
#include "ir/Dialect.h"
#include "ir/Reference.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

using namespace kiln::ref;

namespace {

/// exp(x) + (-x) over three loop fusions; %c reuses %a's buffer in place.
/// OFFSET_B and OFFSET_C are where %b and %c live in the arena.
std::string program(int offsetB, int offsetC, const char *buffersA = "buffers = [#kiln.buffer<arena, offset = 0, size = 64>]") {
  return std::string(R"(
func.func @f(%x: tensor<4xf32> {kiln.buffer = #kiln.buffer<input, offset = 0, size = 64>},
             %n: tensor<4xi32> {kiln.buffer = #kiln.buffer<input, offset = 64, size = 64>})
    -> (tensor<4xf32>, tensor<4xi32>)
    attributes {kiln.memory_plan = #kiln.memory_plan<arena = 256, lower_bound = 128, persistent = 0, input = 128, alignment = 64>} {
  %a = kiln.fusion loop (%x) {)") + buffersA + R"(} : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%v: tensor<4xf32>):
    %0 = kiln.exp %v : tensor<4xf32>
    kiln.yield %0 : tensor<4xf32>
  }
  %b = kiln.fusion loop (%x) {buffers = [#kiln.buffer<arena, offset = )" +
         std::to_string(offsetB) + R"(, size = 64>]} : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%v: tensor<4xf32>):
    %0 = kiln.neg %v : tensor<4xf32>
    kiln.yield %0 : tensor<4xf32>
  }
  %c = kiln.fusion loop (%a, %b) {buffers = [#kiln.buffer<arena, offset = )" +
         std::to_string(offsetC) + R"(, size = 64>]} : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%u: tensor<4xf32>, %w: tensor<4xf32>):
    %0 = kiln.add %u, %w : tensor<4xf32>
    kiln.yield %0 : tensor<4xf32>
  }
  %m = kiln.fusion loop (%n) {buffers = [#kiln.buffer<arena, offset = 192, size = 64>]} : (tensor<4xi32>) -> tensor<4xi32> {
  ^bb0(%v: tensor<4xi32>):
    %0 = kiln.add %v, %v : tensor<4xi32>
    kiln.yield %0 : tensor<4xi32>
  }
  return %c, %m : tensor<4xf32>, tensor<4xi32>
}
)";
}

class PlannedRunTest : public ::testing::Test {
protected:
  PlannedRunTest() { ctx.loadDialect<kiln::KilnDialect, mlir::func::FuncDialect>(); }

  mlir::func::FuncOp parse(const std::string &text) {
    module = mlir::parseSourceString<mlir::ModuleOp>(text, &ctx);
    EXPECT_TRUE(module) << text;
    return module ? module->lookupSymbol<mlir::func::FuncOp>("f") : mlir::func::FuncOp();
  }

  std::vector<Tensor> args() const {
    return {Tensor::fromDoubles(ElemType::F32, {4}, {0.5, -1.25, 2.0, 0.1}),
            Tensor::fromInts(ElemType::I32, {4}, {1, -2, 3, 40})};
  }

  mlir::MLIRContext ctx;
  mlir::OwningOpRef<mlir::ModuleOp> module;
};

void expectIdentical(const Tensor &a, const Tensor &b) {
  ASSERT_EQ(a.numElements(), b.numElements());
  for (int64_t i = 0; i < a.numElements(); ++i)
    EXPECT_EQ(a.getDouble(i), b.getDouble(i)) << "element " << i;
}

TEST_F(PlannedRunTest, CorrectPlanMatchesRunFunctionExactly) {
  for (Precision p : {Precision::Native, Precision::F64}) {
    // %b at 64; %c in place over %a (which dies at %c).
    mlir::func::FuncOp fn = parse(program(64, 0));
    ASSERT_TRUE(fn);
    RunOptions opts;
    opts.precision = p;
    auto ref = runFunction(fn, args(), opts);
    ASSERT_TRUE(bool(ref)) << llvm::toString(ref.takeError());
    auto planned = runPlannedFunction(fn, args(), opts);
    ASSERT_TRUE(bool(planned)) << llvm::toString(planned.takeError());
    ASSERT_EQ(planned->size(), 2u);
    expectIdentical((*planned)[0], (*ref)[0]);
    expectIdentical((*planned)[1], (*ref)[1]);
  }
}

TEST_F(PlannedRunTest, OverlappingLiveValuesGiveAWrongResult) {
  // %b on %a's bytes while %a is still live: %a is overwritten with -x, so
  // %c = -2x instead of exp(x) - x.
  mlir::func::FuncOp fn = parse(program(0, 0));
  ASSERT_TRUE(fn);
  auto ref = runFunction(fn, args(), RunOptions());
  auto planned = runPlannedFunction(fn, args(), RunOptions());
  ASSERT_TRUE(bool(ref) && bool(planned));
  for (int64_t i = 0; i < 4; ++i) {
    EXPECT_NE((*planned)[0].getDouble(i), (*ref)[0].getDouble(i)) << "element " << i;
    EXPECT_FLOAT_EQ((*planned)[0].getDouble(i), -2 * args()[0].getDouble(i));
  }
}

TEST_F(PlannedRunTest, PartialOverlapCorruptsExactlyTheSharedBytes) {
  // %b 8 bytes into %a: elements 2 and 3 of %a are %b's elements 0 and 1.
  mlir::func::FuncOp fn = parse(program(8, 128));
  ASSERT_TRUE(fn);
  auto planned = runPlannedFunction(fn, args(), RunOptions());
  ASSERT_TRUE(bool(planned)) << llvm::toString(planned.takeError());
  auto ref = runFunction(fn, args(), RunOptions());
  ASSERT_TRUE(bool(ref));
  EXPECT_EQ((*planned)[0].getDouble(0), (*ref)[0].getDouble(0));
  EXPECT_EQ((*planned)[0].getDouble(1), (*ref)[0].getDouble(1));
  EXPECT_NE((*planned)[0].getDouble(2), (*ref)[0].getDouble(2));
}

TEST_F(PlannedRunTest, InPlaceResultSurvivesThePoisoningOfItsOperand) {
  // %c on %b's bytes: %b dies at %c and is poisoned after it, except the
  // bytes %c now owns.
  mlir::func::FuncOp fn = parse(program(64, 64));
  ASSERT_TRUE(fn);
  auto planned = runPlannedFunction(fn, args(), RunOptions());
  auto ref = runFunction(fn, args(), RunOptions());
  ASSERT_TRUE(bool(planned) && bool(ref));
  expectIdentical((*planned)[0], (*ref)[0]);
}

TEST_F(PlannedRunTest, MissingPlanAttributesNameTheOp) {
  mlir::func::FuncOp fn = parse(program(64, 0, "foo = 1"));
  ASSERT_TRUE(fn);
  auto planned = runPlannedFunction(fn, args(), RunOptions());
  ASSERT_FALSE(bool(planned));
  std::string message = llvm::toString(planned.takeError());
  EXPECT_NE(message.find("'kiln.fusion' (top-level op #0) has no buffers"), std::string::npos)
      << message;
}

TEST_F(PlannedRunTest, BufferTooSmallOrOutsideItsRegionIsAnError) {
  mlir::func::FuncOp fn = parse(program(240, 0));
  ASSERT_TRUE(fn);
  auto planned = runPlannedFunction(fn, args(), RunOptions());
  ASSERT_FALSE(bool(planned));
  std::string message = llvm::toString(planned.takeError());
  EXPECT_NE(message.find("leaves the arena region of 256 bytes"), std::string::npos) << message;
}

} // namespace
