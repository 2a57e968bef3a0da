//===- Library.cpp - CPU implementations of the library steps -------------===//
//
// Contract: runs a kiln::rt::LibraryStep (layouts and argument orders in
// kiln/Program.h) on host memory with the semantics of the reference
// interpreter (ir/ReferenceKernelsNN.cpp, ir/ReferenceKernelsGrad.cpp,
// passes/Fusion.cpp and docs/fusion.md for what each epilogue spells out).
// Every output is written with `=`. f32 steps accumulate in float, f64
// steps in double, one accumulator per output element (the reference sums
// in double, so only the rounding differs):
//   matmul              p = 0..k-1 in order, then the epilogue
//   conv2d              (c, kh, kw) in order
//   conv2d_grad_input   per (c, kh, kw): the sum over o, then added to dx
//                       in (c, kh, kw, oh, ow) order
//   conv2d_grad_filter  (n, oh, ow) in order
//   pool2d / _grad      window (kh, kw) order; overlapping windows add in
//                       (oh, ow) order
// Matmul and the convolutions share one gemm: op(B) packed into panels of
// 32 bytes of columns, 4-row register tiles (conv via im2col, so a padding
// position enters the forward and grad_filter sums as 0 * w or 0 * dy where
// the reference skips it: equal for finite values; an inf/NaN weight or dy
// also reaches outputs whose only link to it is padding, as with cuDNN's
// implicit GEMM). Work is split over row tiles / column panels / images
// across std::threads only when it is large (>= kParallelMacs multiply-
// adds); no sum is ever split, so results do not depend on the thread count.
//
// Exact definitions (from the reference):
//   relu(v)       v if v is NaN, else (v > 0 ? v : 0)
//   gelu(v)       0.5 v (1 + tanh(sqrt(2/pi) (v + 0.044715 v^3)))
//   gelu'(v)      0.5 (1 + t) + 0.5 v (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 v^2),
//                 t = tanh(sqrt(2/pi) (v + 0.044715 v^3))
//   bias          D = mm + bias[j]; bias_relu = relu(mm + bias[j]);
//                 bias_gelu = gelu(mm + bias[j])
//   drelu         D = aux > 0 ? mm : 0   (a select: NaN aux gives 0, and an
//                 inf/NaN mm where aux <= 0 still gives 0)
//   dgelu         D = mm * gelu'(aux)
//   *_bgrad       dbias[j] = sum over rows i (ascending) of D[i, j]
//   bgradb        dbias[j] = sum over rows p (ascending) of B[p, j]
//   conv2d        y[n,o,oh,ow] = sum_{c,kh,kw} x[n, g*C/groups + c, ih, iw] *
//                 w[o,c,kh,kw], ih = oh*sh - pad_top + kh*dh,
//                 iw = ow*sw - pad_left + kw*dw, out-of-range terms skipped,
//                 g = o / (O/groups); OH = (H + top + bottom - dh(KH-1) - 1)/sh + 1
//   conv2d_grad_input / _filter   the adjoints of that sum in x and in w:
//                 every (x, w, y) term adds w*dy to dx and x*dy to dw
//   max pool      window over ih = oh*sh - top + kh (likewise w), padding
//                 skipped; starts at -inf (a window of only padding gives
//                 -inf); the first NaN in (kh, kw) order is the result
//   avg pool      sum of the in-bounds elements / (count_include_pad ?
//                 win_h*win_w : in-bounds count)  (0/0 = NaN for a window of
//                 only padding without count_include_pad)
//   max pool grad dy goes to one element per window: the first NaN, else
//                 the first strictly greatest in row-major window order
//                 (ties: the earliest; a window of only -inf: its first
//                 in-bounds element); windows overlapping add
//   avg pool grad each in-bounds element of a window gets dy / divisor
//   OH of pool    (H + top + bottom - win_h) / stride_h + 1
//
//===----------------------------------------------------------------------===//
#include "runtime/host/Library.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <exception>
#include <limits>
#include <new>
#include <string>
#include <thread>
#include <vector>

