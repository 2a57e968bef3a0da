//===- SafeTensors.cpp - safetensors reading and writing ------------------===//
//
// Reading is two-phase, as a verifier should be: the structure (header
// length, bounded JSON with no duplicate keys), then the semantics of each
// entry (dtype, shape, offsets) and of the layout as a whole (ranges inside
// the data area, exact sizes, no overlap, no gap, no trailing bytes).
//
//===----------------------------------------------------------------------===//
#include "kiln/SafeTensors.h"

#include "kiln/AtomicFile.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <set>

namespace kiln::safetensors {

using Json = nlohmann::json;

size_t dtypeSize(DType t) {
  switch (t) {
  case DType::F16: return 2;
  case DType::BF16: return 2;
  case DType::F32: return 4;
  case DType::F64: return 8;
  case DType::I32: return 4;
  case DType::I64: return 8;
  case DType::Bool: return 1;
  }
  return 0;
}

const char *dtypeName(DType t) {
  switch (t) {
  case DType::F16: return "F16";
  case DType::BF16: return "BF16";
  case DType::F32: return "F32";
  case DType::F64: return "F64";
  case DType::I32: return "I32";
  case DType::I64: return "I64";
  case DType::Bool: return "BOOL";
  }
  return "?";
}

bool parseDType(const std::string &name, DType &out) {
  for (DType t : {DType::F16, DType::BF16, DType::F32, DType::F64, DType::I32, DType::I64,
                  DType::Bool})
    if (name == dtypeName(t)) {
      out = t;
      return true;
    }
  return false;
}

int64_t Tensor::numElements() const {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0 || (d != 0 && n > std::numeric_limits<int64_t>::max() / d))
      return -1;
    n *= d;
  }
  return n;
}

namespace {

std::string shapeString(const std::vector<int64_t> &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

/// Bytes of `shape` x `dtype`, or false when the count overflows.
bool byteSize(const std::vector<int64_t> &shape, DType dtype, uint64_t &bytes) {
  uint64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0)
      return false;
    uint64_t u = static_cast<uint64_t>(d);
    if (u != 0 && n > std::numeric_limits<uint64_t>::max() / u)
      return false;
    n *= u;
  }
  if (n > std::numeric_limits<uint64_t>::max() / dtypeSize(dtype) ||
      n > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    return false;
  bytes = n * dtypeSize(dtype);
  return true;
}

uint64_t readLE64(const uint8_t *b) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i)
    v = (v << 8) | b[i];
  return v;
}

