//===- SafeTensorsTest.cpp - safetensors reading and writing --------------===//
#include "kiln/SafeTensors.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <unistd.h>

using namespace kiln::safetensors;

namespace {

/// A file: the 8-byte length, `header` as is, then `data`.
std::vector<uint8_t> makeFile(const std::string &header, size_t dataBytes,
                              uint64_t claimedLength = UINT64_MAX) {
  uint64_t n = claimedLength == UINT64_MAX ? header.size() : claimedLength;
  std::vector<uint8_t> out;
  for (int i = 0; i < 8; ++i)
    out.push_back(static_cast<uint8_t>(n >> (8 * i)));
  out.insert(out.end(), header.begin(), header.end());
  for (size_t i = 0; i < dataBytes; ++i)
    out.push_back(static_cast<uint8_t>(i));
  return out;
}

/// Parses `bytes`; returns the error ("" on success).
std::string parseError(const std::vector<uint8_t> &bytes) {
  File f;
  std::string error;
  bool ok = parse(bytes.data(), bytes.size(), f, error);
  EXPECT_EQ(ok, error.empty()) << error;
  return ok ? "" : error;
}

File sample() {
  File f;
  Tensor w;
  w.name = "l1.w";
  w.dtype = DType::F32;
  w.shape = {2, 3};
  for (int i = 0; i < 6; ++i) {
    float v = 0.5f * i - 1;
    uint8_t b[4];
    std::memcpy(b, &v, 4);
    w.data.insert(w.data.end(), b, b + 4);
  }
  Tensor step;
  step.name = "count";
  step.dtype = DType::I64;
  step.shape = {};
  step.data = {7, 0, 0, 0, 0, 0, 0, 0};
  Tensor mask;
  mask.name = "mask";
  mask.dtype = DType::Bool;
  mask.shape = {3};
  mask.data = {1, 0, 1};
  f.tensors = {w, step, mask};
  f.metadata = {{"kiln.format", "1"}, {"note", "caf\xc3\xa9"}};
  return f;
}

std::vector<uint8_t> serialized(const File &f) {
  std::vector<uint8_t> bytes;
  std::string error;
  EXPECT_TRUE(serialize(f, bytes, error)) << error;
  return bytes;
}

std::string tempPath(const std::string &name) {
  const char *dir = std::getenv("TMPDIR");
  return std::string(dir ? dir : "/tmp") + "/kiln-st-" + std::to_string(::getpid()) + "-" +
         name;
}

} // namespace

TEST(SafeTensors, RoundTripsEveryDtype) {
  File f;
  for (DType t : {DType::F16, DType::BF16, DType::F32, DType::F64, DType::I32, DType::I64,
                  DType::Bool}) {
    Tensor x;
    x.name = std::string("t_") + dtypeName(t);
    x.dtype = t;
    x.shape = {2, 1, 3};
    x.data.resize(6 * dtypeSize(t));
    for (size_t i = 0; i < x.data.size(); ++i)
      x.data[i] = static_cast<uint8_t>(t == DType::Bool ? i % 2 : i * 13 + 1);
    f.tensors.push_back(x);
  }
  Tensor empty;
  empty.name = "empty";
  empty.shape = {0, 4};
  f.tensors.push_back(empty);
  f.metadata["k"] = "v";
  std::vector<uint8_t> bytes = serialized(f);
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  EXPECT_EQ(n % 8, 0u) << "the data area must be 8-byte aligned";
  File g;
  std::string error;
  ASSERT_TRUE(parse(bytes.data(), bytes.size(), g, error)) << error;
  ASSERT_EQ(g.tensors.size(), f.tensors.size());
  for (size_t i = 0; i < f.tensors.size(); ++i) {
    EXPECT_EQ(g.tensors[i].name, f.tensors[i].name);
    EXPECT_EQ(g.tensors[i].dtype, f.tensors[i].dtype);
    EXPECT_EQ(g.tensors[i].shape, f.tensors[i].shape);
    EXPECT_EQ(g.tensors[i].data, f.tensors[i].data);
  }
  EXPECT_EQ(g.metadata, f.metadata);
  EXPECT_EQ(g.find("t_F64")->describe(), "F64[2, 1, 3]");
  EXPECT_EQ(g.find("nope"), nullptr);
}

TEST(SafeTensors, WritesAtomicallyAndReadsBack) {
  std::string path = tempPath("rt.safetensors");
  std::string error;
  ASSERT_TRUE(writeFile(path, sample(), error)) << error;
  File g;
  ASSERT_TRUE(readFile(path, g, error)) << error;
  EXPECT_EQ(g.metadata.at("note"), "caf\xc3\xa9");
  EXPECT_EQ(g.find("l1.w")->data, sample().tensors[0].data);
  EXPECT_EQ(contentDigest(g, ""), contentDigest(sample(), ""));
  // No temporary file is left behind.
  std::string tmp = path.substr(0, path.find_last_of('/') + 1) + "." +
                    path.substr(path.find_last_of('/') + 1) + ".tmp";
  EXPECT_NE(::access(tmp.c_str(), F_OK), 0);
  // A failing write (a directory that does not exist) reports the path.
  EXPECT_FALSE(writeFile("/nonexistent-dir/x.safetensors", sample(), error));
  EXPECT_NE(error.find("/nonexistent-dir/.x.safetensors.tmp: cannot create"), std::string::npos)
      << error;
  std::remove(path.c_str());
}

