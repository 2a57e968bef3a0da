//===- ReferenceKernels.cpp - Elementwise, reduction, data-movement kernels -===//
//
// Contract (all kernels): dense row-major operands that passed the op
// verifier; results are freshly allocated (`=`, never `+=` into a caller's
// buffer); floats are computed in double and not rounded here.
//
//===----------------------------------------------------------------------===//
#include "ir/ReferenceKernels.h"

#include "ir/Scalar.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace kiln::ref {

namespace {

/// Calls f(flat, idx) for every multi-index of `shape` in row-major order.
template <typename F> void forEachIndex(const std::vector<int64_t> &shape, F f) {
  const int64_t n = numElementsOf(shape);
  std::vector<int64_t> idx(shape.size(), 0);
  for (int64_t flat = 0; flat < n; ++flat) {
    f(flat, idx);
    for (int64_t d = int64_t(shape.size()) - 1; d >= 0; --d) {
      if (++idx[d] < shape[d])
        break;
      idx[d] = 0;
    }
  }
}

/// Copies element `from` of `src` to element `to` of `dst` (same type).
inline void copyElement(const Tensor &src, int64_t from, Tensor &dst, int64_t to) {
  if (src.isFloat())
    dst.floats()[to] = src.floats()[from];
  else
    dst.ints()[to] = src.ints()[from];
}


std::string indexToString(const std::vector<int64_t> &shape, int64_t flat) {
  std::vector<int64_t> idx(shape.size());
  for (int64_t d = int64_t(shape.size()) - 1; d >= 0; --d) {
    idx[d] = shape[d] ? flat % shape[d] : 0;
    flat = shape[d] ? flat / shape[d] : 0;
  }
  return shapeToString(idx);
}

/// Checks every index against [0, size); on failure describes the first bad
/// one (`what` is "gather" or "scatter_add").
bool checkIndices(const char *what, const Tensor &indices, int64_t size,
                  std::string &error) {
  for (int64_t j = 0, n = indices.numElements(); j < n; ++j) {
    int64_t v = indices.ints()[j];
    if (v < 0 || v >= size) {
      error = std::string(what) + " index " + std::to_string(v) +
              " out of range [0, " + std::to_string(size) +
              ") at indices position " + indexToString(indices.shape(), j);
      return false;
    }
  }
  return true;
}

} // namespace

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

Tensor compare(CmpDir dir, const Tensor &a, const Tensor &b) {
  assert(a.type() == b.type() && a.shape() == b.shape());
  Tensor r(ElemType::I1, a.shape());
  auto cmp = [dir](auto x, auto y) -> bool {
    switch (dir) {
    case CmpDir::Eq:
      return x == y;
    case CmpDir::Ne:
      return x != y; // true for NaN, as IEEE says
    case CmpDir::Lt:
      return x < y;
    case CmpDir::Le:
      return x <= y;
    case CmpDir::Gt:
      return x > y;
    case CmpDir::Ge:
      return x >= y;
    }
    return false;
  };
  for (int64_t i = 0, n = a.numElements(); i < n; ++i)
    r.ints()[i] = a.isFloat() ? cmp(a.floats()[i], b.floats()[i])
                              : cmp(a.ints()[i], b.ints()[i]);
  return r;
}

Tensor select(const Tensor &cond, const Tensor &onTrue, const Tensor &onFalse) {
  assert(cond.shape() == onTrue.shape() && onTrue.shape() == onFalse.shape());
  Tensor r(onTrue.type(), onTrue.shape());
  for (int64_t i = 0, n = r.numElements(); i < n; ++i)
    copyElement(cond.ints()[i] ? onTrue : onFalse, i, r, i);
  return r;
}

