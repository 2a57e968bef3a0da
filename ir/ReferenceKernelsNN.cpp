//===- ReferenceKernelsNN.cpp - Matmul, conv, pooling, RNG, composites -----===//
//
// Contract (all kernels): dense row-major operands that passed the op
// verifier; results are freshly allocated; sums accumulate in double in
// index order; nothing is rounded to the declared type here.
//
//===----------------------------------------------------------------------===//
#include "ir/Philox.h"
#include "ir/ReferenceKernels.h"
#include "ir/Scalar.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace kiln::ref {


//===----------------------------------------------------------------------===//
// Matmul, convolution, pooling
//===----------------------------------------------------------------------===//

Tensor matmul(const Tensor &a, const Tensor &b, bool transposeA, bool transposeB) {
  const int64_t rank = a.rank();
  assert(rank >= 2 && b.rank() == rank);
  const int64_t m = transposeA ? a.dim(rank - 1) : a.dim(rank - 2);
  const int64_t k = transposeA ? a.dim(rank - 2) : a.dim(rank - 1);
  const int64_t n = transposeB ? b.dim(rank - 2) : b.dim(rank - 1);
  assert(k == (transposeB ? b.dim(rank - 1) : b.dim(rank - 2)));
  std::vector<int64_t> outShape(a.shape().begin(), a.shape().end() - 2);
  const int64_t batch = productOf(outShape, 0, outShape.size());
  outShape.push_back(m);
  outShape.push_back(n);
  Tensor r(a.type(), outShape);
  const double *A = a.floats().data(), *B = b.floats().data();
  double *C = r.floats().data();
  for (int64_t bi = 0; bi < batch; ++bi) {
    const double *Ab = A + bi * m * k, *Bb = B + bi * k * n;
    double *Cb = C + bi * m * n;
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double acc = 0;
        for (int64_t p = 0; p < k; ++p)
          acc += (transposeA ? Ab[p * m + i] : Ab[i * k + p]) *
                 (transposeB ? Bb[j * k + p] : Bb[p * n + j]);
        Cb[i * n + j] = acc;
      }
  }
  return r;
}

Tensor conv2d(const Tensor &input, const Tensor &filter,
              const std::vector<int64_t> &strides,
              const std::vector<int64_t> &padding,
              const std::vector<int64_t> &dilations, int64_t groups) {
  const int64_t N = input.dim(0), H = input.dim(2), W = input.dim(3);
  const int64_t O = filter.dim(0), KH = filter.dim(2), KW = filter.dim(3);
  assert(input.dim(1) == filter.dim(1) * groups && O % groups == 0);
  const int64_t sh = strides[0], sw = strides[1], dh = dilations[0], dw = dilations[1];
  const int64_t top = padding[0], left = padding[1], bottom = padding[2],
                right = padding[3];
  const int64_t OH = (H + top + bottom - dh * (KH - 1) - 1) / sh + 1;
  const int64_t OW = (W + left + right - dw * (KW - 1) - 1) / sw + 1;
  Tensor r(input.type(), {N, O, OH, OW});
  const std::vector<double> &x = input.floats(), &w = filter.floats();
  std::vector<double> &y = r.floats();
  // Each output's terms come consecutively in (c, kh, kw) order: the sums
  // are the same as with a local accumulator.
  forEachConvTerm(input.shape(), filter.shape(), r.shape(), strides, padding, dilations,
                  groups, [&](int64_t i, int64_t k, int64_t o) { y[o] += x[i] * w[k]; });
  return r;
}

Tensor pool2d(PoolKind kind, const Tensor &input,
              const std::vector<int64_t> &window,
              const std::vector<int64_t> &strides,
              const std::vector<int64_t> &padding, bool countIncludePad) {
  const int64_t N = input.dim(0), C = input.dim(1), H = input.dim(2), W = input.dim(3);
  const int64_t KH = window[0], KW = window[1], sh = strides[0], sw = strides[1];
  const int64_t top = padding[0], left = padding[1], bottom = padding[2],
                right = padding[3];
  const int64_t OH = (H + top + bottom - KH) / sh + 1;
  const int64_t OW = (W + left + right - KW) / sw + 1;
  Tensor r(input.type(), {N, C, OH, OW});
  const std::vector<double> &x = input.floats();
  std::vector<double> &y = r.floats();
  const double negInf = -std::numeric_limits<double>::infinity();
  for (int64_t nc = 0; nc < N * C; ++nc)
    for (int64_t oh = 0; oh < OH; ++oh)
      for (int64_t ow = 0; ow < OW; ++ow) {
        double acc = kind == PoolKind::Max ? negInf : 0.0;
        int64_t inBounds = 0;
        for (int64_t kh = 0; kh < KH; ++kh) {
          const int64_t ih = oh * sh - top + kh;
          if (ih < 0 || ih >= H)
            continue;
          for (int64_t kw = 0; kw < KW; ++kw) {
            const int64_t iw = ow * sw - left + kw;
            if (iw < 0 || iw >= W)
              continue;
            const double v = x[(nc * H + ih) * W + iw];
            ++inBounds;
            if (kind == PoolKind::Avg)
              acc += v;
            else if (std::isnan(v) || v > acc || std::isnan(acc))
              acc = std::isnan(acc) ? acc : v; // NaN propagates
          }
        }
        if (kind == PoolKind::Avg)
          acc /= static_cast<double>(countIncludePad ? KH * KW : inBounds);
        y[(nc * OH + oh) * OW + ow] = acc;
      }
  return r;
}

