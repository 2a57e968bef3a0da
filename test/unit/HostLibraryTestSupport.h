//===- HostLibraryTestSupport.h - Naive references for the host library -*- C++ -*-===//
//
// Test support for the host library steps (runtime/host/Library.h): a
// runner that checks and runs a step on f64 vectors converted to its dtype,
// and naive f64 implementations written from the definitions (matmul and
// its epilogues, conv as its sum, its adjoints in gather form, pooling
// window by window), each also returning the sum of |terms| per element.
//
// Error bound (expectClose): with eps = 2^-24 (f32) or 2^-53 (f64),
// `terms` the number of products summed into an element and `mag` the sum
// of their absolute values, |got - ref| <= 8 (terms + 16) eps (mag + |ref| + 1).
// Inputs are uniform in [-1, 1] and rounded to the step's dtype before the
// f64 reference sees them.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_TEST_UNIT_HOSTLIBRARYTESTSUPPORT_H
#define KILN_TEST_UNIT_HOSTLIBRARYTESTSUPPORT_H

#include "runtime/host/Library.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

namespace hostlib_test {

using namespace kiln::rt;
using kiln::rt::host::checkLibraryStep;
using kiln::rt::host::runLibraryStep;

using Vec = std::vector<double>;

inline constexpr Epilogue kAllEpilogues[] = {
    Epilogue::none,   Epilogue::bias,      Epilogue::relu,       Epilogue::bias_relu,
    Epilogue::gelu,   Epilogue::bias_gelu, Epilogue::drelu,      Epilogue::drelu_bgrad,
    Epilogue::bgradb, Epilogue::dgelu,     Epilogue::dgelu_bgrad};

inline double epsOf(DType t) {
  return t == DType::f32 ? std::ldexp(1.0, -24) : std::ldexp(1.0, -53);
}

inline Vec roundTo(DType t, Vec v) {
  if (t == DType::f32)
    for (double &x : v)
      x = static_cast<float>(x);
  return v;
}

inline Vec randomVec(std::mt19937 &rng, int64_t n, DType t, double lo = -1,
                     double hi = 1) {
  std::uniform_real_distribution<double> d(lo, hi);
  Vec v(static_cast<size_t>(n));
  for (double &x : v)
    x = d(rng);
  return roundTo(t, v);
}

/// The bytes of `v` in dtype `t`.
inline std::vector<unsigned char> toBytes(DType t, const Vec &v) {
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

inline Vec fromBytes(DType t, const std::vector<unsigned char> &b) {
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
inline std::vector<Vec> run(const LibraryStep &s, std::vector<Vec> args) {
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

inline LibraryStep makeStep(LibraryOp op, DType t, std::vector<int64_t> params,
                            Epilogue e = Epilogue::none) {
  LibraryStep s;
  s.op = op;
  s.dtype = t;
  s.epilogue = e;
  s.params = std::move(params);
  size_t n = 3;
  if (op == LibraryOp::matmul) {
    n = (e == Epilogue::none || e == Epilogue::relu || e == Epilogue::gelu) ? 3
        : (e == Epilogue::drelu_bgrad || e == Epilogue::dgelu_bgrad)        ? 5
                                                                            : 4;
  } else if (op == LibraryOp::pool2d) {
    n = 2;
  }
  for (uint32_t i = 0; i < n; ++i)
    s.args.push_back(i);
  return s;
}

/// Expects |got - ref| within the file's bound.
inline void expectClose(const Vec &got, const Vec &ref, const Vec &mag, double terms,
                        DType t, const std::string &what) {
  ASSERT_EQ(got.size(), ref.size()) << what;
  int bad = 0;
  for (size_t i = 0; i < ref.size() && bad < 5; ++i) {
    const double bound = 8 * (terms + 16) * epsOf(t) * (mag[i] + std::fabs(ref[i]) + 1);
    if (!(std::fabs(got[i] - ref[i]) <= bound)) {
      ++bad;
      ADD_FAILURE() << what << " [" << dtypeName(t) << "] element " << i << ": got "
                    << got[i] << ", expected " << ref[i] << " (bound " << bound << ")";
    }
  }
}

//===----------------------------------------------------------------------===//
// Naive references (f64)
//===----------------------------------------------------------------------===//

inline double geluRef(double v) {
  return 0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
}
inline double geluGradRef(double v) {
  const double k = std::sqrt(2 / M_PI), t = std::tanh(k * (v + 0.044715 * v * v * v));
  return 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * k * (1 + 3 * 0.044715 * v * v);
}

/// op(A) op(B) per batch, and the sums of |terms|.
inline void matmulRef(const Vec &A, const Vec &B, int64_t batch, int64_t m, int64_t n,
                      int64_t k, bool ta, bool tb, Vec &D, Vec &mag) {
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
inline Conv makeConv(int64_t N, int64_t C, int64_t H, int64_t W, int64_t O, int64_t KH,
                     int64_t KW, int64_t sh, int64_t sw, int64_t top, int64_t left,
                     int64_t bottom, int64_t right, int64_t dh, int64_t dw, int64_t G) {
  const int64_t OH = (H + top + bottom - dh * (KH - 1) - 1) / sh + 1;
  const int64_t OW = (W + left + right - dw * (KW - 1) - 1) / sw + 1;
  return {N, C, H, W, O, KH, KW, OH, OW, sh, sw, top, left, bottom, right, dh, dw, G};
}

/// y = sum_{c, kh, kw} x(padded) * w, straight from the definition.
inline void convRef(const Conv &s, const Vec &x, const Vec &w, Vec &y, Vec &mag) {
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
inline void convGradInputRef(const Conv &s, const Vec &dy, const Vec &w, Vec &dx,
                             Vec &mag) {
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
                const double t =
                    dy[((n * s.O + o) * s.OH + th / s.sh) * s.OW + tw / s.sw] *
                    w[((o * CG + c) * s.KH + kh) * s.KW + kw];
                acc += t;
                m += std::fabs(t);
              }
          dx[((n * s.C + ci) * s.H + ih) * s.W + iw] = acc;
          mag[((n * s.C + ci) * s.H + ih) * s.W + iw] = m;
        }
}

/// dw[o, c, kh, kw] = sum_{n, oh, ow} x * dy.
inline void convGradFilterRef(const Conv &s, const Vec &x, const Vec &dy, Vec &dw,
                              Vec &mag) {
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
                const double t =
                    x[((n * s.C + (o / OG) * CG + c) * s.H + ih) * s.W + iw] *
                    dy[((n * s.O + o) * s.OH + oh) * s.OW + ow];
                acc += t;
                m += std::fabs(t);
              }
          dw[((o * CG + c) * s.KH + kh) * s.KW + kw] = acc;
          mag[((o * CG + c) * s.KH + kh) * s.KW + kw] = m;
        }
}

inline double dot(const Vec &a, const Vec &b) {
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

inline Pool makePool(int64_t N, int64_t C, int64_t H, int64_t W, int64_t KH, int64_t KW,
                     int64_t sh, int64_t sw, int64_t top, int64_t left, int64_t bottom,
                     int64_t right, bool isMax, bool cip) {
  return {N,
          C,
          H,
          W,
          (H + top + bottom - KH) / sh + 1,
          (W + left + right - KW) / sw + 1,
          KH,
          KW,
          sh,
          sw,
          top,
          left,
          bottom,
          right,
          isMax,
          cip};
}

/// The in-bounds flat indices of window (nc, oh, ow), in (kh, kw) order.
inline std::vector<int64_t> windowOf(const Pool &s, int64_t nc, int64_t oh, int64_t ow) {
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
inline int64_t argmaxOf(const Vec &x, const std::vector<int64_t> &win) {
  int64_t best = win[0];
  for (int64_t i : win) {
    if (std::isnan(x[best]))
      break;
    if (std::isnan(x[i]) || x[i] > x[best])
      best = i;
  }
  return best;
}

inline void poolRef(const Pool &s, const Vec &x, Vec &y, Vec &mag) {
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

inline void poolGradRef(const Pool &s, const Vec &x, const Vec &dy, Vec &dx, Vec &mag) {
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

inline Vec filled(int64_t n, double v = 12345.0) {
  return Vec(static_cast<size_t>(n), v);
}

} // namespace hostlib_test

#endif // KILN_TEST_UNIT_HOSTLIBRARYTESTSUPPORT_H
