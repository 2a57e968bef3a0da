//===- ArtifactFuzzDriver.cpp - Seeded mutation driver for the .kart loader ===//
//
// Contract: `kiln-artifact-fuzz [--iterations N] [--seed S] [--exhaustive-limit B]
// [--emit-seeds DIR] [SEED.kart...]`
// runs the property of ArtifactFuzz.h over, for each seed (default: the
// small and the full sample programs of test/unit/SampleProgram.h):
//   1. every truncation (lengths 0 .. size-1),
//   2. every single-bit flip,
//   (1 and 2 only for seeds of at most --exhaustive-limit bytes, 4096 by
//   default: the small sample, not the full one)
//   3. N random corruptions (1-16 random bytes overwritten, byte runs set to
//      0x00/0xFF, insertions, deletions), from a fixed seed.
// Exits 0 when every input kept the property, 1 otherwise (printing the
// first few failures), 2 on a usage error. `--emit-seeds DIR` writes the
// seeds as DIR/seed-N.kart (a starting corpus for the libFuzzer build).
//
//===----------------------------------------------------------------------===//
#include "ArtifactFuzz.h"
#include "SampleProgram.h"

#include "kiln/Artifact.h"

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <random>

namespace {

struct Counts {
  uint64_t inputs = 0, accepted = 0, failures = 0;
};

void check(const std::vector<uint8_t> &input, const std::string &what, Counts &c) {
  std::string problem;
  ++c.inputs;
  // Copy into an exactly-sized buffer so ASan sees reads past the end.
  std::unique_ptr<uint8_t[]> buf(new uint8_t[input.size() ? input.size() : 1]);
  if (!input.empty())
    std::memcpy(buf.get(), input.data(), input.size());
  bool accepted = false;
  if (!checkArtifactInput(buf.get(), input.size(), problem, &accepted)) {
    if (++c.failures <= 10)
      std::fprintf(stderr, "FAIL %s: %s\n", what.c_str(), problem.c_str());
    return;
  }
  c.accepted += accepted;
}

void fuzzSeed(const std::vector<uint8_t> &seed, const std::string &name, uint64_t iterations,
              uint64_t rngSeed, uint64_t exhaustiveLimit, Counts &c) {
  check(seed, name + " unmodified", c);
  for (size_t n = 0; n < seed.size() && seed.size() <= exhaustiveLimit; ++n)
    check(std::vector<uint8_t>(seed.begin(), seed.begin() + n),
          name + " truncated to " + std::to_string(n), c);
  for (size_t bit = 0; bit < seed.size() * 8 && seed.size() <= exhaustiveLimit; ++bit) {
    std::vector<uint8_t> m = seed;
    m[bit / 8] ^= uint8_t(1u << (bit % 8));
    check(m, name + " bit " + std::to_string(bit) + " flipped", c);
  }
  std::mt19937_64 rng(rngSeed);
  auto pick = [&](uint64_t n) { return n ? rng() % n : 0; };
  for (uint64_t i = 0; i < iterations; ++i) {
    std::vector<uint8_t> m = seed;
    int edits = 1 + int(pick(4));
    for (int e = 0; e < edits && !m.empty(); ++e) {
      size_t at = pick(m.size());
      switch (pick(5)) {
      case 0: // random bytes
        for (uint64_t k = 0, n = 1 + pick(16); k < n && at + k < m.size(); ++k)
          m[at + k] = uint8_t(rng());
        break;
      case 1: // a run of 0x00 or 0xFF (lengths, offsets to extremes)
        for (uint64_t k = 0, n = 1 + pick(8), v = pick(2) ? 0xFF : 0; k < n && at + k < m.size();
             ++k)
          m[at + k] = uint8_t(v);
        break;
      case 2: // insertion
        m.insert(m.begin() + at, 1 + pick(8), uint8_t(rng()));
        break;
      case 3: // deletion
        m.erase(m.begin() + at, m.begin() + std::min(m.size(), size_t(at + 1 + pick(8))));
        break;
      default: // a little-endian small integer (counts, indices)
        if (at + 4 <= m.size()) {
          uint32_t v = uint32_t(pick(2) ? pick(70000) : uint32_t(rng()));
          std::memcpy(&m[at], &v, 4);
        }
      }
    }
    check(m, name + " random corruption " + std::to_string(i), c);
  }
}

} // namespace

int main(int argc, char **argv) {
  uint64_t iterations = 20000, rngSeed = 1, exhaustiveLimit = 4096;
  std::vector<std::string> paths;
  std::string emitDir;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if ((a == "--iterations" || a == "--seed" || a == "--exhaustive-limit") && i + 1 < argc) {
      char *end = nullptr;
      uint64_t v = std::strtoull(argv[++i], &end, 10);
      if (!end || *end) {
        std::fprintf(stderr, "kiln-artifact-fuzz: %s expects a number, got '%s'\n", a.c_str(),
                     argv[i]);
        return 2;
      }
      (a == "--iterations" ? iterations : a == "--seed" ? rngSeed : exhaustiveLimit) = v;
    } else if (a == "--emit-seeds" && i + 1 < argc) {
      emitDir = argv[++i];
    } else if (!a.empty() && a[0] == '-') {
      std::fprintf(
          stderr,
          "usage: kiln-artifact-fuzz [--iterations N] [--seed S] [--exhaustive-limit BYTES] "
          "[--emit-seeds DIR] "
          "[SEED.kart...]\n");
      return 2;
    } else {
      paths.push_back(a);
    }
  }
  std::vector<std::pair<std::string, std::vector<uint8_t>>> seeds;
  for (const std::string &path : paths) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "kiln-artifact-fuzz: %s: cannot open\n", path.c_str());
      return 2;
    }
    seeds.emplace_back(path, std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {}));
  }
  if (seeds.empty()) {
    for (bool small : {true, false}) {
      std::vector<uint8_t> bytes;
      kiln::rt::Status s =
          kiln::rt::writeArtifact(kiln::rt::testing::makeSampleProgram(small), bytes);
      if (!s.isOk()) {
        std::fprintf(stderr, "kiln-artifact-fuzz: %s\n", s.message().c_str());
        return 2;
      }
      seeds.emplace_back(small ? "<small sample>" : "<full sample>", bytes);
    }
  }
  if (!emitDir.empty()) {
    for (size_t i = 0; i < seeds.size(); ++i) {
      std::string path = emitDir + "/seed-" + std::to_string(i) + ".kart";
      std::ofstream out(path, std::ios::binary);
      out.write(reinterpret_cast<const char *>(seeds[i].second.data()),
                std::streamsize(seeds[i].second.size()));
      if (!out) {
        std::fprintf(stderr, "kiln-artifact-fuzz: %s: cannot write\n", path.c_str());
        return 2;
      }
    }
  }
  auto start = std::chrono::steady_clock::now();
  Counts c;
  for (size_t i = 0; i < seeds.size(); ++i) {
    std::string problem;
    if (!checkArtifactInput(seeds[i].second.data(), seeds[i].second.size(), problem)) {
      std::fprintf(stderr, "kiln-artifact-fuzz: seed %s: %s\n", seeds[i].first.c_str(),
                   problem.c_str());
      return 1;
    }
    fuzzSeed(seeds[i].second, seeds[i].first, iterations, rngSeed + i, exhaustiveLimit, c);
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("kiln-artifact-fuzz: %llu inputs (%llu accepted), %llu failures, %.2f s\n",
              (unsigned long long)c.inputs, (unsigned long long)c.accepted,
              (unsigned long long)c.failures, secs);
  return c.failures ? 1 : 0;
}