//===----------------------------------------------------------------------===//
// Random numbers
//===----------------------------------------------------------------------===//

/// The largest value of float type `t` strictly below `b`.
static double largestBelow(double b, ElemType t) {
  double r = roundToType(b, t);
  if (r < b)
    return r;
  switch (t) {
  case ElemType::F32:
    return std::nextafter(static_cast<float>(r), -INFINITY);
  case ElemType::F16:
  case ElemType::BF16: {
    bool half = t == ElemType::F16;
    uint16_t bits = half ? doubleToHalfBits(r) : doubleToBF16Bits(r);
    if (r == 0)
      bits = 0x8001; // the smallest negative subnormal
    else if (r > 0)
      --bits;
    else
      ++bits;
    return half ? halfBitsToDouble(bits) : bf16BitsToDouble(bits);
  }
  default:
    return std::nextafter(r, -INFINITY);
  }
}

Tensor rng(Distribution dist, ElemType type, const std::vector<int64_t> &shape,
           int64_t seed, int64_t offset, double a, double b) {
  Tensor r(type, shape);
  for (int64_t i = 0, n = r.numElements(); i < n; ++i) {
    const auto idx = static_cast<uint64_t>(i);
    double v = 0;
    switch (dist) {
    case Distribution::Uniform:
      v = a + (b - a) * philox::uniform01(seed, offset, idx);
      // u < 1, but a + (b - a) * u can round up to b in the result type:
      // keep the documented half-open interval [a, b).
      if (roundToType(v, type) >= b)
        v = largestBelow(b, type);
      break;
    case Distribution::Normal:
      v = a + b * philox::standardNormal(seed, offset, idx);
      break;
    case Distribution::Bernoulli:
      v = philox::uniform01(seed, offset, idx) < a ? 1.0 : 0.0;
      break;
    }
    r.setDouble(i, v);
  }
  return r;
}

Tensor dropout(const Tensor &x, int64_t seed, int64_t offset, double ratio) {
  if (ratio <= 0)
    return x;
  Tensor r(x.type(), x.shape());
  if (ratio >= 1)
    return r;
  for (int64_t i = 0, n = x.numElements(); i < n; ++i) {
    const double keep =
        philox::uniform01(seed, offset, static_cast<uint64_t>(i)) >= ratio ? 1.0 : 0.0;
    r.floats()[i] = x.floats()[i] * keep / (1.0 - ratio);
  }
  return r;
}

//===----------------------------------------------------------------------===//
// Composites
//===----------------------------------------------------------------------===//

namespace {

/// The stable log-sum-exp parts of a line: `shift` = max (NaN if any
/// element is NaN; 0 for a line of -inf, which avoids -inf - -inf = NaN, so
/// softmax of all -inf is NaN and its log-sum-exp is -inf) and
/// `sum` = sum(exp(x - shift)).
void lineStats(const double *x, int64_t stride, int64_t d, double &shift,
               double &sum) {
  double max = -std::numeric_limits<double>::infinity();
  for (int64_t j = 0; j < d; ++j)
    max = scalar::maximum(max, x[j * stride]);
  shift = std::isinf(max) ? 0.0 : max;
  sum = 0;
  for (int64_t j = 0; j < d; ++j)
    sum += std::exp(x[j * stride] - shift);
}
} // namespace

Tensor softmax(const Tensor &x, int64_t dim) {
  Tensor r(x.type(), x.shape());
  const double *in = x.floats().data();
  double *out = r.floats().data();
  forEachLine(x.shape(), dim, [&](int64_t base, int64_t stride, int64_t d) {
    double shift, sum;
    lineStats(in + base, stride, d, shift, sum);
    for (int64_t j = 0; j < d; ++j)
      out[base + j * stride] = std::exp(in[base + j * stride] - shift) / sum;
  });
  return r;
}

Tensor logSoftmax(const Tensor &x, int64_t dim) {
  Tensor r(x.type(), x.shape());
  const double *in = x.floats().data();
  double *out = r.floats().data();
  forEachLine(x.shape(), dim, [&](int64_t base, int64_t stride, int64_t d) {
    double shift, sum;
    lineStats(in + base, stride, d, shift, sum);
    const double logSum = std::log(sum);
    for (int64_t j = 0; j < d; ++j)
      out[base + j * stride] = (in[base + j * stride] - shift) - logSum;
  });
  return r;
}

