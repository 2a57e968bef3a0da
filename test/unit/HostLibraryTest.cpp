//===- HostLibraryTest.cpp - The host library steps against naive formulas ===//
//
// Contract under test: runtime/host/Library.h. Every op x epilogue x dtype
// runs through checkLibraryStep + runLibraryStep and is compared with a
// naive f64 implementation written here from the definitions (conv as its
// sum, its adjoints in gather form, pooling window by window). Gradients
// are also checked by central finite differences of the forward op (f64),
// and the conv adjoints by <conv(x,w), dy> = <x, gi(dy,w)> = <w, gf(x,dy)>.
//
// Error bound: with eps = 2^-24 (f32) or 2^-53 (f64), `terms` the number
// of products summed into an element and `mag` the sum of their absolute
// values, |got - ref| <= 8 (terms + 16) eps (mag + |ref| + 1). Inputs are
// uniform in [-1, 1] and rounded to the step's dtype before the f64
// reference sees them.
//
//===----------------------------------------------------------------------===//
#include "runtime/host/Library.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

using namespace kiln::rt;
using kiln::rt::host::checkLibraryStep;
using kiln::rt::host::runLibraryStep;

namespace {

using Vec = std::vector<double>;

const Epilogue kAllEpilogues[] = {
    Epilogue::none,  Epilogue::bias,        Epilogue::relu,   Epilogue::bias_relu,
    Epilogue::gelu,  Epilogue::bias_gelu,   Epilogue::drelu,  Epilogue::drelu_bgrad,
    Epilogue::bgradb, Epilogue::dgelu,      Epilogue::dgelu_bgrad};

double epsOf(DType t) { return t == DType::f32 ? std::ldexp(1.0, -24) : std::ldexp(1.0, -53); }

Vec roundTo(DType t, Vec v) {
  if (t == DType::f32)
    for (double &x : v)
      x = static_cast<float>(x);
  return v;
}

Vec randomVec(std::mt19937 &rng, int64_t n, DType t, double lo = -1, double hi = 1) {
  std::uniform_real_distribution<double> d(lo, hi);
  Vec v(static_cast<size_t>(n));
  for (double &x : v)
    x = d(rng);
  return roundTo(t, v);
}

/// The bytes of `v` in dtype `t`.
std::vector<unsigned char> toBytes(DType t, const Vec &v) {
  std::vector<unsigned char> b(v.size() * dtypeBytes(t));
  for (size_t i = 0; i < v.size(); ++i) {
    if (t == DType::f32) {
      float f = static_cast<float>(v[i]);
      std::memcpy(b.data() + 4 * i, &f, 4);
    } else {
      std::memcpy(b.data() + 8 * i, &v[i], 8);
    }
  }
  return b;
}

Vec fromBytes(DType t, const std::vector<unsigned char> &b) {
  Vec v(b.size() / dtypeBytes(t));
  for (size_t i = 0; i < v.size(); ++i) {
    if (t == DType::f32) {
      float f;
      std::memcpy(&f, b.data() + 4 * i, 4);
      v[i] = f;
    } else {
      std::memcpy(&v[i], b.data() + 8 * i, 8);
    }
  }
  return v;
}

/// Checks and runs `s` on `args` (outputs included, prefilled with
/// garbage to catch `+=`); returns every arg after the run.
std::vector<Vec> run(const LibraryStep &s, std::vector<Vec> args) {
  std::vector<std::vector<unsigned char>> bytes;
  std::vector<uint64_t> sizes;
  std::vector<void *> ptrs;
  for (const Vec &a : args)
    bytes.push_back(toBytes(s.dtype, a));
  for (auto &b : bytes) {
    sizes.push_back(b.size());
    ptrs.push_back(b.data());
  }
  Status st = checkLibraryStep(s, sizes.data(), sizes.size());
  EXPECT_TRUE(st.isOk()) << st.message();
  if (!st.isOk())
    return args;
  st = runLibraryStep(s, ptrs.data());
  EXPECT_TRUE(st.isOk()) << st.message();
  std::vector<Vec> out;
  for (auto &b : bytes)
    out.push_back(fromBytes(s.dtype, b));
  return out;
}

LibraryStep makeStep(LibraryOp op, DType t, std::vector<int64_t> params,
                     Epilogue e = Epilogue::none) {
  LibraryStep s;
  s.op = op;
  s.dtype = t;
  s.epilogue = e;
  s.params = std::move(params);
  size_t n = 3;
  if (op == LibraryOp::matmul) {
    n = (e == Epilogue::none || e == Epilogue::relu || e == Epilogue::gelu) ? 3
        : (e == Epilogue::drelu_bgrad || e == Epilogue::dgelu_bgrad)       ? 5
                                                                           : 4;
  } else if (op == LibraryOp::pool2d) {
    n = 2;
  }
  for (uint32_t i = 0; i < n; ++i)
    s.args.push_back(i);
  return s;
}

/// Expects |got - ref| within the file's bound.
void expectClose(const Vec &got, const Vec &ref, const Vec &mag, double terms, DType t,
                 const std::string &what) {
  ASSERT_EQ(got.size(), ref.size()) << what;
  int bad = 0;
  for (size_t i = 0; i < ref.size() && bad < 5; ++i) {
    const double bound = 8 * (terms + 16) * epsOf(t) * (mag[i] + std::fabs(ref[i]) + 1);
    if (!(std::fabs(got[i] - ref[i]) <= bound)) {
      ++bad;
      ADD_FAILURE() << what << " [" << dtypeName(t) << "] element " << i << ": got " << got[i]
                    << ", expected " << ref[i] << " (bound " << bound << ")";
    }
  }
}

//===----------------------------------------------------------------------===//
// Naive references (f64)
//===----------------------------------------------------------------------===//

double geluRef(double v) {
  return 0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
}
double geluGradRef(double v) {
  const double k = std::sqrt(2 / M_PI), t = std::tanh(k * (v + 0.044715 * v * v * v));
  return 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * k * (1 + 3 * 0.044715 * v * v);
}

/// op(A) op(B) per batch, and the sums of |terms|.
void matmulRef(const Vec &A, const Vec &B, int64_t batch, int64_t m, int64_t n, int64_t k,
               bool ta, bool tb, Vec &D, Vec &mag) {
  D.assign(batch * m * n, 0);
  mag.assign(batch * m * n, 0);
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j)
        for (int64_t p = 0; p < k; ++p) {
          const double a = ta ? A[(b * k + p) * m + i] : A[(b * m + i) * k + p];
          const double bb = tb ? B[(b * n + j) * k + p] : B[(b * k + p) * n + j];
          D[(b * m + i) * n + j] += a * bb;
          mag[(b * m + i) * n + j] += std::fabs(a * bb);
        }
}

