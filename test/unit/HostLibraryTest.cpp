//===- HostLibraryTest.cpp - The host library steps against naive formulas ===//
//
// Contract under test: runtime/host/Library.h. Every op x epilogue x dtype
// runs through checkLibraryStep + runLibraryStep and is compared with a
// naive f64 implementation written here from the definitions (conv as its
// sum, its adjoints in gather form, pooling window by window). Gradients
// are also checked by central finite differences of the forward op (f64),
// and the conv adjoints by <conv(x,w), dy> = <x, gi(dy,w)> = <w, gf(x,dy)>.
//
// The f32 and f64 error bound is stated in HostLibraryTestSupport.h:
// |got - ref| <= 8 (terms + 16) eps (mag + |ref| + 1).
//
//===----------------------------------------------------------------------===//
#include "HostLibraryTestSupport.h"

using namespace hostlib_test;

//===----------------------------------------------------------------------===//
// Matmul
//===----------------------------------------------------------------------===//

/// Every epilogue x transpose x dtype on two shapes (one with n > 256 and
/// m not a multiple of 4, so both column tiles and the row remainder run).
TEST(HostLibraryMatmul, EveryEpilogueTransposeAndDtype) {
  std::mt19937 rng(1);
  const int64_t shapes[][3] = {{7, 13, 5}, {37, 300, 19}, {1, 1, 1}};
  for (DType t : {DType::f32, DType::f64})
    for (const auto &sh : shapes)
      for (Epilogue e : kAllEpilogues)
        for (int ta = 0; ta < 2; ++ta)
          for (int tb = 0; tb < 2; ++tb) {
            if (e == Epilogue::bgradb && tb)
              continue;
            const int64_t m = sh[0], n = sh[1], k = sh[2];
            std::string what = std::string("matmul ") + epilogueName(e) +
                               " m=" + std::to_string(m) + " n=" + std::to_string(n) +
                               " k=" + std::to_string(k) + " ta=" + std::to_string(ta) +
                               " tb=" + std::to_string(tb);
            Vec A = randomVec(rng, m * k, t), B = randomVec(rng, k * n, t);
            Vec bias = randomVec(rng, n, t), aux = randomVec(rng, m * n, t);
            Vec mm, mag;
            matmulRef(A, B, 1, m, n, k, ta, tb, mm, mag);
            Vec D(mm.size()), magD = mag;
            for (int64_t i = 0; i < m; ++i)
              for (int64_t j = 0; j < n; ++j) {
                const int64_t q = i * n + j;
                const double v = mm[q];
                switch (e) {
                case Epilogue::none:
                case Epilogue::bgradb:
                  D[q] = v;
                  break;
                case Epilogue::bias:
                  D[q] = v + bias[j];
                  break;
                case Epilogue::relu:
                  D[q] = std::max(v, 0.0);
                  break;
                case Epilogue::bias_relu:
                  D[q] = std::max(v + bias[j], 0.0);
                  break;
                case Epilogue::gelu:
                  D[q] = geluRef(v);
                  break;
                case Epilogue::bias_gelu:
                  D[q] = geluRef(v + bias[j]);
                  break;
                case Epilogue::drelu:
                case Epilogue::drelu_bgrad:
                  D[q] = aux[q] > 0 ? v : 0;
                  break;
                case Epilogue::dgelu:
                case Epilogue::dgelu_bgrad:
                  D[q] = v * geluGradRef(aux[q]);
                  break;
                }
                if (e == Epilogue::bias || e == Epilogue::bias_relu ||
                    e == Epilogue::bias_gelu)
                  magD[q] += std::fabs(bias[j]);
                if (e == Epilogue::dgelu || e == Epilogue::dgelu_bgrad)
                  magD[q] *= 2; // |gelu'| < 1.13
              }
            std::vector<Vec> args{A, B};
            switch (e) {
            case Epilogue::none:
            case Epilogue::relu:
            case Epilogue::gelu:
              args.push_back(filled(m * n));
              break;
            case Epilogue::bias:
            case Epilogue::bias_relu:
            case Epilogue::bias_gelu:
              args.push_back(bias);
              args.push_back(filled(m * n));
              break;
            case Epilogue::drelu:
            case Epilogue::dgelu:
              args.push_back(aux);
              args.push_back(filled(m * n));
              break;
            case Epilogue::drelu_bgrad:
            case Epilogue::dgelu_bgrad:
              args.push_back(aux);
              args.push_back(filled(m * n));
              args.push_back(filled(n));
              break;
            case Epilogue::bgradb:
              args.push_back(filled(m * n));
              args.push_back(filled(n));
              break;
            }
            auto out = run(makeStep(LibraryOp::matmul, t, {1, m, n, k, ta, tb}, e), args);
            const size_t dIndex = (e == Epilogue::none || e == Epilogue::relu ||
                                   e == Epilogue::gelu || e == Epilogue::bgradb)
                                      ? 2
                                      : 3;
            expectClose(out[dIndex], D, magD, double(k), t, what + " D");
            if (e == Epilogue::drelu_bgrad || e == Epilogue::dgelu_bgrad ||
                e == Epilogue::bgradb) {
              // Column sums of D (bgrad) or of B as [k, n] (bgradb).
              Vec db(n, 0), magDb(n, 0);
              const int64_t rows = e == Epilogue::bgradb ? k : m;
              for (int64_t i = 0; i < rows; ++i)
                for (int64_t j = 0; j < n; ++j) {
                  db[j] += e == Epilogue::bgradb ? B[i * n + j] : D[i * n + j];
                  magDb[j] +=
                      e == Epilogue::bgradb ? std::fabs(B[i * n + j]) : magD[i * n + j];
                }
              expectClose(out.back(), db, magDb, double(k + rows), t, what + " dbias");
            }
          }
}

