//===- NpyTest.cpp - .npy reading and writing -----------------------------===//
#include "kiln/Npy.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>

using namespace kiln::npy;

namespace {

std::vector<uint8_t> makeFile(int major, const std::string &header,
                              const std::vector<uint8_t> &data) {
  std::vector<uint8_t> out = {0x93, 'N', 'U', 'M', 'P', 'Y', uint8_t(major), 0};
  size_t len = header.size();
  out.push_back(len & 0xff);
  out.push_back((len >> 8) & 0xff);
  if (major >= 2) {
    out.push_back((len >> 16) & 0xff);
    out.push_back((len >> 24) & 0xff);
  }
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

std::vector<uint8_t> floats(std::initializer_list<float> values) {
  std::vector<uint8_t> out(values.size() * 4);
  std::memcpy(out.data(), values.begin(), out.size());
  return out;
}

} // namespace

TEST(Npy, ParsesVersions1To3) {
  for (int major : {1, 2, 3}) {
    auto file = makeFile(major, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }\n",
                         floats({1, 2, 3, 4}));
    Array a;
    std::string error;
    ASSERT_TRUE(parse(file.data(), file.size(), a, error)) << error;
    EXPECT_EQ(a.dtype, DType::F32);
    EXPECT_EQ(a.shape, (std::vector<int64_t>{2, 2}));
    float v[4];
    std::memcpy(v, a.data.data(), 16);
    EXPECT_EQ(v[3], 4.0f);
  }
}

TEST(Npy, ScalarAndOneDimShapes) {
  Array a;
  std::string error;
  auto scalar = makeFile(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (), }", 
                         std::vector<uint8_t>(8, 0));
  ASSERT_TRUE(parse(scalar.data(), scalar.size(), a, error)) << error;
  EXPECT_TRUE(a.shape.empty());
  auto vec = makeFile(1, "{'shape': (3,), 'fortran_order': False, 'descr': '<i8'}",
                      std::vector<uint8_t>(24, 0));
  ASSERT_TRUE(parse(vec.data(), vec.size(), a, error)) << error;
  EXPECT_EQ(a.shape, std::vector<int64_t>{3});
  EXPECT_EQ(a.dtype, DType::I64);
}

TEST(Npy, RoundTripsEveryDtype) {
  for (DType t : {DType::F16, DType::F32, DType::F64, DType::Bool, DType::I32, DType::I64}) {
    Array a;
    a.dtype = t;
    a.shape = {2, 3, 1};
    a.data.resize(6 * dtypeSize(t));
    for (size_t i = 0; i < a.data.size(); ++i)
      a.data[i] = static_cast<uint8_t>(t == DType::Bool ? i % 2 : i * 7);
    std::vector<uint8_t> bytes = serialize(a);
    EXPECT_EQ((bytes.size() - a.data.size()) % 64, 0u) << "data must be 64-byte aligned";
    Array b;
    std::string error;
    ASSERT_TRUE(parse(bytes.data(), bytes.size(), b, error)) << error;
    EXPECT_EQ(b.dtype, t);
    EXPECT_EQ(b.shape, a.shape);
    EXPECT_EQ(b.data, a.data);
  }
}

struct BadCase {
  const char *name;
  std::vector<uint8_t> bytes;
  const char *message;
};

