//===- simt.h - CUDA C++ on the CPU: the host device's SIMT shim --*- C++ -*-===//
//
// Two parts:
//  * The binary interface between a kernel library (.so) and the emulator
//    (runtime/host/Simt.cpp): plain C structs, always visible. Simt.cpp
//    includes this file without KILN_HOST_SIMT to get them.
//  * Under KILN_HOST_SIMT (the host device compiles kernels with
//    `g++ -O2 -std=c++17 -shared -fPIC -DKILN_HOST_SIMT -include simt.h
//    -I/usr/local/cuda/include -x c++ kernels.cu`): the CUDA built-ins the
//    generated kernels use, so the very same source compiles for the CPU.
//
// How a kernel library reaches the emulator (no symbol of the executable is
// needed; the .so stays self-contained):
//  1. After dlopen, the runtime calls the exported
//     `int kiln_simt_bind(const KilnSimtApi *api)`, which stores the table
//     of emulator entry points (barrier, warp exchange) in the .so; it
//     returns KILN_SIMT_ABI_VERSION.
//  2. Every OS worker thread, before running a block, calls the exported
//     `KilnSimtThread **kiln_simt_slot(void)`: the address of that thread's
//     "current emulated thread" pointer (a thread_local of the .so). Before
//     it runs or resumes a fiber, the emulator stores the fiber's
//     KilnSimtThread there; threadIdx, blockIdx, ... read through it.
//  3. `__shared__` is `thread_local`: a worker runs one block at a time and
//     all fibers of a block stay on their worker, so each worker's copy is
//     the block's shared memory. The emulator poisons the .so's whole TLS
//     block (0xFF bytes: NaN) before each block and then re-stores the
//     slot. `extern __shared__ T name[];` (dynamic shared memory) is
//     rewritten by the host device before compiling into a macro over
//     `kiln_simt_dynamic_shared()` (see HostDevice.cpp).
//  4. The emulator calls `NAME_host(void **args)` once per emulated thread.
//
// Warp operations support the full mask only; anything else, and a barrier
// some threads never reach, is reported by the emulator as a device error.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_HOST_SIMT_H
#define KILN_HOST_SIMT_H

#define KILN_SIMT_ABI_VERSION 1

#ifdef __cplusplus
extern "C" {
#endif

/// Three unsigned coordinates (layout of CUDA's uint3/dim3).
struct KilnSimtDim3 {
  unsigned x, y, z;
};

/// What every thread of one block shares.
struct KilnSimtBlock {
  struct KilnSimtDim3 blockIdx, blockDim, gridDim;
  void *dynamicShared; ///< the launch's dynamic shared memory (16-aligned)
};

/// One emulated thread. `impl` belongs to the emulator.
struct KilnSimtThread {
  struct KilnSimtDim3 threadIdx;
  const struct KilnSimtBlock *block;
  void *impl;
};

/// Emulator entry points handed to a kernel library by kiln_simt_bind.
struct KilnSimtApi {
  unsigned version; ///< KILN_SIMT_ABI_VERSION
  /// __syncthreads(): returns when every thread of the block arrived.
  void (*syncthreads)(struct KilnSimtThread *self);
  /// Every lane of the warp contributes `value`; returns lane `srcLane`'s
  /// value (its own `value` if srcLane is past the end of a partial warp).
  unsigned long long (*warpShuffle)(struct KilnSimtThread *self, unsigned mask,
                                    unsigned long long value, unsigned srcLane);
  /// __ballot_sync: bit i is lane i's `predicate != 0`.
  unsigned (*warpBallot)(struct KilnSimtThread *self, unsigned mask, int predicate);
  /// __syncwarp(mask).
  void (*syncwarp)(struct KilnSimtThread *self, unsigned mask);
};

#ifdef __cplusplus
}
#endif

#ifdef KILN_HOST_SIMT
// --- CUDA execution-space keywords (before the CUDA headers, whose host
// branch keeps definitions it finds).
#define __global__
#define __device__
#define __host__
#define __shared__ thread_local
#define __constant__ static const
#define __noinline__ __attribute__((noinline))
#ifndef __launch_bounds__
#define __launch_bounds__(...)
#endif

#include <vector_types.h>
#include <vector_functions.h>

#include <cmath>
#include <cstdint>
#include <cstring>