struct Conv {
  int64_t N, C, H, W, O, KH, KW, OH, OW, sh, sw, top, left, bottom, right, dh, dw, G;
  std::vector<int64_t> params() const {
    return {N, C, H, W, O, KH, KW, OH, OW, sh, sw, top, left, bottom, right, dh, dw, G};
  }
  int64_t xN() const { return N * C * H * W; }
  int64_t wN() const { return O * (C / G) * KH * KW; }
  int64_t yN() const { return N * O * OH * OW; }
};

/// Builds a Conv with OH/OW from the output size formula.
Conv makeConv(int64_t N, int64_t C, int64_t H, int64_t W, int64_t O, int64_t KH, int64_t KW,
              int64_t sh, int64_t sw, int64_t top, int64_t left, int64_t bottom,
              int64_t right, int64_t dh, int64_t dw, int64_t G) {
  const int64_t OH = (H + top + bottom - dh * (KH - 1) - 1) / sh + 1;
  const int64_t OW = (W + left + right - dw * (KW - 1) - 1) / sw + 1;
  return {N, C, H, W, O, KH, KW, OH, OW, sh, sw, top, left, bottom, right, dh, dw, G};
}

/// y = sum_{c, kh, kw} x(padded) * w, straight from the definition.
void convRef(const Conv &s, const Vec &x, const Vec &w, Vec &y, Vec &mag) {
  const int64_t CG = s.C / s.G, OG = s.O / s.G;
  y.assign(s.yN(), 0);
  mag.assign(s.yN(), 0);
  for (int64_t n = 0; n < s.N; ++n)
    for (int64_t o = 0; o < s.O; ++o)
      for (int64_t oh = 0; oh < s.OH; ++oh)
        for (int64_t ow = 0; ow < s.OW; ++ow)
          for (int64_t c = 0; c < CG; ++c)
            for (int64_t kh = 0; kh < s.KH; ++kh)
              for (int64_t kw = 0; kw < s.KW; ++kw) {
                const int64_t ih = oh * s.sh + kh * s.dh - s.top;
                const int64_t iw = ow * s.sw + kw * s.dw - s.left;
                if (ih < 0 || ih >= s.H || iw < 0 || iw >= s.W)
                  continue; // zero padding
                const int64_t ci = (o / OG) * CG + c;
                const double t = x[((n * s.C + ci) * s.H + ih) * s.W + iw] *
                                 w[((o * CG + c) * s.KH + kh) * s.KW + kw];
                y[((n * s.O + o) * s.OH + oh) * s.OW + ow] += t;
                mag[((n * s.O + o) * s.OH + oh) * s.OW + ow] += std::fabs(t);
              }
}