namespace kiln::rt::host {

namespace {

/// Work below this many multiply-adds runs on the calling thread.
constexpr double kParallelMacs = 1e6;

/// Runs fn(begin, end) over [0, count) in contiguous chunks, on up to
/// hardware_concurrency threads (about one per kParallelMacs / 2 of work)
/// when `macs` is at least kParallelMacs. Each index is handled by exactly
/// one call, so results do not depend on the split. An exception in any
/// chunk (e.g. bad_alloc) is rethrown here after every thread has joined.
template <typename F> void parallelFor(int64_t count, double macs, F fn) {
  const int64_t hw = std::max(1u, std::thread::hardware_concurrency());
  int64_t threads = 1;
  if (macs >= kParallelMacs)
    threads = std::min<int64_t>(
        {hw, count, 64, static_cast<int64_t>(macs / (kParallelMacs / 2))});
  if (threads <= 1) {
    fn(int64_t(0), count);
    return;
  }
  std::vector<std::thread> pool;
  std::vector<std::exception_ptr> errors(static_cast<size_t>(threads));
  auto guarded = [&fn, &errors](int64_t slot, int64_t b, int64_t e) {
    try {
      fn(b, e);
    } catch (...) {
      errors[static_cast<size_t>(slot)] = std::current_exception();
    }
  };
  const int64_t chunk = (count + threads - 1) / threads;
  for (int64_t t = 1; t < threads; ++t) {
    const int64_t b = t * chunk, e = std::min(count, b + chunk);
    if (b >= e)
      break;
    try {
      pool.emplace_back(guarded, t, b, e);
    } catch (const std::exception &) {
      guarded(t, b, e); // no thread available: do this chunk here
    }
  }
  guarded(0, 0, std::min(count, chunk));
  for (std::thread &t : pool)
    t.join();
  for (const std::exception_ptr &e : errors)
    if (e)
      std::rethrow_exception(e);
}

//===----------------------------------------------------------------------===//
// Scalar functions
//===----------------------------------------------------------------------===//

template <typename T> inline T reluOf(T v) {
  return std::isnan(v) ? v : (v > T(0) ? v : T(0));
}

template <typename T> inline T geluOf(T v) {
  const T k = T(0.79788456080286535587989211986876);
  return T(0.5) * v * (T(1) + std::tanh(k * (v + T(0.044715) * v * v * v)));
}

template <typename T> inline T geluDerivative(T v) {
  const T k = T(0.79788456080286535587989211986876);
  const T c = T(0.044715);
  const T t = std::tanh(k * (v + c * v * v * v));
  return T(0.5) * (T(1) + t) +
         T(0.5) * v * (T(1) - t * t) * k * (T(1) + T(3) * c * v * v);
}

//===----------------------------------------------------------------------===//
// Matmul
//===----------------------------------------------------------------------===//

struct MatmulShape {
  int64_t batch, m, n, k;
  bool ta, tb;
};

/// Applies the elementwise part of `e` to row `i` (acc holds the sums).
template <typename T>
void epilogueRow(Epilogue e, const T *acc, int64_t n, const T *bias, const T *auxRow,
                 T *out) {
  switch (e) {
  case Epilogue::none:
  case Epilogue::bgradb:
    std::memcpy(out, acc, sizeof(T) * n);
    break;
  case Epilogue::bias:
    for (int64_t j = 0; j < n; ++j)
      out[j] = acc[j] + bias[j];
    break;
  case Epilogue::relu:
    for (int64_t j = 0; j < n; ++j)
      out[j] = reluOf(acc[j]);
    break;
  case Epilogue::bias_relu:
    for (int64_t j = 0; j < n; ++j)
      out[j] = reluOf(acc[j] + bias[j]);
    break;
  case Epilogue::gelu:
    for (int64_t j = 0; j < n; ++j)
      out[j] = geluOf(acc[j]);
    break;
  case Epilogue::bias_gelu:
    for (int64_t j = 0; j < n; ++j)
      out[j] = geluOf(acc[j] + bias[j]);
    break;
  case Epilogue::drelu:
  case Epilogue::drelu_bgrad:
    for (int64_t j = 0; j < n; ++j)
      out[j] = auxRow[j] > T(0) ? acc[j] : T(0);
    break;
  case Epilogue::dgelu:
  case Epilogue::dgelu_bgrad:
    for (int64_t j = 0; j < n; ++j)
      out[j] = acc[j] * geluDerivative(auxRow[j]);
    break;
  }
}

/// Register tile of the micro-kernel: kMr rows by nr<T>() columns (two SSE
/// registers' worth of columns per row, so the 4 x 2 accumulators stay in
/// registers).
constexpr int64_t kMr = 4;
template <typename T> constexpr int64_t nr() { return 32 / sizeof(T); }

/// Packs op(B) of one batch entry into column panels of nr<T>() columns:
/// panel q holds, for p = 0..k-1, the nr values B(p, q*nr .. q*nr+nr-1),
/// zero past column n.
template <typename T>
void packB(const MatmulShape &s, const T *B, std::vector<T> &panels) {
  constexpr int64_t NR = nr<T>();
  const int64_t n = s.n, k = s.k, np = (n + NR - 1) / NR;
  panels.assign(static_cast<size_t>(np * k * NR), T(0));
  for (int64_t q = 0; q < np; ++q)
    for (int64_t p = 0; p < k; ++p)
      for (int64_t c = 0; c < NR && q * NR + c < n; ++c) {
        const int64_t j = q * NR + c;
        panels[(q * k + p) * NR + c] = s.tb ? B[j * k + p] : B[p * n + j];
      }
}

/// D rows [rowBegin, rowEnd), column panels [qBegin, qEnd) =
/// epilogue(op(A) op(B)) for one batch entry, from B's panels; with
/// `accumulate` (epilogue none) D += op(A) op(B), the sums continuing from D. Each
/// element is one accumulator summed over p = 0..k-1 in order, whatever the tiling.
template <typename T>
void matmulRows(const MatmulShape &s, Epilogue e, const T *A, const T *panels,
                const T *bias, const T *aux, T *D, int64_t rowBegin, int64_t rowEnd,
                int64_t qBegin, int64_t qEnd, bool accumulate = false) {
  constexpr int64_t NR = nr<T>();
  const int64_t m = s.m, n = s.n, k = s.k;
  std::vector<T> packedA(static_cast<size_t>(k * kMr));
  for (int64_t i0 = rowBegin; i0 < rowEnd; i0 += kMr) {
    const int64_t rows = std::min(kMr, rowEnd - i0);
    // A's rows i0.. as [p][r], zero past the last row.
    for (int64_t p = 0; p < k; ++p)
      for (int64_t r = 0; r < kMr; ++r)
        packedA[p * kMr + r] =
            r < rows ? (s.ta ? A[p * m + i0 + r] : A[(i0 + r) * k + p]) : T(0);
    for (int64_t q = qBegin; q < qEnd; ++q) {
      const T *bp = panels + q * k * NR;
      const T *ap = packedA.data();
      const int64_t j0 = q * NR, cols = std::min(NR, n - j0);
      T c[kMr][NR] = {};
      if (accumulate)
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t x = 0; x < cols; ++x)
            c[r][x] = D[(i0 + r) * n + j0 + x];
      for (int64_t p = 0; p < k; ++p, bp += NR, ap += kMr)
        for (int64_t r = 0; r < kMr; ++r)
          for (int64_t x = 0; x < NR; ++x)
            c[r][x] += ap[r] * bp[x];
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t i = i0 + r;
        epilogueRow(e, c[r], cols, bias ? bias + j0 : nullptr,
                    aux ? aux + i * n + j0 : nullptr, D + i * n + j0);
      }
    }
  }
}

