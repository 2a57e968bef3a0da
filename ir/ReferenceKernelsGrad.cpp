//===- ReferenceKernelsGrad.cpp - Kernels of the backward ops -------------===//
//
// Contract (all kernels): dense row-major operands that passed the backward
// op's verifier (so the forward op's shape rules hold); results are freshly
// allocated and computed in double; where several terms add into one
// element they are summed in the forward kernel's loop order. Forward
// quantities (softmax, statistics, window maxima) are recomputed with the
// forward kernels' conventions (ReferenceKernelsNN.cpp).
//
//===----------------------------------------------------------------------===//
#include "ir/ReferenceKernels.h"

#include <cmath>
#include <limits>

namespace kiln::ref {

namespace {

/// The shared part of the layer- and batch-norm adjoints: for the `count`
/// values x[idx(j)] of one normalization group with scale gamma(j),
/// dx = inv * (g - mean(g) - xhat * mean(g * xhat)), g = dy * gamma, and
/// accumulates dy * xhat and dy into dgamma(j) / dbeta(j).
template <typename Index, typename Gamma, typename Acc>
void normGroupGrad(const Tensor &x, const Tensor &dy, int64_t count, double epsilon,
                   Index idx, Gamma gamma, Acc accumulate, Tensor &dx) {
  const std::vector<double> &xs = x.floats(), &dys = dy.floats();
  const double n = static_cast<double>(count);
  double mean = 0, var = 0;
  for (int64_t j = 0; j < count; ++j)
    mean += xs[idx(j)];
  mean /= n;
  for (int64_t j = 0; j < count; ++j)
    var += (xs[idx(j)] - mean) * (xs[idx(j)] - mean);
  var /= n;
  const double inv = 1.0 / std::sqrt(var + epsilon);
  double meanG = 0, meanGX = 0;
  for (int64_t j = 0; j < count; ++j) {
    const double xhat = (xs[idx(j)] - mean) * inv, g = dys[idx(j)] * gamma(j);
    meanG += g;
    meanGX += g * xhat;
    accumulate(j, dys[idx(j)] * xhat, dys[idx(j)]);
  }
  meanG /= n;
  meanGX /= n;
  for (int64_t j = 0; j < count; ++j) {
    const double xhat = (xs[idx(j)] - mean) * inv, g = dys[idx(j)] * gamma(j);
    dx.floats()[idx(j)] = inv * (g - meanG - xhat * meanGX);
  }
}
} // namespace

Tensor softmaxGrad(const Tensor &y, const Tensor &dy, int64_t dim) {
  Tensor r(y.type(), y.shape());
  const double *ys = y.floats().data(), *dys = dy.floats().data();
  forEachLine(y.shape(), dim, [&](int64_t base, int64_t stride, int64_t d) {
    double dot = 0;
    for (int64_t j = 0; j < d; ++j)
      dot += dys[base + j * stride] * ys[base + j * stride];
    for (int64_t j = 0; j < d; ++j) {
      const int64_t i = base + j * stride;
      r.floats()[i] = ys[i] * (dys[i] - dot);
    }
  });
  return r;
}

Tensor logSoftmaxGrad(const Tensor &y, const Tensor &dy, int64_t dim) {
  Tensor r(y.type(), y.shape());
  const double *ys = y.floats().data(), *dys = dy.floats().data();
  forEachLine(y.shape(), dim, [&](int64_t base, int64_t stride, int64_t d) {
    double sum = 0;
    for (int64_t j = 0; j < d; ++j)
      sum += dys[base + j * stride];
    for (int64_t j = 0; j < d; ++j) {
      const int64_t i = base + j * stride;
      r.floats()[i] = dys[i] - std::exp(ys[i]) * sum;
    }
  });
  return r;
}

bool crossEntropyGrad(const Tensor &logits, const Tensor &labels,
                      const Tensor &dloss, LossReduction reduction,
                      Tensor &result, std::string &error) {
  if (!checkClassLabels("cross_entropy_grad", labels, logits.dim(1), error))
    return false;
  const int64_t N = logits.dim(0), C = logits.dim(1);
  result = softmax(logits, 1);
  for (int64_t n = 0; n < N; ++n) {
    const double scale = reduction == LossReduction::None ? dloss.floats()[n]
                         : reduction == LossReduction::Sum
                             ? dloss.floats()[0]
                             : dloss.floats()[0] / static_cast<double>(N);
    double *row = result.floats().data() + n * C;
    row[labels.ints()[n]] -= 1.0;
    for (int64_t c = 0; c < C; ++c)
      row[c] *= scale;
  }
  return true;
}

NormGradResult layerNormGrad(const Tensor &x, const Tensor &gamma,
                             const Tensor &dy, int64_t axis, double epsilon) {
  const int64_t outer = productOf(x.shape(), 0, axis),
                inner = productOf(x.shape(), axis, x.shape().size());
  NormGradResult r{Tensor(x.type(), x.shape()), Tensor(gamma.type(), gamma.shape()),
                   Tensor(gamma.type(), gamma.shape())};
  for (int64_t o = 0; o < outer; ++o)
    normGroupGrad(
        x, dy, inner, epsilon, [&](int64_t j) { return o * inner + j; },
        [&](int64_t j) { return gamma.floats()[j]; },
        [&](int64_t j, double dyXhat, double dyj) {
          r.dgamma.floats()[j] += dyXhat;
          r.dbeta.floats()[j] += dyj;
        },
        r.dx);
  return r;
}

NormGradResult batchNormGrad(const Tensor &x, const Tensor &gamma,
                             const Tensor &dy, double epsilon) {
  const int64_t N = x.dim(0), C = x.dim(1), S = productOf(x.shape(), 2, x.shape().size());
  NormGradResult r{Tensor(x.type(), x.shape()), Tensor(gamma.type(), gamma.shape()),
                   Tensor(gamma.type(), gamma.shape())};
  if (N * S == 0)
    return r; // no values: zero adjoints (and no statistics to divide by)
  for (int64_t c = 0; c < C; ++c)
    normGroupGrad(
        x, dy, N * S, epsilon,
        [&](int64_t j) { return ((j / S) * C + c) * S + j % S; },
        [&](int64_t) { return gamma.floats()[c]; },
        [&](int64_t, double dyXhat, double dyj) {
          r.dgamma.floats()[c] += dyXhat;
          r.dbeta.floats()[c] += dyj;
        },
        r.dx);
  return r;
}

Tensor geluGrad(const Tensor &x, const Tensor &dy, bool tanhApproximation) {
  Tensor r(x.type(), x.shape());
  const double invSqrt2 = 0.70710678118654752440084436210485;
  const double invSqrt2Pi = 0.39894228040143267793994605993438;
  const double sqrt2OverPi = 0.79788456080286535587989211986876;
  const double c = 0.044715;
  for (int64_t i = 0, n = x.numElements(); i < n; ++i) {
    const double v = x.floats()[i];
    double d;
    if (tanhApproximation) {
      const double t = std::tanh(sqrt2OverPi * (v + c * v * v * v));
      d = 0.5 * (1.0 + t) +
          0.5 * v * (1.0 - t * t) * sqrt2OverPi * (1.0 + 3.0 * c * v * v);
    } else {
      d = 0.5 * (1.0 + std::erf(v * invSqrt2)) + v * std::exp(-0.5 * v * v) * invSqrt2Pi;
    }
    r.floats()[i] = dy.floats()[i] * d;
  }
  return r;
}


Tensor conv2dGradInput(const Tensor &dy, const Tensor &filter,
                       const std::vector<int64_t> &inputShape,
                       const std::vector<int64_t> &strides,
                       const std::vector<int64_t> &padding,
                       const std::vector<int64_t> &dilations, int64_t groups) {
  Tensor r(dy.type(), inputShape);
  const std::vector<double> &w = filter.floats(), &d = dy.floats();
  std::vector<double> &dx = r.floats();
  forEachConvTerm(inputShape, filter.shape(), dy.shape(), strides, padding,
                  dilations, groups,
                  [&](int64_t x, int64_t k, int64_t y) { dx[x] += w[k] * d[y]; });
  return r;
}

Tensor conv2dGradFilter(const Tensor &input, const Tensor &dy,
                        const std::vector<int64_t> &filterShape,
                        const std::vector<int64_t> &strides,
                        const std::vector<int64_t> &padding,
                        const std::vector<int64_t> &dilations, int64_t groups) {
  Tensor r(dy.type(), filterShape);
  const std::vector<double> &x = input.floats(), &d = dy.floats();
  std::vector<double> &dw = r.floats();
  forEachConvTerm(input.shape(), filterShape, dy.shape(), strides, padding,
                  dilations, groups,
                  [&](int64_t i, int64_t k, int64_t y) { dw[k] += x[i] * d[y]; });
  return r;
}

Tensor pool2dGrad(PoolKind kind, const Tensor &input, const Tensor &dy,
                  const std::vector<int64_t> &window,
                  const std::vector<int64_t> &strides,
                  const std::vector<int64_t> &padding, bool countIncludePad) {
  const int64_t N = input.dim(0), C = input.dim(1), H = input.dim(2), W = input.dim(3);
  const int64_t KH = window[0], KW = window[1], sh = strides[0], sw = strides[1];
  const int64_t top = padding[0], left = padding[1];
  const int64_t OH = dy.dim(2), OW = dy.dim(3);
  Tensor r(input.type(), input.shape());
  const std::vector<double> &x = input.floats(), &d = dy.floats();
  std::vector<double> &dx = r.floats();
  for (int64_t nc = 0; nc < N * C; ++nc)
    for (int64_t oh = 0; oh < OH; ++oh)
      for (int64_t ow = 0; ow < OW; ++ow) {
        const double g = d[(nc * OH + oh) * OW + ow];
        // The in-bounds part of the window.
        const int64_t h0 = std::max<int64_t>(oh * sh - top, 0),
                      h1 = std::min<int64_t>(oh * sh - top + KH, H),
                      w0 = std::max<int64_t>(ow * sw - left, 0),
                      w1 = std::min<int64_t>(ow * sw - left + KW, W);
        if (kind == PoolKind::Avg) {
          const int64_t inBounds = std::max<int64_t>(h1 - h0, 0) * std::max<int64_t>(w1 - w0, 0);
          const double share =
              g / static_cast<double>(countIncludePad ? KH * KW : inBounds);
          for (int64_t ih = h0; ih < h1; ++ih)
            for (int64_t iw = w0; iw < w1; ++iw)
              dx[(nc * H + ih) * W + iw] += share;
          continue;
        }
        int64_t best = -1;
        double max = -std::numeric_limits<double>::infinity();
        for (int64_t ih = h0; ih < h1; ++ih)
          for (int64_t iw = w0; iw < w1; ++iw) {
            const int64_t i = (nc * H + ih) * W + iw;
            if (best >= 0 && std::isnan(max))
              continue; // the first NaN stays the maximum
            if (best < 0 || std::isnan(x[i]) || x[i] > max) {
              best = i;
              max = x[i];
            }
          }
        if (best >= 0)
          dx[best] += g;
      }
  return r;
}

} // namespace kiln::ref