Tensor cast(const Tensor &x, ElemType to) {
  Tensor r(to, x.shape());
  for (int64_t i = 0, n = x.numElements(); i < n; ++i) {
    if (to == ElemType::I1)
      r.ints()[i] = x.isFloat() ? x.floats()[i] != 0 : x.ints()[i] != 0;
    else if (x.isFloat())
      r.setDouble(i, x.floats()[i]); // float: copy; int: trunc + saturate
    else
      r.setInt(i, x.ints()[i]); // int: wrap; float: convert
  }
  return r;
}

//===----------------------------------------------------------------------===//
// Broadcast, reductions
//===----------------------------------------------------------------------===//

Tensor broadcastInDim(const Tensor &x, const std::vector<int64_t> &dims,
                      const std::vector<int64_t> &resultShape) {
  assert(dims.size() == x.shape().size());
  Tensor r(x.type(), resultShape);
  const std::vector<int64_t> xStrides = stridesOf(x.shape());
  forEachIndex(resultShape, [&](int64_t flat, const std::vector<int64_t> &idx) {
    int64_t from = 0;
    for (size_t i = 0; i < dims.size(); ++i)
      if (x.dim(i) != 1)
        from += idx[dims[i]] * xStrides[i];
    copyElement(x, from, r, flat);
  });
  return r;
}

Tensor reduce(ReduceKind kind, const Tensor &x, const std::vector<int64_t> &dims,
              bool keepDims) {
  const int64_t rank = x.rank();
  std::vector<bool> reduced(rank, false);
  for (int64_t d : dims)
    reduced[d] = true;
  std::vector<int64_t> outShape, keptShape; // keptShape: reduced dims as 1
  for (int64_t d = 0; d < rank; ++d) {
    keptShape.push_back(reduced[d] ? 1 : x.dim(d));
    if (!reduced[d] || keepDims)
      outShape.push_back(keptShape.back());
  }
  const int64_t outN = numElementsOf(outShape);
  const std::vector<int64_t> outStrides = stridesOf(keptShape);
  int64_t count = 1;
  for (int64_t d : dims)
    count *= x.dim(d);

  // Maps an input element to its output element.
  std::vector<int64_t> target(x.numElements());
  forEachIndex(x.shape(), [&](int64_t flat, const std::vector<int64_t> &idx) {
    int64_t t = 0;
    for (int64_t d = 0; d < rank; ++d)
      if (!reduced[d])
        t += idx[d] * outStrides[d];
    target[flat] = t;
  });

  Tensor r(x.type(), outShape);
  if (x.isFloat()) {
    const double inf = std::numeric_limits<double>::infinity();
    double init = kind == ReduceKind::Prod  ? 1.0
                  : kind == ReduceKind::Max ? -inf
                  : kind == ReduceKind::Min ? inf
                                            : 0.0;
    std::vector<double> acc(outN, init);
    for (int64_t i = 0, n = x.numElements(); i < n; ++i) {
      double &a = acc[target[i]];
      double v = x.floats()[i];
      switch (kind) {
      case ReduceKind::Sum:
      case ReduceKind::Mean:
        a += v;
        break;
      case ReduceKind::Prod:
        a *= v;
        break;
      case ReduceKind::Max:
        a = scalar::maximum(a, v);
        break;
      case ReduceKind::Min:
        a = scalar::minimum(a, v);
        break;
      }
    }
    if (kind == ReduceKind::Mean)
      for (double &a : acc)
        a /= static_cast<double>(count); // 0 / 0 = NaN for an empty mean
    r.floats() = std::move(acc);
    return r;
  }

  // Integers: sum/prod wrap at the declared width, max/min start at the
  // type's extremes.
  const bool i32 = x.type() == ElemType::I32;
  const int64_t lo = i32 ? INT32_MIN : x.type() == ElemType::I1 ? 0 : INT64_MIN;
  const int64_t hi = i32 ? INT32_MAX : x.type() == ElemType::I1 ? 1 : INT64_MAX;
  int64_t init = kind == ReduceKind::Prod  ? 1
                 : kind == ReduceKind::Max ? lo
                 : kind == ReduceKind::Min ? hi
                                           : 0;
  std::vector<int64_t> acc(outN, init);
  for (int64_t i = 0, n = x.numElements(); i < n; ++i) {
    int64_t &a = acc[target[i]];
    int64_t v = x.ints()[i];
    switch (kind) {
    case ReduceKind::Sum:
    case ReduceKind::Mean:
      a = scalar::add(a, v);
      break;
    case ReduceKind::Prod:
      a = scalar::mul(a, v);
      break;
    case ReduceKind::Max:
      a = std::max(a, v);
      break;
    case ReduceKind::Min:
      a = std::min(a, v);
      break;
    }
  }
  for (int64_t o = 0; o < outN; ++o) {
    int64_t a = acc[o];
    if (kind == ReduceKind::Mean) // not produced by verified IR; no trap
      a = scalar::div<int64_t>(a, count);
    r.setInt(o, a);
  }
  return r;
}

