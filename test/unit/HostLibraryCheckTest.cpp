//===- HostLibraryCheckTest.cpp - checkLibraryStep messages; speed --------===//
//
// Contract under test: checkLibraryStep (runtime/host/Library.h) accepts
// well-formed steps and rejects each malformed one with a message naming the
// op, the param or arg, and the values (checked by substring). Also prints
// GFLOP/s of a 256^3 f32 matmul and an 8x16x32x32 * 32x16x3x3 conv and its
// adjoints (not asserted: the machine is shared).
//
//===----------------------------------------------------------------------===//
#include "HostLibraryTestSupport.h"

#include <chrono>
#include <cstdio>

using namespace hostlib_test;

//===----------------------------------------------------------------------===//
// checkLibraryStep
//===----------------------------------------------------------------------===//

namespace {
/// The exact byte sizes of a step's args, from the shapes the test knows.
struct CheckCase {
  LibraryStep step;
  std::vector<uint64_t> bytes;
};

CheckCase matmulCase(Epilogue e, int64_t m = 7, int64_t n = 3, int64_t k = 5) {
  CheckCase c{makeStep(LibraryOp::matmul, DType::f32, {1, m, n, k, 0, 0}, e), {}};
  const uint64_t A = 4 * m * k, B = 4 * k * n, D = 4 * m * n, v = 4 * n;
  switch (c.step.args.size()) {
  case 3:
    c.bytes = {A, B, D};
    break;
  case 4:
    c.bytes = e == Epilogue::bgradb ? std::vector<uint64_t>{A, B, D, v}
              : (e == Epilogue::drelu || e == Epilogue::dgelu)
                  ? std::vector<uint64_t>{A, B, D, D}
                  : std::vector<uint64_t>{A, B, v, D};
    break;
  default:
    c.bytes = {A, B, D, D, v};
    break;
  }
  return c;
}

const Conv kCheckConv = makeConv(2, 4, 9, 7, 6, 3, 2, 2, 1, 1, 0, 2, 1, 2, 1, 2);
const Pool kCheckPool = makePool(2, 3, 9, 7, 3, 2, 2, 1, 1, 0, 2, 1, true, false);

CheckCase convCase(LibraryOp op) {
  const Conv &s = kCheckConv;
  CheckCase c{makeStep(op, DType::f64, s.params()), {}};
  const uint64_t x = 8 * s.xN(), w = 8 * s.wN(), y = 8 * s.yN();
  c.bytes = op == LibraryOp::conv2d              ? std::vector<uint64_t>{x, w, y}
            : op == LibraryOp::conv2d_grad_input ? std::vector<uint64_t>{y, w, x}
                                                 : std::vector<uint64_t>{x, y, w};
  return c;
}

CheckCase poolCase(LibraryOp op) {
  const Pool &s = kCheckPool;
  CheckCase c{makeStep(op, DType::f32, s.params()), {}};
  c.bytes = op == LibraryOp::pool2d
                ? std::vector<uint64_t>{4ull * s.xN(), 4ull * s.yN()}
                : std::vector<uint64_t>{4ull * s.xN(), 4ull * s.yN(), 4ull * s.xN()};
  return c;
}

std::string checkMessage(const CheckCase &c) {
  Status s = checkLibraryStep(c.step, c.bytes.data(), c.bytes.size());
  if (s.isOk())
    return "ok";
  EXPECT_EQ(s.code(), Code::invalid_argument) << s.message();
  return s.message();
}
} // namespace

/// A missing size array is an error, not a crash.
TEST(HostLibraryCheck, NullSizeArray) {
  CheckCase c = matmulCase(Epilogue::none);
  Status st = checkLibraryStep(c.step, nullptr, 3);
  EXPECT_NE(st.message().find(
                "matmul (epilogue none): 3 arg sizes announced, but no size array"),
            std::string::npos)
      << st.message();
}