/// dx[n, ci, ih, iw] = sum over the outputs that read it (gather form).
void convGradInputRef(const Conv &s, const Vec &dy, const Vec &w, Vec &dx, Vec &mag) {
  const int64_t CG = s.C / s.G, OG = s.O / s.G;
  dx.assign(s.xN(), 0);
  mag.assign(s.xN(), 0);
  for (int64_t n = 0; n < s.N; ++n)
    for (int64_t ci = 0; ci < s.C; ++ci)
      for (int64_t ih = 0; ih < s.H; ++ih)
        for (int64_t iw = 0; iw < s.W; ++iw) {
          const int64_t g = ci / CG, c = ci % CG;
          double acc = 0, m = 0;
          for (int64_t o = g * OG; o < (g + 1) * OG; ++o)
            for (int64_t kh = 0; kh < s.KH; ++kh)
              for (int64_t kw = 0; kw < s.KW; ++kw) {
                const int64_t th = ih + s.top - kh * s.dh, tw = iw + s.left - kw * s.dw;
                if (th < 0 || tw < 0 || th % s.sh || tw % s.sw || th / s.sh >= s.OH ||
                    tw / s.sw >= s.OW)
                  continue;
                const double t = dy[((n * s.O + o) * s.OH + th / s.sh) * s.OW + tw / s.sw] *
                                 w[((o * CG + c) * s.KH + kh) * s.KW + kw];
                acc += t;
                m += std::fabs(t);
              }
          dx[((n * s.C + ci) * s.H + ih) * s.W + iw] = acc;
          mag[((n * s.C + ci) * s.H + ih) * s.W + iw] = m;
        }
}

/// dw[o, c, kh, kw] = sum_{n, oh, ow} x * dy.
void convGradFilterRef(const Conv &s, const Vec &x, const Vec &dy, Vec &dw, Vec &mag) {
  const int64_t CG = s.C / s.G, OG = s.O / s.G;
  dw.assign(s.wN(), 0);
  mag.assign(s.wN(), 0);
  for (int64_t o = 0; o < s.O; ++o)
    for (int64_t c = 0; c < CG; ++c)
      for (int64_t kh = 0; kh < s.KH; ++kh)
        for (int64_t kw = 0; kw < s.KW; ++kw) {
          double acc = 0, m = 0;
          for (int64_t n = 0; n < s.N; ++n)
            for (int64_t oh = 0; oh < s.OH; ++oh)
              for (int64_t ow = 0; ow < s.OW; ++ow) {
                const int64_t ih = oh * s.sh + kh * s.dh - s.top;
                const int64_t iw = ow * s.sw + kw * s.dw - s.left;
                if (ih < 0 || ih >= s.H || iw < 0 || iw >= s.W)
                  continue;
                const double t = x[((n * s.C + (o / OG) * CG + c) * s.H + ih) * s.W + iw] *
                                 dy[((n * s.O + o) * s.OH + oh) * s.OW + ow];
                acc += t;
                m += std::fabs(t);
              }
          dw[((o * CG + c) * s.KH + kh) * s.KW + kw] = acc;
          mag[((o * CG + c) * s.KH + kh) * s.KW + kw] = m;
        }
}