TEST(HostLibraryMatmul, BatchedEveryTransposeAndDtype) {
  std::mt19937 rng(2);
  const int64_t batch = 3, m = 9, n = 6, k = 11;
  for (DType t : {DType::f32, DType::f64})
    for (int ta = 0; ta < 2; ++ta)
      for (int tb = 0; tb < 2; ++tb) {
        Vec A = randomVec(rng, batch * m * k, t), B = randomVec(rng, batch * k * n, t);
        Vec D, mag;
        matmulRef(A, B, batch, m, n, k, ta, tb, D, mag);
        auto out = run(makeStep(LibraryOp::matmul, t, {batch, m, n, k, ta, tb}),
                       {A, B, filled(batch * m * n)});
        expectClose(out[2], D, mag, double(k), t,
                    "batched matmul ta=" + std::to_string(ta) +
                        " tb=" + std::to_string(tb));
      }
}

/// relu keeps NaN; drelu is a select on aux > 0 (NaN aux and an inf product
/// under aux <= 0 both give 0).
TEST(HostLibraryMatmul, NanAndInfSemanticsOfTheEpilogues) {
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = INFINITY;
  // A = I (2x2), so mm = B.
  Vec I{1, 0, 0, 1};
  for (DType t : {DType::f32, DType::f64}) {
    auto relu = run(makeStep(LibraryOp::matmul, t, {1, 2, 2, 2, 0, 0}, Epilogue::relu),
                    {Vec{1, 0, 0, 0}, Vec{nan, -2, 3, 0}, filled(4)});
    EXPECT_TRUE(std::isnan(relu[2][0]));
    EXPECT_EQ(relu[2][1], 0.0);
    // mm = (inf, 5; 0 * inf + 7 = NaN, -1).
    auto drelu = run(makeStep(LibraryOp::matmul, t, {1, 2, 2, 2, 0, 0}, Epilogue::drelu),
                     {I, Vec{inf, 5, 7, -1}, Vec{0, nan, 1, 2}, filled(4)});
    EXPECT_EQ(drelu[3][0], 0.0) << "aux 0 masks inf";
    EXPECT_EQ(drelu[3][1], 0.0) << "aux NaN masks";
    EXPECT_TRUE(std::isnan(drelu[3][2])) << "aux 1 passes NaN";
    EXPECT_EQ(drelu[3][3], -1.0);
  }
}