Tensor argmax(const Tensor &x, int64_t dim) {
  const std::vector<int64_t> &s = x.shape();
  const int64_t outer = productOf(s, 0, dim), d = s[dim],
                inner = productOf(s, dim + 1, s.size());
  std::vector<int64_t> outShape(s.begin(), s.end());
  outShape.erase(outShape.begin() + dim);
  Tensor r(ElemType::I64, outShape);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t in = 0; in < inner; ++in) {
      int64_t best = 0;
      double bestV = d ? x.getDouble(o * d * inner + in) : 0;
      for (int64_t j = 1; j < d; ++j) {
        if (std::isnan(bestV))
          break;
        double v = x.getDouble((o * d + j) * inner + in);
        if (std::isnan(v) || v > bestV) {
          best = j;
          bestV = v;
        }
      }
      if (!x.isFloat()) { // exact comparison for i64 beyond 2^53
        int64_t bi = 0;
        for (int64_t j = 1; j < d; ++j)
          if (x.ints()[(o * d + j) * inner + in] > x.ints()[(o * d + bi) * inner + in])
            bi = j;
        best = bi;
      }
      r.ints()[o * inner + in] = best;
    }
  return r;
}

//===----------------------------------------------------------------------===//
// Data movement
//===----------------------------------------------------------------------===//

Tensor transpose(const Tensor &x, const std::vector<int64_t> &perm) {
  std::vector<int64_t> outShape(perm.size());
  for (size_t i = 0; i < perm.size(); ++i)
    outShape[i] = x.dim(perm[i]);
  Tensor r(x.type(), outShape);
  const std::vector<int64_t> xStrides = stridesOf(x.shape());
  forEachIndex(outShape, [&](int64_t flat, const std::vector<int64_t> &idx) {
    int64_t from = 0;
    for (size_t i = 0; i < perm.size(); ++i)
      from += idx[i] * xStrides[perm[i]];
    copyElement(x, from, r, flat);
  });
  return r;
}

Tensor slice(const Tensor &x, const std::vector<int64_t> &start,
             const std::vector<int64_t> &limit, const std::vector<int64_t> &step) {
  std::vector<int64_t> outShape(x.rank());
  for (int64_t i = 0; i < x.rank(); ++i)
    // Overflow-free ceil((limit - start) / step); the verifier guarantees
    // 0 <= start <= limit and step >= 1.
    outShape[i] = (limit[i] - start[i]) / step[i] + ((limit[i] - start[i]) % step[i] != 0);
  Tensor r(x.type(), outShape);
  const std::vector<int64_t> xStrides = stridesOf(x.shape());
  forEachIndex(outShape, [&](int64_t flat, const std::vector<int64_t> &idx) {
    int64_t from = 0;
    for (int64_t i = 0; i < x.rank(); ++i)
      from += (start[i] + idx[i] * step[i]) * xStrides[i];
    copyElement(x, from, r, flat);
  });
  return r;
}

