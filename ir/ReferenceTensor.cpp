//===- ReferenceTensor.cpp - Host tensors and float-format conversions ----===//
#include "ir/ReferenceTensor.h"

#include <cassert>
#include <cfloat>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>

namespace kiln::ref {

bool isFloatType(ElemType t) {
  return t == ElemType::F16 || t == ElemType::BF16 || t == ElemType::F32 ||
         t == ElemType::F64;
}

int64_t byteWidth(ElemType t) {
  switch (t) {
  case ElemType::F16:
  case ElemType::BF16:
    return 2;
  case ElemType::F32:
  case ElemType::I32:
    return 4;
  case ElemType::F64:
  case ElemType::I64:
    return 8;
  case ElemType::I1:
    return 1;
  }
  return 0;
}

const char *typeName(ElemType t) {
  switch (t) {
  case ElemType::F16:
    return "f16";
  case ElemType::BF16:
    return "bf16";
  case ElemType::F32:
    return "f32";
  case ElemType::F64:
    return "f64";
  case ElemType::I1:
    return "i1";
  case ElemType::I32:
    return "i32";
  case ElemType::I64:
    return "i64";
  }
  return "?";
}

//===----------------------------------------------------------------------===//
// Small binary float formats
//===----------------------------------------------------------------------===//

namespace {

/// Encodes `x` into a binary format with `expBits` exponent and `mantBits`
/// fraction bits (1 + expBits + mantBits <= 16), rounding to nearest even.
///
/// The value is scaled by a power of two so that one unit is the target's
/// quantum at x's exponent (clamped to the subnormal quantum); that scaling is
/// exact in double, and std::nearbyint then rounds ties to even (the default
/// floating-point environment).
uint16_t encodeSmallFloat(double x, int expBits, int mantBits) {
  const int bias = (1 << (expBits - 1)) - 1;
  const int emin = 1 - bias;
  const int expAllOnes = (1 << expBits) - 1;
  const uint16_t sign = std::signbit(x) ? uint16_t(1u << (expBits + mantBits)) : 0;
  const uint16_t expMask = uint16_t(expAllOnes << mantBits);
  if (std::isnan(x)) {
    uint64_t b;
    std::memcpy(&b, &x, sizeof b);
    // Keep the top payload bits and force the quiet bit.
    uint16_t payload = uint16_t((b >> (52 - mantBits)) & ((1u << mantBits) - 1));
    payload |= uint16_t(1u << (mantBits - 1));
    return sign | expMask | payload;
  }
  double a = std::fabs(x);
  if (std::isinf(a))
    return sign | expMask;
  if (a == 0)
    return sign;
  int e;
  std::frexp(a, &e);
  e -= 1; // a in [2^e, 2^(e+1))
  if (e < emin) {
    // Subnormal range: the significand in units of 2^(emin - mantBits).
    // A result of exactly 2^mantBits is the smallest normal, whose encoding
    // is the same integer.
    auto m = static_cast<uint32_t>(std::nearbyint(std::ldexp(a, mantBits - emin)));
    return sign | uint16_t(m);
  }
  auto m = static_cast<uint32_t>(std::nearbyint(std::ldexp(a, mantBits - e)));
  if (m == (1u << (mantBits + 1))) { // rounded up into the next binade
    m >>= 1;
    ++e;
  }
  int biased = e + bias;
  if (biased >= expAllOnes)
    return sign | expMask; // overflow to infinity
  return sign | uint16_t(biased << mantBits) | uint16_t(m - (1u << mantBits));
}

double decodeSmallFloat(uint16_t bits, int expBits, int mantBits) {
  const int bias = (1 << (expBits - 1)) - 1;
  const int expAllOnes = (1 << expBits) - 1;
  const bool neg = (bits >> (expBits + mantBits)) & 1;
  const int e = (bits >> mantBits) & expAllOnes;
  const uint32_t m = bits & ((1u << mantBits) - 1);
  double v;
  if (e == expAllOnes)
    v = m ? std::numeric_limits<double>::quiet_NaN()
          : std::numeric_limits<double>::infinity();
  else if (e == 0)
    v = std::ldexp(double(m), 1 - bias - mantBits);
  else
    v = std::ldexp(double(m | (1u << mantBits)), e - bias - mantBits);
  return neg ? -v : v;
}

} // namespace

uint16_t doubleToHalfBits(double x) { return encodeSmallFloat(x, 5, 10); }
double halfBitsToDouble(uint16_t bits) { return decodeSmallFloat(bits, 5, 10); }
uint16_t doubleToBF16Bits(double x) { return encodeSmallFloat(x, 8, 7); }
double bf16BitsToDouble(uint16_t bits) { return decodeSmallFloat(bits, 8, 7); }

double roundToType(double x, ElemType t) {
  switch (t) {
  case ElemType::F16:
    return halfBitsToDouble(doubleToHalfBits(x));
  case ElemType::BF16:
    return bf16BitsToDouble(doubleToBF16Bits(x));
  case ElemType::F32: {
    // Out-of-range conversions are only defined by IEEE (Annex F): handle
    // overflow explicitly. Values at or above FLT_MAX + half an ulp round to
    // infinity.
    const double limit = std::ldexp(2.0 - std::ldexp(1.0, -24), 127);
    if (std::fabs(x) >= limit && !std::isinf(x))
      return std::copysign(std::numeric_limits<double>::infinity(), x);
    return static_cast<double>(static_cast<float>(x));
  }
  default:
    return x;
  }
}

int64_t wrapToType(int64_t x, ElemType t) {
  switch (t) {
  case ElemType::I1:
    return x != 0;
  case ElemType::I32:
    return static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint64_t>(x)));
  default:
    return x;
  }
}