/// The backward epilogues are the derivatives of the forward ones: dbias of
/// act_bgrad(G, I, aux = pre) equals d/dbias of sum(G * bias_act(A, B, bias)).
TEST(HostLibraryMatmul, BackwardEpiloguesMatchFiniteDifferences) {
  std::mt19937 rng(3);
  const int64_t m = 6, n = 5, k = 4;
  const DType t = DType::f64;
  const std::pair<Epilogue, Epilogue> pairs[] = {
      {Epilogue::bias_relu, Epilogue::drelu_bgrad},
      {Epilogue::bias_gelu, Epilogue::dgelu_bgrad}};
  for (auto [fwd, bwd] : pairs) {
    Vec A = randomVec(rng, m * k, t), B = randomVec(rng, k * n, t),
        bias = randomVec(rng, n, t), G = randomVec(rng, m * n, t);
    auto loss = [&](const Vec &b) {
      auto out = run(makeStep(LibraryOp::matmul, t, {1, m, n, k, 0, 0}, fwd),
                     {A, B, b, filled(m * n)});
      return dot(out[3], G);
    };
    Vec pre = run(makeStep(LibraryOp::matmul, t, {1, m, n, k, 0, 0}, Epilogue::bias),
                  {A, B, bias, filled(m * n)})[3];
    Vec eye(n * n, 0);
    for (int64_t j = 0; j < n; ++j)
      eye[j * n + j] = 1;
    auto grad = run(makeStep(LibraryOp::matmul, t, {1, m, n, n, 0, 0}, bwd),
                    {G, eye, pre, filled(m * n), filled(n)});
    for (int64_t j = 0; j < n; ++j) {
      const double h = 1e-6;
      Vec bp = bias, bm = bias;
      bp[j] += h;
      bm[j] -= h;
      const double fd = (loss(bp) - loss(bm)) / (2 * h);
      EXPECT_NEAR(grad[4][j], fd, 1e-6) << epilogueName(bwd) << " dbias[" << j << "]";
    }
  }
}

/// Few rows and many columns: the threads split the column panels.
TEST(HostLibraryMatmul, SmallMLargeNSplitsColumns) {
  std::mt19937 rng(10);
  const int64_t m = 3, n = 1501, k = 400; // 1.8 M multiply-adds, one row tile
  for (DType t : {DType::f32, DType::f64}) {
    Vec A = randomVec(rng, m * k, t), B = randomVec(rng, k * n, t),
        bias = randomVec(rng, n, t);
    Vec D, mag;
    matmulRef(A, B, 1, m, n, k, false, true, D, mag);
    for (int64_t q = 0; q < m * n; ++q) {
      D[q] = geluRef(D[q] + bias[q % n]);
      mag[q] = 2 * (mag[q] + std::fabs(bias[q % n]));
    }
    auto out =
        run(makeStep(LibraryOp::matmul, t, {1, m, n, k, 0, 1}, Epilogue::bias_gelu),
            {A, B, bias, filled(m * n)});
    expectClose(out[3], D, mag, double(k), t, "matmul bias_gelu m=3 n=1501 k=400 tb=1");
  }
}

/// Rows split across threads give the same bits as rows computed one by
/// one (no sum is split, so the thread count cannot matter).
TEST(HostLibraryMatmul, ParallelRunEqualsRowByRowBitwise) {
  std::mt19937 rng(4);
  const int64_t m = 64, n = 128, k = 160; // 1.3 M multiply-adds: threaded
  for (DType t : {DType::f32, DType::f64}) {
    Vec A = randomVec(rng, m * k, t), B = randomVec(rng, k * n, t);
    auto whole =
        run(makeStep(LibraryOp::matmul, t, {1, m, n, k, 0, 0}), {A, B, filled(m * n)})[2];
    for (int64_t i = 0; i < m; i += 13) {
      Vec row(A.begin() + i * k, A.begin() + (i + 1) * k);
      auto one =
          run(makeStep(LibraryOp::matmul, t, {1, 1, n, k, 0, 0}), {row, B, filled(n)})[2];
      for (int64_t j = 0; j < n; ++j)
        ASSERT_EQ(one[j], whole[i * n + j]) << "row " << i << " col " << j;
    }
  }
}