/// D = epilogue(op(A) op(B)) (or D += op(A) op(B) with `accumulate`) for one
/// batch entry from B's panels, on several threads when `macs` is large. A
/// task is one row tile by a range of column panels; the panels are split
/// only when there are fewer row tiles than threads (small m).
template <typename T>
void gemm(const MatmulShape &s, Epilogue e, const T *A, const T *panels, const T *bias,
          const T *aux, T *D, double macs, bool accumulate = false) {
  const int64_t m = s.m, n = s.n;
  const int64_t tiles = (m + kMr - 1) / kMr, np = (n + nr<T>() - 1) / nr<T>();
  const int64_t chunks = std::min<int64_t>(np, tiles >= 8 ? 1 : (8 + tiles - 1) / tiles);
  const int64_t perChunk = (np + chunks - 1) / chunks;
  parallelFor(tiles * chunks, macs, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t tile = t / chunks, q0 = (t % chunks) * perChunk;
      matmulRows(s, e, A, panels, bias, aux, D, tile * kMr, std::min(m, (tile + 1) * kMr),
                 q0, std::min(np, q0 + perChunk), accumulate);
    }
  });
}

template <typename T> Status runMatmul(const LibraryStep &step, void *const *ptrs) {
  const auto &P = step.params;
  const MatmulShape s{P[0], P[1], P[2], P[3], P[4] != 0, P[5] != 0};
  const Epilogue e = step.epilogue;
  const T *A = static_cast<const T *>(ptrs[0]), *B = static_cast<const T *>(ptrs[1]);
  const T *bias = nullptr, *aux = nullptr;
  T *D = nullptr, *dbias = nullptr;
  switch (e) {
  case Epilogue::none:
  case Epilogue::relu:
  case Epilogue::gelu:
    D = static_cast<T *>(ptrs[2]);
    break;
  case Epilogue::bias:
  case Epilogue::bias_relu:
  case Epilogue::bias_gelu:
    bias = static_cast<const T *>(ptrs[2]);
    D = static_cast<T *>(ptrs[3]);
    break;
  case Epilogue::drelu:
  case Epilogue::dgelu:
    aux = static_cast<const T *>(ptrs[2]);
    D = static_cast<T *>(ptrs[3]);
    break;
  case Epilogue::drelu_bgrad:
  case Epilogue::dgelu_bgrad:
    aux = static_cast<const T *>(ptrs[2]);
    D = static_cast<T *>(ptrs[3]);
    dbias = static_cast<T *>(ptrs[4]);
    break;
  case Epilogue::bgradb:
    D = static_cast<T *>(ptrs[2]);
    dbias = static_cast<T *>(ptrs[3]);
    break;
  }
  const int64_t m = s.m, n = s.n, k = s.k;
  std::vector<T> panels;
  const double macs = double(m) * double(n) * double(k);
  for (int64_t b = 0; b < s.batch; ++b) {
    const T *Ab = A + b * m * k, *Bb = B + b * k * n;
    T *Db = D + b * m * n;
    packB(s, Bb, panels);
    gemm(s, e, Ab, panels.data(), bias, aux, Db, macs);
  }
  if (dbias) {
    // Column sums, rows ascending: of D (bgrad) or of B (bgradb, B is [k, n]).
    const T *src = e == Epilogue::bgradb ? B : D;
    const int64_t rows = e == Epilogue::bgradb ? k : m;
    for (int64_t j = 0; j < n; ++j)
      dbias[j] = T(0);
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < n; ++j)
        dbias[j] += src[i * n + j];
  }
  return Status::ok();
}

