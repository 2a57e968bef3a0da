//===- ReferenceKernels.h - Numeric kernels of the reference interpreter -*- C++ -*-===//
//
// Plain C++17 over kiln::ref::Tensor, no MLIR: every kiln op's numerics, in
// double. Kernels do not round to the declared float type; callers apply the
// interpreter's Precision to the results (Tensor::applyPrecision). Integer
// results are wrapped to their declared width (i32 arithmetic wraps at 32
// bits).
//
// Contract of every kernel: operands are dense row-major tensors whose shapes
// and types already passed the op verifier (kernels assert on structural
// mismatches). Data-dependent errors (an index out of range, a bad label) are
// returned as a message through `std::string &error` with a false result;
// kernels never crash on data.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_IR_REFERENCEKERNELS_H
#define KILN_IR_REFERENCEKERNELS_H

#include "ir/ReferenceTensor.h"

#include <cassert>
#include <string>
#include <vector>

namespace kiln::ref {

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

/// result[i] = f(x[i]), with the same type and shape as `x`. `f` is generic
/// (`[](auto v) { return OpTy::apply(v); }`): floats are evaluated as double,
/// i32 as int32_t, i64 as int64_t and i1 as int64_t on 0/1 (then != 0).
template <typename F> Tensor mapUnary(const Tensor &x, F f) {
  Tensor r(x.type(), x.shape());
  const int64_t n = x.numElements();
  switch (x.type()) {
  case ElemType::I32:
    for (int64_t i = 0; i < n; ++i)
      r.ints()[i] = f(static_cast<int32_t>(x.ints()[i]));
    break;
  case ElemType::I64:
  case ElemType::I1:
    for (int64_t i = 0; i < n; ++i)
      r.setInt(i, f(x.ints()[i]));
    break;
  default:
    for (int64_t i = 0; i < n; ++i)
      r.floats()[i] = f(x.floats()[i]);
  }
  return r;
}

/// result[i] = f(a[i], b[i]) for operands of one type and shape.
template <typename F> Tensor mapBinary(const Tensor &a, const Tensor &b, F f) {
  assert(a.type() == b.type() && a.shape() == b.shape());
  Tensor r(a.type(), a.shape());
  const int64_t n = a.numElements();
  switch (a.type()) {
  case ElemType::I32:
    for (int64_t i = 0; i < n; ++i)
      r.ints()[i] = f(static_cast<int32_t>(a.ints()[i]),
                      static_cast<int32_t>(b.ints()[i]));
    break;
  case ElemType::I64:
  case ElemType::I1:
    for (int64_t i = 0; i < n; ++i)
      r.setInt(i, f(a.ints()[i], b.ints()[i]));
    break;
  default:
    for (int64_t i = 0; i < n; ++i)
      r.floats()[i] = f(a.floats()[i], b.floats()[i]);
  }
  return r;
}

/// Same numbering as kiln::CompareDirection.
enum class CmpDir { Eq, Ne, Lt, Le, Gt, Ge };
/// i1 result; any comparison with NaN is false except Ne. Integers compare
/// exactly (as int64), floats as double.
Tensor compare(CmpDir dir, const Tensor &a, const Tensor &b);
/// cond ? onTrue : onFalse, elementwise.
Tensor select(const Tensor &cond, const Tensor &onTrue, const Tensor &onFalse);
/// Converts to `to`: float -> int truncates toward zero and saturates to the
/// target range (NaN -> 0); anything -> i1 is x != 0 (NaN -> 1); i1 -> any is
/// 0/1; int -> narrower int wraps (two's complement); -> float converts (the
/// caller's precision rounds).
Tensor cast(const Tensor &x, ElemType to);

//===----------------------------------------------------------------------===//
// Broadcast, reductions
//===----------------------------------------------------------------------===//

/// broadcast_in_dim: operand dim i maps to result dim dims[i] (size 1 or
/// equal to the result's).
Tensor broadcastInDim(const Tensor &x, const std::vector<int64_t> &dims,
                      const std::vector<int64_t> &resultShape);

/// Same numbering as kiln::ReduceKind.
enum class ReduceKind { Sum, Mean, Max, Min, Prod };
/// Reduces `dims` (any order, no duplicates). Sum/prod of integers wrap;
/// max/min propagate NaN; an empty reduction gives the identity (0, 1,
/// -inf / type minimum, +inf / type maximum) and mean of nothing is NaN.
Tensor reduce(ReduceKind kind, const Tensor &x, const std::vector<int64_t> &dims,
              bool keepDims);
/// Index (i64) of the maximum along `dim`, which is dropped; the first
/// maximum wins and a NaN counts as larger than everything (first NaN wins),
/// as in PyTorch/NumPy.
Tensor argmax(const Tensor &x, int64_t dim);

//===----------------------------------------------------------------------===//
// Matmul, convolution, pooling
//===----------------------------------------------------------------------===//

/// Batched [.., M, K] x [.., K, N] -> [.., M, N] after optional transposes of
/// the last two dims; identical batch dims. Accumulates in double.
Tensor matmul(const Tensor &a, const Tensor &b, bool transposeA, bool transposeB);

/// NCHW input, OIHW filter [O, C / groups, KH, KW]; padding = {top, left,
/// bottom, right}; zero padding. Output [N, O, OH, OW] with
/// OH = (H + top + bottom - dh * (KH - 1) - 1) / sh + 1.
Tensor conv2d(const Tensor &input, const Tensor &filter,
              const std::vector<int64_t> &strides,
              const std::vector<int64_t> &padding,
              const std::vector<int64_t> &dilations, int64_t groups);

enum class PoolKind { Max, Avg };
/// NCHW pooling; padding = {top, left, bottom, right}. Max pads with -inf
/// (a window entirely in padding gives -inf); avg divides by KH * KW when
/// countIncludePad and by the number of in-bounds elements otherwise (NaN for
/// a window entirely in padding), as ONNX AveragePool.
Tensor pool2d(PoolKind kind, const Tensor &input,
              const std::vector<int64_t> &window,
              const std::vector<int64_t> &strides,
              const std::vector<int64_t> &padding, bool countIncludePad);

//===----------------------------------------------------------------------===//
// Data movement
//===----------------------------------------------------------------------===//

/// Result dim i is operand dim perm[i].
Tensor transpose(const Tensor &x, const std::vector<int64_t> &perm);
/// Elements start[i], start[i] + step[i], ... < limit[i] per dim.
Tensor slice(const Tensor &x, const std::vector<int64_t> &start,
             const std::vector<int64_t> &limit, const std::vector<int64_t> &step);
/// Concatenation along `dim` of tensors of one type.
Tensor concat(const std::vector<const Tensor *> &inputs, int64_t dim);
/// low[i] / high[i] (>= 0) elements of `value` before / after each dim.
Tensor pad(const Tensor &x, const std::vector<int64_t> &low,
           const std::vector<int64_t> &high, double value);

/// ONNX Gather: result.shape = table.shape[:axis] ++ indices.shape ++
/// table.shape[axis+1:]. Unlike ONNX, a negative index is an error (as is
/// one >= table.shape[axis]): returns false with a message naming the index
/// and its position.
bool gather(const Tensor &table, const Tensor &indices, int64_t axis,
            Tensor &result, std::string &error);
/// The adjoint of gather: result = zeros(resultShape, updates' type), then
/// result[.., indices[j], ..] += updates[.., j, ..] (repeated indices
/// accumulate in index order). Index errors as for gather.
bool scatterAdd(const Tensor &updates, const Tensor &indices, int64_t axis,
                const std::vector<int64_t> &resultShape, Tensor &result,
                std::string &error);

/// result[.., i_dim, ..] = i_dim.
Tensor iota(ElemType type, const std::vector<int64_t> &shape, int64_t dim);

//===----------------------------------------------------------------------===//
// Random numbers (the stream is defined in ir/Philox.h)
//===----------------------------------------------------------------------===//

enum class Distribution { Uniform, Normal, Bernoulli };
/// Element i from Philox4x32-10 at (seed, offset, i); see ir/Philox.h.
/// Bernoulli gives 1/0 (true/false for i1).
Tensor rng(Distribution dist, ElemType type, const std::vector<int64_t> &shape,
           int64_t seed, int64_t offset, double a, double b);
/// Inverted dropout: y_i = x_i * keep_i / (1 - ratio), keep_i = u_i >= ratio,
/// u_i = uniform01(seed, offset, i). ratio == 0 is the identity; ratio >= 1
/// gives zeros.
Tensor dropout(const Tensor &x, int64_t seed, int64_t offset, double ratio);

//===----------------------------------------------------------------------===//
// Composites
//===----------------------------------------------------------------------===//

/// exp(x - max) / sum(exp(x - max)) along `dim`.
Tensor softmax(const Tensor &x, int64_t dim);
/// (x - max) - log(sum(exp(x - max))) along `dim`.
Tensor logSoftmax(const Tensor &x, int64_t dim);

enum class LossReduction { Mean, Sum, None };
/// loss_n = logsumexp(logits[n, :]) - logits[n, labels[n]] for logits [N, C];
/// mean/sum give a 0-d tensor, none [N]. A label outside [0, C) is an error.
/// Checks that every class label is in [0, classes); the error names `op`,
/// the label and its position.
bool checkClassLabels(const char *op, const Tensor &labels, int64_t classes,
                      std::string &error);

bool crossEntropy(const Tensor &logits, const Tensor &labels,
                  LossReduction reduction, Tensor &result, std::string &error);

/// (x - mean) / sqrt(var + eps) * gamma + beta over dims [axis, rank), with
/// the biased variance; gamma and beta have shape x.shape[axis:].
Tensor layerNorm(const Tensor &x, const Tensor &gamma, const Tensor &beta,
                 int64_t axis, double epsilon);

/// Batch normalization of x [N, C, ...] per channel C. Training: normalize by
/// the batch mean and biased variance; new_running = (1 - momentum) * running
/// + momentum * batch_stat with the unbiased variance (PyTorch). Eval:
/// normalize by the running statistics, which are returned unchanged.
/// Training with a single value per channel is an error (the unbiased
/// variance is undefined), as in PyTorch.
struct BatchNormResult {
  Tensor y, runningMean, runningVar;
};
bool batchNorm(const Tensor &x, const Tensor &gamma, const Tensor &beta,
               const Tensor &runningMean, const Tensor &runningVar,
               double epsilon, double momentum, bool training,
               BatchNormResult &result, std::string &error);

/// none: x * 0.5 * (1 + erf(x / sqrt 2));
/// tanh: 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))).
Tensor gelu(const Tensor &x, bool tanhApproximation);

//===----------------------------------------------------------------------===//
// Backward ops (ReferenceKernelsGrad.cpp): adjoints of the composites and
// library ops. Each takes the forward op's operands and attributes plus the
// result adjoint `dy`, recomputes what it needs of the forward in double,
// and returns freshly allocated adjoints (`=`, never `+=` into a caller's
// buffer; several contributions to one element are summed in forward loop
// order).
//===----------------------------------------------------------------------===//

/// y * (dy - sum(dy * y, dim)), with y = softmax(x) along `dim`.
Tensor softmaxGrad(const Tensor &y, const Tensor &dy, int64_t dim);
/// dy - exp(y) * sum(dy, dim), with y = log_softmax(x) along `dim`.
Tensor logSoftmaxGrad(const Tensor &y, const Tensor &dy, int64_t dim);
/// dlogits[n, c] = s_n * (softmax(logits[n])[c] - (c == labels[n])), s_n =
/// dloss / N (mean), dloss (sum, 0-d) or dloss[n] (none). Labels as crossEntropy.
bool crossEntropyGrad(const Tensor &logits, const Tensor &labels,
                      const Tensor &dloss, LossReduction reduction,
                      Tensor &result, std::string &error);

/// The three adjoints of a normalization: x, gamma, beta.
struct NormGradResult {
  Tensor dx, dgamma, dbeta;
};
/// Adjoints of layerNorm over dims [axis, rank) (statistics recomputed).
NormGradResult layerNormGrad(const Tensor &x, const Tensor &gamma,
                             const Tensor &dy, int64_t axis, double epsilon);
/// Adjoints of training-mode batchNorm through the batch statistics (mean
/// and biased variance per channel of x [N, C, ...]).
NormGradResult batchNormGrad(const Tensor &x, const Tensor &gamma,
                             const Tensor &dy, double epsilon);
/// dy * gelu'(x) (erf form, or the tanh approximation's derivative).
Tensor geluGrad(const Tensor &x, const Tensor &dy, bool tanhApproximation);

/// Adjoint of conv2d's input [N, C, H, W] = `inputShape` from dy
/// [N, O, OH, OW] and the filter; conventions as conv2d.
Tensor conv2dGradInput(const Tensor &dy, const Tensor &filter,
                       const std::vector<int64_t> &inputShape,
                       const std::vector<int64_t> &strides,
                       const std::vector<int64_t> &padding,
                       const std::vector<int64_t> &dilations, int64_t groups);
/// Adjoint of conv2d's filter [O, C / groups, KH, KW] = `filterShape` from
/// the input and dy; conventions as conv2d.
Tensor conv2dGradFilter(const Tensor &input, const Tensor &dy,
                        const std::vector<int64_t> &filterShape,
                        const std::vector<int64_t> &strides,
                        const std::vector<int64_t> &padding,
                        const std::vector<int64_t> &dilations, int64_t groups);
/// Adjoint of pool2d's input. Max: each window's dy goes to the window's
/// first maximum in row-major order (the first NaN if any, as the forward
/// kernel picks it; nothing for a window entirely in padding). Avg: dy /
/// divisor to every in-bounds element of the window, divisor as pool2d.
Tensor pool2dGrad(PoolKind kind, const Tensor &input, const Tensor &dy,
                  const std::vector<int64_t> &window,
                  const std::vector<int64_t> &strides,
                  const std::vector<int64_t> &padding, bool countIncludePad);

/// Calls f(inputIndex, filterIndex, outputIndex) for every product term of
/// conv2d (NCHW input `in`, OIHW filter `w`, output `out` shapes), output
/// by output and, within one output, in (c, kh, kw) order: the loop of the
/// forward kernel and of both of its adjoints.
template <typename F>
void forEachConvTerm(const std::vector<int64_t> &in, const std::vector<int64_t> &w,
                     const std::vector<int64_t> &out,
                     const std::vector<int64_t> &strides,
                     const std::vector<int64_t> &padding,
                     const std::vector<int64_t> &dilations, int64_t groups, F f) {
  const int64_t N = in[0], C = in[1], H = in[2], W = in[3];
  const int64_t O = w[0], CG = w[1], KH = w[2], KW = w[3];
  const int64_t OH = out[2], OW = out[3], OG = O / groups;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o) {
      const int64_t g = o / OG;
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow)
          for (int64_t c = 0; c < CG; ++c)
            for (int64_t kh = 0; kh < KH; ++kh) {
              const int64_t ih = oh * strides[0] - padding[0] + kh * dilations[0];
              if (ih < 0 || ih >= H)
                continue;
              for (int64_t kw = 0; kw < KW; ++kw) {
                const int64_t iw = ow * strides[1] - padding[1] + kw * dilations[1];
                if (iw < 0 || iw >= W)
                  continue;
                f(((n * C + g * CG + c) * H + ih) * W + iw,
                  ((o * CG + c) * KH + kh) * KW + kw, ((n * O + o) * OH + oh) * OW + ow);
              }
            }
    }
}

} // namespace kiln::ref

#endif // KILN_IR_REFERENCEKERNELS_H