//===----------------------------------------------------------------------===//
// Convolution
//===----------------------------------------------------------------------===//

namespace {
/// Odd sizes, stride 2, asymmetric padding, dilation 2, groups 2, and two
/// plain shapes.
std::vector<Conv> convCases() {
  return {makeConv(2, 4, 9, 7, 6, 3, 2, 2, 1, 1, 0, 2, 1, 2, 1, 2),
          makeConv(1, 3, 8, 11, 4, 3, 3, 1, 2, 1, 1, 1, 1, 1, 2, 1),
          makeConv(3, 2, 5, 5, 3, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1),
          makeConv(1, 6, 7, 6, 9, 2, 3, 3, 2, 0, 2, 1, 0, 1, 1, 3)};
}
std::string convName(const Conv &s) {
  std::string r = "conv [";
  for (int64_t p : s.params())
    r += std::to_string(p) + " ";
  return r + "]";
}
} // namespace

TEST(HostLibraryConv, ForwardAndAdjointsMatchTheSumDefinition) {
  std::mt19937 rng(5);
  for (DType t : {DType::f32, DType::f64})
    for (const Conv &s : convCases()) {
      Vec x = randomVec(rng, s.xN(), t), w = randomVec(rng, s.wN(), t),
          dy = randomVec(rng, s.yN(), t);
      const double terms = double(s.C / s.G * s.KH * s.KW);
      Vec ref, mag;
      convRef(s, x, w, ref, mag);
      auto y = run(makeStep(LibraryOp::conv2d, t, s.params()), {x, w, filled(s.yN())})[2];
      expectClose(y, ref, mag, terms, t, convName(s) + " forward");
      convGradInputRef(s, dy, w, ref, mag);
      auto dx = run(makeStep(LibraryOp::conv2d_grad_input, t, s.params()),
                    {dy, w, filled(s.xN())})[2];
      expectClose(dx, ref, mag, double(s.O * s.KH * s.KW), t,
                  convName(s) + " grad_input");
      convGradFilterRef(s, x, dy, ref, mag);
      auto dw = run(makeStep(LibraryOp::conv2d_grad_filter, t, s.params()),
                    {x, dy, filled(s.wN())})[2];
      expectClose(dw, ref, mag, double(s.N * s.OH * s.OW), t,
                  convName(s) + " grad_filter");
      // <conv(x, w), dy> = <x, gi(dy, w)> = <w, gf(x, dy)>.
      const double a = dot(y, dy), b = dot(x, dx), c = dot(w, dw);
      double scale = 0;
      for (size_t i = 0; i < mag.size(); ++i)
        scale += mag[i];
      const double tol = 8 * (terms + s.N * s.OH * s.OW + 16) * epsOf(t) * (scale + 1);
      EXPECT_NEAR(a, b, tol) << convName(s) << " <y,dy> vs <x,dx> " << dtypeName(t);
      EXPECT_NEAR(a, c, tol) << convName(s) << " <y,dy> vs <w,dw> " << dtypeName(t);
    }
}

/// Convolutions large enough to use threads: one image (the gemms split
/// their rows) and many image-group pairs (split across pairs).
TEST(HostLibraryConv, ThreadedShapesMatchTheSumDefinition) {
  std::mt19937 rng(11);
  const Conv cases[] = {makeConv(1, 16, 20, 19, 24, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1),
                        makeConv(16, 8, 15, 13, 24, 3, 3, 2, 1, 2, 1, 0, 1, 1, 2, 2)};
  for (DType t : {DType::f32, DType::f64})
    for (const Conv &s : cases) {
      Vec x = randomVec(rng, s.xN(), t), w = randomVec(rng, s.wN(), t),
          dy = randomVec(rng, s.yN(), t);
      Vec ref, mag;
      convRef(s, x, w, ref, mag);
      expectClose(
          run(makeStep(LibraryOp::conv2d, t, s.params()), {x, w, filled(s.yN())})[2], ref,
          mag, double(s.C / s.G * s.KH * s.KW), t, convName(s) + " forward");
      convGradInputRef(s, dy, w, ref, mag);
      expectClose(run(makeStep(LibraryOp::conv2d_grad_input, t, s.params()),
                      {dy, w, filled(s.xN())})[2],
                  ref, mag, double(s.O * s.KH * s.KW), t, convName(s) + " grad_input");
      convGradFilterRef(s, x, dy, ref, mag);
      expectClose(run(makeStep(LibraryOp::conv2d_grad_filter, t, s.params()),
                      {x, dy, filled(s.wN())})[2],
                  ref, mag, double(s.N * s.OH * s.OW), t, convName(s) + " grad_filter");
    }
}