namespace {
/// Truncates toward zero and saturates to the range of `t` (NaN -> 0).
int64_t floatToInt(double v, ElemType t) {
  if (t == ElemType::I1)
    return v != 0;
  if (std::isnan(v))
    return 0;
  double lo, hi;
  int64_t loI, hiI;
  if (t == ElemType::I32) {
    lo = -2147483648.0, hi = 2147483647.0;
    loI = INT32_MIN, hiI = INT32_MAX;
  } else {
    lo = -9223372036854775808.0, hi = 9223372036854775808.0; // 2^63
    loI = INT64_MIN, hiI = INT64_MAX;
  }
  if (v <= lo)
    return loI;
  if (v >= hi)
    return hiI;
  return static_cast<int64_t>(std::trunc(v));
}
} // namespace

//===----------------------------------------------------------------------===//
// Shapes
//===----------------------------------------------------------------------===//

int64_t numElementsOf(const std::vector<int64_t> &shape) {
  return productOf(shape, 0, shape.size());
}

int64_t productOf(const std::vector<int64_t> &shape, size_t begin, size_t end) {
  int64_t p = 1;
  for (size_t i = begin; i < end; ++i)
    p *= shape[i];
  return p;
}

std::vector<int64_t> stridesOf(const std::vector<int64_t> &shape) {
  std::vector<int64_t> s(shape.size(), 1);
  for (int64_t i = int64_t(shape.size()) - 2; i >= 0; --i)
    s[i] = s[i + 1] * shape[i + 1];
  return s;
}

