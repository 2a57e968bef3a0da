//===- Library.cpp - Placeholder for the CPU library steps ----------------===//
//
// Stand-in so the host device links in the simt branch: every library step
// is unsupported here. The real implementation (another branch) replaces
// this file at merge.
//
//===----------------------------------------------------------------------===//
#include "Library.h"

namespace kiln::rt::host {

Status checkLibraryStep(const LibraryStep &, const uint64_t *, size_t) {
  return {Code::unsupported, "library steps: not in this branch"};
}

Status runLibraryStep(const LibraryStep &, void *const *) {
  return {Code::unsupported, "library steps: not in this branch"};
}

} // namespace kiln::rt::host
