//===- AtomicFile.cpp - Crash-safe whole-file writes ----------------------===//
#include "kiln/AtomicFile.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace kiln {

bool writeFileAtomically(const std::string &path, const std::vector<uint8_t> &bytes,
                         std::string &error) {
  size_t slash = path.find_last_of('/');
  std::string dir = slash == std::string::npos ? "." : path.substr(0, slash + 1);
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  std::string tmp = (slash == std::string::npos ? "" : dir) + "." + base + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    error = tmp + ": cannot create: " + std::strerror(errno);
    return false;
  }
  const uint8_t *p = bytes.data();
  size_t left = bytes.size();
  int saved = 0;
  while (left > 0) {
    ssize_t wrote = ::write(fd, p, left);
    if (wrote < 0 && errno == EINTR)
      continue;
    if (wrote <= 0) {
      saved = wrote < 0 ? errno : EIO;
      break;
    }
    p += wrote;
    left -= static_cast<size_t>(wrote);
  }
  if (!saved && ::fsync(fd) != 0)
    saved = errno;
  if (::close(fd) != 0 && !saved)
    saved = errno;
  if (!saved && std::rename(tmp.c_str(), path.c_str()) != 0)
    saved = errno;
  if (saved) {
    error = path + ": cannot write: " + std::strerror(saved);
    ::unlink(tmp.c_str());
    return false;
  }
  // The rename is durable once the directory entry is on disk; failing to
  // sync a directory (some file systems refuse) does not undo the write.
  int dirFd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirFd >= 0) {
    ::fsync(dirFd);
    ::close(dirFd);
  }
  return true;
}

} // namespace kiln
