//===- Scalar.h - Scalar formulas of the elementwise kiln ops ---*- C++ -*-===//
//
// Every elementwise kiln op declares its scalar semantics once, in ODS, as an
// expression over the functions in this namespace (for example `exp(x)` or
// `maximum(a, b)`). The reference interpreter instantiates that expression for
// double and float through `OpTy::apply<T>`; the CUDA emitter prints the same
// expression text against a device prelude that defines the same names.
//
// Contract: every function here is total (no UB, no traps) for every value of
// its argument type, including NaN, infinities and integer edge cases.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_IR_SCALAR_H
#define KILN_IR_SCALAR_H

#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

namespace kiln::scalar {

using std::ceil;
using std::cos;
using std::erf;
using std::exp;
using std::floor;
using std::log;
using std::sin;
using std::sqrt;
using std::tanh;

template <typename T> inline T neg(T x) {
  if constexpr (std::is_integral_v<T>)
    // Wraps like two's complement instead of overflowing on INT_MIN.
    return static_cast<T>(-static_cast<std::make_unsigned_t<T>>(x));
  else
    return -x;
}
template <typename T> inline T abs(T x) {
  if constexpr (std::is_integral_v<T>)
    return x < 0 ? neg(x) : x;
  else
    return std::fabs(x);
}
template <typename T> inline T sign(T x) {
  if constexpr (std::is_floating_point_v<T>)
    if (std::isnan(x))
      return x;
  return x > T(0) ? T(1) : (x < T(0) ? T(-1) : T(0));
}
template <typename T> inline T rsqrt(T x) { return T(1) / std::sqrt(x); }
template <typename T> inline T sigmoid(T x) {
  // Split by sign so that exp never overflows.
  if (x >= T(0))
    return T(1) / (T(1) + std::exp(-x));
  T e = std::exp(x);
  return e / (T(1) + e);
}
template <typename T> inline T relu(T x) {
  if constexpr (std::is_floating_point_v<T>)
    if (std::isnan(x))
      return x;
  return x > T(0) ? x : T(0);
}
/// Logical not on i1 (stored as 0/1) and bitwise-not-of-truth on integers.
template <typename T> inline T logical_not(T x) { return x == T(0) ? T(1) : T(0); }

template <typename T> inline T add(T a, T b) {
  if constexpr (std::is_integral_v<T>)
    return static_cast<T>(static_cast<std::make_unsigned_t<T>>(a) +
                          static_cast<std::make_unsigned_t<T>>(b));
  else
    return a + b;
}
template <typename T> inline T sub(T a, T b) {
  if constexpr (std::is_integral_v<T>)
    return static_cast<T>(static_cast<std::make_unsigned_t<T>>(a) -
                          static_cast<std::make_unsigned_t<T>>(b));
  else
    return a - b;
}
template <typename T> inline T mul(T a, T b) {
  if constexpr (std::is_integral_v<T>)
    return static_cast<T>(static_cast<std::make_unsigned_t<T>>(a) *
                          static_cast<std::make_unsigned_t<T>>(b));
  else
    return a * b;
}
/// Integer division truncates toward zero; division by zero yields 0 and
/// INT_MIN / -1 wraps, so no input traps.
template <typename T> inline T div(T a, T b) {
  if constexpr (std::is_integral_v<T>) {
    if (b == 0)
      return 0;
    if (b == T(-1))
      return neg(a);
    return a / b;
  } else {
    return a / b;
  }
}
template <typename T> inline T pow(T a, T b) {
  if constexpr (std::is_integral_v<T>) {
    if (b < 0)
      return a == 1 ? 1 : (a == -1 ? ((b & 1) ? -1 : 1) : 0);
    T r = 1;
    for (T base = a, e = b; e; e >>= 1, base = mul(base, base))
      if (e & 1)
        r = mul(r, base);
    return r;
  } else {
    return std::pow(a, b);
  }
}
/// NaN-propagating maximum/minimum (IEEE maximum, as in PyTorch and ONNX).
template <typename T> inline T maximum(T a, T b) {
  if constexpr (std::is_floating_point_v<T>)
    if (std::isnan(a) || std::isnan(b))
      return std::numeric_limits<T>::quiet_NaN();
  return a > b ? a : b;
}
template <typename T> inline T minimum(T a, T b) {
  if constexpr (std::is_floating_point_v<T>)
    if (std::isnan(a) || std::isnan(b))
      return std::numeric_limits<T>::quiet_NaN();
  return a < b ? a : b;
}
template <typename T> inline T logical_and(T a, T b) {
  if constexpr (std::is_integral_v<T>)
    return a & b;
  else
    return (a != T(0) && b != T(0)) ? T(1) : T(0);
}
template <typename T> inline T logical_or(T a, T b) {
  if constexpr (std::is_integral_v<T>)
    return a | b;
  else
    return (a != T(0) || b != T(0)) ? T(1) : T(0);
}

} // namespace kiln::scalar

#endif // KILN_IR_SCALAR_H