TEST(SafeTensors, ReadsTheReferenceLayout) {
  // As the Python package writes it: no metadata, offsets from 0, padding.
  std::string header =
      R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"I64","shape":[],"data_offsets":[8,16]}})";
  header.append((8 - header.size() % 8) % 8, ' ');
  EXPECT_EQ(parseError(makeFile(header, 16)), "");
}

TEST(SafeTensors, RejectsTruncatedFiles) {
  std::vector<uint8_t> good = serialized(sample());
  EXPECT_EQ(parseError(std::vector<uint8_t>(good.begin(), good.begin() + 5)),
            "truncated file: 5 bytes, fewer than the 8 of the header length");
  EXPECT_NE(parseError(std::vector<uint8_t>(good.begin(), good.begin() + 40))
                .find("truncated file: the header length is"),
            std::string::npos);
  // Cut inside the data area: the last tensor ends outside it.
  std::string err = parseError(std::vector<uint8_t>(good.begin(), good.end() - 1));
  EXPECT_NE(err.find("tensor 'mask': field 'data_offsets' [32, 35] ends outside the data "
                     "area of 34 bytes"),
            std::string::npos)
      << err;
  // readFile sees the same, naming the file.
  std::string path = tempPath("trunc.safetensors");
  {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char *>(good.data()), good.size() - 3);
  }
  File f;
  std::string error;
  EXPECT_FALSE(readFile(path, f, error));
  EXPECT_EQ(error.rfind(path + ": tensor 'mask'", 0), 0u) << error;
  std::remove(path.c_str());
}

TEST(SafeTensors, RejectsBadHeaderLengths) {
  EXPECT_EQ(parseError(makeFile("{}", 0, 0)), "bad header length 0 (expected 2 to 100000000 bytes)");
  EXPECT_EQ(parseError(makeFile("{}", 0, uint64_t(1) << 62)),
            "bad header length 4611686018427387904 (expected 2 to 100000000 bytes)");
  EXPECT_EQ(parseError(makeFile("{}", 0, 50)),
            "truncated file: the header length is 50 bytes, only 2 follow");
  // Too short: the JSON is cut.
  EXPECT_NE(parseError(makeFile("{\"a\": 1}", 0, 4)).find("malformed header JSON"),
            std::string::npos);
  // Trailing bytes after the data are bytes of no tensor.
  EXPECT_EQ(parseError(makeFile("{}", 3)),
            "bytes [0, 3) of the data area belong to no tensor");
}

TEST(SafeTensors, RejectsMalformedJson) {
  EXPECT_EQ(parseError(makeFile("[1, 2]", 0)),
            "malformed header at byte 8: expected a JSON object starting with '{'");
  EXPECT_NE(parseError(makeFile("{\"a\": }", 0)).find("malformed header JSON: parse error"),
            std::string::npos);
  EXPECT_EQ(parseError(makeFile("{\"a\": [[[[1]]]]}", 0)),
            "malformed header at byte 16: nested deeper than the format's 3 levels");
  EXPECT_EQ(parseError(makeFile(std::string("{}\0garbage", 10), 0)),
            "malformed header at byte 10: a NUL byte (JSON text never contains one)");
  EXPECT_NE(parseError(makeFile(std::string("{\"a\xff\": 1}"), 0)).find("malformed header JSON"),
            std::string::npos);
  EXPECT_EQ(parseError(makeFile("{\"a\": 1}", 0)),
            "tensor 'a': expected an object with dtype, shape and data_offsets, found the "
            "number 1");
}

TEST(SafeTensors, RejectsDuplicatesAndUnknownFields) {
  const char *t = R"({"dtype":"F32","shape":[1],"data_offsets":[0,4]})";
  EXPECT_EQ(parseError(makeFile(std::string("{\"w\":") + t + ",\"w\":" + t + "}", 4)),
            "header names 'w' twice");
  EXPECT_EQ(parseError(makeFile(
                R"({"w":{"dtype":"F32","dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 4)),
            "header: the key 'dtype' appears twice in one entry");
  EXPECT_EQ(parseError(makeFile(
                R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"extra":1}})", 4)),
            "tensor 'w': unknown field 'extra' (expected dtype, shape and data_offsets)");
  EXPECT_EQ(parseError(makeFile(R"({"w":{"dtype":"F32","shape":[1]}})", 4)),
            "tensor 'w': missing field 'data_offsets'");
  EXPECT_EQ(parseError(makeFile(R"({"__metadata__":{"k":1}})", 0)),
            "header field '__metadata__': the value of 'k' must be a string, found the number 1");
  EXPECT_EQ(parseError(makeFile(R"({"__metadata__":[]})", 0)),
            "header field '__metadata__': expected an object of strings, found an array");
}