std::string shapeToString(const std::vector<int64_t> &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

//===----------------------------------------------------------------------===//
// Tensor
//===----------------------------------------------------------------------===//

Tensor::Tensor(ElemType type, std::vector<int64_t> shape)
    : type_(type), shape_(std::move(shape)) {
  if (isFloat())
    floats_.assign(numElements(), 0.0);
  else
    ints_.assign(numElements(), 0);
}

Tensor Tensor::fromDoubles(ElemType type, std::vector<int64_t> shape,
                           std::vector<double> values) {
  Tensor t(type, std::move(shape));
  assert(int64_t(values.size()) == t.numElements() && "element count mismatch");
  if (t.isFloat()) {
    t.floats_ = std::move(values);
  } else {
    for (size_t i = 0; i < values.size(); ++i)
      t.setDouble(i, values[i]);
  }
  return t;
}

Tensor Tensor::fromInts(ElemType type, std::vector<int64_t> shape,
                        std::vector<int64_t> values) {
  Tensor t(type, std::move(shape));
  assert(int64_t(values.size()) == t.numElements() && "element count mismatch");
  for (size_t i = 0; i < values.size(); ++i)
    t.setInt(i, values[i]);
  return t;
}

// The raw layout is little-endian; like the rest of Kiln this assumes a
// little-endian host, so memcpy of each element is the conversion.
Tensor Tensor::fromRaw(ElemType type, std::vector<int64_t> shape,
                       const void *data) {
  Tensor t(type, std::move(shape));
  const auto *p = static_cast<const unsigned char *>(data);
  const int64_t n = t.numElements(), w = byteWidth(type);
  for (int64_t i = 0; i < n; ++i, p += w) {
    switch (type) {
    case ElemType::F16:
    case ElemType::BF16: {
      uint16_t b;
      std::memcpy(&b, p, 2);
      t.floats_[i] = type == ElemType::F16 ? halfBitsToDouble(b) : bf16BitsToDouble(b);
      break;
    }
    case ElemType::F32: {
      float f;
      std::memcpy(&f, p, 4);
      t.floats_[i] = f;
      break;
    }
    case ElemType::F64:
      std::memcpy(&t.floats_[i], p, 8);
      break;
    case ElemType::I1:
      t.ints_[i] = *p != 0;
      break;
    case ElemType::I32: {
      int32_t v;
      std::memcpy(&v, p, 4);
      t.ints_[i] = v;
      break;
    }
    case ElemType::I64:
      std::memcpy(&t.ints_[i], p, 8);
      break;
    }
  }
  return t;
}

void Tensor::toRaw(void *data) const {
  auto *p = static_cast<unsigned char *>(data);
  const int64_t n = numElements(), w = byteWidth(type_);
  for (int64_t i = 0; i < n; ++i, p += w) {
    switch (type_) {
    case ElemType::F16:
    case ElemType::BF16: {
      uint16_t b = type_ == ElemType::F16 ? doubleToHalfBits(floats_[i])
                                          : doubleToBF16Bits(floats_[i]);
      std::memcpy(p, &b, 2);
      break;
    }
    case ElemType::F32: {
      auto f = static_cast<float>(roundToType(floats_[i], ElemType::F32));
      std::memcpy(p, &f, 4);
      break;
    }
    case ElemType::F64:
      std::memcpy(p, &floats_[i], 8);
      break;
    case ElemType::I1:
      *p = ints_[i] != 0;
      break;
    case ElemType::I32: {
      auto v = static_cast<int32_t>(wrapToType(ints_[i], ElemType::I32));
      std::memcpy(p, &v, 4);
      break;
    }
    case ElemType::I64:
      std::memcpy(p, &ints_[i], 8);
      break;
    }
  }
}

int64_t Tensor::getInt(int64_t i) const {
  return isFloat() ? floatToInt(floats_[i], ElemType::I64) : ints_[i];
}

void Tensor::setDouble(int64_t i, double v) {
  if (isFloat())
    floats_[i] = v;
  else
    ints_[i] = floatToInt(v, type_);
}

void Tensor::setInt(int64_t i, int64_t v) {
  if (isFloat())
    floats_[i] = static_cast<double>(v);
  else
    ints_[i] = wrapToType(v, type_);
}

Tensor Tensor::reshaped(std::vector<int64_t> shape) const {
  Tensor t = *this;
  assert(numElementsOf(shape) == numElements() && "reshape changes element count");
  t.shape_ = std::move(shape);
  return t;
}

void Tensor::roundToDeclaredType() {
  if (type_ == ElemType::F64 || !isFloat())
    return;
  for (double &v : floats_)
    v = roundToType(v, type_);
}

std::string Tensor::toString(int64_t limit) const {
  std::string s = "tensor<";
  for (int64_t d : shape_)
    s += std::to_string(d) + "x";
  s += typeName(type_);
  s += "> [";
  const int64_t n = numElements();
  for (int64_t i = 0; i < n && i < limit; ++i) {
    if (i)
      s += ", ";
    if (isFloat()) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.9g", floats_[i]);
      s += buf;
    } else {
      s += std::to_string(ints_[i]);
    }
  }
  if (n > limit)
    s += ", ...";
  return s + "]";
}

} // namespace kiln::ref