//===----------------------------------------------------------------------===//
// Convolution
//===----------------------------------------------------------------------===//

struct ConvShape {
  int64_t N, C, H, W, O, KH, KW, OH, OW, sh, sw, top, left, bottom, right, dh, dw, groups;
  int64_t CG() const { return C / groups; }
  int64_t OG() const { return O / groups; }
  /// The first and one-past-last output column whose input column
  /// ow*sw - left + kw*dw is inside [0, W).
  void owRange(int64_t kw, int64_t &lo, int64_t &hi) const {
    range(kw * dw - left, W, sw, OW, lo, hi);
  }
  void ohRange(int64_t kh, int64_t &lo, int64_t &hi) const {
    range(kh * dh - top, H, sh, OH, lo, hi);
  }
  /// Outputs o in [0, count) with 0 <= o*stride + off < size.
  static void range(int64_t off, int64_t size, int64_t stride, int64_t count, int64_t &lo,
                    int64_t &hi) {
    // o*stride + off >= 0  <=>  o >= ceil(-off / stride)
    lo = off >= 0 ? 0 : (-off + stride - 1) / stride;
    // o*stride + off <= size - 1  <=>  o <= floor((size - 1 - off) / stride)
    const int64_t last = size - 1 - off;
    hi = last < 0 ? 0 : last / stride + 1;
    lo = std::min(lo, count);
    hi = std::max(lo, std::min(hi, count));
  }
};

