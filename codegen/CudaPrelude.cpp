//===- CudaPrelude.cpp - Device functions every kernel includes ----------===//
//
// The text below starts every generated translation unit. It defines, for
// device code, the scalar functions of ir/Scalar.h under the same names (in
// namespace kiln_dev), with the same total semantics (NaN-propagating
// maximum, integer division by zero = 0, wrapping integer arithmetic), the
// Philox4x32-10 stream of ir/Philox.h bit for bit, and the warp and block
// reductions the reduction and composite kernels use.
//
// It compiles with NVRTC (no headers: only built-in types) and, under
// KILN_HOST_SIMT, with the host C++ compiler against the runtime's SIMT
// emulation header. It is include-guarded so that the host device can
// concatenate the kernels of an artifact into one translation unit.
//
// Block reductions assume blockDim.x is a multiple of 32 (every kernel
// that calls them is launched so) and use a 32-entry shared scratch array.
//
//===----------------------------------------------------------------------===//

#include "codegen/CudaPrelude.h"

namespace kiln::codegen {

const char *cudaPrelude() {
  return R"KILN(#ifndef KILN_PRELUDE
#define KILN_PRELUDE
#ifndef KILN_HOST_SIMT
#define KILN_INF __int_as_float(0x7f800000)
#define KILN_NAN __int_as_float(0x7fc00000)
#else
#define KILN_INF __builtin_inff()
#define KILN_NAN __builtin_nanf("")
#endif
namespace kiln_dev {
typedef long long i64;
typedef unsigned long long u64;
typedef unsigned int u32;

__device__ __forceinline__ bool isnan_(float x) { return x != x; }
__device__ __forceinline__ bool isnan_(double x) { return x != x; }
template <typename T> __device__ __forceinline__ bool isnan_(T) { return false; }

__device__ __forceinline__ float exp(float x) { return expf(x); }
__device__ __forceinline__ double exp(double x) { return ::exp(x); }
__device__ __forceinline__ float log(float x) { return logf(x); }
__device__ __forceinline__ double log(double x) { return ::log(x); }
__device__ __forceinline__ float sqrt(float x) { return sqrtf(x); }
__device__ __forceinline__ double sqrt(double x) { return ::sqrt(x); }
__device__ __forceinline__ float rsqrt(float x) { return 1.0f / sqrtf(x); }
__device__ __forceinline__ double rsqrt(double x) { return 1.0 / ::sqrt(x); }
__device__ __forceinline__ float tanh(float x) { return tanhf(x); }
__device__ __forceinline__ double tanh(double x) { return ::tanh(x); }
__device__ __forceinline__ float sin(float x) { return sinf(x); }
__device__ __forceinline__ double sin(double x) { return ::sin(x); }
__device__ __forceinline__ float cos(float x) { return cosf(x); }
__device__ __forceinline__ double cos(double x) { return ::cos(x); }
__device__ __forceinline__ float erf(float x) { return erff(x); }
__device__ __forceinline__ double erf(double x) { return ::erf(x); }
__device__ __forceinline__ float floor(float x) { return floorf(x); }
__device__ __forceinline__ double floor(double x) { return ::floor(x); }
__device__ __forceinline__ float ceil(float x) { return ceilf(x); }
__device__ __forceinline__ double ceil(double x) { return ::ceil(x); }

template <typename T> __device__ __forceinline__ T neg(T x) { return T(0) - x; }
__device__ __forceinline__ int neg(int x) { return (int)(0u - (u32)x); }
__device__ __forceinline__ i64 neg(i64 x) { return (i64)(0ull - (u64)x); }
template <typename T> __device__ __forceinline__ T abs(T x) { return x < T(0) ? neg(x) : x; }
__device__ __forceinline__ float abs(float x) { return fabsf(x); }
__device__ __forceinline__ double abs(double x) { return ::fabs(x); }
template <typename T> __device__ __forceinline__ T sign(T x) {
  if (isnan_(x)) return x;
  return x > T(0) ? T(1) : (x < T(0) ? T(-1) : T(0));
}
template <typename T> __device__ __forceinline__ T sigmoid(T x) {
  if (x >= T(0)) return T(1) / (T(1) + exp(neg(x)));
  T e = exp(x);
  return e / (T(1) + e);
}
template <typename T> __device__ __forceinline__ T relu(T x) {
  if (isnan_(x)) return x;
  return x > T(0) ? x : T(0);
}
template <typename T> __device__ __forceinline__ T logical_not(T x) { return x == T(0) ? T(1) : T(0); }
__device__ __forceinline__ bool logical_not(bool x) { return !x; }

template <typename T> __device__ __forceinline__ T add(T a, T b) { return a + b; }
__device__ __forceinline__ int add(int a, int b) { return (int)((u32)a + (u32)b); }
__device__ __forceinline__ i64 add(i64 a, i64 b) { return (i64)((u64)a + (u64)b); }
template <typename T> __device__ __forceinline__ T sub(T a, T b) { return a - b; }
__device__ __forceinline__ int sub(int a, int b) { return (int)((u32)a - (u32)b); }
__device__ __forceinline__ i64 sub(i64 a, i64 b) { return (i64)((u64)a - (u64)b); }
template <typename T> __device__ __forceinline__ T mul(T a, T b) { return a * b; }
__device__ __forceinline__ int mul(int a, int b) { return (int)((u32)a * (u32)b); }
__device__ __forceinline__ i64 mul(i64 a, i64 b) { return (i64)((u64)a * (u64)b); }
template <typename T> __device__ __forceinline__ T idiv(T a, T b) {
  if (b == 0) return 0;
  if (b == T(-1)) return neg(a);
  return a / b;
}
__device__ __forceinline__ float div(float a, float b) { return a / b; }
__device__ __forceinline__ double div(double a, double b) { return a / b; }
__device__ __forceinline__ int div(int a, int b) { return idiv(a, b); }
__device__ __forceinline__ i64 div(i64 a, i64 b) { return idiv(a, b); }
__device__ __forceinline__ float pow(float a, float b) { return powf(a, b); }
__device__ __forceinline__ double pow(double a, double b) { return ::pow(a, b); }
template <typename T> __device__ __forceinline__ T ipow(T a, T b) {
  if (b < 0) return a == 1 ? 1 : (a == -1 ? ((b & 1) ? -1 : 1) : 0);
  T r = 1;
  for (T base = a, e = b; e; e >>= 1, base = mul(base, base))
    if (e & 1) r = mul(r, base);
  return r;
}
__device__ __forceinline__ int pow(int a, int b) { return ipow(a, b); }
__device__ __forceinline__ i64 pow(i64 a, i64 b) { return ipow(a, b); }
template <typename T> __device__ __forceinline__ T maximum(T a, T b) {
  if (isnan_(a)) return a;
  if (isnan_(b)) return b;
  return a > b ? a : b;
}
template <typename T> __device__ __forceinline__ T minimum(T a, T b) {
  if (isnan_(a)) return a;
  if (isnan_(b)) return b;
  return a < b ? a : b;
}
__device__ __forceinline__ bool logical_and(bool a, bool b) { return a && b; }
__device__ __forceinline__ bool logical_or(bool a, bool b) { return a || b; }
template <typename T> __device__ __forceinline__ T logical_and(T a, T b) { return a & b; }
template <typename T> __device__ __forceinline__ T logical_or(T a, T b) { return a | b; }

/// kiln.cast float -> integer: truncate toward zero, saturate, NaN -> 0.
template <typename I, typename F> __device__ __forceinline__ I ftoi(F x, double lo, double hi) {
  if (x != x) return 0;
  double d = (double)x;
  if (d <= lo) return (I)lo;
  if (d >= hi) return (I)hi;
  return (I)d;
}

/// Tanh and erf forms of gelu and its derivative (ir/KilnOps.td).
template <typename T> __device__ __forceinline__ T gelu(T x, bool approxTanh) {
  if (approxTanh) {
    const T k = T(0.79788456080286535588);
    return T(0.5) * x * (T(1) + tanh(k * (x + T(0.044715) * x * x * x)));
  }
  return x * T(0.5) * (T(1) + erf(x * T(0.70710678118654752440)));
}
template <typename T> __device__ __forceinline__ T gelu_grad(T x, T dy, bool approxTanh) {
  if (approxTanh) {
    const T k = T(0.79788456080286535588);
    T t = tanh(k * (x + T(0.044715) * x * x * x));
    return dy * (T(0.5) * (T(1) + t) +
                 T(0.5) * x * (T(1) - t * t) * k * (T(1) + T(3) * T(0.044715) * x * x));
  }
  return dy * (T(0.5) * (T(1) + erf(x * T(0.70710678118654752440))) +
               x * exp(T(-0.5) * x * x) * T(0.39894228040143267794));
}

/// Philox4x32-10 (ir/Philox.h): the four words for element `index` of the
/// stream (seed, offset).
struct u32x4 { u32 x0, x1, x2, x3; };
__device__ __forceinline__ u32x4 philox(i64 seed, i64 offset, u64 index) {
  u64 s = (u64)seed, o = (u64)offset;
  u32 c0 = (u32)index, c1 = (u32)(index >> 32), c2 = (u32)o, c3 = (u32)(o >> 32);
  u32 k0 = (u32)s, k1 = (u32)(s >> 32);
  for (int r = 0; r < 10; ++r) {
    if (r) { k0 += 0x9E3779B9u; k1 += 0xBB67AE85u; }
    u64 p0 = (u64)0xD2511F53u * c0, p1 = (u64)0xCD9E8D57u * c2;
    u32 hi0 = (u32)(p0 >> 32), lo0 = (u32)p0, hi1 = (u32)(p1 >> 32), lo1 = (u32)p1;
    u32 n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
    c0 = n0; c1 = n1; c2 = n2; c3 = n3;
  }
  u32x4 r = {c0, c1, c2, c3};
  return r;
}
__device__ __forceinline__ double uniform01(i64 seed, i64 offset, u64 index) {
  return (double)philox(seed, offset, index).x0 * 2.3283064365386962890625e-10;
}
__device__ __forceinline__ double standard_normal(i64 seed, i64 offset, u64 index) {
  u32x4 w = philox(seed, offset, index);
  double u1 = ((double)w.x0 + 1.0) * 2.3283064365386962890625e-10;
  double u2 = (double)w.x1 * 2.3283064365386962890625e-10;
  return ::sqrt(-2.0 * ::log(u1)) * ::cos(6.283185307179586476925286766559 * u2);
}

/// Warp and block reductions. `scratch` is a __shared__ array of 32.
template <typename T> struct SumOp {
  __device__ __forceinline__ T operator()(T a, T b) const { return a + b; }
};
template <typename T> struct ProdOp {
  __device__ __forceinline__ T operator()(T a, T b) const { return a * b; }
};
template <typename T> struct MaxOp {
  __device__ __forceinline__ T operator()(T a, T b) const { return maximum(a, b); }
};
template <typename T> struct MinOp {
  __device__ __forceinline__ T operator()(T a, T b) const { return minimum(a, b); }
};
template <typename T, typename Op> __device__ __forceinline__ T warp_reduce(T v, Op op) {
  for (int o = 16; o > 0; o >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}
/// Every thread of the block gets the reduction of every thread's `v`.
template <typename T, typename Op> __device__ T block_reduce(T v, Op op, T identity, T *scratch) {
  v = warp_reduce(v, op);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int warps = (blockDim.x + 31) >> 5;
  __syncthreads();
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  T r = lane < warps ? scratch[lane] : identity;
  r = warp_reduce(r, op);
  __syncthreads();
  return r;
}
/// argmax: NaN first (smallest index), then the larger value, then the
/// smaller index: a total order, so any reduction tree gives the
/// reference's "first maximum, first NaN" answer.
template <typename T> __device__ __forceinline__ void argmax_combine(T &v, i64 &i, T ov, i64 oi) {
  bool on = isnan_(ov), n = isnan_(v);
  bool take = (on && !n) || (on == n && !n && ov > v) || (on == n && (n || ov == v) && oi < i);
  if (take) { v = ov; i = oi; }
}
template <typename T> __device__ void block_argmax(T &v, i64 &i, T *sv, i64 *si) {
  for (int o = 16; o > 0; o >>= 1) {
    T ov = __shfl_xor_sync(0xffffffffu, v, o);
    i64 oi = __shfl_xor_sync(0xffffffffu, i, o);
    argmax_combine(v, i, ov, oi);
  }
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int warps = (blockDim.x + 31) >> 5;
  __syncthreads();
  if (lane == 0) { sv[warp] = v; si[warp] = i; }
  __syncthreads();
  if (lane < warps) { v = sv[lane]; i = si[lane]; } else { v = sv[0]; i = si[0]; }
  for (int o = 16; o > 0; o >>= 1) {
    T ov = __shfl_xor_sync(0xffffffffu, v, o);
    i64 oi = __shfl_xor_sync(0xffffffffu, i, o);
    argmax_combine(v, i, ov, oi);
  }
  __syncthreads();
}
} // namespace kiln_dev
#endif // KILN_PRELUDE
)KILN";
}

} // namespace kiln::codegen