#ifndef __forceinline__
#define __forceinline__ inline __attribute__((always_inline))
#endif

namespace kiln_simt {
/// The emulator's entry points (set by kiln_simt_bind).
static const KilnSimtApi *api = nullptr;
/// The current emulated thread of the calling OS thread.
static thread_local KilnSimtThread *current = nullptr;
inline const uint3 &asUint3(const KilnSimtDim3 &d) { return *reinterpret_cast<const uint3 *>(&d); }
inline dim3 asDim3(const KilnSimtDim3 &d) { return dim3(d.x, d.y, d.z); }

template <typename T> inline unsigned long long toBits(T v) {
  static_assert(sizeof(T) <= 8, "warp value wider than 64 bits");
  unsigned long long b = 0;
  std::memcpy(&b, &v, sizeof(T));
  return b;
}
template <typename T> inline T fromBits(unsigned long long b) {
  T v;
  std::memcpy(&v, &b, sizeof(T));
  return v;
}
inline unsigned lane() {
  const KilnSimtThread *t = current;
  const KilnSimtDim3 &d = t->block->blockDim;
  unsigned linear = t->threadIdx.x + d.x * (t->threadIdx.y + d.y * t->threadIdx.z);
  return linear & 31u;
}
template <typename T> inline T fetch(unsigned mask, T v, unsigned src) {
  return fromBits<T>(api->warpShuffle(current, mask, toBits(v), src & 31u));
}
template <typename T> inline T shfl(unsigned mask, T v, int src, int width) {
  unsigned l = lane(), w = (unsigned)width;
  return fetch(mask, v, (l & ~(w - 1)) + ((unsigned)src & (w - 1)));
}
template <typename T> inline T shflXor(unsigned mask, T v, int x, int width) {
  unsigned l = lane(), w = (unsigned)width;
  unsigned s = l ^ (unsigned)x;
  if ((s & ~(w - 1)) != (l & ~(w - 1)))
    s = l;
  return fetch(mask, v, s);
}
template <typename T> inline T shflDown(unsigned mask, T v, unsigned d, int width) {
  unsigned l = lane(), w = (unsigned)width;
  unsigned s = l + d;
  if ((s & ~(w - 1)) != (l & ~(w - 1)))
    s = l;
  return fetch(mask, v, s);
}
template <typename T> inline T shflUp(unsigned mask, T v, unsigned d, int width) {
  unsigned l = lane(), w = (unsigned)width;
  return fetch(mask, v, (l & (w - 1)) >= d ? l - d : l);
}
inline unsigned ballot(unsigned mask, int p) { return api->warpBallot(current, mask, p); }
} // namespace kiln_simt

#define threadIdx (::kiln_simt::asUint3(::kiln_simt::current->threadIdx))
#define blockIdx (::kiln_simt::asUint3(::kiln_simt::current->block->blockIdx))
#define blockDim (::kiln_simt::asDim3(::kiln_simt::current->block->blockDim))
#define gridDim (::kiln_simt::asDim3(::kiln_simt::current->block->gridDim))
#define warpSize 32

inline void __syncthreads() { kiln_simt::api->syncthreads(kiln_simt::current); }
inline void __syncwarp(unsigned mask = 0xffffffffu) { kiln_simt::api->syncwarp(kiln_simt::current, mask); }
inline void __threadfence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline void __threadfence_block() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline void *kiln_simt_dynamic_shared() { return kiln_simt::current->block->dynamicShared; }

#define KILN_SIMT_SHFL(T)                                                                          \
  inline T __shfl_sync(unsigned m, T v, int s, int w = 32) { return kiln_simt::shfl(m, v, s, w); } \
  inline T __shfl_xor_sync(unsigned m, T v, int x, int w = 32) {                                   \
    return kiln_simt::shflXor(m, v, x, w);                                                         \
  }                                                                                                \
  inline T __shfl_down_sync(unsigned m, T v, unsigned d, int w = 32) {                             \
    return kiln_simt::shflDown(m, v, d, w);                                                        \
  }                                                                                                \
  inline T __shfl_up_sync(unsigned m, T v, unsigned d, int w = 32) {                               \
    return kiln_simt::shflUp(m, v, d, w);                                                          \
  }