ConvShape convShape(const std::vector<int64_t> &p) {
  return {p[0], p[1],  p[2],  p[3],  p[4],  p[5],  p[6],  p[7],  p[8],
          p[9], p[10], p[11], p[12], p[13], p[14], p[15], p[16], p[17]};
}

/// The im2col matrix of image n, group g, col[r][j] with r = (c*KH + kh)*KW
/// + kw and j = oh*OW + ow, = x[n, g*CG + c, ih, iw] (0 where (ih, iw) is
/// padding), written straight into gemm panels (packB's layout): of col as
/// the [k = CG*KH*KW, n = OH*OW] B of the forward gemm, or with
/// `transposed` of col^T as the [k = OH*OW, n = CG*KH*KW] B of grad_filter.
template <typename T>
void im2colPanels(const ConvShape &s, const T *x, int64_t n, int64_t g, bool transposed,
                  std::vector<T> &panels) {
  constexpr int64_t NR = nr<T>();
  const int64_t OHW = s.OH * s.OW, CGK = s.CG() * s.KH * s.KW;
  const int64_t cols = transposed ? CGK : OHW, depth = transposed ? OHW : CGK;
  panels.assign(static_cast<size_t>((cols + NR - 1) / NR * depth * NR), T(0));
  for (int64_t c = 0; c < s.CG(); ++c) {
    const T *xp = x + (n * s.C + g * s.CG() + c) * s.H * s.W;
    for (int64_t kh = 0; kh < s.KH; ++kh) {
      int64_t oh0, oh1;
      s.ohRange(kh, oh0, oh1);
      for (int64_t kw = 0; kw < s.KW; ++kw) {
        int64_t ow0, ow1;
        s.owRange(kw, ow0, ow1);
        const int64_t r = (c * s.KH + kh) * s.KW + kw;
        for (int64_t oh = oh0; oh < oh1; ++oh) {
          const T *xr = xp + (oh * s.sh - s.top + kh * s.dh) * s.W - s.left + kw * s.dw;
          if (transposed) {
            T *dst = panels.data() + (r / NR) * OHW * NR + r % NR;
            for (int64_t ow = ow0; ow < ow1; ++ow)
              dst[(oh * s.OW + ow) * NR] = xr[ow * s.sw];
          } else {
            T *dst = panels.data() + r * NR;
            for (int64_t ow = ow0; ow < ow1; ++ow) {
              const int64_t j = oh * s.OW + ow;
              dst[(j / NR) * CGK * NR + j % NR] = xr[ow * s.sw];
            }
          }
        }
      }
    }
  }
}

/// Runs fn(n, g) for every image and group: across threads when there are
/// enough (n, g) pairs (then `inner` = 0: the gemms inside run serially),
/// else serially with `inner` = macs so that each gemm splits its rows.
template <typename F> void forEachImageGroup(const ConvShape &s, double macs, F fn) {
  const int64_t tasks = s.N * s.groups;
  const unsigned hw = std::max(1u, std::thread::hardware_concurrency());
  if (tasks >= 2 * int64_t(hw) || macs < kParallelMacs) {
    parallelFor(tasks, macs, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t)
        fn(t / s.groups, t % s.groups, 0.0);
    });
    return;
  }
  for (int64_t t = 0; t < tasks; ++t)
    fn(t / s.groups, t % s.groups, macs);
}

