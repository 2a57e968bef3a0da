//===- SafeTensors.h - safetensors reading and writing ----------*- C++ -*-===//
//
// The safetensors format (https://github.com/huggingface/safetensors):
//
//   bytes 0..8     N, the header length, unsigned 64-bit little-endian
//   bytes 8..8+N   a JSON object, UTF-8, optionally padded with spaces:
//                    {"NAME": {"dtype": "F32", "shape": [2, 3],
//                              "data_offsets": [BEGIN, END]}, ...,
//                     "__metadata__": {"KEY": "VALUE", ...}}
//   the rest       the data area; a tensor's bytes are [BEGIN, END) of it,
//                  little-endian, C order
//
// Plain C++17, no LLVM: the runtime and the compiler tools both use it.
// A file is never trusted: the reader checks the header length against the
// file, parses the JSON strictly (bounded size and nesting, no duplicate
// keys, no unknown fields), and checks that every tensor's byte range lies
// in the data area, has exactly numel * dtype-size bytes (overflow-checked),
// and that the ranges tile the data area without overlap or gap. Every
// error names the tensor and the field.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_SAFETENSORS_H
#define KILN_RUNTIME_SAFETENSORS_H

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace kiln::safetensors {

/// The dtypes Kiln uses (the format has more; those are rejected by name).
enum class DType { F16, BF16, F32, F64, I32, I64, Bool };

/// Bytes per element (BOOL: one byte, 0 or 1).
size_t dtypeSize(DType t);
/// The format's name: "F16", "BF16", "F32", "F64", "I32", "I64", "BOOL".
const char *dtypeName(DType t);
/// Parses a format dtype name; false for any other string.
bool parseDType(const std::string &name, DType &out);

/// Header lengths above this are rejected before anything is allocated
/// (the limit of the reference implementation).
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
/// Tensors may have at most this many dimensions.
constexpr size_t kMaxRank = 64;

struct Tensor {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  /// Little-endian element bytes in C (row-major) order.
  std::vector<uint8_t> data;

  /// Element count (1 for rank 0); callers of `serialize` need not check
  /// it, the writer does.
  int64_t numElements() const;
  /// "F32[2, 3]".
  std::string describe() const;
};

struct File {
  /// In data-area order (the order they were written in).
  std::vector<Tensor> tensors;
  /// `__metadata__`: string keys to string values.
  std::map<std::string, std::string> metadata;

  /// The tensor named `name`, or null.
  const Tensor *find(const std::string &name) const;
};

/// Parses a whole safetensors file held in memory. On failure returns false
/// and sets `error` to what was wrong and where (byte offset, tensor, field).
bool parse(const uint8_t *bytes, size_t size, File &out, std::string &error);

/// Reads and parses `path`; errors name the file. Reads no more than the
/// header promises (plus one byte to notice trailing garbage), so a huge or
/// endless file cannot exhaust memory.
bool readFile(const std::string &path, File &out, std::string &error);

/// Serializes `file` (tensors in order, header padded with spaces to a
/// multiple of 8 bytes so that the data area is 8-byte aligned). Fails
/// when a tensor's data does not hold numel * dtype-size bytes, names are
/// empty, duplicated or "__metadata__", or a shape is negative.
bool serialize(const File &file, std::vector<uint8_t> &out, std::string &error);

/// Writes `path` atomically: serializes to a temporary file in the same
/// directory (`.NAME.tmp`), flushes it to disk (fsync), renames it over
/// `path` and syncs the directory. A reader sees the old file or the new
/// one, never a partial one; on failure `path` is untouched.
bool writeFile(const std::string &path, const File &file, std::string &error);

/// A 64-bit FNV-1a fingerprint (16 hex digits) of the tensors (names,
/// dtypes, shapes, bytes; in name order) and of the metadata except the key
/// `excludeKey`: any change of a single byte of content changes it. Kiln's
/// checkpoints store it as metadata so that a bit flip in the data area,
/// which the format itself cannot notice, is detected on load.
std::string contentDigest(const File &file, const std::string &excludeKey);

} // namespace kiln::safetensors

#endif // KILN_RUNTIME_SAFETENSORS_H