double dot(const Vec &a, const Vec &b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i)
    s += a[i] * b[i];
  return s;
}


struct Pool {
  int64_t N, C, H, W, OH, OW, KH, KW, sh, sw, top, left, bottom, right;
  bool isMax, cip;
  std::vector<int64_t> params() const {
    return {N, C, H, W, OH, OW, KH, KW, sh, sw, top, left, bottom, right, isMax, cip};
  }
  int64_t xN() const { return N * C * H * W; }
  int64_t yN() const { return N * C * OH * OW; }
};

Pool makePool(int64_t N, int64_t C, int64_t H, int64_t W, int64_t KH, int64_t KW, int64_t sh,
              int64_t sw, int64_t top, int64_t left, int64_t bottom, int64_t right, bool isMax,
              bool cip) {
  return {N,  C,  H,   W,    (H + top + bottom - KH) / sh + 1, (W + left + right - KW) / sw + 1,
          KH, KW, sh,  sw,   top, left, bottom, right, isMax, cip};
}

/// The in-bounds flat indices of window (nc, oh, ow), in (kh, kw) order.
std::vector<int64_t> windowOf(const Pool &s, int64_t nc, int64_t oh, int64_t ow) {
  std::vector<int64_t> idx;
  for (int64_t kh = 0; kh < s.KH; ++kh)
    for (int64_t kw = 0; kw < s.KW; ++kw) {
      const int64_t ih = oh * s.sh + kh - s.top, iw = ow * s.sw + kw - s.left;
      if (ih >= 0 && ih < s.H && iw >= 0 && iw < s.W)
        idx.push_back((nc * s.H + ih) * s.W + iw);
    }
  return idx;
}

/// The element of a max window that gets dy: the first NaN, else the
/// first strictly greatest.
int64_t argmaxOf(const Vec &x, const std::vector<int64_t> &win) {
  int64_t best = win[0];
  for (int64_t i : win) {
    if (std::isnan(x[best]))
      break;
    if (std::isnan(x[i]) || x[i] > x[best])
      best = i;
  }
  return best;
}

void poolRef(const Pool &s, const Vec &x, Vec &y, Vec &mag) {
  y.assign(s.yN(), 0);
  mag.assign(s.yN(), 0);
  for (int64_t nc = 0; nc < s.N * s.C; ++nc)
    for (int64_t oh = 0; oh < s.OH; ++oh)
      for (int64_t ow = 0; ow < s.OW; ++ow) {
        const auto win = windowOf(s, nc, oh, ow);
        const int64_t o = (nc * s.OH + oh) * s.OW + ow;
        if (s.isMax) {
          y[o] = win.empty() ? -INFINITY : x[argmaxOf(x, win)];
          continue;
        }
        double sum = 0;
        for (int64_t i : win) {
          sum += x[i];
          mag[o] += std::fabs(x[i]);
        }
        const double div = s.cip ? double(s.KH * s.KW) : double(win.size());
        y[o] = sum / div;
        mag[o] /= div;
      }
}

void poolGradRef(const Pool &s, const Vec &x, const Vec &dy, Vec &dx, Vec &mag) {
  dx.assign(s.xN(), 0);
  mag.assign(s.xN(), 0);
  for (int64_t nc = 0; nc < s.N * s.C; ++nc)
    for (int64_t oh = 0; oh < s.OH; ++oh)
      for (int64_t ow = 0; ow < s.OW; ++ow) {
        const auto win = windowOf(s, nc, oh, ow);
        const double g = dy[(nc * s.OH + oh) * s.OW + ow];
        if (win.empty())
          continue;
        if (s.isMax) {
          dx[argmaxOf(x, win)] += g;
          mag[argmaxOf(x, win)] += std::fabs(g);
          continue;
        }
        const double div = s.cip ? double(s.KH * s.KW) : double(win.size());
        for (int64_t i : win) {
          dx[i] += g / div;
          mag[i] += std::fabs(g / div);
        }
      }
}