double convMacs(const ConvShape &s) {
  return double(s.N * s.O) * double(s.OH * s.OW) * double(s.CG() * s.KH * s.KW);
}

/// y = conv(x, w) as, per image and group, y[n, g] (OG x OH*OW) =
/// w[g] (OG x CG*KH*KW) . im2col (CG*KH*KW x OH*OW): each output sums its
/// terms in (c, kh, kw) order, the padding's terms as 0 * w.
template <typename T>
void conv2dForward(const ConvShape &s, const T *x, const T *w, T *y) {
  const int64_t OHW = s.OH * s.OW, CGK = s.CG() * s.KH * s.KW;
  const MatmulShape ms{1, s.OG(), OHW, CGK, false, false};
  forEachImageGroup(s, convMacs(s), [&](int64_t n, int64_t g, double inner) {
    std::vector<T> panels;
    im2colPanels(s, x, n, g, /*transposed=*/false, panels);
    gemm(ms, Epilogue::none, w + g * s.OG() * CGK, panels.data(), (const T *)nullptr,
         (const T *)nullptr, y + (n * s.O + g * s.OG()) * OHW, inner);
  });
}

/// dx = conv2d_grad_input(dy, w) as, per image and group, dcol = w[g]^T .
/// dy[n, g] (CG*KH*KW x OH*OW), then col2im: each dx element adds, in
/// (c, kh, kw, oh, ow) order, the dcol entries that read it (padding's
/// entries are dropped).
template <typename T>
void conv2dGradInput(const ConvShape &s, const T *dy, const T *w, T *dx) {
  const int64_t OHW = s.OH * s.OW, CGK = s.CG() * s.KH * s.KW;
  const MatmulShape ms{1, CGK, OHW, s.OG(), true, false};
  forEachImageGroup(s, convMacs(s), [&](int64_t n, int64_t g, double inner) {
    std::vector<T> dcol(static_cast<size_t>(CGK * OHW)), panels;
    packB(ms, dy + (n * s.O + g * s.OG()) * OHW, panels);
    gemm(ms, Epilogue::none, w + g * s.OG() * CGK, panels.data(), (const T *)nullptr,
         (const T *)nullptr, dcol.data(), inner);
    T *dxg = dx + (n * s.C + g * s.CG()) * s.H * s.W;
    std::fill(dxg, dxg + s.CG() * s.H * s.W, T(0));
    for (int64_t c = 0; c < s.CG(); ++c)
      for (int64_t kh = 0; kh < s.KH; ++kh) {
        int64_t oh0, oh1;
        s.ohRange(kh, oh0, oh1);
        for (int64_t kw = 0; kw < s.KW; ++kw) {
          int64_t ow0, ow1;
          s.owRange(kw, ow0, ow1);
          const T *row = dcol.data() + ((c * s.KH + kh) * s.KW + kw) * OHW;
          for (int64_t oh = oh0; oh < oh1; ++oh) {
            T *dr = dxg + (c * s.H + oh * s.sh - s.top + kh * s.dh) * s.W - s.left +
                    kw * s.dw;
            for (int64_t ow = ow0; ow < ow1; ++ow)
              dr[ow * s.sw] += row[oh * s.OW + ow];
          }
        }
      }
  });
}

