//===- ReferenceTest.cpp - Units of the reference interpreter ------------===//
//
// Every kernel on small hand-computed cases, the f16/bf16 conversions, the
// Philox known-answer vectors, data-dependent errors, and runFunction on
// parsed kiln IR.
//
//===----------------------------------------------------------------------===//
#include "ir/Dialect.h"
#include "ir/Philox.h"
#include "ir/Reference.h"
#include "ir/Scalar.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

using namespace kiln::ref;
namespace philox = kiln::philox;
namespace scalar = kiln::scalar;

namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();
const double kInf = std::numeric_limits<double>::infinity();

Tensor f64(std::vector<int64_t> shape, std::vector<double> v) {
  return Tensor::fromDoubles(ElemType::F64, std::move(shape), std::move(v));
}
Tensor f32(std::vector<int64_t> shape, std::vector<double> v) {
  return Tensor::fromDoubles(ElemType::F32, std::move(shape), std::move(v));
}
Tensor i64(std::vector<int64_t> shape, std::vector<int64_t> v) {
  return Tensor::fromInts(ElemType::I64, std::move(shape), std::move(v));
}
Tensor i32(std::vector<int64_t> shape, std::vector<int64_t> v) {
  return Tensor::fromInts(ElemType::I32, std::move(shape), std::move(v));
}

void expectNear(const Tensor &t, std::vector<double> expected, double tol = 1e-12) {
  ASSERT_EQ(t.numElements(), int64_t(expected.size())) << t.toString();
  for (size_t i = 0; i < expected.size(); ++i) {
    if (std::isinf(expected[i]))
      EXPECT_EQ(t.getDouble(i), expected[i]) << "element " << i << " of " << t.toString();
    else if (std::isnan(expected[i]))
      EXPECT_TRUE(std::isnan(t.getDouble(i))) << "element " << i << " of " << t.toString();
    else
      EXPECT_NEAR(t.getDouble(i), expected[i], tol) << "element " << i << " of " << t.toString();
  }
}

double sumOf(const Tensor &t) {
  double s = 0;
  for (int64_t i = 0; i < t.numElements(); ++i)
    s += t.getDouble(i);
  return s;
}

//===----------------------------------------------------------------------===//
// Float formats
//===----------------------------------------------------------------------===//

TEST(FloatFormats, HalfEncodesHandPickedValues) {
  EXPECT_EQ(doubleToHalfBits(1.0), 0x3C00);
  EXPECT_EQ(doubleToHalfBits(-2.0), 0xC000);
  EXPECT_EQ(doubleToHalfBits(65504.0), 0x7BFF);
  EXPECT_EQ(doubleToHalfBits(65519.99), 0x7BFF);
  EXPECT_EQ(doubleToHalfBits(65520.0), 0x7C00); // halfway to 2^16: overflow
  EXPECT_EQ(doubleToHalfBits(1e10), 0x7C00);
  EXPECT_EQ(doubleToHalfBits(-kInf), 0xFC00);
  EXPECT_EQ(doubleToHalfBits(-0.0), 0x8000);
  EXPECT_EQ(doubleToHalfBits(0.0), 0x0000);
  // Ties to even in the normal range: 1 + 2^-11 is halfway between 1 and
  // 1 + 2^-10.
  EXPECT_EQ(doubleToHalfBits(1.0 + std::ldexp(1, -11)), 0x3C00);
  EXPECT_EQ(doubleToHalfBits(1.0 + 3 * std::ldexp(1, -11)), 0x3C02);
  EXPECT_EQ(doubleToHalfBits(1.0 + std::ldexp(1, -11) + std::ldexp(1, -30)), 0x3C01);
  // Subnormals: quantum 2^-24.
  EXPECT_EQ(doubleToHalfBits(std::ldexp(1, -24)), 0x0001);
  EXPECT_EQ(doubleToHalfBits(std::ldexp(1, -25)), 0x0000); // tie -> even 0
  EXPECT_EQ(doubleToHalfBits(std::ldexp(1.5, -25)), 0x0001);
  EXPECT_EQ(doubleToHalfBits(std::ldexp(3, -25)), 0x0002); // tie -> even 2
  EXPECT_EQ(doubleToHalfBits(-std::ldexp(1, -26)), 0x8000);
  // The largest subnormal rounding up into the smallest normal.
  EXPECT_EQ(doubleToHalfBits(std::ldexp(1023.5, -24)), 0x0400);
  EXPECT_EQ(doubleToHalfBits(std::ldexp(1, -14)), 0x0400);
  // NaN stays a quiet NaN with its sign.
  uint16_t nan = doubleToHalfBits(kNaN);
  EXPECT_EQ(nan & 0x7C00, 0x7C00);
  EXPECT_NE(nan & 0x03FF, 0);
  EXPECT_EQ(doubleToHalfBits(-kNaN) & 0x8000, 0x8000);
}

TEST(FloatFormats, HalfDecodesAndRoundTripsEveryPattern) {
  EXPECT_EQ(halfBitsToDouble(0x3C00), 1.0);
  EXPECT_EQ(halfBitsToDouble(0x7BFF), 65504.0);
  EXPECT_EQ(halfBitsToDouble(0x0001), std::ldexp(1, -24));
  EXPECT_EQ(halfBitsToDouble(0x03FF), std::ldexp(1023, -24));
  EXPECT_EQ(halfBitsToDouble(0xFC00), -kInf);
  EXPECT_TRUE(std::isnan(halfBitsToDouble(0x7E00)));
  for (uint32_t b = 0; b < 0x10000; ++b) {
    double v = halfBitsToDouble(uint16_t(b));
    if (std::isnan(v))
      continue;
    ASSERT_EQ(doubleToHalfBits(v), b) << std::hex << b;
  }
}

#ifdef __FLT16_MAX__
TEST(FloatFormats, HalfMatchesCompilerConversionFromFloat) {
  std::mt19937 gen(7);
  std::uniform_int_distribution<uint32_t> bits;
  for (int i = 0; i < 200000; ++i) {
    uint32_t b = bits(gen);
    float f;
    std::memcpy(&f, &b, 4);
    if (std::isnan(f))
      continue;
    _Float16 h = static_cast<_Float16>(f);
    uint16_t hb;
    std::memcpy(&hb, &h, 2);
    ASSERT_EQ(doubleToHalfBits(f), hb) << f;
  }
}
#endif

