//===- Philox.h - Philox4x32-10 counter-based generator ---------*- C++ -*-===//
//
// The random stream of kiln.rng and kiln.dropout. The CUDA kernels must
// reproduce it bit for bit, so the whole definition is here:
//
//   Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2,
//   3", SC'11; Random123): 10 rounds, multipliers 0xD2511F53 / 0xCD9E8D57,
//   Weyl key increments 0x9E3779B9 / 0xBB67AE85.
//
//   For the element with row-major flat index i of a result:
//     key     = (lo32(seed), hi32(seed))
//     counter = (lo32(i), hi32(i), lo32(offset), hi32(offset))
//     (x0, x1, x2, x3) = philox4x32_10(counter, key)
//   seed and offset are the i64 operands, taken as their 64-bit two's
//   complement patterns.
//
//   uniform01  u  = x0 * 2^-32                        in [0, 1)
//   uniform    a + (b - a) * u
//   normal     u1 = (x0 + 1) * 2^-32 in (0, 1], u2 = x1 * 2^-32,
//              z = sqrt(-2 ln u1) * cos(2 pi u2),  a + b * z
//   bernoulli  u < a  (1 / true, else 0 / false)
//   dropout    keep_i = u_i >= ratio (u as for uniform01)
//
// All arithmetic after the integer generator is in double; results are then
// rounded to the declared element type as any other op result.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_IR_PHILOX_H
#define KILN_IR_PHILOX_H

#include <array>
#include <cmath>
#include <cstdint>

namespace kiln::philox {

using Counter = std::array<uint32_t, 4>;
using Key = std::array<uint32_t, 2>;

constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;
constexpr uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;

inline Counter round(Counter c, Key k) {
  uint64_t p0 = uint64_t(kM0) * c[0];
  uint64_t p1 = uint64_t(kM1) * c[2];
  uint32_t hi0 = uint32_t(p0 >> 32), lo0 = uint32_t(p0);
  uint32_t hi1 = uint32_t(p1 >> 32), lo1 = uint32_t(p1);
  return {hi1 ^ c[1] ^ k[0], lo1, hi0 ^ c[3] ^ k[1], lo0};
}

/// Philox4x32 with 10 rounds: the key is bumped between rounds.
inline Counter philox4x32_10(Counter c, Key k) {
  for (int r = 0; r < 10; ++r) {
    if (r) {
      k[0] += kW0;
      k[1] += kW1;
    }
    c = round(c, k);
  }
  return c;
}

/// The four words for element `index` of the stream (seed, offset).
inline Counter streamWords(int64_t seed, int64_t offset, uint64_t index) {
  auto s = static_cast<uint64_t>(seed), o = static_cast<uint64_t>(offset);
  return philox4x32_10({uint32_t(index), uint32_t(index >> 32), uint32_t(o),
                        uint32_t(o >> 32)},
                       {uint32_t(s), uint32_t(s >> 32)});
}

/// u = x0 * 2^-32, in [0, 1) (exact in double).
inline double uniform01(int64_t seed, int64_t offset, uint64_t index) {
  return std::ldexp(double(streamWords(seed, offset, index)[0]), -32);
}

/// Box-Muller standard normal from x0 and x1 (the cosine branch only).
inline double standardNormal(int64_t seed, int64_t offset, uint64_t index) {
  Counter x = streamWords(seed, offset, index);
  double u1 = std::ldexp(double(uint64_t(x[0]) + 1), -32);
  double u2 = std::ldexp(double(x[1]), -32);
  const double twoPi = 6.283185307179586476925286766559;
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(twoPi * u2);
}

} // namespace kiln::philox

#endif // KILN_IR_PHILOX_H
