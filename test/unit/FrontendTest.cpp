//===- FrontendTest.cpp - Unit tests of the .kiln frontend API ------------===//
//
// The lit tests in test/lit/frontend check the IR and the diagnostics of
// whole models through `kiln`; these check the library entry point itself:
// overrides, the diagnostic format, and robustness on arbitrary bytes.
//
//===----------------------------------------------------------------------===//
#include "frontend/Frontend.h"
#include "ir/Dialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Verifier.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace {

constexpr const char *kMlp = R"(
model mlp(batch = 8, hidden = 16) {
  input x : f32[batch, 4]
  input y : i64[batch]
  block dense(n_in, n_out) {
    param w : f32[n_in, n_out] = kaiming_uniform
    param b : f32[n_out] = zeros
    fn(h) = h @ w + b
  }
  l1 = dense(4, hidden)
  l2 = dense(hidden, 3)
  logits = l2(relu(l1(x)))
  loss = cross_entropy(logits, y)
  output logits
  train minimize loss with adam(lr = 1e-3)
}
)";

struct Result {
  mlir::OwningOpRef<mlir::ModuleOp> module;
  std::string errors;
};

Result import(mlir::MLIRContext &ctx, llvm::StringRef source,
              llvm::ArrayRef<std::pair<std::string, int64_t>> overrides = {}) {
  Result r;
  llvm::raw_string_ostream os(r.errors);
  r.module = kiln::frontend::importModel(source, "m.kiln", ctx, os, overrides);
  return r;
}

mlir::func::FuncOp forward(mlir::ModuleOp module) {
  return module.lookupSymbol<mlir::func::FuncOp>("forward");
}

TEST(Frontend, ImportsModelWithContractAttributes) {
  mlir::MLIRContext ctx;
  Result r = import(ctx, kMlp);
  ASSERT_TRUE(r.module) << r.errors;
  EXPECT_TRUE(r.errors.empty());
  EXPECT_TRUE(mlir::succeeded(mlir::verify(*r.module)));
  auto model = (*r.module)->getAttrOfType<mlir::StringAttr>("kiln.model");
  ASSERT_TRUE(model);
  EXPECT_EQ(model.getValue(), "mlp");
  mlir::func::FuncOp fn = forward(*r.module);
  ASSERT_TRUE(fn);
  // x, y, l1.w, l1.b, l2.w, l2.b.
  ASSERT_EQ(fn.getNumArguments(), 6u);
  const char *names[] = {"x", "y", "l1.w", "l1.b", "l2.w", "l2.b"};
  for (unsigned i = 0; i < 6; ++i) {
    auto name = fn.getArgAttrOfType<mlir::StringAttr>(i, "kiln.name");
    ASSERT_TRUE(name);
    EXPECT_EQ(name.getValue(), names[i]);
    EXPECT_TRUE(fn.getArgAttr(i, "kiln.role"));
    EXPECT_EQ(bool(fn.getArgAttr(i, "kiln.init")), i >= 2);
  }
  // loss first, then logits.
  ASSERT_EQ(fn.getNumResults(), 2u);
  EXPECT_TRUE(fn.getResultAttr(0, "kiln.loss"));
  auto optimizer = fn->getAttrOfType<kiln::OptimizerAttr>("kiln.optimizer");
  ASSERT_TRUE(optimizer);
  kiln::OptimizerConfig config = optimizer.getConfig();
  EXPECT_EQ(config.kind, kiln::OptimizerKind::adam);
  EXPECT_EQ(config.lr, 1e-3);
  EXPECT_EQ(config.beta2, 0.999); // PyTorch's default, not given in the model
  EXPECT_EQ(config.schedule, kiln::LrSchedule::constant);
}

TEST(Frontend, OverridesReplaceModelArguments) {
  mlir::MLIRContext ctx;
  Result r = import(ctx, kMlp, {{"batch", 3}, {"hidden", 5}});
  ASSERT_TRUE(r.module) << r.errors;
  mlir::func::FuncOp fn = forward(*r.module);
  auto x = mlir::cast<mlir::RankedTensorType>(fn.getArgumentTypes()[0]);
  EXPECT_EQ(x.getShape(), llvm::ArrayRef<int64_t>({3, 4}));
  auto w = mlir::cast<mlir::RankedTensorType>(fn.getArgumentTypes()[2]);
  EXPECT_EQ(w.getShape(), llvm::ArrayRef<int64_t>({4, 5}));
}

TEST(Frontend, UnknownOverrideIsAnError) {
  mlir::MLIRContext ctx;
  Result r = import(ctx, kMlp, {{"bacth", 3}});
  EXPECT_FALSE(r.module);
  EXPECT_NE(r.errors.find("no model argument named 'bacth' to override; "
                          "model 'mlp' has: batch, hidden"),
            std::string::npos)
      << r.errors;
}

TEST(Frontend, DiagnosticHasLocationSourceLineAndCaret) {
  mlir::MLIRContext ctx;
  Result r = import(ctx, "model m() {\n  input x : f32[2, 3]\n"
                         "  output y = x @ x\n}\n");
  EXPECT_FALSE(r.module);
  EXPECT_EQ(r.errors,
            "m.kiln:3:14: error: cannot matmul f32[2,3] by f32[2,3]: inner "
            "dimensions 3 and 2 differ\n"
            "  output y = x @ x\n"
            "             ^~~~~\n");
}

TEST(Frontend, ReportsSeveralErrorsWithoutCascades) {
  mlir::MLIRContext ctx;
  Result r = import(ctx, "model m() {\n  input x : f32[2]\n"
                         "  a = nope(x)\n  b = a + 1\n  c = x + undefined\n"
                         "  output x\n}\n");
  EXPECT_FALSE(r.module);
  EXPECT_NE(r.errors.find("m.kiln:3:7: error: unknown name 'nope'"),
            std::string::npos)
      << r.errors;
  EXPECT_NE(r.errors.find("m.kiln:5:11: error: unknown name 'undefined'"),
            std::string::npos)
      << r.errors;
  // `b = a + 1` uses the failed binding `a`: no second message for it.
  EXPECT_EQ(r.errors.find("m.kiln:4:"), std::string::npos) << r.errors;
}

TEST(Frontend, ArbitraryBytesNeverCrash) {
  mlir::MLIRContext ctx;
  std::mt19937_64 rng(42);
  std::string base = kMlp;
  for (int i = 0; i < 2000; ++i) {
    std::string s = base;
    int edits = 1 + int(rng() % 8);
    for (int e = 0; e < edits; ++e) {
      size_t pos = rng() % (s.size() + 1);
      switch (rng() % 4) {
      case 0: s.insert(pos, 1, char(rng() % 256)); break;
      case 1: if (pos < s.size()) s.erase(pos, 1 + rng() % 20); break;
      case 2: s.insert(pos, s.substr(rng() % s.size(), rng() % 40)); break;
      default: if (pos < s.size()) s[pos] = char(rng() % 256); break;
      }
    }
    Result r = import(ctx, s);
    // Either a module that verifies, or at least one diagnostic.
    if (r.module)
      EXPECT_TRUE(mlir::succeeded(mlir::verify(*r.module))) << s;
    else
      EXPECT_FALSE(r.errors.empty()) << s;
  }
  Result nul = import(ctx, llvm::StringRef("model m() {\0}", 13));
  EXPECT_FALSE(nul.module);
  EXPECT_FALSE(nul.errors.empty());
}

} // namespace