/// Checked before the JSON parser runs: the header nests at most 3 deep
/// ({name: {shape: [...]}}), so "[[[[..." cannot recurse or allocate
/// deeply; and it holds no NUL byte, which JSON never contains but
/// nlohmann's parser takes for the end of the input (it would accept
/// "{}\0garbage").
bool scanHeader(const char *text, size_t size, std::string &error) {
  int depth = 0;
  bool inString = false;
  for (size_t i = 0; i < size; ++i) {
    char c = text[i];
    if (c == '\0') {
      error = "malformed header at byte " + std::to_string(8 + i) +
              ": a NUL byte (JSON text never contains one)";
      return false;
    }
    if (inString) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        inString = false;
      continue;
    }
    if (c == '"') {
      inString = true;
    } else if (c == '{' || c == '[') {
      if (++depth > 3) {
        error = "malformed header at byte " + std::to_string(8 + i) +
                ": nested deeper than the format's 3 levels";
        return false;
      }
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return true;
}

/// A tensor's header entry before its bytes are copied.
struct Entry {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  uint64_t begin, end;
};

/// A non-negative integer that fits int64 (JSON numbers may be floats or
/// negative; neither is an offset or a dimension).
bool asCount(const Json &v, uint64_t &out) {
  if (v.is_number_unsigned()) {
    out = v.get<uint64_t>();
  } else if (v.is_number_integer()) {
    int64_t i = v.get<int64_t>();
    if (i < 0)
      return false;
    out = static_cast<uint64_t>(i);
  } else {
    return false;
  }
  return out <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
}

std::string jsonKind(const Json &v) {
  if (v.is_number_float())
    return "a fractional number (" + v.dump() + ")";
  if (v.is_number_integer() && !v.is_number_unsigned() && v.get<int64_t>() < 0)
    return "a negative number (" + v.dump() + ")";
  if (v.is_number())
    return "the number " + v.dump();
  std::string kind = v.type_name();
  return (kind == "array" || kind == "object" ? "an " : "a ") + kind;
}

/// Parses the header JSON into entries and metadata.
bool parseHeader(const char *text, size_t size, std::vector<Entry> &entries,
                 std::map<std::string, std::string> &metadata, std::string &error) {
  // The reference writer emits '{' first; padding may only follow.
  if (size == 0 || text[0] != '{') {
    error = "malformed header at byte 8: expected a JSON object starting with '{'";
    return false;
  }
  if (!scanHeader(text, size, error))
    return false;
  // nlohmann keeps the last of duplicate keys; a stack of key sets, one per
  // open object, finds them first.
  std::vector<std::set<std::string>> open;
  std::string duplicate;
  int duplicateDepth = 0;
  auto callback = [&](int, Json::parse_event_t event, Json &parsed) {
    switch (event) {
    case Json::parse_event_t::object_start:
      open.emplace_back();
      break;
    case Json::parse_event_t::object_end:
      if (!open.empty())
        open.pop_back();
      break;
    case Json::parse_event_t::key:
      if (!open.empty() && !open.back().insert(parsed.get<std::string>()).second &&
          duplicate.empty()) {
        duplicate = parsed.get<std::string>();
        duplicateDepth = static_cast<int>(open.size());
      }
      break;
    default:
      break;
    }
    return true;
  };
  Json header;
  try {
    header = Json::parse(text, text + size, callback);
  } catch (const Json::exception &e) {
    // e.what() reads "[json.exception.parse_error.101] parse error at line 1,
    // column 5: syntax error while parsing ...".
    std::string what = e.what();
    size_t cut = what.find("] ");
    error = "malformed header JSON: " + (cut == std::string::npos ? what : what.substr(cut + 2));
    return false;
  }
  if (!header.is_object()) {
    error = "malformed header: expected a JSON object, found " + jsonKind(header);
    return false;
  }
  if (!duplicate.empty()) {
    error = duplicateDepth == 1
                ? "header names '" + duplicate + "' twice"
                : "header: the key '" + duplicate + "' appears twice in one entry";
    return false;
  }
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string &name = it.key();
    const Json &value = it.value();
    if (name == "__metadata__") {
      if (!value.is_object()) {
        error = "header field '__metadata__': expected an object of strings, found " +
                jsonKind(value);
        return false;
      }
      for (auto m = value.begin(); m != value.end(); ++m) {
        if (!m.value().is_string()) {
          error = "header field '__metadata__': the value of '" + m.key() +
                  "' must be a string, found " + jsonKind(m.value());
          return false;
        }
        metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    std::string where = "tensor '" + name + "'";
    if (name.empty()) {
      error = "header: a tensor has an empty name";
      return false;
    }
    if (!value.is_object()) {
      error = where + ": expected an object with dtype, shape and data_offsets, found " +
              jsonKind(value);
      return false;
    }
    for (auto f = value.begin(); f != value.end(); ++f)
      if (f.key() != "dtype" && f.key() != "shape" && f.key() != "data_offsets") {
        error = where + ": unknown field '" + f.key() +
                "' (expected dtype, shape and data_offsets)";
        return false;
      }
    for (const char *field : {"dtype", "shape", "data_offsets"})
      if (!value.contains(field)) {
        error = where + ": missing field '" + field + "'";
        return false;
      }
    Entry e;
    e.name = name;
    const Json &dtype = value["dtype"];
    if (!dtype.is_string() || !parseDType(dtype.get<std::string>(), e.dtype)) {
      error = where + ": field 'dtype' is " +
              (dtype.is_string() ? "'" + dtype.get<std::string>() + "'" : jsonKind(dtype)) +
              ": expected one of F16, BF16, F32, F64, I32, I64, BOOL";
      return false;
    }
    const Json &shape = value["shape"];
    if (!shape.is_array() || shape.size() > kMaxRank) {
      error = where + ": field 'shape' must be an array of at most " +
              std::to_string(kMaxRank) + " dimensions, found " +
              (shape.is_array() ? std::to_string(shape.size()) + " dimensions"
                                : jsonKind(shape));
      return false;
    }
    for (size_t i = 0; i < shape.size(); ++i) {
      uint64_t d;
      if (!asCount(shape[i], d)) {
        error = where + ": field 'shape' dimension " + std::to_string(i) +
                " must be a non-negative integer below 2^63, found " + jsonKind(shape[i]);
        return false;
      }
      e.shape.push_back(static_cast<int64_t>(d));
    }
    const Json &offsets = value["data_offsets"];
    if (!offsets.is_array() || offsets.size() != 2 || !asCount(offsets[0], e.begin) ||
        !asCount(offsets[1], e.end)) {
      error = where + ": field 'data_offsets' must be [BEGIN, END] (two non-negative "
                      "integers), found " + offsets.dump();
      return false;
    }
    if (e.begin > e.end) {
      error = where + ": field 'data_offsets' is [" + std::to_string(e.begin) + ", " +
              std::to_string(e.end) + "]: BEGIN exceeds END";
      return false;
    }
    entries.push_back(std::move(e));
  }
  return true;
}

/// Checks the entries against a data area of `dataSize` bytes.
bool checkLayout(std::vector<Entry> &entries, uint64_t dataSize, std::string &error) {
  for (const Entry &e : entries) {
    std::string where = "tensor '" + e.name + "'";
    uint64_t bytes;
    if (!byteSize(e.shape, e.dtype, bytes)) {
      error = where + ": field 'shape' " + shapeString(e.shape) +
              " holds more than 2^63 elements or bytes";
      return false;
    }
    if (e.end > dataSize) {
      error = where + ": field 'data_offsets' [" + std::to_string(e.begin) + ", " +
              std::to_string(e.end) + "] ends outside the data area of " +
              std::to_string(dataSize) + " bytes";
      return false;
    }
    if (e.end - e.begin != bytes) {
      error = where + ": field 'data_offsets' [" + std::to_string(e.begin) + ", " +
              std::to_string(e.end) + "] spans " + std::to_string(e.end - e.begin) +
              " bytes, but " + dtypeName(e.dtype) + shapeString(e.shape) + " needs " +
              std::to_string(bytes);
      return false;
    }
  }
  // Sorted by position, the ranges must tile [0, dataSize).
  std::vector<const Entry *> order;
  for (const Entry &e : entries)
    order.push_back(&e);
  std::stable_sort(order.begin(), order.end(), [](const Entry *a, const Entry *b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  uint64_t pos = 0;
  const Entry *prev = nullptr;
  for (const Entry *e : order) {
    if (e->begin < pos) {
      error = "tensor '" + e->name + "': field 'data_offsets' [" +
              std::to_string(e->begin) + ", " + std::to_string(e->end) +
              "] overlaps tensor '" + prev->name + "' [" + std::to_string(prev->begin) +
              ", " + std::to_string(prev->end) + "]";
      return false;
    }
    if (e->begin > pos) {
      error = "bytes [" + std::to_string(pos) + ", " + std::to_string(e->begin) +
              ") of the data area belong to no tensor (before tensor '" + e->name + "')";
      return false;
    }
    pos = e->end;
    prev = e;
  }
  if (pos != dataSize) {
    error = "bytes [" + std::to_string(pos) + ", " + std::to_string(dataSize) +
            ") of the data area belong to no tensor" +
            (entries.empty() ? std::string() : " (after the last tensor)");
    return false;
  }
  // Data-area order: the order of the file.
  std::vector<Entry> sorted;
  for (const Entry *e : order)
    sorted.push_back(*e);
  entries = std::move(sorted);
  return true;
}

/// Header length from the first 8 bytes, checked against what follows.
bool headerLength(const uint8_t *bytes, uint64_t size, uint64_t &n, std::string &error) {
  if (size < 8) {
    error = "truncated file: " + std::to_string(size) +
            " bytes, fewer than the 8 of the header length";
    return false;
  }
  n = readLE64(bytes);
  if (n < 2 || n > kMaxHeaderBytes) {
    error = "bad header length " + std::to_string(n) + " (expected 2 to " +
            std::to_string(kMaxHeaderBytes) + " bytes)";
    return false;
  }
  return true;
}

} // namespace

std::string Tensor::describe() const { return dtypeName(dtype) + shapeString(shape); }

const Tensor *File::find(const std::string &name) const {
  for (const Tensor &t : tensors)
    if (t.name == name)
      return &t;
  return nullptr;
}

bool parse(const uint8_t *bytes, size_t size, File &out, std::string &error) {
  uint64_t n;
  if (!headerLength(bytes, size, n, error))
    return false;
  if (n > size - 8) {
    error = "truncated file: the header length is " + std::to_string(n) + " bytes, only " +
            std::to_string(size - 8) + " follow";
    return false;
  }
  std::vector<Entry> entries;
  File result;
  if (!parseHeader(reinterpret_cast<const char *>(bytes) + 8, n, entries, result.metadata,
                   error) ||
      !checkLayout(entries, size - 8 - n, error))
    return false;
  const uint8_t *data = bytes + 8 + n;
  for (Entry &e : entries) {
    Tensor t;
    t.name = std::move(e.name);
    t.dtype = e.dtype;
    t.shape = std::move(e.shape);
    t.data.assign(data + e.begin, data + e.end);
    if (t.dtype == DType::Bool)
      for (size_t i = 0; i < t.data.size(); ++i)
        if (t.data[i] > 1) {
          error = "tensor '" + t.name + "': BOOL element " + std::to_string(i) + " is " +
                  std::to_string(t.data[i]) + " (expected 0 or 1)";
          return false;
        }
    result.tensors.push_back(std::move(t));
  }
  out = std::move(result);
  return true;
}

bool readFile(const std::string &path, File &out, std::string &error) {
  FILE *f = std::fopen(path.c_str(), "rb");
  if (!f) {
    error = path + ": cannot open: " + std::strerror(errno);
    return false;
  }
  std::vector<uint8_t> bytes;
  // Reads until `bytes` holds `want` bytes or the file ends.
  auto fill = [&](uint64_t want) {
    uint8_t buffer[1 << 16];
    while (bytes.size() < want) {
      size_t chunk = static_cast<size_t>(std::min<uint64_t>(sizeof(buffer), want - bytes.size()));
      size_t got = std::fread(buffer, 1, chunk, f);
      if (got == 0)
        break;
      bytes.insert(bytes.end(), buffer, buffer + got);
    }
  };
  // 1. The length, 2. the header, 3. the data it promises and one byte more,
  // so that parse() sees trailing bytes without the whole of a huge file.
  fill(8);
  uint64_t n = 0, want = bytes.size();
  bool ok = true;
  if (bytes.size() == 8 && headerLength(bytes.data(), 8, n, error)) {
    fill(8 + n);
    std::vector<Entry> entries;
    std::map<std::string, std::string> metadata;
    std::string ignored;
    want = bytes.size();
    if (bytes.size() == 8 + n &&
        parseHeader(reinterpret_cast<const char *>(bytes.data()) + 8, n, entries, metadata,
                    ignored)) {
      uint64_t end = 0;
      for (const Entry &e : entries)
        end = std::max(end, e.end);
      // Offsets are below 2^63 (checked), so this cannot wrap.
      want = 8 + n + end + 1;
    }
    fill(want);
  }
  ok = !std::ferror(f);
  std::fclose(f);
  if (!ok) {
    error = path + ": read error";
    return false;
  }
  if (!parse(bytes.data(), bytes.size(), out, error)) {
    error = path + ": " + error;
    return false;
  }
  return true;
}

bool serialize(const File &file, std::vector<uint8_t> &out, std::string &error) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!file.metadata.empty()) {
    nlohmann::ordered_json meta = nlohmann::ordered_json::object();
    for (const auto &[key, value] : file.metadata)
      meta[key] = value;
    header["__metadata__"] = std::move(meta);
  }
  std::set<std::string> names;
  uint64_t offset = 0;
  for (const Tensor &t : file.tensors) {
    std::string where = "tensor '" + t.name + "'";
    if (t.name.empty() || t.name == "__metadata__" || !names.insert(t.name).second) {
      error = t.name.empty() ? "a tensor has an empty name"
                             : where + (t.name == "__metadata__" ? " has a reserved name"
                                                                : " appears twice");
      return false;
    }
    uint64_t bytes;
    if (t.shape.size() > kMaxRank || !byteSize(t.shape, t.dtype, bytes) ||
        bytes != t.data.size()) {
      error = where + ": " + t.describe() + " holds " + std::to_string(t.data.size()) +
              " bytes (expected a shape of at most " + std::to_string(kMaxRank) +
              " non-negative dimensions and numel * " + std::to_string(dtypeSize(t.dtype)) +
              " bytes)";
      return false;
    }
    header[t.name] = {{"dtype", dtypeName(t.dtype)},
                      {"shape", t.shape},
                      {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  // Non-ASCII names and values: dump() writes UTF-8 as is; invalid UTF-8 is
  // replaced rather than thrown (the library may be built with exceptions
  // but callers must never see one).
  std::string text = header.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  text.append((8 - text.size() % 8) % 8, ' ');
  if (text.size() > kMaxHeaderBytes) {
    error = "the header would be " + std::to_string(text.size()) + " bytes (more than " +
            std::to_string(kMaxHeaderBytes) + ")";
    return false;
  }
  out.clear();
  out.reserve(8 + text.size() + offset);
  uint64_t n = text.size();
  for (int i = 0; i < 8; ++i)
    out.push_back(static_cast<uint8_t>(n >> (8 * i)));
  out.insert(out.end(), text.begin(), text.end());
  for (const Tensor &t : file.tensors)
    out.insert(out.end(), t.data.begin(), t.data.end());
  return true;
}

bool writeFile(const std::string &path, const File &file, std::string &error) {
  std::vector<uint8_t> bytes;
  if (!serialize(file, bytes, error)) {
    error = path + ": " + error;
    return false;
  }
  return writeFileAtomically(path, bytes, error);
}

std::string contentDigest(const File &file, const std::string &excludeKey) {
  uint64_t h = 1469598103934665603ull;
  auto bytes = [&](const void *p, size_t n) {
    const uint8_t *b = static_cast<const uint8_t *>(p);
    for (size_t i = 0; i < n; ++i) {
      h ^= b[i];
      h *= 1099511628211ull;
    }
  };
  auto u64 = [&](uint64_t v) {
    uint8_t b[8];
    for (int i = 0; i < 8; ++i)
      b[i] = static_cast<uint8_t>(v >> (8 * i));
    bytes(b, 8);
  };
  // Length-prefixed fields, so that moving bytes between fields changes it.
  auto str = [&](const std::string &s) {
    u64(s.size());
    bytes(s.data(), s.size());
  };
  for (const auto &[key, value] : file.metadata)
    if (key != excludeKey) {
      str(key);
      str(value);
    }
  std::vector<const Tensor *> order;
  for (const Tensor &t : file.tensors)
    order.push_back(&t);
  std::sort(order.begin(), order.end(),
            [](const Tensor *a, const Tensor *b) { return a->name < b->name; });
  for (const Tensor *t : order) {
    str(t->name);
    str(dtypeName(t->dtype));
    u64(t->shape.size());
    for (int64_t d : t->shape)
      u64(static_cast<uint64_t>(d));
    u64(t->data.size());
    bytes(t->data.data(), t->data.size());
  }
  char hex[17];
  std::snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(h));
  return hex;
}

} // namespace kiln::safetensors
