//===- CacheFiles.h - Files of Kiln's on-disk caches -------------*- C++ -*-===//
//
// Plain C++17 (POSIX), no LLVM: shared by the NVRTC cache (codegen) and the
// host device's kernel-library cache (runtime/host). Entries are written to
// a temporary unique to the process, thread and call, then renamed over
// their name, so concurrent writers of one entry never tear it and readers
// see the old file or a whole new one. No fsync: a lost entry only costs a
// recompile (kiln/AtomicFile.h is for files that must survive a crash).
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_CACHEFILES_H
#define KILN_RUNTIME_CACHEFILES_H

#include <string>

namespace kiln {

/// $XDG_CACHE_HOME/kiln, else $HOME/.cache/kiln, else /tmp/kiln-cache.
std::string defaultCacheDir();

/// mkdir -p; an existing directory (also one another process creates at
/// the same moment) is fine. False with `error` set otherwise.
bool makeDirectories(const std::string &path, std::string &error);

/// The whole file, or false.
bool readWholeFile(const std::string &path, std::string &out);

/// A suffix unique to this process, thread and call (".tmp.PID.TID.N").
std::string uniqueTempSuffix();

/// Writes `bytes` to `path` + uniqueTempSuffix() and renames it over
/// `path`. False with `error` set (and no temporary left) on failure.
bool writeFileReplacing(const std::string &path, const std::string &bytes, std::string &error);

} // namespace kiln

#endif // KILN_RUNTIME_CACHEFILES_H