/// runLibraryStep without a prior check still refuses a step whose params
/// it would index past, and a dtype it cannot run.
TEST(HostLibraryCheck, RunRefusesWrongParamCountAndDtype) {
  float buf[64] = {};
  void *ptrs[5] = {buf, buf, buf, buf, buf};
  LibraryStep s = makeStep(LibraryOp::conv2d, DType::f32, {1, 2, 3});
  Status st = runLibraryStep(s, ptrs);
  EXPECT_EQ(st.code(), Code::invalid_argument);
  EXPECT_NE(st.message().find("conv2d: 3 params, expected 18"), std::string::npos)
      << st.message();
  s = makeStep(LibraryOp::matmul, DType::i64, {1, 2, 2, 2, 0, 0});
  st = runLibraryStep(s, ptrs);
  EXPECT_EQ(st.code(), Code::unsupported);
  EXPECT_NE(st.message().find("matmul: dtype i64 is not f32 or f64"), std::string::npos)
      << st.message();
}

TEST(HostLibraryCheck, WellFormedStepsPass) {
  for (Epilogue e : kAllEpilogues)
    EXPECT_EQ(checkMessage(matmulCase(e)), "ok") << epilogueName(e);
  for (LibraryOp op :
       {LibraryOp::conv2d, LibraryOp::conv2d_grad_input, LibraryOp::conv2d_grad_filter})
    EXPECT_EQ(checkMessage(convCase(op)), "ok") << libraryOpName(op);
  for (LibraryOp op : {LibraryOp::pool2d, LibraryOp::pool2d_grad})
    EXPECT_EQ(checkMessage(poolCase(op)), "ok") << libraryOpName(op);
  // A planned size rounded up to the alignment is fine.
  CheckCase c = matmulCase(Epilogue::none);
  c.bytes[2] += 60;
  EXPECT_EQ(checkMessage(c), "ok");
}

