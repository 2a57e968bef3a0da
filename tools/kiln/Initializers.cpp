//===- Initializers.cpp - Parameter initializers --------------------------===//
#include "tools/kiln/Initializers.h"

#include "ir/Philox.h"

#include <cmath>

using namespace kiln;

int64_t tool::streamOffsetForName(llvm::StringRef name) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : name) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return static_cast<int64_t>(h & 0x7fffffffffffffffull);
}

namespace {
struct Fans {
  double in = 1, out = 1;
};

Fans fansOf(const std::vector<int64_t> &shape) {
  Fans f;
  if (shape.size() == 1) {
    f.in = f.out = static_cast<double>(shape[0]);
  } else if (shape.size() == 2) {
    f.in = static_cast<double>(shape[0]);
    f.out = static_cast<double>(shape[1]);
  } else if (shape.size() > 2) {
    double receptive = 1;
    for (size_t i = 2; i < shape.size(); ++i)
      receptive *= static_cast<double>(shape[i]);
    f.in = static_cast<double>(shape[1]) * receptive;
    f.out = static_cast<double>(shape[0]) * receptive;
  }
  return f;
}
} // namespace

llvm::Expected<ref::Tensor>
tool::initializeParameter(InitKind kind, llvm::ArrayRef<double> args,
                          ref::ElemType type, const std::vector<int64_t> &shape,
                          int64_t seed, llvm::StringRef name) {
  auto arg = [&](size_t i, double fallback) {
    return i < args.size() ? args[i] : fallback;
  };
  auto expectArgs = [&](size_t lo, size_t hi) -> llvm::Error {
    if (args.size() < lo || args.size() > hi)
      return llvm::createStringError(
          "parameter '%s': initializer %s takes %zu to %zu arguments, found %zu",
          name.str().c_str(), stringifyInitKind(kind).str().c_str(), lo, hi,
          args.size());
    return llvm::Error::success();
  };
  if (!ref::isFloatType(type) &&
      kind != InitKind::zeros && kind != InitKind::ones && kind != InitKind::constant)
    return llvm::createStringError(
        "parameter '%s': random initializer %s needs a float type, found %s",
        name.str().c_str(), stringifyInitKind(kind).str().c_str(), ref::typeName(type));

  int64_t n = ref::numElementsOf(shape);
  int64_t offset = streamOffsetForName(name);
  Fans fans = fansOf(shape);
  std::vector<double> values(n);
  auto fillUniform = [&](double lo, double hi) {
    for (int64_t i = 0; i < n; ++i)
      values[i] = lo + (hi - lo) * philox::uniform01(seed, offset, i);
  };
  auto fillNormal = [&](double mean, double std) {
    for (int64_t i = 0; i < n; ++i)
      values[i] = mean + std * philox::standardNormal(seed, offset, i);
  };

  switch (kind) {
  case InitKind::zeros:
  case InitKind::ones:
    if (auto e = expectArgs(0, 0))
      return std::move(e);
    std::fill(values.begin(), values.end(), kind == InitKind::ones ? 1.0 : 0.0);
    break;
  case InitKind::constant:
    if (auto e = expectArgs(1, 1))
      return std::move(e);
    std::fill(values.begin(), values.end(), args[0]);
    break;
  case InitKind::uniform:
    if (auto e = expectArgs(0, 2))
      return std::move(e);
    if (!(arg(0, 0.0) < arg(1, 1.0)))
      return llvm::createStringError(
          "parameter '%s': uniform(lo, hi) needs lo < hi, found %g and %g",
          name.str().c_str(), arg(0, 0.0), arg(1, 1.0));
    fillUniform(arg(0, 0.0), arg(1, 1.0));
    break;
  case InitKind::normal:
    if (auto e = expectArgs(0, 2))
      return std::move(e);
    if (!(arg(1, 1.0) >= 0))
      return llvm::createStringError(
          "parameter '%s': normal(mean, std) needs std >= 0, found %g",
          name.str().c_str(), arg(1, 1.0));
    fillNormal(arg(0, 0.0), arg(1, 1.0));
    break;
  case InitKind::xavier_uniform: {
    if (auto e = expectArgs(0, 1))
      return std::move(e);
    double bound = arg(0, 1.0) * std::sqrt(6.0 / (fans.in + fans.out));
    fillUniform(-bound, bound);
    break;
  }
  case InitKind::xavier_normal:
    if (auto e = expectArgs(0, 1))
      return std::move(e);
    fillNormal(0.0, arg(0, 1.0) * std::sqrt(2.0 / (fans.in + fans.out)));
    break;
  case InitKind::kaiming_uniform: {
    // Argument: the negative slope `a` of the following leaky relu (0: relu).
    if (auto e = expectArgs(0, 1))
      return std::move(e);
    double gain = std::sqrt(2.0 / (1.0 + arg(0, 0.0) * arg(0, 0.0)));
    double bound = gain * std::sqrt(3.0 / fans.in);
    fillUniform(-bound, bound);
    break;
  }
  case InitKind::kaiming_normal: {
    if (auto e = expectArgs(0, 1))
      return std::move(e);
    double gain = std::sqrt(2.0 / (1.0 + arg(0, 0.0) * arg(0, 0.0)));
    fillNormal(0.0, gain / std::sqrt(fans.in));
    break;
  }
  }
  if (ref::isFloatType(type))
    return ref::Tensor::fromDoubles(type, shape, std::move(values));
  // Integer parameters: only zeros, ones and constant reach here; a constant
  // must be representable (converting an out-of-range double is UB).
  ref::Tensor t(type, shape);
  for (int64_t i = 0; i < n; ++i) {
    double v = values[i];
    bool ok = v >= -9223372036854775808.0 && v < 9223372036854775808.0 &&
              v == std::trunc(v);
    if (ok)
      ok = ref::wrapToType(static_cast<int64_t>(v), type) == static_cast<int64_t>(v);
    if (!ok)
      return llvm::createStringError(
          "parameter '%s': constant %g is not a %s value", name.str().c_str(), v,
          ref::typeName(type));
    t.setInt(i, static_cast<int64_t>(v));
  }
  return t;
}
