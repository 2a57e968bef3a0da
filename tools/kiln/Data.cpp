//===- Data.cpp - Training data for kiln train ----------------------------===//
#include "tools/kiln/Data.h"

#include "ir/Philox.h"
#include "tools/kiln/Initializers.h"
#include "tools/kiln/ToolSupport.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include <algorithm>
#include <cstring>

using namespace mlir;

namespace kiln::tool {
namespace {

/// The interpreter type a .npy dtype holds.
ref::ElemType elemTypeOfNpy(npy::DType t) {
  switch (t) {
  case npy::DType::F16: return ref::ElemType::F16;
  case npy::DType::F32: return ref::ElemType::F32;
  case npy::DType::F64: return ref::ElemType::F64;
  case npy::DType::Bool: return ref::ElemType::I1;
  case npy::DType::I32: return ref::ElemType::I32;
  case npy::DType::I64: return ref::ElemType::I64;
  }
  return ref::ElemType::F32;
}

/// "x.npy, y.npy" of the directory, for messages about a missing file.
std::string npyFilesIn(const std::string &dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (llvm::sys::fs::directory_iterator it(dir, ec), end; it != end && !ec;
       it.increment(ec))
    if (llvm::sys::path::extension(it->path()) == ".npy")
      names.push_back(llvm::sys::path::filename(it->path()).str());
  std::sort(names.begin(), names.end());
  if (names.empty())
    return "it holds no .npy file";
  if (names.size() > 8) {
    names.resize(8);
    names.push_back("...");
  }
  return "it holds " + llvm::join(names, ", ");
}

/// "f32[N, 64]": the file an input needs.
std::string expectedFile(ref::ElemType type, const std::vector<int64_t> &sampleShape) {
  std::string s = std::string(ref::typeName(type)) + "[N";
  for (int64_t d : sampleShape)
    s += ", " + std::to_string(d);
  return s + "]";
}

} // namespace

llvm::Expected<Dataset> Dataset::load(func::FuncOp fn, const std::string &dir,
                                      llvm::StringRef flag) {
  auto error = [&](const llvm::Twine &message) {
    return llvm::createStringError(llvm::inconvertibleErrorCode(), flag + ": " + message);
  };
  if (!llvm::sys::fs::is_directory(dir))
    return error("'" + dir + "' is not a directory (expected one NAME.npy per model input)");
  Dataset data;
  const InputData *first = nullptr;
  for (unsigned i = 0; i < fn.getNumArguments(); ++i) {
    if (roleOf(fn, i) != ArgRole::input)
      continue;
    InputData in;
    in.name = argName(fn, i);
    in.type = elemTypeOfArg(fn.getArgumentTypes()[i]);
    std::vector<int64_t> shape = shapeOfArg(fn.getArgumentTypes()[i]);
    if (shape.empty())
      return error("input '" + in.name + "' has type " + describe(in.type, shape) +
                   ": training slices every input along its first (batch) dimension, "
                   "so inputs cannot be scalars");
    if (!isPlainFileName(in.name))
      return error("input '" + in.name + "' cannot name a file in '" + dir + "'");
    in.sampleShape.assign(shape.begin() + 1, shape.end());
    llvm::SmallString<256> path(dir);
    llvm::sys::path::append(path, in.name + ".npy");
    in.path = path.str().str();
    std::string want = expectedFile(in.type, in.sampleShape);
    if (!llvm::sys::fs::exists(in.path))
      return error("missing " + in.path + " for input '" + in.name + "' (expected " + want +
                   ", one row per sample); " + npyFilesIn(dir));
    std::string readError;
    if (!npy::readFile(in.path, in.array, readError))
      return error(readError);
    ref::ElemType fileType = elemTypeOfNpy(in.array.dtype);
    // NumPy has no bfloat16: a bf16 input is read from float32 and rounded.
    bool dtypeOk = fileType == in.type ||
                   (in.type == ref::ElemType::BF16 && fileType == ref::ElemType::F32);
    if (!dtypeOk)
      return error(in.path + " holds " + in.array.describe() + ": input '" + in.name +
                   "' expects " + ref::typeName(in.type) + " data (" + want + "), found " +
                   ref::typeName(fileType));
    bool shapeOk = in.array.shape.size() == shape.size() &&
                   std::equal(in.sampleShape.begin(), in.sampleShape.end(),
                              in.array.shape.begin() + 1);
    if (!shapeOk)
      return error(in.path + " holds " + in.array.describe() + ": input '" + in.name +
                   "' expects samples of shape " + ref::shapeToString(in.sampleShape) +
                   " (" + want + "), found " +
                   (in.array.shape.empty()
                        ? std::string("a scalar")
                        : ref::shapeToString(std::vector<int64_t>(
                              in.array.shape.begin() + 1, in.array.shape.end()))));
    int64_t samples = in.array.shape[0];
    if (samples == 0)
      return error(in.path + " holds no samples (" + in.array.describe() + ")");
    if (first && samples != data.numSamples_)
      return error(in.path + " holds " + std::to_string(samples) + " samples, but " +
                   first->path + " holds " + std::to_string(data.numSamples_) +
                   ": every input needs one row per sample");
    data.numSamples_ = samples;
    in.sampleBytes = static_cast<int64_t>(in.array.data.size()) / samples;
    // Labels and indices: an out-of-range value would stop training midway.
    if (!ref::isFloatType(in.type)) {
      if (std::optional<int64_t> bound = integerIndexBound(fn.getArgument(i))) {
        ref::Tensor all = ref::Tensor::fromRaw(fileType, in.array.shape, in.array.data.data());
        for (int64_t k = 0; k < all.numElements(); ++k) {
          int64_t v = all.getInt(k);
          if (v < 0 || v >= *bound)
            return error(in.path + " sample " + std::to_string(k / (all.numElements() / samples)) +
                         " holds " + std::to_string(v) + ", but input '" + in.name +
                         "' indexes " + std::to_string(*bound) +
                         " entries (class labels or ids 0.." + std::to_string(*bound - 1) + ")");
        }
      }
    }
    data.inputs_.push_back(std::move(in));
    first = &data.inputs_.front();
  }
  if (data.inputs_.empty())
    return error("the model has no inputs to read from '" + dir + "'");
  return data;
}

ref::Tensor Dataset::batch(size_t k, llvm::ArrayRef<int64_t> indices) const {
  const InputData &in = inputs_[k];
  std::vector<uint8_t> bytes(indices.size() * in.sampleBytes);
  for (size_t j = 0; j < indices.size(); ++j)
    std::memcpy(bytes.data() + j * in.sampleBytes,
                in.array.data.data() + indices[j] * in.sampleBytes, in.sampleBytes);
  std::vector<int64_t> shape = {static_cast<int64_t>(indices.size())};
  shape.insert(shape.end(), in.sampleShape.begin(), in.sampleShape.end());
  ref::ElemType fileType = elemTypeOfNpy(in.array.dtype);
  ref::Tensor t = ref::Tensor::fromRaw(fileType, shape, bytes.data());
  if (fileType == in.type)
    return t;
  ref::Tensor converted(in.type, shape); // bf16 from f32
  converted.floats() = t.floats();
  converted.roundToDeclaredType();
  return converted;
}

std::vector<int64_t> shuffledOrder(int64_t n, int64_t seed, int64_t epoch) {
  std::vector<int64_t> order(n);
  for (int64_t i = 0; i < n; ++i)
    order[i] = i;
  // Wrapping add: the offset is a 64-bit pattern, like every Philox offset.
  int64_t offset = static_cast<int64_t>(
      static_cast<uint64_t>(streamOffsetForName("kiln-train-shuffle")) +
      static_cast<uint64_t>(epoch));
  for (int64_t i = n - 1; i > 0; --i) {
    // Uniform in [0, i]: reject the 2^64 mod m smallest words. Attempt a of
    // draw i reads index (a << 40) | i, so n must stay below 2^40.
    uint64_t m = static_cast<uint64_t>(i) + 1;
    uint64_t threshold = (0 - m) % m;
    uint64_t r = 0;
    for (uint64_t attempt = 0;; ++attempt) {
      philox::Counter w = philox::streamWords(seed, offset, (attempt << 40) | uint64_t(i));
      r = uint64_t(w[0]) | (uint64_t(w[1]) << 32);
      if (r >= threshold)
        break;
    }
    std::swap(order[i], order[static_cast<int64_t>(r % m)]);
  }
  return order;
}

} // namespace kiln::tool