/// dw = conv2d_grad_filter(x, dy) as, per group, dw[g] (OG x CG*KH*KW) =
/// sum over n (ascending) of dy[n, g] (OG x OH*OW) . im2col^T: each dw
/// element is one accumulator over (n, oh, ow), the padding's terms as
/// 0 * dy. The images run in order; the rows of each gemm are split.
template <typename T>
void conv2dGradFilter(const ConvShape &s, const T *x, const T *dy, T *dw) {
  const int64_t OHW = s.OH * s.OW, CGK = s.CG() * s.KH * s.KW;
  const MatmulShape ms{1, s.OG(), CGK, OHW, false, true};
  const double macsPerImage = convMacs(s) / double(s.N);
  std::vector<T> panels;
  for (int64_t g = 0; g < s.groups; ++g)
    for (int64_t n = 0; n < s.N; ++n) {
      im2colPanels(s, x, n, g, /*transposed=*/true, panels);
      gemm(ms, Epilogue::none, dy + (n * s.O + g * s.OG()) * OHW, panels.data(),
           (const T *)nullptr, (const T *)nullptr, dw + g * s.OG() * CGK, macsPerImage,
           /*accumulate=*/n > 0);
    }
}

//===----------------------------------------------------------------------===//
// Pooling
//===----------------------------------------------------------------------===//

struct PoolShape {
  int64_t N, C, H, W, OH, OW, KH, KW, sh, sw, top, left, bottom, right;
  bool isMax, countIncludePad;
};

PoolShape poolShape(const std::vector<int64_t> &p) {
  return {p[0], p[1], p[2],  p[3],  p[4],  p[5],  p[6],       p[7],
          p[8], p[9], p[10], p[11], p[12], p[13], p[14] != 0, p[15] != 0};
}

/// The in-bounds window of output (oh, ow): rows [h0, h1), columns [w0, w1).
inline void poolWindow(const PoolShape &s, int64_t oh, int64_t ow, int64_t &h0,
                       int64_t &h1, int64_t &w0, int64_t &w1) {
  h0 = std::max<int64_t>(oh * s.sh - s.top, 0);
  h1 = std::min<int64_t>(oh * s.sh - s.top + s.KH, s.H);
  w0 = std::max<int64_t>(ow * s.sw - s.left, 0);
  w1 = std::min<int64_t>(ow * s.sw - s.left + s.KW, s.W);
  h1 = std::max(h0, h1);
  w1 = std::max(w0, w1);
}

template <typename T> void pool2dForward(const PoolShape &s, const T *x, T *y) {
  const double work = double(s.N * s.C) * double(s.OH * s.OW) * double(s.KH * s.KW);
  parallelFor(s.N * s.C, work, [&](int64_t t0, int64_t t1) {
    for (int64_t nc = t0; nc < t1; ++nc) {
      const T *xp = x + nc * s.H * s.W;
      for (int64_t oh = 0; oh < s.OH; ++oh)
        for (int64_t ow = 0; ow < s.OW; ++ow) {
          int64_t h0, h1, w0, w1;
          poolWindow(s, oh, ow, h0, h1, w0, w1);
          T acc = s.isMax ? -std::numeric_limits<T>::infinity() : T(0);
          for (int64_t ih = h0; ih < h1; ++ih)
            for (int64_t iw = w0; iw < w1; ++iw) {
              const T v = xp[ih * s.W + iw];
              if (!s.isMax)
                acc += v;
              else if (!std::isnan(acc) && (std::isnan(v) || v > acc))
                acc = v; // the first NaN stays
            }
          if (!s.isMax)
            acc /=
                static_cast<T>(s.countIncludePad ? s.KH * s.KW : (h1 - h0) * (w1 - w0));
          y[(nc * s.OH + oh) * s.OW + ow] = acc;
        }
    }
  });
}