/// grad_input and grad_filter are the derivatives of <conv(x, w), dy>.
TEST(HostLibraryConv, AdjointsMatchFiniteDifferences) {
  std::mt19937 rng(6);
  const DType t = DType::f64;
  for (const Conv &s : convCases()) {
    Vec x = randomVec(rng, s.xN(), t), w = randomVec(rng, s.wN(), t),
        dy = randomVec(rng, s.yN(), t);
    auto loss = [&](const Vec &xv, const Vec &wv) {
      return dot(
          run(makeStep(LibraryOp::conv2d, t, s.params()), {xv, wv, filled(s.yN())})[2],
          dy);
    };
    auto dx = run(makeStep(LibraryOp::conv2d_grad_input, t, s.params()),
                  {dy, w, filled(s.xN())})[2];
    auto dw = run(makeStep(LibraryOp::conv2d_grad_filter, t, s.params()),
                  {x, dy, filled(s.wN())})[2];
    const double h = 0.5; // the loss is linear: central differences are exact
    for (int64_t i = 0; i < s.xN(); i += 7) {
      Vec xp = x, xm = x;
      xp[i] += h;
      xm[i] -= h;
      EXPECT_NEAR(dx[i], (loss(xp, w) - loss(xm, w)) / (2 * h), 1e-10)
          << convName(s) << " dx[" << i << "]";
    }
    for (int64_t i = 0; i < s.wN(); ++i) {
      Vec wp = w, wm = w;
      wp[i] += h;
      wm[i] -= h;
      EXPECT_NEAR(dw[i], (loss(x, wp) - loss(x, wm)) / (2 * h), 1e-10)
          << convName(s) << " dw[" << i << "]";
    }
  }
}

//===----------------------------------------------------------------------===//
// Pooling
//===----------------------------------------------------------------------===//

namespace {
std::vector<Pool> poolCases() {
  std::vector<Pool> r;
  for (bool isMax : {true, false})
    for (bool cip : {false, true}) {
      r.push_back(makePool(2, 3, 9, 7, 3, 2, 2, 1, 1, 0, 2, 1, isMax, cip));
      r.push_back(makePool(1, 2, 8, 8, 2, 2, 2, 2, 0, 0, 0, 0, isMax, cip));
      r.push_back(makePool(1, 1, 5, 6, 3, 3, 1, 2, 2, 2, 2, 2, isMax, cip));
    }
  return r;
}
std::string poolName(const Pool &s) {
  std::string r = "pool [";
  for (int64_t p : s.params())
    r += std::to_string(p) + " ";
  return r + "]";
}
} // namespace

TEST(HostLibraryPool, ForwardAndGradMatchTheWindowDefinition) {
  std::mt19937 rng(7);
  for (DType t : {DType::f32, DType::f64})
    for (const Pool &s : poolCases()) {
      Vec x = randomVec(rng, s.xN(), t), dy = randomVec(rng, s.yN(), t);
      Vec ref, mag;
      poolRef(s, x, ref, mag);
      auto y = run(makeStep(LibraryOp::pool2d, t, s.params()), {x, filled(s.yN())})[1];
      expectClose(y, ref, mag, double(s.KH * s.KW), t, poolName(s) + " forward");
      poolGradRef(s, x, dy, ref, mag);
      auto dx = run(makeStep(LibraryOp::pool2d_grad, t, s.params()),
                    {x, dy, filled(s.xN())})[2];
      expectClose(dx, ref, mag, double(s.KH * s.KW), t, poolName(s) + " grad");
    }
}

