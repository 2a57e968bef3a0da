//===- FuzzMain.cpp - A mutation-loop driver for fuzz targets -------------===//
//
//   kiln-fuzz-parser [--iterations N] [--seconds S] [--seed N] CORPUS...
//
// Reads seed inputs (files or directories), then repeatedly mutates them
// (byte flips, deletions, duplications, splices between seeds, and
// insertions of tokens from a dictionary) and feeds each mutant to
// LLVMFuzzerTestOneInput. Before each run the input is kept in memory; a
// crash (signal) or a hang (alarm) writes it to ./fuzz-crash.kiln and prints
// it, so the failure reproduces with `kiln check fuzz-crash.kiln`.
// Without libFuzzer's coverage feedback this is blunter, but it runs
// anywhere with any compiler, which is what CI here needs.
//
//===----------------------------------------------------------------------===//
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
extern size_t kilnFuzzAccepted;

namespace {

std::string current;

void dumpAndDie(int sig) {
  const char *msg = sig == SIGALRM ? "fuzz: HANG (over 10 s) on an input; written to fuzz-crash.kiln\n"
                                   : "fuzz: CRASH on an input; written to fuzz-crash.kiln\n";
  ssize_t ignored = write(2, msg, strlen(msg));
  FILE *f = fopen("fuzz-crash.kiln", "wb");
  if (f) {
    fwrite(current.data(), 1, current.size(), f);
    fclose(f);
  }
  ignored = write(2, current.data(), current.size());
  (void)ignored;
  signal(sig, SIG_DFL);
  raise(sig == SIGALRM ? SIGABRT : sig);
}

const char *kDictionary[] = {
    "model", "input", "param", "block", "fn", "output", "train", "minimize",
    "with", "return", "repeat", "for", "in", "(", ")", "[", "]", "{", "}", ",",
    ":", "=", "+", "-", "*", "/", "@", "#", ".", "..", "\n", " ", "f32", "i64",
    "f16", "bf16", "i1", "0", "1", "-1", "1e-3", "99999999999999999999",
    "1e400", "batch", "relu", "softmax", "cross_entropy", "layer_norm",
    "matmul", "reshape", "transpose", "conv2d", "zeros", "kaiming_uniform",
    "adam", "sgd", "((((((((((", "))))))))))", "\"", "'", "\t", "\r\n", "\xff",
};

std::string mutate(const std::vector<std::string> &seeds, std::mt19937_64 &rng) {
  std::string s = seeds[rng() % seeds.size()];
  int edits = 1 + rng() % 6;
  for (int e = 0; e < edits; ++e) {
    size_t pos = s.empty() ? 0 : rng() % (s.size() + 1);
    switch (rng() % 7) {
    case 0: // flip a byte
      if (!s.empty())
        s[rng() % s.size()] = static_cast<char>(rng());
      break;
    case 1: { // delete a span
      size_t len = 1 + rng() % 16;
      if (pos < s.size())
        s.erase(pos, len);
      break;
    }
    case 2: { // duplicate a span
      if (s.empty())
        break;
      size_t from = rng() % s.size(), len = 1 + rng() % 64;
      std::string chunk = s.substr(from, len);
      s.insert(pos, chunk);
      break;
    }
    case 3: { // splice a line from another seed
      const std::string &other = seeds[rng() % seeds.size()];
      if (other.empty())
        break;
      size_t from = rng() % other.size();
      size_t end = other.find('\n', from);
      s.insert(pos, other.substr(from, end == std::string::npos ? std::string::npos
                                                                : end - from + 1));
      break;
    }
    case 4: // insert a dictionary token
      s.insert(pos, kDictionary[rng() % (sizeof(kDictionary) / sizeof(*kDictionary))]);
      break;
    case 5: // truncate
      s.resize(pos);
      break;
    default: { // change a digit run into another number
      for (size_t i = pos; i < s.size(); ++i)
        if (s[i] >= '0' && s[i] <= '9') {
          static const char *numbers[] = {"0", "1", "3", "1000000", "4294967297", "-7"};
          s.replace(i, 1, numbers[rng() % 6]);
          break;
        }
    }
    }
    if (s.size() > 1 << 16)
      s.resize(1 << 16);
  }
  return s;
}

} // namespace

int main(int argc, char **argv) {
  long iterations = 2000;
  double seconds = 60;
  uint64_t seed = 1;
  std::vector<std::string> seeds;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> const char * {
      if (i + 1 >= argc) {
        fprintf(stderr, "fuzz: %s expects a value\n", arg.c_str());
        exit(2);
      }
      return argv[++i];
    };
    if (arg == "--iterations")
      iterations = std::atol(value());
    else if (arg == "--seconds")
      seconds = std::atof(value());
    else if (arg == "--seed")
      seed = std::strtoull(value(), nullptr, 10);
    else {
      std::vector<std::filesystem::path> files;
      if (std::filesystem::is_directory(arg)) {
        for (auto &entry : std::filesystem::recursive_directory_iterator(arg))
          if (entry.is_regular_file() && entry.path().extension() == ".kiln")
            files.push_back(entry.path());
      } else {
        files.push_back(arg);
      }
      for (auto &f : files) {
        std::ifstream in(f, std::ios::binary);
        if (!in) {
          fprintf(stderr, "fuzz: cannot read %s\n", f.c_str());
          return 2;
        }
        std::stringstream ss;
        ss << in.rdbuf();
        seeds.push_back(ss.str());
      }
    }
  }
  if (seeds.empty()) {
    fprintf(stderr, "fuzz: no seed inputs given\n");
    return 2;
  }
  for (int sig : {SIGSEGV, SIGABRT, SIGFPE, SIGILL, SIGBUS, SIGALRM})
    signal(sig, dumpAndDie);

  // Every seed must be accepted or rejected cleanly too.
  for (const std::string &s : seeds) {
    current = s;
    alarm(10);
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t *>(s.data()), s.size());
  }
  std::mt19937_64 rng(seed);
  auto start = std::chrono::steady_clock::now();
  long done = 0;
  for (; done < iterations; ++done) {
    if (std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() > seconds)
      break;
    current = mutate(seeds, rng);
    alarm(10);
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t *>(current.data()), current.size());
  }
  alarm(0);
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  printf("fuzz: %ld mutated inputs (+%zu seeds) in %.1f s, %zu accepted, no crash "
         "or hang\n",
         done, seeds.size(), elapsed, kilnFuzzAccepted);
  return 0;
}