template <typename T>
void pool2dBackward(const PoolShape &s, const T *x, const T *dy, T *dx) {
  const double work = double(s.N * s.C) * double(s.OH * s.OW) * double(s.KH * s.KW);
  parallelFor(s.N * s.C, work, [&](int64_t t0, int64_t t1) {
    for (int64_t nc = t0; nc < t1; ++nc) {
      const T *xp = x + nc * s.H * s.W;
      T *dxp = dx + nc * s.H * s.W;
      std::fill(dxp, dxp + s.H * s.W, T(0));
      for (int64_t oh = 0; oh < s.OH; ++oh)
        for (int64_t ow = 0; ow < s.OW; ++ow) {
          const T g = dy[(nc * s.OH + oh) * s.OW + ow];
          int64_t h0, h1, w0, w1;
          poolWindow(s, oh, ow, h0, h1, w0, w1);
          if (!s.isMax) {
            const T share = g / static_cast<T>(s.countIncludePad ? s.KH * s.KW
                                                                 : (h1 - h0) * (w1 - w0));
            for (int64_t ih = h0; ih < h1; ++ih)
              for (int64_t iw = w0; iw < w1; ++iw)
                dxp[ih * s.W + iw] += share;
            continue;
          }
          int64_t best = -1;
          T max = -std::numeric_limits<T>::infinity();
          for (int64_t ih = h0; ih < h1; ++ih)
            for (int64_t iw = w0; iw < w1; ++iw) {
              const int64_t i = ih * s.W + iw;
              if (best >= 0 && std::isnan(max))
                continue;
              if (best < 0 || std::isnan(xp[i]) || xp[i] > max) {
                best = i;
                max = xp[i];
              }
            }
          if (best >= 0)
            dxp[best] += g;
        }
    }
  });
}

template <typename T> Status runTyped(const LibraryStep &step, void *const *ptrs) {
  auto in = [&](int i) { return static_cast<const T *>(ptrs[i]); };
  auto out = [&](int i) { return static_cast<T *>(ptrs[i]); };
  switch (step.op) {
  case LibraryOp::matmul:
    return runMatmul<T>(step, ptrs);
  case LibraryOp::conv2d:
    conv2dForward(convShape(step.params), in(0), in(1), out(2));
    return Status::ok();
  case LibraryOp::conv2d_grad_input:
    conv2dGradInput(convShape(step.params), in(0), in(1), out(2));
    return Status::ok();
  case LibraryOp::conv2d_grad_filter:
    conv2dGradFilter(convShape(step.params), in(0), in(1), out(2));
    return Status::ok();
  case LibraryOp::pool2d:
    pool2dForward(poolShape(step.params), in(0), out(1));
    return Status::ok();
  case LibraryOp::pool2d_grad:
    pool2dBackward(poolShape(step.params), in(0), in(1), out(2));
    return Status::ok();
  }
  return Status(Code::invalid_argument,
                "library step: unknown op " + std::to_string(static_cast<int>(step.op)));
}

} // namespace

Status runLibraryStep(const LibraryStep &step, void *const *ptrs) {
  // The full check needs the arg sizes; the param count is checked again
  // here so that a step that skipped checkLibraryStep cannot index past
  // its params.
  const size_t wantParams =
      step.op == LibraryOp::matmul                                        ? 6
      : step.op == LibraryOp::pool2d || step.op == LibraryOp::pool2d_grad ? 16
                                                                          : 18;
  if (step.params.size() != wantParams || ptrs == nullptr)
    return Status(Code::invalid_argument, std::string(libraryOpName(step.op)) + ": " +
                                              std::to_string(step.params.size()) +
                                              " params, expected " +
                                              std::to_string(wantParams) +
                                              (ptrs ? "" : " (and no arg pointers)"));
  try {
    if (step.dtype == DType::f32)
      return runTyped<float>(step, ptrs);
    if (step.dtype == DType::f64)
      return runTyped<double>(step, ptrs);
    return Status(Code::unsupported, std::string(libraryOpName(step.op)) + ": dtype " +
                                         dtypeName(step.dtype) + " is not f32 or f64");
  } catch (const std::bad_alloc &) {
    return Status(Code::out_of_memory,
                  std::string(libraryOpName(step.op)) +
                      " on host: out of memory for its scratch buffers");
  } catch (const std::exception &e) {
    return Status(Code::device_error,
                  std::string(libraryOpName(step.op)) + " on host failed: " + e.what());
  }
}

} // namespace kiln::rt::host