TEST(Npy, RejectsBadFilesWithPreciseMessages) {
  const std::string good = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
  std::vector<BadCase> cases = {
      {"empty", {}, "missing the \\x93NUMPY magic"},
      {"version", makeFile(4, good, floats({1, 2})), "unsupported .npy format version 4.0"},
      {"big-endian", makeFile(1, "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }",
                              floats({1, 2})), "big-endian"},
      {"fortran", makeFile(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }",
                           floats({1, 2})), "fortran_order is True"},
      {"dtype", makeFile(1, "{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }",
                         floats({1, 2})), "unsupported dtype '<c8'"},
      {"short data", makeFile(1, good, floats({1})), "data size mismatch: f32[2] needs 8 bytes, the file has 4"},
      {"long data", makeFile(1, good, floats({1, 2, 3})), "data size mismatch"},
      {"missing key", makeFile(1, "{'descr': '<f4', 'shape': (2,), }", floats({1, 2})), "lacks the key 'fortran_order'"},
      {"unknown key", makeFile(1, "{'descr': '<f4', 'x': 1, }", floats({1, 2})), "unknown header key 'x'"},
      {"negative dim", makeFile(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }",
                                floats({1, 2})), "non-negative integer"},
      {"overflow", makeFile(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }",
                            floats({1, 2})), "overflows"},
      {"header length", [] {
         auto f = makeFile(1, "{}", {});
         f[8] = 0xff;
         return f;
       }(), "truncated .npy file"},
  };
  for (const BadCase &c : cases) {
    Array a;
    std::string error;
    EXPECT_FALSE(parse(c.bytes.data(), c.bytes.size(), a, error)) << c.name;
    EXPECT_NE(error.find(c.message), std::string::npos)
        << c.name << ": got '" << error << "'";
  }
}

TEST(Npy, MissingFileNamesThePath) {
  Array a;
  std::string error;
  EXPECT_FALSE(readFile("/nonexistent/x.npy", a, error));
  EXPECT_NE(error.find("/nonexistent/x.npy: cannot open"), std::string::npos) << error;
}

/// A mutation loop over valid files: no input may crash or hang the parser.
TEST(Npy, SurvivesRandomMutations) {
  Array seedArray;
  seedArray.dtype = DType::F32;
  seedArray.shape = {3, 4};
  seedArray.data.resize(48, 1);
  std::vector<uint8_t> seed = serialize(seedArray);
  std::mt19937 rng(1234);
  int accepted = 0;
  for (int iter = 0; iter < 20000; ++iter) {
    std::vector<uint8_t> bytes = seed;
    int edits = 1 + rng() % 8;
    for (int e = 0; e < edits; ++e) {
      switch (rng() % 3) {
      case 0:
        if (!bytes.empty())
          bytes[rng() % bytes.size()] = static_cast<uint8_t>(rng());
        break;
      case 1:
        bytes.resize(rng() % (bytes.size() + 1));
        break;
      default:
        bytes.insert(bytes.begin() + rng() % (bytes.size() + 1), static_cast<uint8_t>(rng()));
      }
    }
    Array a;
    std::string error;
    if (parse(bytes.data(), bytes.size(), a, error)) {
      ++accepted;
      EXPECT_EQ(a.data.size(), static_cast<size_t>(a.numElements()) * dtypeSize(a.dtype));
    } else {
      EXPECT_FALSE(error.empty());
    }
  }
  EXPECT_GT(accepted, 0);
}

/// A file's length is never trusted: /dev/zero must be rejected after its
/// first bytes, not read until memory runs out.
TEST(Npy, ReadsOnlyWhatTheHeaderPromises) {
  Array a;
  std::string error;
  EXPECT_FALSE(readFile("/dev/zero", a, error));
  EXPECT_NE(error.find("missing the \\x93NUMPY magic"), std::string::npos) << error;

  // Trailing bytes after the data are reported, not ignored.
  Array small;
  small.dtype = DType::I32;
  small.shape = {2};
  small.data.assign(8, 1);
  std::vector<uint8_t> bytes = serialize(small);
  bytes.insert(bytes.end(), 100, 0);
  std::string path = ::testing::TempDir() + "/trailing.npy";
  FILE *f = std::fopen(path.c_str(), "wb");
  ASSERT_TRUE(f);
  std::fwrite(bytes.data(), 1, bytes.size(), f);
  std::fclose(f);
  EXPECT_FALSE(readFile(path, a, error));
  EXPECT_NE(error.find("data size mismatch: i32[2] needs 8 bytes"), std::string::npos)
      << error;

  // And a valid file reads back.
  ASSERT_TRUE(writeFile(path, small, error)) << error;
  ASSERT_TRUE(readFile(path, a, error)) << error;
  EXPECT_EQ(a.data, small.data);
}