TEST(HostLibraryPool, GradMatchesFiniteDifferences) {
  std::mt19937 rng(8);
  const DType t = DType::f64;
  for (const Pool &s : poolCases()) {
    Vec x = randomVec(rng, s.xN(), t), dy = randomVec(rng, s.yN(), t);
    auto loss = [&](const Vec &xv) {
      return dot(run(makeStep(LibraryOp::pool2d, t, s.params()), {xv, filled(s.yN())})[1],
                 dy);
    };
    auto dx =
        run(makeStep(LibraryOp::pool2d_grad, t, s.params()), {x, dy, filled(s.xN())})[2];
    for (int64_t i = 0; i < s.xN(); ++i) {
      const double h = 1e-7; // random values are ~1e-3 apart: no argmax change
      Vec xp = x, xm = x;
      xp[i] += h;
      xm[i] -= h;
      EXPECT_NEAR(dx[i], (loss(xp) - loss(xm)) / (2 * h), 1e-6)
          << poolName(s) << " dx[" << i << "]";
    }
  }
}

/// Ties go to the first element of the window, the first NaN wins, a
/// window of padding only is -inf (max) or NaN (average without
/// count_include_pad), and 1/(win_h*win_w) with it.
TEST(HostLibraryPool, TiesNanAndPaddingOnlyWindows) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (DType t : {DType::f32, DType::f64}) {
    // One 2x2 window over [[3, 3], [1, 3]]: the max is 3, dy goes to (0, 0).
    Pool s = makePool(1, 1, 2, 2, 2, 2, 1, 1, 0, 0, 0, 0, true, false);
    auto out = run(makeStep(LibraryOp::pool2d_grad, t, s.params()),
                   {Vec{3, 3, 1, 3}, Vec{5}, filled(4)});
    EXPECT_EQ(out[2], (Vec{5, 0, 0, 0}));
    out = run(makeStep(LibraryOp::pool2d_grad, t, s.params()),
              {Vec{1, nan, 9, nan}, Vec{5}, filled(4)});
    EXPECT_EQ(out[2], (Vec{0, 5, 0, 0})) << "first NaN";
    auto y = run(makeStep(LibraryOp::pool2d, t, s.params()),
                 {Vec{1, nan, 9, 2}, filled(1)})[1];
    EXPECT_TRUE(std::isnan(y[0]));
    // 1x1 input, window 1, padding 1 all round, stride 2: OH = OW = 2 and
    // the windows start at -1 and 1, both outside the input.
    Pool pad = makePool(1, 1, 1, 1, 1, 1, 2, 2, 1, 1, 1, 1, true, false);
    ASSERT_EQ(pad.OH, 2);
    y = run(makeStep(LibraryOp::pool2d, t, pad.params()), {Vec{4}, filled(4)})[1];
    for (double v : y)
      EXPECT_EQ(v, -INFINITY);
    pad.isMax = false;
    y = run(makeStep(LibraryOp::pool2d, t, pad.params()), {Vec{4}, filled(4)})[1];
    for (double v : y)
      EXPECT_TRUE(std::isnan(v));
    pad.cip = true;
    y = run(makeStep(LibraryOp::pool2d, t, pad.params()), {Vec{4}, filled(4)})[1];
    for (double v : y)
      EXPECT_EQ(v, 0.0);
    // Average with padding: a 2x2 window at the corner of a padded 2x2.
    Pool avg = makePool(1, 1, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, false, true);
    y = run(makeStep(LibraryOp::pool2d, t, avg.params()),
            {Vec{4, 8, 12, 16}, filled(4)})[1];
    EXPECT_EQ(y, (Vec{1, 3, 4, 10}));
    avg.cip = false;
    y = run(makeStep(LibraryOp::pool2d, t, avg.params()),
            {Vec{4, 8, 12, 16}, filled(4)})[1];
    EXPECT_EQ(y, (Vec{4, 6, 8, 10}));
  }
}
