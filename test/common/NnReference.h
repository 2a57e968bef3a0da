//===- NnReference.h - conv2d / pool2d in double, for tests -------*- C++ -*-===//
//
// Test-only, header-only: the library steps' semantics written the way the
// reference interpreter writes them (ir/ReferenceKernelsNN.cpp,
// ir/ReferenceKernelsGrad.cpp): conv terms scattered from each output
// (forward, grad input, grad filter alike), pooling per output window,
// max = the first NaN, else the first largest value. Params and layouts
// are those of kiln::rt::LibraryStep.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_TEST_COMMON_NNREFERENCE_H
#define KILN_TEST_COMMON_NNREFERENCE_H

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace kiln::test {

/// Calls f(xIndex, wIndex, yIndex) for every term of every conv output.
template <typename F> void forEachConvTerm(const std::vector<int64_t> &p, F f) {
  const int64_t N = p[0], C = p[1], H = p[2], W = p[3], O = p[4], KH = p[5], KW = p[6],
                OH = p[7], OW = p[8], sh = p[9], sw = p[10], top = p[11], left = p[12],
                dh = p[15], dw = p[16], G = p[17];
  const int64_t Cg = C / G, Og = O / G;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o)
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow)
          for (int64_t c = 0; c < Cg; ++c)
            for (int64_t kh = 0; kh < KH; ++kh)
              for (int64_t kw = 0; kw < KW; ++kw) {
                int64_t ih = oh * sh - top + kh * dh, iw = ow * sw - left + kw * dw;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W)
                  continue;
                f(((n * C + (o / Og) * Cg + c) * H + ih) * W + iw, ((o * Cg + c) * KH + kh) * KW + kw,
                  ((n * O + o) * OH + oh) * OW + ow);
              }
}

/// out = op(in0, in1) for conv2d (x, w -> y), conv2d_grad_input
/// (dy, w -> dx), conv2d_grad_filter (x, dy -> dw); `op` 0, 1, 2.
inline std::vector<double> convReference(int op, const std::vector<int64_t> &p,
                                         const std::vector<double> &a,
                                         const std::vector<double> &b, size_t outElems) {
  std::vector<double> out(outElems, 0.0);
  forEachConvTerm(p, [&](int64_t x, int64_t w, int64_t y) {
    if (op == 0) out[y] += a[x] * b[w];
    else if (op == 1) out[x] += b[w] * a[y];
    else out[w] += a[x] * b[y];
  });
  return out;
}

/// pool2d (grad = false: y from x) or pool2d_grad (dx from x, dy).
inline std::vector<double> poolReference(bool grad, const std::vector<int64_t> &p,
                                         const std::vector<double> &x,
                                         const std::vector<double> &dy) {
  const int64_t N = p[0], C = p[1], H = p[2], W = p[3], OH = p[4], OW = p[5], KH = p[6],
                KW = p[7], sh = p[8], sw = p[9], top = p[10], left = p[11];
  const bool isMax = p[14], includePad = p[15];
  std::vector<double> out(grad ? x.size() : size_t(N * C * OH * OW), 0.0);
  for (int64_t nc = 0; nc < N * C; ++nc)
    for (int64_t oh = 0; oh < OH; ++oh)
      for (int64_t ow = 0; ow < OW; ++ow) {
        int64_t best = -1, count = 0;
        double max = -std::numeric_limits<double>::infinity(), sum = 0;
        std::vector<int64_t> window;
        for (int64_t kh = 0; kh < KH; ++kh)
          for (int64_t kw = 0; kw < KW; ++kw) {
            int64_t ih = oh * sh - top + kh, iw = ow * sw - left + kw;
            if (ih < 0 || ih >= H || iw < 0 || iw >= W)
              continue;
            int64_t i = (nc * H + ih) * W + iw;
            window.push_back(i);
            ++count;
            sum += x[i];
            if (best >= 0 && std::isnan(max))
              continue;
            if (best < 0 || std::isnan(x[i]) || x[i] > max) {
              best = i;
              max = x[i];
            }
          }
        const double div = double(includePad ? KH * KW : count);
        const int64_t o = (nc * OH + oh) * OW + ow;
        if (!grad) {
          out[o] = isMax ? max : sum / div;
        } else if (isMax) {
          if (best >= 0)
            out[best] += dy[o];
        } else {
          for (int64_t i : window)
            out[i] += dy[o] / div;
        }
      }
  return out;
}

} // namespace kiln::test

#endif // KILN_TEST_COMMON_NNREFERENCE_H