bool checkClassLabels(const char *op, const Tensor &labels, int64_t classes,
                      std::string &error) {
  for (int64_t n = 0; n < labels.numElements(); ++n) {
    const int64_t label = labels.ints()[n];
    if (label < 0 || label >= classes) {
      error = std::string(op) + " label " + std::to_string(label) + " out of range [0, " +
              std::to_string(classes) + ") at labels position " + std::to_string(n);
      return false;
    }
  }
  return true;
}

bool crossEntropy(const Tensor &logits, const Tensor &labels,
                  LossReduction reduction, Tensor &result, std::string &error) {
  if (!checkClassLabels("cross_entropy", labels, logits.dim(1), error))
    return false;
  const int64_t N = logits.dim(0), C = logits.dim(1);
  std::vector<double> losses(N);
  for (int64_t n = 0; n < N; ++n) {
    const double *row = logits.floats().data() + n * C;
    double shift, sum;
    lineStats(row, 1, C, shift, sum);
    losses[n] = (shift + std::log(sum)) - row[labels.ints()[n]];
  }
  if (reduction == LossReduction::None) {
    result = Tensor::fromDoubles(logits.type(), {N}, std::move(losses));
    return true;
  }
  double sum = 0;
  for (double l : losses)
    sum += l;
  if (reduction == LossReduction::Mean)
    sum /= static_cast<double>(N);
  result = Tensor::fromDoubles(logits.type(), {}, {sum});
  return true;
}

Tensor layerNorm(const Tensor &x, const Tensor &gamma, const Tensor &beta,
                 int64_t axis, double epsilon) {
  const int64_t outer = productOf(x.shape(), 0, axis),
                inner = productOf(x.shape(), axis, x.shape().size());
  Tensor r(x.type(), x.shape());
  for (int64_t o = 0; o < outer; ++o) {
    const double *row = x.floats().data() + o * inner;
    double mean = 0, var = 0;
    for (int64_t j = 0; j < inner; ++j)
      mean += row[j];
    mean /= static_cast<double>(inner);
    for (int64_t j = 0; j < inner; ++j)
      var += (row[j] - mean) * (row[j] - mean);
    var /= static_cast<double>(inner);
    const double inv = 1.0 / std::sqrt(var + epsilon);
    for (int64_t j = 0; j < inner; ++j)
      r.floats()[o * inner + j] =
          (row[j] - mean) * inv * gamma.floats()[j] + beta.floats()[j];
  }
  return r;
}

bool batchNorm(const Tensor &x, const Tensor &gamma, const Tensor &beta,
               const Tensor &runningMean, const Tensor &runningVar,
               double epsilon, double momentum, bool training,
               BatchNormResult &result, std::string &error) {
  const int64_t N = x.dim(0), C = x.dim(1),
                S = productOf(x.shape(), 2, x.shape().size());
  const int64_t count = N * S;
  if (training && count <= 1) {
    error = "batch_norm in training needs more than 1 value per channel, found " +
            std::to_string(count) + " (input " + shapeToString(x.shape()) + ")";
    return false;
  }
  result.y = Tensor(x.type(), x.shape());
  result.runningMean = runningMean;
  result.runningVar = runningVar;
  for (int64_t c = 0; c < C; ++c) {
    double mean, var;
    if (training) {
      double sum = 0, sq = 0;
      for (int64_t n = 0; n < N; ++n)
        for (int64_t s = 0; s < S; ++s)
          sum += x.floats()[(n * C + c) * S + s];
      mean = sum / static_cast<double>(count);
      for (int64_t n = 0; n < N; ++n)
        for (int64_t s = 0; s < S; ++s) {
          const double dlt = x.floats()[(n * C + c) * S + s] - mean;
          sq += dlt * dlt;
        }
      var = sq / static_cast<double>(count);
      const double unbiased = sq / static_cast<double>(count - 1);
      result.runningMean.floats()[c] =
          (1 - momentum) * runningMean.floats()[c] + momentum * mean;
      result.runningVar.floats()[c] =
          (1 - momentum) * runningVar.floats()[c] + momentum * unbiased;
    } else {
      mean = runningMean.floats()[c];
      var = runningVar.floats()[c];
    }
    const double inv = 1.0 / std::sqrt(var + epsilon);
    const double g = gamma.floats()[c], b = beta.floats()[c];
    for (int64_t n = 0; n < N; ++n)
      for (int64_t s = 0; s < S; ++s) {
        const int64_t i = (n * C + c) * S + s;
        result.y.floats()[i] = (x.floats()[i] - mean) * inv * g + b;
      }
  }
  return true;
}

Tensor gelu(const Tensor &x, bool tanhApproximation) {
  Tensor r(x.type(), x.shape());
  const double sqrt2 = 1.4142135623730950488016887242097;
  const double sqrt2OverPi = 0.79788456080286535587989211986876;
  for (int64_t i = 0, n = x.numElements(); i < n; ++i) {
    const double v = x.floats()[i];
    r.floats()[i] =
        tanhApproximation
            ? 0.5 * v * (1.0 + std::tanh(sqrt2OverPi * (v + 0.044715 * v * v * v)))
            : v * 0.5 * (1.0 + std::erf(v / sqrt2));
  }
  return r;
}

} // namespace kiln::ref