TEST(HostLibraryCheck, EveryErrorNamesOpFieldAndValues) {
  struct Expect {
    CheckCase c;
    std::string substring;
  };
  std::vector<Expect> cases;
  auto add = [&](CheckCase c, auto mutate, std::string sub) {
    mutate(c);
    cases.push_back({std::move(c), std::move(sub)});
  };
  using C = CheckCase &;
  const auto none = matmulCase(Epilogue::none);
  add(
      none, [](C c) { c.step.op = static_cast<LibraryOp>(99); },
      "library step: unknown op 99");
  add(
      none, [](C c) { c.step.epilogue = static_cast<Epilogue>(42); },
      "matmul: unknown epilogue 42");
  add(
      none, [](C c) { c.step.params.pop_back(); },
      "matmul (epilogue none): 5 params, expected 6");
  add(
      none, [](C c) { c.step.dtype = DType::i32; },
      "matmul (epilogue none): dtype i32, must be f32 or f64");
  add(
      none, [](C c) { c.step.args.push_back(3); },
      "matmul (epilogue none): 4 args in the step, expected 3");
  add(
      none, [](C c) { c.bytes.pop_back(); },
      "matmul (epilogue none): 2 arg sizes given, expected 3");
  add(
      none, [](C c) { c.step.params[1] = 0; }, "param 1 (m) is 0, must be >= 1");
  add(
      none, [](C c) { c.step.params[3] = -2; }, "param 3 (k) is -2, must be >= 1");
  add(
      none, [](C c) { c.step.params[4] = 2; },
      "param 4 (transpose_a) is 2, must be 0 or 1");
  add(
      none, [](C c) { c.step.params[5] = -1; },
      "param 5 (transpose_b) is -1, must be 0 or 1");
  add(
      none, [](C c) { c.bytes[0] = 100; },
      "matmul (epilogue none): arg 0 (A) has 100 bytes, but its shape [1, 7, 5] of f32 "
      "needs 140");
  add(
      none,
      [](C c) {
        c.step.params[4] = 1;
        c.bytes[0] = 100;
      },
      "arg 0 (A) has 100 bytes, but its shape [1, 5, 7]");
  add(
      none, [](C c) { c.bytes[1] = 8; },
      "arg 1 (B) has 8 bytes, but its shape [1, 5, 3] of f32 needs 60");
  add(
      none, [](C c) { c.bytes[2] = 80; },
      "arg 2 (D) has 80 bytes, but its shape [1, 7, 3] of f32 needs 84");
  add(
      none,
      [](C c) {
        c.step.params[1] = int64_t(1) << 40;
        c.step.params[3] = int64_t(1) << 40;
      },
      "arg 0 (A) of shape [1, 1099511627776, 1099511627776] has more than 2^50 elements");
  add(
      matmulCase(Epilogue::bias), [](C c) { c.step.params[0] = 2; },
      "matmul (epilogue bias): param 0 (batch) is 2, but an epilogue needs batch 1");
  add(
      matmulCase(Epilogue::bias), [](C c) { c.bytes[2] = 8; },
      "matmul (epilogue bias): arg 2 (bias) has 8 bytes, but its shape [3] of f32 needs "
      "12");
  add(
      matmulCase(Epilogue::bias), [](C c) { c.step.args.pop_back(); },
      "matmul (epilogue bias): 3 args in the step, expected 4");
  add(
      matmulCase(Epilogue::drelu), [](C c) { c.bytes[2] = 4; },
      "matmul (epilogue drelu): arg 2 (aux) has 4 bytes, but its shape [7, 3] of f32 "
      "needs 84");
  add(
      matmulCase(Epilogue::dgelu_bgrad), [](C c) { c.bytes[4] = 4; },
      "matmul (epilogue dgelu_bgrad): arg 4 (dbias) has 4 bytes, but its shape [3] of "
      "f32 needs 12");
  add(
      matmulCase(Epilogue::drelu_bgrad),
      [](C c) {
        c.step.args.pop_back();
        c.bytes.pop_back();
      },
      "matmul (epilogue drelu_bgrad): 4 args in the step, expected 5");
  add(
      matmulCase(Epilogue::bgradb), [](C c) { c.step.params[5] = 1; },
      "matmul (epilogue bgradb): param 5 (transpose_b) is 1, but bgradb sums the rows of "
      "B as [k, n]");
  add(
      matmulCase(Epilogue::bgradb), [](C c) { c.bytes[3] = 0; },
      "matmul (epilogue bgradb): arg 3 (dbias) has 0 bytes");

  const auto conv = convCase(LibraryOp::conv2d);
  add(
      conv, [](C c) { c.step.epilogue = Epilogue::relu; },
      "conv2d: epilogue relu given, but only matmul takes an epilogue");
  add(
      conv, [](C c) { c.step.params.push_back(1); }, "conv2d: 19 params, expected 18");
  add(
      conv, [](C c) { c.step.params[17] = 3; },
      "conv2d: param 17 (groups) is 3, which does not divide C=4");
  add(
      conv, [](C c) { c.step.params[17] = 4; },
      "conv2d: param 17 (groups) is 4, which does not divide O=6");
  add(
      conv, [](C c) { c.step.params[7] = 5; },
      "conv2d: param 7 (OH) is 5, but H=9, padding 1+2, window extent 5 (KH=3, dil_h=2), "
      "stride 2 give "
      "4");
  add(
      conv, [](C c) { c.step.params[8] = 6; },
      "conv2d: param 8 (OW) is 6, but W=7, padding 0+1, window extent 2 (KW=2, dil_w=1), "
      "stride 1 give "
      "7");
  add(
      conv, [](C c) { c.step.params[5] = 9; },
      "conv2d: window extent 17 (KH=9, dil_h=2) exceeds the padded H 12 (H=9 + padding "
      "1+2)");
  add(
      conv, [](C c) { c.step.params[11] = -1; },
      "conv2d: param 11 (pad_top) is -1, must be >= 0");
  add(
      conv, [](C c) { c.step.params[15] = 0; },
      "conv2d: param 15 (dil_h) is 0, must be >= 1");
  add(
      conv, [](C c) { c.step.params[10] = 0; },
      "conv2d: param 10 (stride_w) is 0, must be >= 1");
  add(
      conv, [](C c) { c.step.params[0] = 0; }, "conv2d: param 0 (N) is 0, must be >= 1");
  add(
      conv, [](C c) { c.step.dtype = DType::f16; },
      "conv2d: dtype f16, must be f32 or f64");
  add(
      conv, [](C c) { c.bytes[0] = 8; },
      "conv2d: arg 0 (x) has 8 bytes, but its shape [2, 4, 9, 7] of f64 needs 4032");
  add(
      conv, [](C c) { c.bytes[1] = 8; },
      "conv2d: arg 1 (w) has 8 bytes, but its shape [6, 2, 3, 2] of f64 needs 576");
  add(
      conv, [](C c) { c.bytes[2] = 8; },
      "conv2d: arg 2 (y) has 8 bytes, but its shape [2, 6, 4, 7] of f64 needs 2688");
  add(
      convCase(LibraryOp::conv2d_grad_input), [](C c) { c.bytes[0] = 8; },
      "conv2d_grad_input: arg 0 (dy) has 8 bytes, but its shape [2, 6, 4, 7]");
  add(
      convCase(LibraryOp::conv2d_grad_input), [](C c) { c.bytes[2] = 8; },
      "conv2d_grad_input: arg 2 (dx) has 8 bytes, but its shape [2, 4, 9, 7]");
  add(
      convCase(LibraryOp::conv2d_grad_filter), [](C c) { c.bytes[1] = 8; },
      "conv2d_grad_filter: arg 1 (dy) has 8 bytes");
  add(
      convCase(LibraryOp::conv2d_grad_filter), [](C c) { c.bytes[2] = 8; },
      "conv2d_grad_filter: arg 2 (dw) has 8 bytes, but its shape [6, 2, 3, 2]");
  add(
      convCase(LibraryOp::conv2d_grad_filter), [](C c) { c.step.args.pop_back(); },
      "conv2d_grad_filter: 2 args in the step, expected 3");

  const auto pool = poolCase(LibraryOp::pool2d);
  add(
      pool, [](C c) { c.step.params.pop_back(); }, "pool2d: 15 params, expected 16");
  add(
      pool, [](C c) { c.step.args.push_back(2); },
      "pool2d: 3 args in the step, expected 2");
  add(
      pool, [](C c) { c.step.params[14] = 3; },
      "pool2d: param 14 (is_max) is 3, must be 0 or 1");
  add(
      pool, [](C c) { c.step.params[15] = 2; },
      "pool2d: param 15 (count_include_pad) is 2, must be 0 or 1");
  add(
      pool, [](C c) { c.step.params[6] = 0; },
      "pool2d: param 6 (win_h) is 0, must be >= 1");
  add(
      pool, [](C c) { c.step.params[13] = -3; },
      "pool2d: param 13 (pad_right) is -3, must be >= 0");
  add(
      pool, [](C c) { c.step.params[4] = 1; },
      "pool2d: param 4 (OH) is 1, but H=9, padding 1+2, window extent 3 (win_h=3), "
      "stride 2 give "
      "5");
  add(
      pool, [](C c) { c.step.params[5] = 1; },
      "pool2d: param 5 (OW) is 1, but W=7, padding 0+1, window extent 2 (win_w=2), "
      "stride 1 give "
      "7");
  add(
      pool, [](C c) { c.step.params[7] = 20; },
      "pool2d: window extent 20 (win_w=20) exceeds the padded W 8");
  add(
      pool, [](C c) { c.step.params[2] = int64_t(1) << 60; },
      "pool2d: param 2 (H) is 1152921504606846976, above 2^50");
  add(
      pool, [](C c) { c.bytes[1] = 4; },
      "pool2d: arg 1 (y) has 4 bytes, but its shape [2, 3, 5, 7] of f32 needs 840");
  add(
      poolCase(LibraryOp::pool2d_grad), [](C c) { c.bytes[1] = 4; },
      "pool2d_grad: arg 1 (dy) has 4 bytes");
  add(
      poolCase(LibraryOp::pool2d_grad), [](C c) { c.bytes[2] = 4; },
      "pool2d_grad: arg 2 (dx) has 4 bytes, but its shape [2, 3, 9, 7] of f32 needs "
      "1512");
  add(
      poolCase(LibraryOp::pool2d_grad), [](C c) { c.step.epilogue = Epilogue::bias; },
      "pool2d_grad: epilogue bias given, but only matmul takes an epilogue");

  for (const Expect &e : cases) {
    const std::string msg = checkMessage(e.c);
    EXPECT_NE(msg.find(e.substring), std::string::npos)
        << "expected \"" << e.substring << "\" in \"" << msg << "\"";
  }
}

