//===- AtomicFile.h - Crash-safe whole-file writes --------------*- C++ -*-===//
//
// Plain C++17 (POSIX), no LLVM: part of the runtime.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_ATOMICFILE_H
#define KILN_RUNTIME_ATOMICFILE_H

#include <cstdint>
#include <string>
#include <vector>

namespace kiln {

/// Writes `bytes` to `path` so that a reader (or a crash) sees either the
/// old file or the whole new one, never a torn one: the bytes go to
/// `DIR/.NAME.tmp`, are fsync'ed, and the temporary is renamed over `path`
/// (then the directory is synced, best effort). On failure returns false,
/// sets `error` ("PATH: cannot ...: reason"), removes the temporary and
/// leaves an existing `path` untouched.
bool writeFileAtomically(const std::string &path, const std::vector<uint8_t> &bytes,
                         std::string &error);

} // namespace kiln

#endif // KILN_RUNTIME_ATOMICFILE_H
