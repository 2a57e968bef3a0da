//===- Artifact.h - Reading and writing .kart artifacts ----------*- C++ -*-===//
//
// Plain C++17, no MLIR/LLVM. A .kart file is a flatbuffer (schema
// runtime/schema/program.fbs, identifier "KART") holding one kiln::rt::Program.
//
// Contract of the reader: the bytes are never trusted. loadArtifact checks,
// in order: the buffer size, the identifier, the flatbuffers Verifier
// (bounded depth and table count), then `verifyProgram` on the decoded
// Program (versions, enum ranges, every tensor inside its region, indices,
// kernel ABI, library-step arities, unique names). Every message names the
// field and the values. On success `out` owns copies of everything: no
// pointer into the input buffer survives the call. On failure `out` is
// left unchanged.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_ARTIFACT_H
#define KILN_RUNTIME_ARTIFACT_H

#include "kiln/Program.h"
#include "kiln/Status.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace kiln::rt {

/// Artifacts must be smaller than this (the flatbuffers limit, 2 GiB - 1).
constexpr uint64_t kMaxArtifactBytes = 0x7FFFFFFFull;
/// Largest region size (persistent, input, arena) the reader accepts.
constexpr uint64_t kMaxRegionBytes = 1ull << 48;
/// Largest tensor rank the reader accepts.
constexpr size_t kMaxTensorRank = 64;

/// Serializes `program` as-is (no semantic checks, so tests can build
/// hostile files; call verifyProgram first to refuse bad programs).
/// Fails only if the result would exceed kMaxArtifactBytes.
Status writeArtifact(const Program &program, std::vector<uint8_t> &bytes);

/// verifyProgram (a program the reader would reject is not written), then
/// writeArtifact, then writes `path` atomically (kiln/AtomicFile.h): a
/// reader sees the old file or the whole new one.
Status writeArtifactFile(const Program &program, const std::string &path);

/// Verifies and decodes `size` bytes at `data` (any alignment) into `out`.
/// Errors are Code::invalid_artifact.
Status loadArtifact(const uint8_t *data, size_t size, Program &out);

/// Reads `path` (at most kMaxArtifactBytes; Code::io_error when it cannot
/// be read) and loadArtifact's it; messages start with the path.
Status loadArtifactFile(const std::string &path, Program &out);

/// The semantic checks of loadArtifact on an in-memory program
/// (Code::invalid_artifact naming the field and values on failure).
Status verifyProgram(const Program &program);

} // namespace kiln::rt

#endif // KILN_RUNTIME_ARTIFACT_H
