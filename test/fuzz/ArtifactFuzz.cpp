//===- ArtifactFuzz.cpp - Fuzz target of the .kart loader -----------------===//
//
// Contract: kiln/Artifact.h's loader never crashes, never aborts, and every
// rejection says why (ArtifactFuzz.h). `LLVMFuzzerTestOneInput` is the
// libFuzzer entry (clang++ -fsanitize=fuzzer,address, KILN_FUZZ=ON);
// ArtifactFuzzDriver.cpp runs the same property over seeded mutations.
//
//===----------------------------------------------------------------------===//
#include "ArtifactFuzz.h"

#include "kiln/Artifact.h"

#include <cstdio>
#include <cstdlib>

using namespace kiln::rt;

bool checkArtifactInput(const uint8_t *data, size_t size, std::string &problem, bool *accepted) {
  Program program;
  Status s = loadArtifact(data, size, program);
  if (accepted)
    *accepted = s.isOk();
  if (!s.isOk()) {
    if (s.message().empty()) {
      problem = "rejected with an empty message";
      return false;
    }
    if (s.code() != Code::invalid_artifact && s.code() != Code::out_of_memory) {
      problem = "rejected with code " + std::to_string(int(s.code())) + ": " + s.message();
      return false;
    }
    return true;
  }
  Status v = verifyProgram(program);
  if (!v.isOk()) {
    problem = "accepted, but verifyProgram then fails: " + v.message();
    return false;
  }
  std::vector<uint8_t> again;
  Status w = writeArtifact(program, again);
  if (!w.isOk()) {
    problem = "accepted, but cannot be written back: " + w.message();
    return false;
  }
  Program reread;
  Status r = loadArtifact(again.data(), again.size(), reread);
  if (!r.isOk()) {
    problem = "accepted, but its re-serialization is rejected: " + r.message();
    return false;
  }
  return true;
}

#ifndef KILN_ARTIFACT_FUZZ_NO_MAIN
extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string problem;
  if (!checkArtifactInput(data, size, problem)) {
    std::fprintf(stderr, "kiln artifact fuzz: %s\n", problem.c_str());
    std::abort(); // test harness only: report the input to libFuzzer
  }
  return 0;
}
#endif