Tensor concat(const std::vector<const Tensor *> &inputs, int64_t dim) {
  assert(!inputs.empty());
  std::vector<int64_t> outShape = inputs[0]->shape();
  outShape[dim] = 0;
  for (const Tensor *t : inputs)
    outShape[dim] += t->dim(dim);
  Tensor r(inputs[0]->type(), outShape);
  const int64_t outer = productOf(outShape, 0, dim);
  int64_t to = 0;
  for (int64_t o = 0; o < outer; ++o)
    for (const Tensor *t : inputs) {
      const int64_t chunk = productOf(t->shape(), dim, t->shape().size());
      for (int64_t k = 0; k < chunk; ++k)
        copyElement(*t, o * chunk + k, r, to++);
    }
  return r;
}

Tensor pad(const Tensor &x, const std::vector<int64_t> &low,
           const std::vector<int64_t> &high, double value) {
  std::vector<int64_t> outShape(x.rank());
  for (int64_t i = 0; i < x.rank(); ++i)
    outShape[i] = x.dim(i) + low[i] + high[i];
  Tensor r(x.type(), outShape);
  for (int64_t i = 0, n = r.numElements(); i < n; ++i)
    r.setDouble(i, value); // integers: truncated and saturated; i1: != 0
  if (r.type() == ElemType::I1)
    for (int64_t &v : r.ints())
      v = value != 0;
  const std::vector<int64_t> outStrides = stridesOf(outShape);
  forEachIndex(x.shape(), [&](int64_t flat, const std::vector<int64_t> &idx) {
    int64_t to = 0;
    for (int64_t i = 0; i < x.rank(); ++i)
      to += (idx[i] + low[i]) * outStrides[i];
    copyElement(x, flat, r, to);
  });
  return r;
}

bool gather(const Tensor &table, const Tensor &indices, int64_t axis,
            Tensor &result, std::string &error) {
  const std::vector<int64_t> &ts = table.shape();
  const int64_t size = ts[axis];
  if (!checkIndices("gather", indices, size, error))
    return false;
  std::vector<int64_t> outShape(ts.begin(), ts.begin() + axis);
  outShape.insert(outShape.end(), indices.shape().begin(), indices.shape().end());
  outShape.insert(outShape.end(), ts.begin() + axis + 1, ts.end());
  const int64_t outer = productOf(ts, 0, axis), inner = productOf(ts, axis + 1, ts.size());
  const int64_t nIdx = indices.numElements();
  result = Tensor(table.type(), outShape);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t j = 0; j < nIdx; ++j) {
      const int64_t row = indices.ints()[j];
      for (int64_t in = 0; in < inner; ++in)
        copyElement(table, (o * size + row) * inner + in, result,
                    (o * nIdx + j) * inner + in);
    }
  return true;
}

bool scatterAdd(const Tensor &updates, const Tensor &indices, int64_t axis,
                const std::vector<int64_t> &resultShape, Tensor &result,
                std::string &error) {
  const int64_t size = resultShape[axis];
  if (!checkIndices("scatter_add", indices, size, error))
    return false;
  const int64_t outer = productOf(resultShape, 0, axis),
                inner = productOf(resultShape, axis + 1, resultShape.size());
  const int64_t nIdx = indices.numElements();
  assert(updates.numElements() == outer * nIdx * inner);
  result = Tensor(updates.type(), resultShape);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t j = 0; j < nIdx; ++j) {
      const int64_t row = indices.ints()[j];
      for (int64_t in = 0; in < inner; ++in) {
        const int64_t from = (o * nIdx + j) * inner + in;
        const int64_t to = (o * size + row) * inner + in;
        if (result.isFloat())
          result.floats()[to] += updates.floats()[from];
        else
          result.setInt(to, scalar::add(result.ints()[to], updates.ints()[from]));
      }
    }
  return true;
}

Tensor iota(ElemType type, const std::vector<int64_t> &shape, int64_t dim) {
  Tensor r(type, shape);
  forEachIndex(shape, [&](int64_t flat, const std::vector<int64_t> &idx) {
    r.setInt(flat, idx[dim]);
  });
  return r;
}

} // namespace kiln::ref
