//===- Npy.h - NumPy .npy reading and writing -------------------*- C++ -*-===//
//
// The NumPy format (versions 1.0, 2.0 and 3.0), little-endian, C order, for
// the dtypes Kiln tensors use. Plain C++17, no LLVM: the runtime and the
// compiler tools both use it. Every malformed file is a message, never a
// crash: the header is parsed by a small strict parser, not evaluated.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_NPY_H
#define KILN_RUNTIME_NPY_H

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace kiln::npy {

enum class DType { F16, F32, F64, Bool, I32, I64 };

/// Bytes per element.
size_t dtypeSize(DType t);
/// Kiln's name of the dtype: "f16", "f32", "f64", "i1", "i32", "i64".
const char *dtypeName(DType t);
/// NumPy's descr: "<f2", "<f4", "<f8", "|b1", "<i4", "<i8".
const char *dtypeDescr(DType t);

struct Array {
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  /// Little-endian element bytes in C (row-major) order.
  std::vector<uint8_t> data;

  int64_t numElements() const;
  /// "f32[2, 3]".
  std::string describe() const;
};

/// Parses a whole .npy file held in memory. On failure returns false and
/// sets `error` to what was wrong and where (byte offset or header field).
bool parse(const uint8_t *bytes, size_t size, Array &out, std::string &error);

/// Reads `path`; errors name the file.
bool readFile(const std::string &path, Array &out, std::string &error);

/// Serializes as format version 1.0 (2.0 when the header needs it).
std::vector<uint8_t> serialize(const Array &array);

/// Writes `path` atomically (kiln/AtomicFile.h): a reader never sees a
/// partial file, and a failed write leaves an existing file untouched.
bool writeFile(const std::string &path, const Array &array, std::string &error);

} // namespace kiln::npy

#endif // KILN_RUNTIME_NPY_H