//===----------------------------------------------------------------------===//
// Speed (printed, not asserted)
//===----------------------------------------------------------------------===//

namespace {
/// Best of `reps` wall times of `s` on `args`, seconds.
double timeStep(const LibraryStep &s, std::vector<Vec> args, int reps) {
  std::vector<std::vector<unsigned char>> bytes;
  std::vector<void *> ptrs;
  for (const Vec &a : args)
    bytes.push_back(toBytes(s.dtype, a));
  for (auto &b : bytes)
    ptrs.push_back(b.data());
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_TRUE(runLibraryStep(s, ptrs.data()).isOk());
    best = std::min(
        best,
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}
} // namespace

TEST(HostLibrarySpeed, MatmulAndConvGflops) {
  std::mt19937 rng(9);
  const DType t = DType::f32;
  const int64_t n = 256;
  const double mmTime =
      timeStep(makeStep(LibraryOp::matmul, t, {1, n, n, n, 0, 0}),
               {randomVec(rng, n * n, t), randomVec(rng, n * n, t), filled(n * n)}, 5);
  std::printf("[ speed    ] matmul 256x256x256 f32: %.2f GFLOP/s (%.2f ms)\n",
              2.0 * n * n * n / mmTime * 1e-9, mmTime * 1e3);
  const double mmTTime =
      timeStep(makeStep(LibraryOp::matmul, t, {1, n, n, n, 1, 1}),
               {randomVec(rng, n * n, t), randomVec(rng, n * n, t), filled(n * n)}, 5);
  std::printf("[ speed    ] matmul 256x256x256 f32 (A^T B^T): %.2f GFLOP/s\n",
              2.0 * n * n * n / mmTTime * 1e-9);
  const Conv s = makeConv(8, 16, 32, 32, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1);
  const double flops = 2.0 * s.yN() * s.C * s.KH * s.KW;
  const double convTime =
      timeStep(makeStep(LibraryOp::conv2d, t, s.params()),
               {randomVec(rng, s.xN(), t), randomVec(rng, s.wN(), t), filled(s.yN())}, 3);
  const double giTime =
      timeStep(makeStep(LibraryOp::conv2d_grad_input, t, s.params()),
               {randomVec(rng, s.yN(), t), randomVec(rng, s.wN(), t), filled(s.xN())}, 3);
  const double gfTime =
      timeStep(makeStep(LibraryOp::conv2d_grad_filter, t, s.params()),
               {randomVec(rng, s.xN(), t), randomVec(rng, s.yN(), t), filled(s.wN())}, 3);
  std::printf("[ speed    ] conv 8x16x32x32 * 32x16x3x3 (pad 1) f32: forward %.2f, "
              "grad_input %.2f, grad_filter %.2f GFLOP/s\n",
              flops / convTime * 1e-9, flops / giTime * 1e-9, flops / gfTime * 1e-9);
}
