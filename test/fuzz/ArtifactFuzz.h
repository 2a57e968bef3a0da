//===- ArtifactFuzz.h - The .kart loader's fuzz property ------------------===//
//
// Contract: checkArtifactInput(data, size, problem) feeds the bytes to
// kiln::rt::loadArtifact and checks the loader's promises: a rejection has a
// non-empty message and an invalid_artifact code; an accepted program passes
// verifyProgram again and survives a write/load round trip. Returns false
// and sets `problem` when a promise is broken (a crash is caught by the
// sanitizers, or kills the driver).
//
//===----------------------------------------------------------------------===//
#ifndef KILN_TEST_ARTIFACTFUZZ_H
#define KILN_TEST_ARTIFACTFUZZ_H

#include <cstddef>
#include <cstdint>
#include <string>

/// The fuzz property; see the file comment. `accepted` (if given) says
/// whether the loader accepted the bytes.
bool checkArtifactInput(const uint8_t *data, size_t size, std::string &problem,
                        bool *accepted = nullptr);

#endif // KILN_TEST_ARTIFACTFUZZ_H
