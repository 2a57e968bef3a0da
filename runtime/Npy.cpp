//===- Npy.cpp - NumPy .npy reading and writing ---------------------------===//
#include "kiln/Npy.h"
#include "kiln/AtomicFile.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>

namespace kiln::npy {

size_t dtypeSize(DType t) {
  switch (t) {
  case DType::F16: return 2;
  case DType::F32: return 4;
  case DType::F64: return 8;
  case DType::Bool: return 1;
  case DType::I32: return 4;
  case DType::I64: return 8;
  }
  return 0;
}

const char *dtypeName(DType t) {
  switch (t) {
  case DType::F16: return "f16";
  case DType::F32: return "f32";
  case DType::F64: return "f64";
  case DType::Bool: return "i1";
  case DType::I32: return "i32";
  case DType::I64: return "i64";
  }
  return "?";
}

const char *dtypeDescr(DType t) {
  switch (t) {
  case DType::F16: return "<f2";
  case DType::F32: return "<f4";
  case DType::F64: return "<f8";
  case DType::Bool: return "|b1";
  case DType::I32: return "<i4";
  case DType::I64: return "<i8";
  }
  return "?";
}

int64_t Array::numElements() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

std::string Array::describe() const {
  std::string s = dtypeName(dtype);
  s += "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i)
      s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

namespace {

/// A strict parser for the header dict, e.g.
/// {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
class HeaderParser {
public:
  HeaderParser(const std::string &text) : s(text) {}

  bool run(Array &out, std::string &error) {
    bool haveDescr = false, haveOrder = false, haveShape = false;
    skipSpace();
    if (!eat('{'))
      return fail(error, "expected '{' at the start of the header");
    while (true) {
      skipSpace();
      if (eat('}'))
        break;
      std::string key;
      if (!parseString(key))
        return fail(error, "expected a quoted key");
      skipSpace();
      if (!eat(':'))
        return fail(error, "expected ':' after key '" + key + "'");
      skipSpace();
      if (key == "descr") {
        std::string descr;
        if (!parseString(descr))
          return fail(error, "expected a quoted string for 'descr'");
        if (!parseDescr(descr, out.dtype, error))
          return false;
        haveDescr = true;
      } else if (key == "fortran_order") {
        if (s.compare(pos, 5, "False") == 0) {
          pos += 5;
        } else if (s.compare(pos, 4, "True") == 0) {
          error = "fortran_order is True: only C-order arrays are supported "
                  "(save with np.ascontiguousarray)";
          return false;
        } else {
          return fail(error, "expected True or False for 'fortran_order'");
        }
        haveOrder = true;
      } else if (key == "shape") {
        if (!parseShape(out.shape, error))
          return false;
        haveShape = true;
      } else {
        return fail(error, "unknown header key '" + key + "'");
      }
      skipSpace();
      if (eat(','))
        continue;
      skipSpace();
      if (eat('}'))
        break;
      return fail(error, "expected ',' or '}'");
    }
    if (!haveDescr || !haveOrder || !haveShape) {
      error = std::string("header lacks the key '") +
              (!haveDescr ? "descr" : !haveOrder ? "fortran_order" : "shape") + "'";
      return false;
    }
    return true;
  }

private:
  bool fail(std::string &error, const std::string &what) {
    error = "malformed header at character " + std::to_string(pos) + ": " + what;
    return false;
  }
  void skipSpace() {
    while (pos < s.size() && (s[pos] == ' ' || s[pos] == '\t' || s[pos] == '\n'))
      ++pos;
  }
  bool eat(char c) {
    if (pos < s.size() && s[pos] == c) {
      ++pos;
      return true;
    }
    return false;
  }
  bool parseString(std::string &out) {
    if (pos >= s.size() || (s[pos] != '\'' && s[pos] != '"'))
      return false;
    char quote = s[pos++];
    size_t end = s.find(quote, pos);
    if (end == std::string::npos)
      return false;
    out = s.substr(pos, end - pos);
    pos = end + 1;
    return true;
  }
  bool parseDescr(const std::string &d, DType &t, std::string &error) {
    static const struct {
      const char *descr;
      DType type;
    } known[] = {{"<f2", DType::F16}, {"<f4", DType::F32}, {"<f8", DType::F64},
                 {"|b1", DType::Bool}, {"<i4", DType::I32}, {"<i8", DType::I64}};
    for (const auto &k : known)
      if (d == k.descr) {
        t = k.type;
        return true;
      }
    if (!d.empty() && d[0] == '>')
      error = "dtype '" + d + "' is big-endian: only little-endian arrays are supported";
    else
      error = "unsupported dtype '" + d +
              "': expected one of <f2 <f4 <f8 |b1 <i4 <i8 (float16, float32, "
              "float64, bool, int32, int64)";
    return false;
  }
  bool parseShape(std::vector<int64_t> &shape, std::string &error) {
    if (!eat('('))
      return fail(error, "expected '(' for 'shape'");
    shape.clear();
    int64_t total = 1;
    while (true) {
      skipSpace();
      if (eat(')'))
        return true;
      if (pos >= s.size() || s[pos] < '0' || s[pos] > '9')
        return fail(error, "expected a non-negative integer in 'shape'");
      int64_t v = 0;
      while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
        if (v > (std::numeric_limits<int64_t>::max() - 9) / 10)
          return fail(error, "dimension too large in 'shape'");
        v = v * 10 + (s[pos++] - '0');
      }
      if (shape.size() >= 32)
        return fail(error, "more than 32 dimensions in 'shape'");
      if (v != 0 && total > std::numeric_limits<int64_t>::max() / v)
        return fail(error, "the element count of 'shape' overflows");
      total *= v;
      shape.push_back(v);
      skipSpace();
      if (eat(','))
        continue;
      skipSpace();
      if (eat(')'))
        return true;
      return fail(error, "expected ',' or ')' in 'shape'");
    }
  }

  const std::string &s;
  size_t pos = 0;
};

} // namespace

bool parse(const uint8_t *bytes, size_t size, Array &out, std::string &error) {
  static const uint8_t magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
  if (size < 10 || std::memcmp(bytes, magic, 6) != 0) {
    error = "not a .npy file: missing the \\x93NUMPY magic";
    return false;
  }
  uint8_t major = bytes[6], minor = bytes[7];
  size_t headerLen, headerStart;
  if (major == 1) {
    headerLen = bytes[8] | (size_t(bytes[9]) << 8);
    headerStart = 10;
  } else if (major == 2 || major == 3) {
    if (size < 12) {
      error = "truncated .npy file: the header length is cut off";
      return false;
    }
    headerLen = bytes[8] | (size_t(bytes[9]) << 8) | (size_t(bytes[10]) << 16) |
                (size_t(bytes[11]) << 24);
    headerStart = 12;
  } else {
    error = "unsupported .npy format version " + std::to_string(major) + "." +
            std::to_string(minor) + " (expected 1.0, 2.0 or 3.0)";
    return false;
  }
  if (minor != 0) {
    error = "unsupported .npy format version " + std::to_string(major) + "." +
            std::to_string(minor) + " (expected 1.0, 2.0 or 3.0)";
    return false;
  }
  if (headerLen > size - headerStart) {
    error = "truncated .npy file: the header claims " + std::to_string(headerLen) +
            " bytes, only " + std::to_string(size - headerStart) + " follow";
    return false;
  }
  std::string header(reinterpret_cast<const char *>(bytes) + headerStart, headerLen);
  if (major < 3)
    for (unsigned char c : header)
      if (c >= 0x80) {
        error = "header of a version 1/2 .npy file is not ASCII";
        return false;
      }
  HeaderParser parser(header);
  Array result;
  if (!parser.run(result, error))
    return false;
  size_t dataStart = headerStart + headerLen;
  // numElements cannot overflow (checked while parsing the shape), but the
  // byte count can.
  uint64_t n = static_cast<uint64_t>(result.numElements());
  size_t elem = dtypeSize(result.dtype);
  if (n > (size - dataStart) / elem || n * elem != size - dataStart) {
    error = "data size mismatch: " + result.describe() + " needs " +
            (n > std::numeric_limits<uint64_t>::max() / elem
                 ? std::string("more than 2^64")
                 : std::to_string(n * elem)) +
            " bytes, the file has " + std::to_string(size - dataStart);
    return false;
  }
  result.data.assign(bytes + dataStart, bytes + size);
  out = std::move(result);
  return true;
}

namespace {
/// How many bytes a .npy file whose first `n` bytes are `b` should hold:
/// never trust the length of a file (it may be /dev/zero or a huge pipe),
/// read what the header promises and one byte more. When the prefix is
/// already malformed, returns `n` so that parse() reports why.
uint64_t bytesNeeded(const uint8_t *b, size_t n) {
  if (n < 12)
    return 12;
  static const uint8_t magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
  if (std::memcmp(b, magic, 6) != 0 || b[6] < 1 || b[6] > 3)
    return n;
  uint64_t headerStart = b[6] == 1 ? 10 : 12;
  uint64_t headerLen = b[6] == 1 ? (b[8] | (uint64_t(b[9]) << 8))
                                 : (b[8] | (uint64_t(b[9]) << 8) |
                                    (uint64_t(b[10]) << 16) | (uint64_t(b[11]) << 24));
  if (n < headerStart + headerLen)
    return headerStart + headerLen;
  Array a;
  std::string ignored;
  std::string header(reinterpret_cast<const char *>(b) + headerStart, headerLen);
  HeaderParser parser(header); // holds a reference: keep `header` alive
  if (!parser.run(a, ignored))
    return n;
  uint64_t elems = static_cast<uint64_t>(a.numElements()), size = dtypeSize(a.dtype);
  if (elems > (std::numeric_limits<uint64_t>::max() - headerStart - headerLen - 1) / size)
    return n; // parse() reports the impossible size
  return headerStart + headerLen + elems * size + 1;
}
} // namespace

bool readFile(const std::string &path, Array &out, std::string &error) {
  FILE *f = std::fopen(path.c_str(), "rb");
  if (!f) {
    error = path + ": cannot open: " + std::strerror(errno);
    return false;
  }
  std::vector<uint8_t> bytes;
  uint8_t buffer[1 << 16];
  uint64_t need = 12;
  while (bytes.size() < need) {
    size_t chunk = static_cast<size_t>(std::min<uint64_t>(sizeof(buffer), need - bytes.size()));
    size_t got = std::fread(buffer, 1, chunk, f);
    if (got == 0)
      break;
    bytes.insert(bytes.end(), buffer, buffer + got);
    need = bytesNeeded(bytes.data(), bytes.size());
  }
  bool readError = std::ferror(f);
  std::fclose(f);
  if (readError) {
    error = path + ": read error";
    return false;
  }
  if (!parse(bytes.data(), bytes.size(), out, error)) {
    // Reading stopped one byte past the promised size: the file may hold
    // more than parse() saw.
    error = path + ": " + error;
    return false;
  }
  return true;
}

std::vector<uint8_t> serialize(const Array &array) {
  std::string header = std::string("{'descr': '") + dtypeDescr(array.dtype) +
                       "', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < array.shape.size(); ++i) {
    header += std::to_string(array.shape[i]);
    if (array.shape.size() == 1 || i + 1 < array.shape.size())
      header += ",";
    if (i + 1 < array.shape.size())
      header += " ";
  }
  header += "), }";
  // Pad with spaces and a newline so that the data starts 64-byte aligned.
  bool v2 = header.size() + 11 > 65535;
  size_t prefix = v2 ? 12 : 10;
  size_t total = prefix + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::vector<uint8_t> out = {0x93, 'N', 'U', 'M', 'P', 'Y', uint8_t(v2 ? 2 : 1), 0};
  size_t len = header.size();
  out.push_back(len & 0xff);
  out.push_back((len >> 8) & 0xff);
  if (v2) {
    out.push_back((len >> 16) & 0xff);
    out.push_back((len >> 24) & 0xff);
  }
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), array.data.begin(), array.data.end());
  return out;
}

bool writeFile(const std::string &path, const Array &array, std::string &error) {
  if (array.data.size() != static_cast<size_t>(array.numElements()) * dtypeSize(array.dtype)) {
    error = path + ": internal error: " + array.describe() + " holds " +
            std::to_string(array.data.size()) + " bytes";
    return false;
  }
  return writeFileAtomically(path, serialize(array), error);
}

} // namespace kiln::npy