KILN_SIMT_SHFL(float)
KILN_SIMT_SHFL(double)
KILN_SIMT_SHFL(int)
KILN_SIMT_SHFL(unsigned)
KILN_SIMT_SHFL(long)
KILN_SIMT_SHFL(unsigned long)
KILN_SIMT_SHFL(long long)
KILN_SIMT_SHFL(unsigned long long)
#undef KILN_SIMT_SHFL
inline unsigned __ballot_sync(unsigned m, int p) { return kiln_simt::ballot(m, p); }
inline int __any_sync(unsigned m, int p) { return kiln_simt::ballot(m, p) != 0; }
inline int __all_sync(unsigned m, int p) { return kiln_simt::ballot(m, !p) == 0; }
inline unsigned __activemask() { return 0xffffffffu; }

// --- Atomics: blocks run concurrently on several OS threads.
#define KILN_SIMT_INT_ATOMICS(T)                                                                   \
  inline T atomicAdd(T *p, T v) { return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST); }             \
  inline T atomicSub(T *p, T v) { return __atomic_fetch_sub(p, v, __ATOMIC_SEQ_CST); }             \
  inline T atomicAnd(T *p, T v) { return __atomic_fetch_and(p, v, __ATOMIC_SEQ_CST); }             \
  inline T atomicOr(T *p, T v) { return __atomic_fetch_or(p, v, __ATOMIC_SEQ_CST); }               \
  inline T atomicXor(T *p, T v) { return __atomic_fetch_xor(p, v, __ATOMIC_SEQ_CST); }             \
  inline T atomicExch(T *p, T v) { return __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST); }           \
  inline T atomicCAS(T *p, T cmp, T v) {                                                           \
    __atomic_compare_exchange_n(p, &cmp, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);            \
    return cmp;                                                                                    \
  }                                                                                                \
  inline T atomicMax(T *p, T v) {                                                                  \
    T old = __atomic_load_n(p, __ATOMIC_SEQ_CST);                                                  \
    while (old < v &&                                                                              \
           !__atomic_compare_exchange_n(p, &old, v, true, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {   \
    }                                                                                              \
    return old;                                                                                    \
  }                                                                                                \
  inline T atomicMin(T *p, T v) {                                                                  \
    T old = __atomic_load_n(p, __ATOMIC_SEQ_CST);                                                  \
    while (old > v &&                                                                              \
           !__atomic_compare_exchange_n(p, &old, v, true, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {   \
    }                                                                                              \
    return old;                                                                                    \
  }
KILN_SIMT_INT_ATOMICS(int)
KILN_SIMT_INT_ATOMICS(unsigned)
KILN_SIMT_INT_ATOMICS(long long)
KILN_SIMT_INT_ATOMICS(unsigned long long)
#undef KILN_SIMT_INT_ATOMICS

namespace kiln_simt {
/// Read-modify-write of a float/double through its bit pattern.
template <typename F, typename B, typename Op> inline F floatRmw(F *p, Op op) {
  B *bp = reinterpret_cast<B *>(p);
  B old = __atomic_load_n(bp, __ATOMIC_SEQ_CST);
  for (;;) {
    F of;
    std::memcpy(&of, &old, sizeof(F));
    F nf = op(of);
    B nb;
    std::memcpy(&nb, &nf, sizeof(F));
    if (__atomic_compare_exchange_n(bp, &old, nb, true, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
      return of;
  }
}
} // namespace kiln_simt
inline float atomicAdd(float *p, float v) {
  return kiln_simt::floatRmw<float, unsigned>(p, [v](float o) { return o + v; });
}
inline double atomicAdd(double *p, double v) {
  return kiln_simt::floatRmw<double, unsigned long long>(p, [v](double o) { return o + v; });
}
inline float atomicExch(float *p, float v) {
  return kiln_simt::floatRmw<float, unsigned>(p, [v](float) { return v; });
}
inline float atomicMax(float *p, float v) {
  return kiln_simt::floatRmw<float, unsigned>(p, [v](float o) { return o < v ? v : o; });
}
inline float atomicMin(float *p, float v) {
  return kiln_simt::floatRmw<float, unsigned>(p, [v](float o) { return o > v ? v : o; });
}
inline double atomicMax(double *p, double v) {
  return kiln_simt::floatRmw<double, unsigned long long>(p, [v](double o) { return o < v ? v : o; });
}
inline double atomicMin(double *p, double v) {
  return kiln_simt::floatRmw<double, unsigned long long>(p, [v](double o) { return o > v ? v : o; });
}

// --- Bit casts and integer intrinsics.
inline float __int_as_float(int v) { return kiln_simt::fromBits<float>((unsigned)v); }
inline float __uint_as_float(unsigned v) { return kiln_simt::fromBits<float>(v); }
inline int __float_as_int(float v) { return (int)(unsigned)kiln_simt::toBits(v); }
inline unsigned __float_as_uint(float v) { return (unsigned)kiln_simt::toBits(v); }
inline long long __double_as_longlong(double v) { return (long long)kiln_simt::toBits(v); }
inline double __longlong_as_double(long long v) {
  return kiln_simt::fromBits<double>((unsigned long long)v);
}
inline int __mulhi(int a, int b) { return (int)(((long long)a * b) >> 32); }
inline unsigned __umulhi(unsigned a, unsigned b) {
  return (unsigned)(((unsigned long long)a * b) >> 32);
}
inline long long __mul64hi(long long a, long long b) {
  return (long long)(((__int128)a * b) >> 64);
}
inline unsigned long long __umul64hi(unsigned long long a, unsigned long long b) {
  return (unsigned long long)(((unsigned __int128)a * b) >> 64);
}
inline int __popc(unsigned v) { return __builtin_popcount(v); }
inline int __popcll(unsigned long long v) { return __builtin_popcountll(v); }
inline int __clz(int v) { return v ? __builtin_clz((unsigned)v) : 32; }
inline int __ffs(int v) { return __builtin_ffs(v); }
inline int __clzll(long long v) { return v ? __builtin_clzll((unsigned long long)v) : 64; }
inline int __ffsll(long long v) { return __builtin_ffsll(v); }
inline unsigned __brev(unsigned v) {
  unsigned r = 0;
  for (int i = 0; i < 32; ++i, v >>= 1)
    r = (r << 1) | (v & 1u);
  return r;
}
template <typename T> inline T __ldg(const T *p) { return *p; }

// --- CUDA's global min/max overloads and round-to-nearest arithmetic (the
// host's default rounding mode is round-to-nearest-even too).
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }
inline unsigned long long min(unsigned long long a, unsigned long long b) { return a < b ? a : b; }
inline unsigned long long max(unsigned long long a, unsigned long long b) { return a > b ? a : b; }
inline float min(float a, float b) { return std::fmin(a, b); }
inline float max(float a, float b) { return std::fmax(a, b); }
inline double min(double a, double b) { return std::fmin(a, b); }
inline double max(double a, double b) { return std::fmax(a, b); }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __fmaf_rn(float a, float b, float c) { return std::fma(a, b, c); }
inline double __dadd_rn(double a, double b) { return a + b; }
inline double __dmul_rn(double a, double b) { return a * b; }
inline double __fma_rn(double a, double b, double c) { return std::fma(a, b, c); }
inline int __float2int_rz(float x) { return (int)x; }
inline int __float2int_rn(float x) { return (int)std::nearbyint(x); }
inline float __int2float_rn(int x) { return (float)x; }

// --- Fast-math spellings: the IEEE functions on the host.
inline float __expf(float x) { return std::exp(x); }
inline float __logf(float x) { return std::log(x); }
inline float __sinf(float x) { return std::sin(x); }
inline float __cosf(float x) { return std::cos(x); }
inline float __powf(float a, float b) { return std::pow(a, b); }
inline float __fdividef(float a, float b) { return a / b; }
inline float __saturatef(float x) { return x < 0.f ? 0.f : (x > 1.f ? 1.f : x); }
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline double rsqrt(double x) { return 1.0 / std::sqrt(x); }
using std::fmaf;

// --- The library's exported entry points (one translation unit per .so).
extern "C" __attribute__((visibility("default"))) int kiln_simt_bind(const KilnSimtApi *a) {
  kiln_simt::api = a;
  return KILN_SIMT_ABI_VERSION;
}
extern "C" __attribute__((visibility("default"))) KilnSimtThread **kiln_simt_slot(void) {
  return &kiln_simt::current;
}
#endif // KILN_HOST_SIMT

#endif // KILN_HOST_SIMT_H