Vec filled(int64_t n, double v = 12345.0) { return Vec(static_cast<size_t>(n), v); }

} // namespace

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
            std::string what = std::string("matmul ") + epilogueName(e) + " m=" +
                               std::to_string(m) + " n=" + std::to_string(n) +
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
                case Epilogue::none: case Epilogue::bgradb: D[q] = v; break;
                case Epilogue::bias: D[q] = v + bias[j]; break;
                case Epilogue::relu: D[q] = std::max(v, 0.0); break;
                case Epilogue::bias_relu: D[q] = std::max(v + bias[j], 0.0); break;
                case Epilogue::gelu: D[q] = geluRef(v); break;
                case Epilogue::bias_gelu: D[q] = geluRef(v + bias[j]); break;
                case Epilogue::drelu:
                case Epilogue::drelu_bgrad: D[q] = aux[q] > 0 ? v : 0; break;
                case Epilogue::dgelu:
                case Epilogue::dgelu_bgrad: D[q] = v * geluGradRef(aux[q]); break;
                }
                if (e == Epilogue::bias || e == Epilogue::bias_relu || e == Epilogue::bias_gelu)
                  magD[q] += std::fabs(bias[j]);
                if (e == Epilogue::dgelu || e == Epilogue::dgelu_bgrad)
                  magD[q] *= 2; // |gelu'| < 1.13
              }
            std::vector<Vec> args{A, B};
            switch (e) {
            case Epilogue::none: case Epilogue::relu: case Epilogue::gelu:
              args.push_back(filled(m * n)); break;
            case Epilogue::bias: case Epilogue::bias_relu: case Epilogue::bias_gelu:
              args.push_back(bias); args.push_back(filled(m * n)); break;
            case Epilogue::drelu: case Epilogue::dgelu:
              args.push_back(aux); args.push_back(filled(m * n)); break;
            case Epilogue::drelu_bgrad: case Epilogue::dgelu_bgrad:
              args.push_back(aux); args.push_back(filled(m * n)); args.push_back(filled(n));
              break;
            case Epilogue::bgradb:
              args.push_back(filled(m * n)); args.push_back(filled(n)); break;
            }
            auto out = run(makeStep(LibraryOp::matmul, t, {1, m, n, k, ta, tb}, e), args);
            const size_t dIndex = (e == Epilogue::none || e == Epilogue::relu ||
                                   e == Epilogue::gelu || e == Epilogue::bgradb) ? 2 : 3;
            expectClose(out[dIndex], D, magD, double(k), t, what + " D");
            if (e == Epilogue::drelu_bgrad || e == Epilogue::dgelu_bgrad ||
                e == Epilogue::bgradb) {
              // Column sums of D (bgrad) or of B as [k, n] (bgradb).
              Vec db(n, 0), magDb(n, 0);
              const int64_t rows = e == Epilogue::bgradb ? k : m;
              for (int64_t i = 0; i < rows; ++i)
                for (int64_t j = 0; j < n; ++j) {
                  db[j] += e == Epilogue::bgradb ? B[i * n + j] : D[i * n + j];
                  magDb[j] += e == Epilogue::bgradb ? std::fabs(B[i * n + j]) : magD[i * n + j];
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
                    "batched matmul ta=" + std::to_string(ta) + " tb=" + std::to_string(tb));
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
  const std::pair<Epilogue, Epilogue> pairs[] = {{Epilogue::bias_relu, Epilogue::drelu_bgrad},
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
    Vec A = randomVec(rng, m * k, t), B = randomVec(rng, k * n, t), bias = randomVec(rng, n, t);
    Vec D, mag;
    matmulRef(A, B, 1, m, n, k, false, true, D, mag);
    for (int64_t q = 0; q < m * n; ++q) {
      D[q] = geluRef(D[q] + bias[q % n]);
      mag[q] = 2 * (mag[q] + std::fabs(bias[q % n]));
    }
    auto out = run(makeStep(LibraryOp::matmul, t, {1, m, n, k, 0, 1}, Epilogue::bias_gelu),
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
      auto one = run(makeStep(LibraryOp::matmul, t, {1, 1, n, k, 0, 0}), {row, B, filled(n)})[2];
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
      expectClose(dx, ref, mag, double(s.O * s.KH * s.KW), t, convName(s) + " grad_input");
      convGradFilterRef(s, x, dy, ref, mag);
      auto dw = run(makeStep(LibraryOp::conv2d_grad_filter, t, s.params()),
                    {x, dy, filled(s.wN())})[2];
      expectClose(dw, ref, mag, double(s.N * s.OH * s.OW), t, convName(s) + " grad_filter");
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
      expectClose(run(makeStep(LibraryOp::conv2d, t, s.params()), {x, w, filled(s.yN())})[2],
                  ref, mag, double(s.C / s.G * s.KH * s.KW), t, convName(s) + " forward");
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
      return dot(run(makeStep(LibraryOp::conv2d, t, s.params()), {xv, wv, filled(s.yN())})[2],
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
      auto dx =
          run(makeStep(LibraryOp::pool2d_grad, t, s.params()), {x, dy, filled(s.xN())})[2];
      expectClose(dx, ref, mag, double(s.KH * s.KW), t, poolName(s) + " grad");
    }
}

TEST(HostLibraryPool, GradMatchesFiniteDifferences) {
  std::mt19937 rng(8);
  const DType t = DType::f64;
  for (const Pool &s : poolCases()) {
    Vec x = randomVec(rng, s.xN(), t), dy = randomVec(rng, s.yN(), t);
    auto loss = [&](const Vec &xv) {
      return dot(run(makeStep(LibraryOp::pool2d, t, s.params()), {xv, filled(s.yN())})[1], dy);
    };
    auto dx = run(makeStep(LibraryOp::pool2d_grad, t, s.params()), {x, dy, filled(s.xN())})[2];
    for (int64_t i = 0; i < s.xN(); ++i) {
      const double h = 1e-7; // random values are ~1e-3 apart: no argmax change
      Vec xp = x, xm = x;
      xp[i] += h;
      xm[i] -= h;
      EXPECT_NEAR(dx[i], (loss(xp) - loss(xm)) / (2 * h), 1e-6) << poolName(s) << " dx[" << i
                                                                 << "]";
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
    auto y = run(makeStep(LibraryOp::pool2d, t, s.params()), {Vec{1, nan, 9, 2}, filled(1)})[1];
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
    y = run(makeStep(LibraryOp::pool2d, t, avg.params()), {Vec{4, 8, 12, 16}, filled(4)})[1];
    EXPECT_EQ(y, (Vec{1, 3, 4, 10}));
    avg.cip = false;
    y = run(makeStep(LibraryOp::pool2d, t, avg.params()), {Vec{4, 8, 12, 16}, filled(4)})[1];
    EXPECT_EQ(y, (Vec{4, 6, 8, 10}));
  }
}

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
  case 3: c.bytes = {A, B, D}; break;
  case 4:
    c.bytes = e == Epilogue::bgradb ? std::vector<uint64_t>{A, B, D, v}
              : (e == Epilogue::drelu || e == Epilogue::dgelu) ? std::vector<uint64_t>{A, B, D, D}
                                                               : std::vector<uint64_t>{A, B, v, D};
    break;
  default: c.bytes = {A, B, D, D, v}; break;
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
  c.bytes = op == LibraryOp::pool2d ? std::vector<uint64_t>{4ull * s.xN(), 4ull * s.yN()}
                                    : std::vector<uint64_t>{4ull * s.xN(), 4ull * s.yN(),
                                                            4ull * s.xN()};
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
  add(none, [](C c) { c.step.op = static_cast<LibraryOp>(99); }, "library step: unknown op 99");
  add(none, [](C c) { c.step.epilogue = static_cast<Epilogue>(42); }, "matmul: unknown epilogue 42");
  add(none, [](C c) { c.step.params.pop_back(); }, "matmul (epilogue none): 5 params, expected 6");
  add(none, [](C c) { c.step.dtype = DType::i32; },
      "matmul (epilogue none): dtype i32, must be f32 or f64");
  add(none, [](C c) { c.step.args.push_back(3); }, "matmul (epilogue none): 4 args in the step, expected 3");
  add(none, [](C c) { c.bytes.pop_back(); }, "matmul (epilogue none): 2 arg sizes given, expected 3");
  add(none, [](C c) { c.step.params[1] = 0; }, "param 1 (m) is 0, must be >= 1");
  add(none, [](C c) { c.step.params[3] = -2; }, "param 3 (k) is -2, must be >= 1");
  add(none, [](C c) { c.step.params[4] = 2; }, "param 4 (transpose_a) is 2, must be 0 or 1");
  add(none, [](C c) { c.step.params[5] = -1; }, "param 5 (transpose_b) is -1, must be 0 or 1");
  add(none, [](C c) { c.bytes[0] = 100; },
      "matmul (epilogue none): arg 0 (A) has 100 bytes, but its shape [1, 7, 5] of f32 needs 140");
  add(none, [](C c) { c.step.params[4] = 1; c.bytes[0] = 100; }, "arg 0 (A) has 100 bytes, but its shape [1, 5, 7]");
  add(none, [](C c) { c.bytes[1] = 8; }, "arg 1 (B) has 8 bytes, but its shape [1, 5, 3] of f32 needs 60");
  add(none, [](C c) { c.bytes[2] = 80; }, "arg 2 (D) has 80 bytes, but its shape [1, 7, 3] of f32 needs 84");
  add(none, [](C c) { c.step.params[1] = int64_t(1) << 40; c.step.params[3] = int64_t(1) << 40; },
      "arg 0 (A) of shape [1, 1099511627776, 1099511627776] has more than 2^50 elements");
  add(matmulCase(Epilogue::bias), [](C c) { c.step.params[0] = 2; },
      "matmul (epilogue bias): param 0 (batch) is 2, but an epilogue needs batch 1");
  add(matmulCase(Epilogue::bias), [](C c) { c.bytes[2] = 8; },
      "matmul (epilogue bias): arg 2 (bias) has 8 bytes, but its shape [3] of f32 needs 12");
  add(matmulCase(Epilogue::bias), [](C c) { c.step.args.pop_back(); },
      "matmul (epilogue bias): 3 args in the step, expected 4");
  add(matmulCase(Epilogue::drelu), [](C c) { c.bytes[2] = 4; },
      "matmul (epilogue drelu): arg 2 (aux) has 4 bytes, but its shape [7, 3] of f32 needs 84");
  add(matmulCase(Epilogue::dgelu_bgrad), [](C c) { c.bytes[4] = 4; },
      "matmul (epilogue dgelu_bgrad): arg 4 (dbias) has 4 bytes, but its shape [3] of f32 needs 12");
  add(matmulCase(Epilogue::drelu_bgrad), [](C c) { c.step.args.pop_back(); c.bytes.pop_back(); },
      "matmul (epilogue drelu_bgrad): 4 args in the step, expected 5");
  add(matmulCase(Epilogue::bgradb), [](C c) { c.step.params[5] = 1; },
      "matmul (epilogue bgradb): param 5 (transpose_b) is 1, but bgradb sums the rows of B as [k, n]");
  add(matmulCase(Epilogue::bgradb), [](C c) { c.bytes[3] = 0; },
      "matmul (epilogue bgradb): arg 3 (dbias) has 0 bytes");

  const auto conv = convCase(LibraryOp::conv2d);
  add(conv, [](C c) { c.step.epilogue = Epilogue::relu; },
      "conv2d: epilogue relu given, but only matmul takes an epilogue");
  add(conv, [](C c) { c.step.params.push_back(1); }, "conv2d: 19 params, expected 18");
  add(conv, [](C c) { c.step.params[17] = 3; }, "conv2d: param 17 (groups) is 3, which does not divide C=4");
  add(conv, [](C c) { c.step.params[17] = 4; }, "conv2d: param 17 (groups) is 4, which does not divide O=6");
  add(conv, [](C c) { c.step.params[7] = 5; },
      "conv2d: param 7 (OH) is 5, but H=9, padding 1+2, window extent 5, stride 2 give 4");
  add(conv, [](C c) { c.step.params[8] = 6; },
      "conv2d: param 8 (OW) is 6, but W=7, padding 0+1, window extent 2, stride 1 give 7");
  add(conv, [](C c) { c.step.params[5] = 9; },
      "conv2d: window extent 17 exceeds the padded H 12 (H=9 + padding 1+2)");
  add(conv, [](C c) { c.step.params[11] = -1; }, "conv2d: param 11 (pad_top) is -1, must be >= 0");
  add(conv, [](C c) { c.step.params[15] = 0; }, "conv2d: param 15 (dil_h) is 0, must be >= 1");
  add(conv, [](C c) { c.step.params[10] = 0; }, "conv2d: param 10 (stride_w) is 0, must be >= 1");
  add(conv, [](C c) { c.step.params[0] = 0; }, "conv2d: param 0 (N) is 0, must be >= 1");
  add(conv, [](C c) { c.step.dtype = DType::f16; }, "conv2d: dtype f16, must be f32 or f64");
  add(conv, [](C c) { c.bytes[0] = 8; }, "conv2d: arg 0 (x) has 8 bytes, but its shape [2, 4, 9, 7] of f64 needs 4032");
  add(conv, [](C c) { c.bytes[1] = 8; }, "conv2d: arg 1 (w) has 8 bytes, but its shape [6, 2, 3, 2] of f64 needs 576");
  add(conv, [](C c) { c.bytes[2] = 8; }, "conv2d: arg 2 (y) has 8 bytes, but its shape [2, 6, 4, 7] of f64 needs 2688");
  add(convCase(LibraryOp::conv2d_grad_input), [](C c) { c.bytes[0] = 8; },
      "conv2d_grad_input: arg 0 (dy) has 8 bytes, but its shape [2, 6, 4, 7]");
  add(convCase(LibraryOp::conv2d_grad_input), [](C c) { c.bytes[2] = 8; },
      "conv2d_grad_input: arg 2 (dx) has 8 bytes, but its shape [2, 4, 9, 7]");
  add(convCase(LibraryOp::conv2d_grad_filter), [](C c) { c.bytes[1] = 8; },
      "conv2d_grad_filter: arg 1 (dy) has 8 bytes");
  add(convCase(LibraryOp::conv2d_grad_filter), [](C c) { c.bytes[2] = 8; },
      "conv2d_grad_filter: arg 2 (dw) has 8 bytes, but its shape [6, 2, 3, 2]");
  add(convCase(LibraryOp::conv2d_grad_filter), [](C c) { c.step.args.pop_back(); },
      "conv2d_grad_filter: 2 args in the step, expected 3");

  const auto pool = poolCase(LibraryOp::pool2d);
  add(pool, [](C c) { c.step.params.pop_back(); }, "pool2d: 15 params, expected 16");
  add(pool, [](C c) { c.step.args.push_back(2); }, "pool2d: 3 args in the step, expected 2");
  add(pool, [](C c) { c.step.params[14] = 3; }, "pool2d: param 14 (is_max) is 3, must be 0 or 1");
  add(pool, [](C c) { c.step.params[15] = 2; }, "pool2d: param 15 (count_include_pad) is 2, must be 0 or 1");
  add(pool, [](C c) { c.step.params[6] = 0; }, "pool2d: param 6 (win_h) is 0, must be >= 1");
  add(pool, [](C c) { c.step.params[13] = -3; }, "pool2d: param 13 (pad_right) is -3, must be >= 0");
  add(pool, [](C c) { c.step.params[4] = 1; },
      "pool2d: param 4 (OH) is 1, but H=9, padding 1+2, window extent 3, stride 2 give 5");
  add(pool, [](C c) { c.step.params[5] = 1; },
      "pool2d: param 5 (OW) is 1, but W=7, padding 0+1, window extent 2, stride 1 give 7");
  add(pool, [](C c) { c.step.params[7] = 20; }, "pool2d: window extent 20 exceeds the padded W 8");
  add(pool, [](C c) { c.step.params[2] = int64_t(1) << 60; }, "pool2d: param 2 (H) is 1152921504606846976, above 2^50");
  add(pool, [](C c) { c.bytes[1] = 4; }, "pool2d: arg 1 (y) has 4 bytes, but its shape [2, 3, 5, 7] of f32 needs 840");
  add(poolCase(LibraryOp::pool2d_grad), [](C c) { c.bytes[1] = 4; }, "pool2d_grad: arg 1 (dy) has 4 bytes");
  add(poolCase(LibraryOp::pool2d_grad), [](C c) { c.bytes[2] = 4; },
      "pool2d_grad: arg 2 (dx) has 4 bytes, but its shape [2, 3, 9, 7] of f32 needs 1512");
  add(poolCase(LibraryOp::pool2d_grad), [](C c) { c.step.epilogue = Epilogue::bias; },
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
    best = std::min(best,
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