TEST(FloatFormats, BFloat16EncodesHandPickedValues) {
  EXPECT_EQ(doubleToBF16Bits(1.0), 0x3F80);
  EXPECT_EQ(doubleToBF16Bits(-1.0), 0xBF80);
  EXPECT_EQ(doubleToBF16Bits(1.0 + std::ldexp(1, -8)), 0x3F80);     // tie -> even
  EXPECT_EQ(doubleToBF16Bits(1.0 + 3 * std::ldexp(1, -8)), 0x3F82); // tie -> even
  EXPECT_EQ(doubleToBF16Bits(std::ldexp(1, -133)), 0x0001);         // min subnormal
  EXPECT_EQ(doubleToBF16Bits(std::ldexp(1, -134)), 0x0000);
  EXPECT_EQ(doubleToBF16Bits(3.3895313892515355e38), 0x7F7F); // max finite
  EXPECT_EQ(doubleToBF16Bits(3.4e38), 0x7F80);                // rounds past max
  EXPECT_EQ(doubleToBF16Bits(kInf), 0x7F80);
  EXPECT_EQ(doubleToBF16Bits(kNaN) & 0x7FC0, 0x7FC0);
  EXPECT_EQ(bf16BitsToDouble(0x3F80), 1.0);
  EXPECT_EQ(bf16BitsToDouble(0x0001), std::ldexp(1, -133));
}

TEST(FloatFormats, BFloat16MatchesBitTwiddlingFromFloatAndRoundTrips) {
  for (uint32_t b = 0; b < 0x10000; ++b) {
    double v = bf16BitsToDouble(uint16_t(b));
    if (std::isnan(v))
      continue;
    ASSERT_EQ(doubleToBF16Bits(v), b) << std::hex << b;
  }
  // The usual float -> bf16 rounding: add 0x7FFF plus the lowest kept bit.
  std::mt19937 gen(11);
  std::uniform_int_distribution<uint32_t> bits;
  for (int i = 0; i < 200000; ++i) {
    uint32_t b = bits(gen);
    float f;
    std::memcpy(&f, &b, 4);
    if (std::isnan(f))
      continue;
    uint16_t expected = uint16_t((b + 0x7FFF + ((b >> 16) & 1)) >> 16);
    ASSERT_EQ(doubleToBF16Bits(f), expected) << f;
  }
}

TEST(FloatFormats, RoundToF32) {
  EXPECT_EQ(roundToType(0.1, ElemType::F32), double(0.1f));
  EXPECT_EQ(roundToType(1e39, ElemType::F32), kInf);
  EXPECT_EQ(roundToType(-1e39, ElemType::F32), -kInf);
  EXPECT_EQ(roundToType(3.4028235e38, ElemType::F32), double(FLT_MAX));
  EXPECT_EQ(roundToType(0.1, ElemType::F64), 0.1);
  EXPECT_TRUE(std::isnan(roundToType(kNaN, ElemType::F32)));
}

TEST(TensorTest, RawRoundTripsEveryType) {
  for (ElemType t : {ElemType::F16, ElemType::BF16, ElemType::F32, ElemType::F64,
                     ElemType::I1, ElemType::I32, ElemType::I64}) {
    Tensor a = isFloatType(t) ? Tensor::fromDoubles(t, {2, 2}, {1.5, -2.0, 0.25, 3.0})
                              : Tensor::fromInts(t, {2, 2}, {1, 0, -7, 5});
    std::vector<unsigned char> raw(a.numElements() * byteWidth(t));
    a.toRaw(raw.data());
    Tensor b = Tensor::fromRaw(t, {2, 2}, raw.data());
    EXPECT_EQ(b.type(), t);
    for (int64_t i = 0; i < 4; ++i)
      EXPECT_EQ(a.getDouble(i), b.getDouble(i)) << typeName(t);
  }
  // f16 bytes are little-endian 16-bit patterns.
  unsigned char half[2] = {0x00, 0x3C};
  EXPECT_EQ(Tensor::fromRaw(ElemType::F16, {}, half).getDouble(0), 1.0);
  // i32 storage wraps.
  EXPECT_EQ(i32({1}, {int64_t(1) << 32 | 5}).getInt(0), 5);
}

//===----------------------------------------------------------------------===//
// Philox
//===----------------------------------------------------------------------===//