TEST(SafeTensors, RejectsBadDtypesAndShapes) {
  EXPECT_EQ(parseError(makeFile(R"({"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}})", 1)),
            "tensor 'w': field 'dtype' is 'U8': expected one of F16, BF16, F32, F64, I32, "
            "I64, BOOL");
  EXPECT_EQ(parseError(makeFile(R"({"w":{"dtype":3,"shape":[1],"data_offsets":[0,1]}})", 1)),
            "tensor 'w': field 'dtype' is the number 3: expected one of F16, BF16, F32, F64, "
            "I32, I64, BOOL");
  EXPECT_EQ(parseError(makeFile(R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4)),
            "tensor 'w': field 'shape' dimension 0 must be a non-negative integer below 2^63, "
            "found a negative number (-1)");
  EXPECT_EQ(parseError(makeFile(R"({"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}})", 4)),
            "tensor 'w': field 'shape' dimension 0 must be a non-negative integer below 2^63, "
            "found a fractional number (1.5)");
  // numel * 8 overflows 2^64.
  EXPECT_EQ(parseError(makeFile(
                R"({"w":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,0]}})",
                0)),
            "tensor 'w': field 'shape' [4294967296, 4294967296] holds more than 2^63 "
            "elements or bytes");
  // A BOOL byte other than 0/1.
  std::vector<uint8_t> f =
      makeFile(R"({"m":{"dtype":"BOOL","shape":[2],"data_offsets":[0,2]}})", 0);
  f.push_back(1);
  f.push_back(2);
  EXPECT_EQ(parseError(f), "tensor 'm': BOOL element 1 is 2 (expected 0 or 1)");
}

TEST(SafeTensors, RejectsBadOffsets) {
  EXPECT_EQ(parseError(makeFile(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 4)),
            "tensor 'w': field 'data_offsets' [0, 8] ends outside the data area of 4 bytes");
  EXPECT_EQ(parseError(makeFile(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", 8)),
            "tensor 'w': field 'data_offsets' is [8, 0]: BEGIN exceeds END");
  EXPECT_EQ(parseError(makeFile(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0]}})", 8)),
            "tensor 'w': field 'data_offsets' must be [BEGIN, END] (two non-negative "
            "integers), found [0]");
  EXPECT_EQ(parseError(makeFile(
                R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,18446744073709551615]}})", 8)),
            "tensor 'w': field 'data_offsets' must be [BEGIN, END] (two non-negative "
            "integers), found [0,18446744073709551615]");
  // Wrong size: 3 floats need 12 bytes.
  EXPECT_EQ(parseError(makeFile(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8)),
            "tensor 'w': field 'data_offsets' [0, 8] spans 8 bytes, but F32[3] needs 12");
  // Overlap.
  EXPECT_EQ(parseError(makeFile(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                                12)),
            "tensor 'b': field 'data_offsets' [4, 12] overlaps tensor 'a' [0, 8]");
  // Gap.
  EXPECT_EQ(parseError(makeFile(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8)),
            "bytes [0, 4) of the data area belong to no tensor (before tensor 'a')");
}

TEST(SafeTensors, SerializeRejectsInconsistentTensors) {
  File f = sample();
  f.tensors[0].data.pop_back();
  std::vector<uint8_t> bytes;
  std::string error;
  EXPECT_FALSE(serialize(f, bytes, error));
  EXPECT_EQ(error, "tensor 'l1.w': F32[2, 3] holds 23 bytes (expected a shape of at most 64 "
                   "non-negative dimensions and numel * 4 bytes)");
  f = sample();
  f.tensors[1].name = "l1.w";
  EXPECT_FALSE(serialize(f, bytes, error));
  EXPECT_EQ(error, "tensor 'l1.w' appears twice");
}

// Every single-bit flip of a file is either rejected by parse() or changes
// the content digest: with the digest in the metadata, no corruption goes
// unnoticed, and none crashes the reader.
TEST(SafeTensors, DetectsEveryBitFlip) {
  File f = sample();
  f.metadata["kiln.digest"] = contentDigest(f, "kiln.digest");
  std::vector<uint8_t> good = serialized(f);
  int rejected = 0, digestMismatch = 0;
  for (size_t byte = 0; byte < good.size(); ++byte)
    for (int bit = 0; bit < 8; ++bit) {
      std::vector<uint8_t> bad = good;
      bad[byte] ^= uint8_t(1u << bit);
      File g;
      std::string error;
      if (!parse(bad.data(), bad.size(), g, error)) {
        EXPECT_FALSE(error.empty());
        ++rejected;
        continue;
      }
      auto it = g.metadata.find("kiln.digest");
      bool intact = it != g.metadata.end() && it->second == contentDigest(g, "kiln.digest");
      EXPECT_FALSE(intact) << "flip of bit " << bit << " of byte " << byte << " went unnoticed";
      ++digestMismatch;
    }
  EXPECT_EQ(rejected + digestMismatch, int(good.size() * 8));
  EXPECT_GT(rejected, 0);
  EXPECT_GT(digestMismatch, 0);
}