TEST(PhiloxTest, Random123KnownAnswers) {
  // Random123 kat_vectors, philox4x32 with 10 rounds.
  using philox::Counter;
  EXPECT_EQ(philox::philox4x32_10({0, 0, 0, 0}, {0, 0}),
            (Counter{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}));
  EXPECT_EQ(philox::philox4x32_10({0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
                                  {0xffffffff, 0xffffffff}),
            (Counter{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}));
  EXPECT_EQ(philox::philox4x32_10({0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
                                  {0xa4093822, 0x299f31d0}),
            (Counter{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}));
}

TEST(PhiloxTest, StreamLayout) {
  // key = (lo32(seed), hi32(seed)); counter = (lo32(i), hi32(i), lo32(off), hi32(off)).
  int64_t seed = (int64_t(1) << 32) | 2, offset = (int64_t(3) << 32) | 4;
  uint64_t index = (uint64_t(5) << 32) | 6;
  EXPECT_EQ(philox::streamWords(seed, offset, index),
            philox::philox4x32_10({6, 5, 4, 3}, {2, 1}));
  EXPECT_EQ(philox::streamWords(-1, -1, ~uint64_t(0)),
            philox::philox4x32_10({~0u, ~0u, ~0u, ~0u}, {~0u, ~0u}));
  EXPECT_EQ(philox::uniform01(0, 0, 0), 0x6627e8d5 * std::ldexp(1.0, -32));
}

TEST(PhiloxTest, DistributionsFollowTheStreamDefinition) {
  Tensor u = rng(Distribution::Uniform, ElemType::F64, {1000}, 42, 7, -2.0, 3.0);
  Tensor n = rng(Distribution::Normal, ElemType::F64, {1000}, 42, 7, 1.0, 2.0);
  Tensor b = rng(Distribution::Bernoulli, ElemType::I1, {1000}, 42, 7, 0.3, 0.0);
  for (int64_t i = 0; i < 1000; ++i) {
    philox::Counter x = philox::streamWords(42, 7, i);
    double u0 = x[0] * std::ldexp(1.0, -32);
    EXPECT_EQ(u.getDouble(i), -2.0 + 5.0 * u0);
    double u1 = (double(x[0]) + 1) * std::ldexp(1.0, -32), u2 = x[1] * std::ldexp(1.0, -32);
    EXPECT_DOUBLE_EQ(n.getDouble(i),
                     1.0 + 2.0 * std::sqrt(-2 * std::log(u1)) * std::cos(2 * M_PI * u2));
    EXPECT_EQ(b.getInt(i), u0 < 0.3 ? 1 : 0);
  }
  // Loose moments over a larger sample.
  Tensor big = rng(Distribution::Normal, ElemType::F64, {100000}, 1, 0, 0.0, 1.0);
  double mean = sumOf(big) / 1e5;
  EXPECT_NEAR(mean, 0.0, 0.02);
  Tensor ub = rng(Distribution::Uniform, ElemType::F32, {100000}, 1, 0, 0.0, 1.0);
  EXPECT_NEAR(sumOf(ub) / 1e5, 0.5, 0.01);
  // Different offsets give different streams.
  EXPECT_NE(rng(Distribution::Uniform, ElemType::F64, {1}, 1, 0, 0, 1).getDouble(0),
            rng(Distribution::Uniform, ElemType::F64, {1}, 1, 1, 0, 1).getDouble(0));
}

TEST(PhiloxTest, Dropout) {
  Tensor x = f64({1000}, std::vector<double>(1000, 2.0));
  Tensor same = dropout(x, 5, 9, 0.0);
  expectNear(same, std::vector<double>(1000, 2.0));
  Tensor y = dropout(x, 5, 9, 0.25);
  int kept = 0;
  for (int64_t i = 0; i < 1000; ++i) {
    bool keep = philox::uniform01(5, 9, i) >= 0.25;
    kept += keep;
    EXPECT_EQ(y.getDouble(i), keep ? 2.0 / 0.75 : 0.0);
  }
  EXPECT_NEAR(kept / 1000.0, 0.75, 0.05);
}

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

TEST(Elementwise, MapUsesScalarFormulasPerStorageType) {
  Tensor x = f32({4}, {-1.5, 0.0, 2.0, kNaN});
  expectNear(mapUnary(x, [](auto v) { return scalar::relu(v); }), {0, 0, 2, kNaN});
  expectNear(mapUnary(x, [](auto v) { return scalar::sign(v); }), {-1, 0, 1, kNaN});
  Tensor big = i32({2}, {INT32_MIN, 5});
  Tensor negated = mapUnary(big, [](auto v) { return scalar::neg(v); });
  EXPECT_EQ(negated.getInt(0), INT32_MIN); // wraps at 32 bits
  EXPECT_EQ(negated.getInt(1), -5);
  Tensor a = i32({3}, {INT32_MAX, -7, 9}), b = i32({3}, {1, 2, 0});
  Tensor sum = mapBinary(a, b, [](auto p, auto q) { return scalar::add(p, q); });
  EXPECT_EQ(sum.getInt(0), INT32_MIN);
  Tensor quot = mapBinary(a, b, [](auto p, auto q) { return scalar::div(p, q); });
  EXPECT_EQ(quot.getInt(1), -3); // truncates toward zero
  EXPECT_EQ(quot.getInt(2), 0);  // x / 0 = 0, no trap
  Tensor m = mapBinary(f64({2}, {1, kNaN}), f64({2}, {3, 0}),
                       [](auto p, auto q) { return scalar::maximum(p, q); });
  expectNear(m, {3, kNaN});
  Tensor t = Tensor::fromInts(ElemType::I1, {2}, {0, 1});
  expectNear(mapUnary(t, [](auto v) { return scalar::logical_not(v); }), {1, 0});
}

TEST(Elementwise, CompareSelectCast) {
  Tensor a = f64({3}, {1, kNaN, 3}), b = f64({3}, {2, kNaN, 3});
  expectNear(compare(CmpDir::Lt, a, b), {1, 0, 0});
  expectNear(compare(CmpDir::Eq, a, b), {0, 0, 1});
  expectNear(compare(CmpDir::Ne, a, b), {1, 1, 0});
  expectNear(compare(CmpDir::Ge, a, b), {0, 0, 1});
  EXPECT_EQ(compare(CmpDir::Gt, i64({1}, {INT64_MAX}), i64({1}, {INT64_MAX - 1})).getInt(0), 1);

  Tensor c = Tensor::fromInts(ElemType::I1, {3}, {1, 0, 1});
  expectNear(select(c, f64({3}, {1, 2, 3}), f64({3}, {4, 5, 6})), {1, 5, 3});

  Tensor f = f64({6}, {3e9, -3e9, -2.7, 2.7, kNaN, 0.0});
  EXPECT_EQ(cast(f, ElemType::I32).ints(),
            (std::vector<int64_t>{INT32_MAX, INT32_MIN, -2, 2, 0, 0}));
  EXPECT_EQ(cast(f, ElemType::I1).ints(), (std::vector<int64_t>{1, 1, 1, 1, 1, 0}));
  EXPECT_EQ(cast(f64({1}, {1e30}), ElemType::I64).getInt(0), INT64_MAX);
  expectNear(cast(Tensor::fromInts(ElemType::I1, {2}, {1, 0}), ElemType::F32), {1, 0});
  EXPECT_EQ(cast(i64({1}, {(int64_t(1) << 32) + 3}), ElemType::I32).getInt(0), 3);
  EXPECT_EQ(cast(i64({1}, {-5}), ElemType::I1).getInt(0), 1);
}

//===----------------------------------------------------------------------===//
// Broadcast, reductions
//===----------------------------------------------------------------------===//

TEST(Reductions, BroadcastInDim) {
  expectNear(broadcastInDim(f64({3}, {1, 2, 3}), {1}, {2, 3}), {1, 2, 3, 1, 2, 3});
  expectNear(broadcastInDim(f64({2}, {1, 2}), {0}, {2, 3}), {1, 1, 1, 2, 2, 2});
  expectNear(broadcastInDim(f64({2, 1}, {1, 2}), {0, 1}, {2, 2}), {1, 1, 2, 2});
  expectNear(broadcastInDim(f64({}, {7}), {}, {2}), {7, 7});
}

TEST(Reductions, Reduce) {
  Tensor x = f64({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor s = reduce(ReduceKind::Sum, x, {1}, false);
  EXPECT_EQ(s.shape(), (std::vector<int64_t>{2}));
  expectNear(s, {6, 15});
  Tensor k = reduce(ReduceKind::Mean, x, {0}, true);
  EXPECT_EQ(k.shape(), (std::vector<int64_t>{1, 3}));
  expectNear(k, {2.5, 3.5, 4.5});
  expectNear(reduce(ReduceKind::Max, x, {0, 1}, false), {6});
  expectNear(reduce(ReduceKind::Min, x, {1}, false), {1, 4});
  expectNear(reduce(ReduceKind::Prod, x, {1}, false), {6, 120});
  Tensor y = f64({2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8});
  expectNear(reduce(ReduceKind::Sum, y, {0, 2}, false), {1 + 2 + 5 + 6, 3 + 4 + 7 + 8});
  expectNear(reduce(ReduceKind::Sum, y, {}, false), {1, 2, 3, 4, 5, 6, 7, 8});
  expectNear(reduce(ReduceKind::Max, f64({2}, {1, kNaN}), {0}, false), {kNaN});
  EXPECT_EQ(reduce(ReduceKind::Sum, i32({2}, {INT32_MAX, 1}), {0}, false).getInt(0),
            INT32_MIN);
  EXPECT_EQ(reduce(ReduceKind::Max, i64({3}, {-5, -2, -9}), {0}, false).getInt(0), -2);
  // Empty reductions give the identity.
  expectNear(reduce(ReduceKind::Sum, f64({0, 2}, {}), {0}, false), {0, 0});
  expectNear(reduce(ReduceKind::Max, f64({0}, {}), {0}, false), {-kInf});
}

TEST(Reductions, ArgmaxFirstWins) {
  Tensor x = f64({2, 3}, {1, 5, 5, 7, 2, 7});
  EXPECT_EQ(argmax(x, 1).ints(), (std::vector<int64_t>{1, 0}));
  EXPECT_EQ(argmax(x, 0).ints(), (std::vector<int64_t>{1, 0, 1}));
  EXPECT_EQ(argmax(f64({3}, {1, kNaN, kNaN}), 0).ints(), (std::vector<int64_t>{1}));
  EXPECT_EQ(argmax(i64({3}, {INT64_MAX - 1, INT64_MAX, INT64_MAX}), 0).ints(),
            (std::vector<int64_t>{1}));
}

//===----------------------------------------------------------------------===//
// Matmul, convolution, pooling
//===----------------------------------------------------------------------===//

TEST(Library, Matmul) {
  Tensor a = f64({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor b = f64({3, 2}, {7, 8, 9, 10, 11, 12});
  expectNear(matmul(a, b, false, false), {58, 64, 139, 154});
  Tensor at = transpose(a, {1, 0}), bt = transpose(b, {1, 0});
  expectNear(matmul(at, b, true, false), {58, 64, 139, 154});
  expectNear(matmul(a, bt, false, true), {58, 64, 139, 154});
  expectNear(matmul(at, bt, true, true), {58, 64, 139, 154});
  // Batched: the second batch is the identity.
  Tensor ba = f64({2, 2, 2}, {1, 2, 3, 4, 1, 0, 0, 1});
  Tensor bb = f64({2, 2, 2}, {1, 1, 1, 1, 5, 6, 7, 8});
  expectNear(matmul(ba, bb, false, false), {3, 3, 7, 7, 5, 6, 7, 8});
}

TEST(Library, Conv2d) {
  Tensor x = f64({1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  Tensor w = f64({1, 1, 2, 2}, {1, 1, 1, 1});
  Tensor y = conv2d(x, w, {1, 1}, {0, 0, 0, 0}, {1, 1}, 1);
  EXPECT_EQ(y.shape(), (std::vector<int64_t>{1, 1, 2, 2}));
  expectNear(y, {12, 16, 24, 28});
  // Padding 1 on all sides, stride 2: windows at (-1,-1), (-1,1), (1,-1), (1,1).
  expectNear(conv2d(x, w, {2, 2}, {1, 1, 1, 1}, {1, 1}, 1), {1, 5, 11, 28});
  // Asymmetric padding (top only) and dilation 2: one window, corners.
  expectNear(conv2d(x, w, {1, 1}, {0, 0, 0, 0}, {2, 2}, 1), {1 + 3 + 7 + 9});
  Tensor yp = conv2d(x, w, {1, 1}, {1, 0, 0, 0}, {1, 1}, 1);
  EXPECT_EQ(yp.shape(), (std::vector<int64_t>{1, 1, 3, 2}));
  expectNear(yp, {3, 5, 12, 16, 24, 28});
  // Groups: two channels, each with its own 1x1 filter (depthwise).
  Tensor x2 = f64({1, 2, 1, 2}, {1, 2, 3, 4});
  Tensor w2 = f64({2, 1, 1, 1}, {10, 100});
  expectNear(conv2d(x2, w2, {1, 1}, {0, 0, 0, 0}, {1, 1}, 2), {10, 20, 300, 400});
  // Full: two input channels into one output sums over channels.
  Tensor w3 = f64({1, 2, 1, 1}, {1, 2});
  expectNear(conv2d(x2, w3, {1, 1}, {0, 0, 0, 0}, {1, 1}, 1), {7, 10});
}

TEST(Library, Pool2d) {
  Tensor x = f64({1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  expectNear(pool2d(PoolKind::Max, x, {2, 2}, {1, 1}, {0, 0, 0, 0}, false), {5, 6, 8, 9});
  expectNear(pool2d(PoolKind::Avg, x, {2, 2}, {1, 1}, {0, 0, 0, 0}, false),
             {3, 4, 6, 7});
  // Padding 1, window 2, stride 2: the top-left window holds only x[0, 0].
  expectNear(pool2d(PoolKind::Avg, x, {2, 2}, {2, 2}, {1, 1, 1, 1}, false),
             {1, 2.5, 5.5, 7});
  expectNear(pool2d(PoolKind::Avg, x, {2, 2}, {2, 2}, {1, 1, 1, 1}, true),
             {0.25, 1.25, 2.75, 7});
  Tensor neg = f64({1, 1, 1, 2}, {-3, -4});
  expectNear(pool2d(PoolKind::Max, neg, {1, 2}, {1, 1}, {0, 1, 0, 1}, false), {-3, -3, -4});
}

//===----------------------------------------------------------------------===//
// Data movement
//===----------------------------------------------------------------------===//

TEST(DataMovement, TransposeSliceConcatPad) {
  Tensor x = f64({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor t = transpose(x, {1, 0});
  EXPECT_EQ(t.shape(), (std::vector<int64_t>{3, 2}));
  expectNear(t, {1, 4, 2, 5, 3, 6});
  Tensor y = f64({2, 3, 4}, {});
  for (int64_t i = 0; i < 24; ++i)
    y.floats().push_back(i);
  Tensor yt = transpose(y, {2, 0, 1}); // result dim i = operand dim perm[i]
  EXPECT_EQ(yt.shape(), (std::vector<int64_t>{4, 2, 3}));
  EXPECT_EQ(yt.getDouble(1 * 6 + 1 * 3 + 2), y.getDouble(1 * 12 + 2 * 4 + 1));

  expectNear(slice(x, {0, 0}, {2, 3}, {1, 2}), {1, 3, 4, 6});
  expectNear(slice(x, {1, 1}, {2, 3}, {1, 1}), {5, 6});
  EXPECT_EQ(slice(x, {0, 1}, {2, 3}, {1, 5}).shape(), (std::vector<int64_t>{2, 1}));

  Tensor a = f64({2, 1}, {1, 2}), b = f64({2, 2}, {3, 4, 5, 6});
  expectNear(concat({&a, &b}, 1), {1, 3, 4, 2, 5, 6});
  expectNear(concat({&a, &a}, 0), {1, 2, 1, 2});

  Tensor p = pad(f64({2}, {1, 2}), {1}, {2}, -1.0);
  expectNear(p, {-1, 1, 2, -1, -1});
  expectNear(pad(x, {0, 1}, {1, 0}, 0.0), {0, 1, 2, 3, 0, 4, 5, 6, 0, 0, 0, 0});
  EXPECT_EQ(pad(i64({1}, {3}), {1}, {0}, 2.9).ints(), (std::vector<int64_t>{2, 3}));
}

TEST(DataMovement, Gather) {
  Tensor table = f64({3, 2}, {1, 2, 3, 4, 5, 6});
  Tensor r;
  std::string error;
  ASSERT_TRUE(gather(table, i64({2, 2}, {2, 0, 1, 1}), 0, r, error)) << error;
  EXPECT_EQ(r.shape(), (std::vector<int64_t>{2, 2, 2}));
  expectNear(r, {5, 6, 1, 2, 3, 4, 3, 4});
  ASSERT_TRUE(gather(table, i32({3}, {1, 1, 0}), 1, r, error)) << error;
  EXPECT_EQ(r.shape(), (std::vector<int64_t>{3, 3}));
  expectNear(r, {2, 2, 1, 4, 4, 3, 6, 6, 5});
  ASSERT_TRUE(gather(table, i64({}, {1}), 0, r, error));
  EXPECT_EQ(r.shape(), (std::vector<int64_t>{2}));
}

TEST(DataMovement, GatherRejectsBadIndices) {
  Tensor table = f64({50, 2}, std::vector<double>(100, 0.0));
  std::vector<int64_t> ids(16, 3);
  ids[12] = 57;
  Tensor r;
  std::string error;
  EXPECT_FALSE(gather(table, i64({16}, ids), 0, r, error));
  EXPECT_EQ(error, "gather index 57 out of range [0, 50) at indices position [12]");
  ids[12] = 3;
  ids[5] = -1;
  EXPECT_FALSE(gather(table, i64({2, 8}, ids), 0, r, error));
  EXPECT_EQ(error, "gather index -1 out of range [0, 50) at indices position [0, 5]");
}

TEST(DataMovement, ScatterAddIsTheAdjointOfGather) {
  Tensor upd = f64({3, 2}, {1, 2, 3, 4, 5, 6});
  Tensor r;
  std::string error;
  ASSERT_TRUE(scatterAdd(upd, i64({3}, {2, 0, 2}), 0, {4, 2}, r, error)) << error;
  expectNear(r, {3, 4, 0, 0, 6, 8, 0, 0});
  EXPECT_FALSE(scatterAdd(upd, i64({3}, {2, 4, 2}), 0, {4, 2}, r, error));
  EXPECT_EQ(error, "scatter_add index 4 out of range [0, 4) at indices position [1]");
  // <gather(t, idx), u> == <t, scatter_add(u, idx)> on axis 1.
  Tensor t = f64({2, 3}, {1, -2, 3, 0.5, 7, -1});
  Tensor idx = i64({4}, {2, 2, 0, 1});
  Tensor u = f64({2, 4}, {1, 2, 3, 4, 5, 6, 7, 8});
  Tensor g, s;
  ASSERT_TRUE(gather(t, idx, 1, g, error));
  ASSERT_TRUE(scatterAdd(u, idx, 1, {2, 3}, s, error));
  double lhs = 0, rhs = 0;
  for (int64_t i = 0; i < 8; ++i)
    lhs += g.getDouble(i) * u.getDouble(i);
  for (int64_t i = 0; i < 6; ++i)
    rhs += t.getDouble(i) * s.getDouble(i);
  EXPECT_DOUBLE_EQ(lhs, rhs);
}

TEST(DataMovement, Iota) {
  EXPECT_EQ(iota(ElemType::I64, {2, 3}, 1).ints(), (std::vector<int64_t>{0, 1, 2, 0, 1, 2}));
  expectNear(iota(ElemType::F32, {2, 2}, 0), {0, 0, 1, 1});
}

//===----------------------------------------------------------------------===//
// Composites
//===----------------------------------------------------------------------===//

TEST(Composites, SoftmaxIsStable) {
  Tensor x = f64({2, 3}, {1000, 1001, 1002, -1, 0, 1});
  Tensor s = softmax(x, 1);
  double e0 = std::exp(-2.0), e1 = std::exp(-1.0), z = e0 + e1 + 1;
  expectNear(s, {e0 / z, e1 / z, 1 / z, e0 / z, e1 / z, 1 / z}, 1e-15);
  Tensor l = logSoftmax(x, 1);
  expectNear(l, {-2 - std::log(z), -1 - std::log(z), -std::log(z), -2 - std::log(z),
                 -1 - std::log(z), -std::log(z)},
             1e-12);
  Tensor c = softmax(f64({2, 2}, {0, 0, std::log(3.0), 0}), 0);
  expectNear(c, {0.25, 0.5, 0.75, 0.5}, 1e-15);
  // Masked entries (-inf) get probability 0; a NaN poisons its line.
  expectNear(softmax(f64({3}, {0, -kInf, 0}), 0), {0.5, 0, 0.5});
  expectNear(logSoftmax(f64({2}, {0, -kInf}), 0), {0, -kInf});
  expectNear(softmax(f64({2}, {1, kNaN}), 0), {kNaN, kNaN});
}

TEST(Composites, CrossEntropy) {
  Tensor logits = f64({2, 3}, {1, 2, 3, 0, 0, 0});
  Tensor labels = i64({2}, {2, 0});
  double l0 = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0)) - 3;
  double l1 = std::log(3.0);
  Tensor r;
  std::string error;
  ASSERT_TRUE(crossEntropy(logits, labels, LossReduction::None, r, error));
  expectNear(r, {l0, l1});
  ASSERT_TRUE(crossEntropy(logits, labels, LossReduction::Sum, r, error));
  EXPECT_EQ(r.rank(), 0);
  expectNear(r, {l0 + l1});
  ASSERT_TRUE(crossEntropy(logits, labels, LossReduction::Mean, r, error));
  expectNear(r, {(l0 + l1) / 2});
  EXPECT_FALSE(crossEntropy(logits, i32({2}, {2, 3}), LossReduction::Mean, r, error));
  EXPECT_EQ(error, "cross_entropy label 3 out of range [0, 3) at labels position 1");
  EXPECT_FALSE(crossEntropy(logits, i64({2}, {-1, 0}), LossReduction::Mean, r, error));
}

TEST(Composites, LayerNorm) {
  Tensor x = f64({2, 2}, {1, 3, 2, 2});
  Tensor g = f64({2}, {2, 1}), b = f64({2}, {0, 10});
  // Row 0: mean 2, var 1 -> (-1, 1) / sqrt(1 + eps); row 1: all zero.
  double inv = 1 / std::sqrt(1 + 1e-5);
  expectNear(layerNorm(x, g, b, 1, 1e-5), {-2 * inv, 10 + inv, 0, 10});
  // axis 0 normalizes over everything.
  Tensor g2 = f64({2, 2}, {1, 1, 1, 1}), b2 = f64({2, 2}, {0, 0, 0, 0});
  Tensor y = layerNorm(x, g2, b2, 0, 0.0);
  expectNear(y, {-std::sqrt(2.0), std::sqrt(2.0), 0, 0}, 1e-12);
}

TEST(Composites, BatchNorm) {
  // x [N=2, C=2, 2]: channel 0 = {1, 2, 3, 4}, channel 1 = {0, 0, 0, 0}.
  Tensor x = f64({2, 2, 2}, {1, 2, 0, 0, 3, 4, 0, 0});
  Tensor g = f64({2}, {1, 2}), b = f64({2}, {0, 1});
  Tensor rm = f64({2}, {1, 5}), rv = f64({2}, {2, 4});
  BatchNormResult r;
  std::string error;
  ASSERT_TRUE(batchNorm(x, g, b, rm, rv, 1e-5, 0.1, true, r, error)) << error;
  // Channel 0: mean 2.5, biased var 1.25, unbiased 5/3; channel 1 is
  // constant, so it normalizes to 0 and becomes beta.
  double s = 1 / std::sqrt(1.25 + 1e-5);
  expectNear(r.y, {-1.5 * s, -0.5 * s, 1, 1, 0.5 * s, 1.5 * s, 1, 1});
  expectNear(r.runningMean, {0.9 * 1 + 0.1 * 2.5, 0.9 * 5});
  expectNear(r.runningVar, {0.9 * 2 + 0.1 * (5.0 / 3), 0.9 * 4});
  ASSERT_TRUE(batchNorm(x, g, b, rm, rv, 0.0, 0.1, false, r, error));
  expectNear(r.y, {0, 1 / std::sqrt(2.0), 2 * (-5 / 2.0) + 1, 2 * (-5 / 2.0) + 1,
                   2 / std::sqrt(2.0), 3 / std::sqrt(2.0), 2 * (-5 / 2.0) + 1,
                   2 * (-5 / 2.0) + 1});
  expectNear(r.runningMean, {1, 5});
  expectNear(r.runningVar, {2, 4});
  EXPECT_FALSE(batchNorm(f64({1, 2}, {1, 2}), g, b, rm, rv, 1e-5, 0.1, true, r, error));
  EXPECT_NE(error.find("more than 1 value per channel"), std::string::npos) << error;
}

TEST(Composites, Gelu) {
  Tensor x = f64({3}, {-1, 0, 1});
  expectNear(gelu(x, false), {-0.15865525393145707, 0, 0.8413447460685429}, 1e-15);
  expectNear(gelu(x, true), {-0.15880800939172324, 0, 0.8411919906082768}, 1e-15);
}

//===----------------------------------------------------------------------===//
// runFunction on kiln IR
//===----------------------------------------------------------------------===//

class RunTest : public ::testing::Test {
protected:
  RunTest() { context.loadDialect<kiln::KilnDialect, mlir::func::FuncDialect>(); }

  mlir::func::FuncOp parse(const char *source) {
    module = mlir::parseSourceString<mlir::ModuleOp>(source, &context);
    if (!module)
      return nullptr;
    return *module->getOps<mlir::func::FuncOp>().begin();
  }

  mlir::MLIRContext context;
  mlir::OwningOpRef<mlir::ModuleOp> module;
};

TEST_F(RunTest, NativeRoundsEachOpF64DoesNot) {
  mlir::func::FuncOp fn = parse(R"mlir(
    func.func @f(%a: tensor<2xf16>, %b: tensor<2xf16>) -> tensor<2xf16> {
      %0 = kiln.add %a, %b : tensor<2xf16>
      %1 = kiln.sub %0, %a : tensor<2xf16>
      return %1 : tensor<2xf16>
    })mlir");
  ASSERT_TRUE(fn);
  double tiny = std::ldexp(1.0, -12);
  std::vector<Tensor> args = {Tensor::fromDoubles(ElemType::F16, {2}, {1.0, 2.0}),
                              Tensor::fromDoubles(ElemType::F16, {2}, {tiny, 0.5})};
  auto native = runFunction(fn, args, {Precision::Native});
  ASSERT_TRUE(bool(native)) << llvm::toString(native.takeError());
  expectNear((*native)[0], {0.0, 0.5}); // 1 + 2^-12 rounds back to 1 in f16
  auto exact = runFunction(fn, args, {Precision::F64});
  ASSERT_TRUE(bool(exact)) << llvm::toString(exact.takeError());
  expectNear((*exact)[0], {tiny, 0.5}, 0);
}

TEST_F(RunTest, EvaluatesAnMlp) {
  mlir::func::FuncOp fn = parse(R"mlir(
    func.func @f(%x: tensor<2x3xf32>, %w: tensor<3x2xf32>, %b: tensor<2xf32>,
                 %y: tensor<2xi64>) -> (tensor<f32>, tensor<2xi64>) {
      %0 = kiln.matmul %x, %w : tensor<2x3xf32>, tensor<3x2xf32>
      %1 = kiln.broadcast %b, dims = [1] : tensor<2xf32> -> tensor<2x2xf32>
      %2 = kiln.add %0, %1 : tensor<2x2xf32>
      %3 = kiln.relu %2 : tensor<2x2xf32>
      %4 = kiln.cross_entropy %3, %y : tensor<2x2xf32>, tensor<2xi64>
      %5 = kiln.argmax %3, dim = 1 : tensor<2x2xf32>
      return %4, %5 : tensor<f32>, tensor<2xi64>
    })mlir");
  ASSERT_TRUE(fn);
  std::vector<Tensor> args = {f32({2, 3}, {1, 0, 0, 0, 1, 0}),
                              f32({3, 2}, {1, -1, -1, 2, 0, 0}), f32({2}, {0, 1}),
                              i64({2}, {0, 1})};
  auto out = runFunction(fn, args, {});
  ASSERT_TRUE(bool(out)) << llvm::toString(out.takeError());
  // Logits: row 0 relu(1, 0) = (1, 0); row 1 relu(-1, 3) = (0, 3).
  double l0 = std::log(std::exp(1.0) + 1) - 1, l1 = std::log(1 + std::exp(3.0)) - 3;
  expectNear((*out)[0], {double(float((l0 + l1) / 2))}, 0);
  EXPECT_EQ((*out)[1].ints(), (std::vector<int64_t>{0, 1}));
}

TEST_F(RunTest, ConstantsIotaAndRng) {
  mlir::func::FuncOp fn = parse(R"mlir(
    func.func @f() -> (tensor<2x2xf32>, tensor<3xi32>, tensor<2xbf16>, tensor<4xf32>) {
      %c = kiln.constant dense<1.5> : tensor<2x2xf32>
      %d = kiln.constant dense<[1, -2, 3]> : tensor<3xi32>
      %e = kiln.constant dense<[0.1, 2.0]> : tensor<2xbf16>
      %s = kiln.constant dense<42> : tensor<i64>
      %o = kiln.constant dense<7> : tensor<i64>
      %r = kiln.rng uniform %s, %o, a = 0.0, b = 1.0 : tensor<4xf32>
      return %c, %d, %e, %r : tensor<2x2xf32>, tensor<3xi32>, tensor<2xbf16>, tensor<4xf32>
    })mlir");
  ASSERT_TRUE(fn);
  auto out = runFunction(fn, {}, {});
  ASSERT_TRUE(bool(out)) << llvm::toString(out.takeError());
  expectNear((*out)[0], {1.5, 1.5, 1.5, 1.5});
  EXPECT_EQ((*out)[1].ints(), (std::vector<int64_t>{1, -2, 3}));
  expectNear((*out)[2], {bf16BitsToDouble(doubleToBF16Bits(0.1)), 2.0}, 0);
  for (int64_t i = 0; i < 4; ++i)
    EXPECT_EQ((*out)[3].getDouble(i), double(float(philox::uniform01(42, 7, i))));
  // Attribute round trip.
  mlir::DenseElementsAttr attr = toElementsAttr(&context, (*out)[2]);
  auto back = fromElementsAttr(llvm::cast<mlir::ElementsAttr>(attr));
  ASSERT_TRUE(bool(back));
  EXPECT_EQ(back->floats(), (*out)[2].floats());
  auto ints = fromElementsAttr(
      llvm::cast<mlir::ElementsAttr>(toElementsAttr(&context, (*out)[1])));
  ASSERT_TRUE(bool(ints));
  EXPECT_EQ(ints->ints(), (*out)[1].ints());
}

TEST_F(RunTest, EvaluateReadsEveryAttribute) {
  // Asymmetric attributes everywhere, so that a mis-wired attribute in an
  // evaluate() shows up as a mismatch against the kernel called directly.
  mlir::func::FuncOp fn = parse(R"mlir(
    func.func @f(%x: tensor<2x3x4x5xf64>, %w: tensor<6x1x2x3xf64>, %g: tensor<5xf64>,
                 %c: tensor<3xf64>, %idx: tensor<2x2xi64>, %s: tensor<i64>,
                 %lab: tensor<6xi64>)
        -> (tensor<2x6x2x3xf64>, tensor<2x3x4x2xf64>, tensor<2x1x4x1xf64>,
            tensor<2x3x4x5xf64>, tensor<2x3x4x5xf64>, tensor<3xf64>, tensor<3xf64>,
            tensor<2x3x4x5xf64>, tensor<2x3x4x5xf64>, tensor<5x3x2x4xf64>,
            tensor<2x2x2x2xf64>, tensor<3x4x4x7xf64>, tensor<2x3x2x2x5xf64>,
            tensor<2x3x4x5xf64>, tensor<2x3x4x5xf64>, tensor<2x3x4x5xf64>,
            tensor<2x3x4xi64>, tensor<2x3xi32>, tensor<2x3x4x5xi32>,
            tensor<2x3x4x5xf64>, tensor<2x3x8x5xf64>, tensor<6x6xf64>, tensor<f64>) {
      %0 = kiln.conv2d %x, %w, strides = [2, 1], padding = [1, 0, 0, 2],
             dilations = [1, 2], groups = 3 : tensor<2x3x4x5xf64>, tensor<6x1x2x3xf64>
      %1 = kiln.pool2d avg %x, window = [2, 3], strides = [1, 2],
             padding = [0, 1, 1, 0] : tensor<2x3x4x5xf64>
      %2 = kiln.reduce max %x, dims = [1, 3] keep_dims : tensor<2x3x4x5xf64>
      %3 = kiln.layer_norm %x, %g, %g, axis = 3 {epsilon = 5.000000e-01 : f64}
             : tensor<2x3x4x5xf64>, tensor<5xf64>
      %4:3 = kiln.batch_norm %x, %c, %c, %c, %c {training, momentum = 2.500000e-01 : f64,
             epsilon = 1.000000e-01 : f64} : tensor<2x3x4x5xf64>, tensor<3xf64>
      %5 = kiln.softmax %x, dim = 2 : tensor<2x3x4x5xf64>
      %6 = kiln.log_softmax %x, dim = 1 : tensor<2x3x4x5xf64>
      %7 = kiln.transpose %x, perm = [3, 1, 0, 2] : tensor<2x3x4x5xf64>
      %8 = kiln.slice %x, start = [0, 1, 0, 1], limit = [2, 3, 4, 5], step = [1, 1, 3, 2]
             : tensor<2x3x4x5xf64>
      %9 = kiln.pad %x, low = [0, 1, 0, 0], high = [1, 0, 0, 2], value = 2.5
             : tensor<2x3x4x5xf64>
      %10 = kiln.gather %x, %idx, axis = 2 : tensor<2x3x4x5xf64>, tensor<2x2xi64>
      %11 = kiln.scatter_add %10, %idx, axis = 2
             : tensor<2x3x2x2x5xf64>, tensor<2x2xi64> -> tensor<2x3x4x5xf64>
      %12 = kiln.gelu %x {approximate = #kiln<gelu_approx tanh>} : tensor<2x3x4x5xf64>
      %13 = kiln.dropout %x, %s, %s, ratio = 0.3 : tensor<2x3x4x5xf64>
      %14 = kiln.argmax %x, dim = 3 : tensor<2x3x4x5xf64>
      %15 = kiln.iota dim = 1 : tensor<2x3xi32>
      %16 = kiln.cast %x : tensor<2x3x4x5xf64> -> tensor<2x3x4x5xi32>
      %17 = kiln.compare gt, %x, %5 : tensor<2x3x4x5xf64>
      %18 = kiln.select %17, %5, %x : tensor<2x3x4x5xi1>, tensor<2x3x4x5xf64>
      %19 = kiln.reshape %x : tensor<2x3x4x5xf64> -> tensor<6x20xf64>
      %20 = kiln.concat %x, %5 dim = 2 : tensor<2x3x4x5xf64>, tensor<2x3x4x5xf64>
      %21 = kiln.matmul %19, %19 transpose_b : tensor<6x20xf64>, tensor<6x20xf64>
      %22 = kiln.cross_entropy %19, %lab {reduction = #kiln<loss_reduction sum>}
             : tensor<6x20xf64>, tensor<6xi64>
      return %0, %1, %2, %3, %4#0, %4#1, %4#2, %5, %6, %7, %8, %9, %10, %11, %12, %13,
             %14, %15, %16, %18, %20, %21, %22
        : tensor<2x6x2x3xf64>, tensor<2x3x4x2xf64>, tensor<2x1x4x1xf64>,
          tensor<2x3x4x5xf64>, tensor<2x3x4x5xf64>, tensor<3xf64>, tensor<3xf64>,
          tensor<2x3x4x5xf64>, tensor<2x3x4x5xf64>, tensor<5x3x2x4xf64>,
          tensor<2x2x2x2xf64>, tensor<3x4x4x7xf64>, tensor<2x3x2x2x5xf64>,
          tensor<2x3x4x5xf64>, tensor<2x3x4x5xf64>, tensor<2x3x4x5xf64>,
          tensor<2x3x4xi64>, tensor<2x3xi32>, tensor<2x3x4x5xi32>,
          tensor<2x3x4x5xf64>, tensor<2x3x8x5xf64>, tensor<6x6xf64>, tensor<f64>
    })mlir");
  ASSERT_TRUE(fn);
  std::mt19937 gen(3);
  std::uniform_real_distribution<double> dist(-3, 3);
  auto random = [&](std::vector<int64_t> shape) {
    Tensor t(ElemType::F64, std::move(shape));
    for (double &v : t.floats())
      v = dist(gen);
    return t;
  };
  Tensor x = random({2, 3, 4, 5}), w = random({6, 1, 2, 3}), g = random({5});
  Tensor c = f64({3}, {0.5, 1.5, 2.5});
  Tensor idx = i64({2, 2}, {3, 0, 3, 1}), s = i64({}, {77}),
         lab = i64({6}, {0, 19, 4, 4, 7, 1});
  auto out = runFunction(fn, {x, w, g, c, idx, s, lab}, {Precision::F64});
  ASSERT_TRUE(bool(out)) << llvm::toString(out.takeError());
  ASSERT_EQ(out->size(), 23u);
  auto same = [&](size_t i, const Tensor &expected) {
    SCOPED_TRACE("result #" + std::to_string(i));
    EXPECT_EQ((*out)[i].shape(), expected.shape());
    EXPECT_EQ((*out)[i].type(), expected.type());
    if (expected.isFloat())
      EXPECT_EQ((*out)[i].floats(), expected.floats());
    else
      EXPECT_EQ((*out)[i].ints(), expected.ints());
  };
  std::string error;
  same(0, conv2d(x, w, {2, 1}, {1, 0, 0, 2}, {1, 2}, 3));
  same(1, pool2d(PoolKind::Avg, x, {2, 3}, {1, 2}, {0, 1, 1, 0}, false));
  same(2, reduce(ReduceKind::Max, x, {1, 3}, true));
  same(3, layerNorm(x, g, g, 3, 0.5));
  BatchNormResult bn;
  ASSERT_TRUE(batchNorm(x, c, c, c, c, 0.1, 0.25, true, bn, error));
  same(4, bn.y);
  same(5, bn.runningMean);
  same(6, bn.runningVar);
  Tensor sm = softmax(x, 2);
  same(7, sm);
  same(8, logSoftmax(x, 1));
  same(9, transpose(x, {3, 1, 0, 2}));
  same(10, slice(x, {0, 1, 0, 1}, {2, 3, 4, 5}, {1, 1, 3, 2}));
  same(11, pad(x, {0, 1, 0, 0}, {1, 0, 0, 2}, 2.5));
  Tensor gathered, scattered;
  ASSERT_TRUE(gather(x, idx, 2, gathered, error));
  same(12, gathered);
  ASSERT_TRUE(scatterAdd(gathered, idx, 2, {2, 3, 4, 5}, scattered, error));
  same(13, scattered);
  same(14, gelu(x, true));
  same(15, dropout(x, 77, 77, 0.3));
  same(16, argmax(x, 3));
  same(17, iota(ElemType::I32, {2, 3}, 1));
  same(18, cast(x, ElemType::I32));
  same(19, select(compare(CmpDir::Gt, x, sm), sm, x));
  same(20, concat({&x, &sm}, 2));
  Tensor flat = x.reshaped({6, 20});
  same(21, matmul(flat, flat, false, true));
  Tensor ce;
  ASSERT_TRUE(crossEntropy(flat, lab, LossReduction::Sum, ce, error));
  same(22, ce);
}

TEST_F(RunTest, DenseResourceConstants) {
  // Blobs are a 4-byte alignment followed by the little-endian data.
  mlir::func::FuncOp fn = parse(R"mlir(
    func.func @f() -> (tensor<2xf32>, tensor<2xf16>) {
      %0 = kiln.constant dense_resource<w> : tensor<2xf32>
      %1 = kiln.constant dense_resource<h> : tensor<2xf16>
      return %0, %1 : tensor<2xf32>, tensor<2xf16>
    }
    {-#
      dialect_resources: {
        builtin: {
          w: "0x040000000000803F000000C0",
          h: "0x02000000003C0080"
        }
      }
    #-})mlir");
  ASSERT_TRUE(fn);
  auto out = runFunction(fn, {}, {});
  ASSERT_TRUE(bool(out)) << llvm::toString(out.takeError());
  expectNear((*out)[0], {1.0, -2.0}, 0);
  expectNear((*out)[1], {1.0, -0.0}, 0);
}

TEST_F(RunTest, GatherOutOfRangeIsAnErrorNamingTheOp) {
  mlir::func::FuncOp fn = parse(R"mlir(
    func.func @f(%t: tensor<5x2xf32>, %i: tensor<3xi64>) -> tensor<3x2xf32> {
      %0 = kiln.gather %t, %i, axis = 0 : tensor<5x2xf32>, tensor<3xi64>
      return %0 : tensor<3x2xf32>
    })mlir");
  ASSERT_TRUE(fn);
  std::vector<Tensor> args = {Tensor(ElemType::F32, {5, 2}), i64({3}, {0, 9, 1})};
  auto out = runFunction(fn, args, {});
  ASSERT_FALSE(bool(out));
  std::string message = llvm::toString(out.takeError());
  EXPECT_NE(message.find("'kiln.gather' op gather index 9 out of range [0, 5) at "
                         "indices position [1]"),
            std::string::npos)
      << message;
  // The error names the op's source position (line 3 of the module text).
  EXPECT_NE(message.find(":3:12: error: "), std::string::npos) << message;
}

TEST_F(RunTest, HugeTensorsAreAnErrorBeforeAnyAllocation) {
  mlir::func::FuncOp fn = parse(R"mlir(
    func.func @f(%a: tensor<2xf32>) -> tensor<4611686018427387904x2xf32> {
      %0 = kiln.broadcast %a, dims = [1] : tensor<2xf32> -> tensor<4611686018427387904x2xf32>
      return %0 : tensor<4611686018427387904x2xf32>
    })mlir");
  ASSERT_TRUE(fn);
  auto out = runFunction(fn, {Tensor(ElemType::F32, {2})}, {});
  ASSERT_FALSE(bool(out));
  std::string message = llvm::toString(out.takeError());
  EXPECT_NE(message.find("result #0 of 'kiln.broadcast' of type "
                         "tensor<4611686018427387904x2xf32> has more than 268435456 "
                         "elements"),
            std::string::npos)
      << message;
}

TEST_F(RunTest, RejectsMismatchedArguments) {
  mlir::func::FuncOp fn = parse(R"mlir(
    func.func @f(%a: tensor<2xf32>) -> tensor<2xf32> {
      %0 = kiln.exp %a : tensor<2xf32>
      return %0 : tensor<2xf32>
    })mlir");
  ASSERT_TRUE(fn);
  auto none = runFunction(fn, {}, {});
  ASSERT_FALSE(bool(none));
  EXPECT_NE(llvm::toString(none.takeError()).find("@f expects 1 arguments, got 0"),
            std::string::npos);
  auto wrong = runFunction(fn, {Tensor(ElemType::F64, {2})}, {});
  ASSERT_FALSE(bool(wrong));
  EXPECT_NE(llvm::toString(wrong.takeError())
                .find("argument #0 of @f: expected tensor<2xf32>, got tensor<2xf64>"),
            std::string::npos);
}

TEST_F(RunTest, CrossEntropyBadLabelIsAnError) {
  mlir::func::FuncOp fn = parse(R"mlir(
    func.func @f(%x: tensor<2x3xf32>, %y: tensor<2xi32>) -> tensor<f32> {
      %0 = kiln.cross_entropy %x, %y : tensor<2x3xf32>, tensor<2xi32>
      return %0 : tensor<f32>
    })mlir");
  ASSERT_TRUE(fn);
  auto out = runFunction(fn, {Tensor(ElemType::F32, {2, 3}), i32({2}, {0, 3})}, {});
  ASSERT_FALSE(bool(out));
  EXPECT_NE(llvm::toString(out.takeError()).find("label 3 out of range [0, 3)"),
            std::string::npos);
}

} // namespace
