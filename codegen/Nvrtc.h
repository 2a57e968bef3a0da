//===- Nvrtc.h - Compiling generated CUDA kernels with NVRTC -----*- C++ -*-===//
//
// Plain C++17, no MLIR/LLVM (library KilnNvrtc, links NVRTC).
//
// Contract: `compileKernels` fills, for every KernelDesc, `cubins` (one per
// requested arch, in the order of NvrtcOptions::archs), `ptx` (for the
// newest requested arch, compiled with -arch=compute_XX so that newer GPUs
// can JIT it) and the ptxas statistics `registers`, `spillBytes`,
// `sharedBytes` (the largest value over the requested archs). Source is
// compiled with `-std=c++17` and IEEE arithmetic (no --use_fast_math).
//
// Kernels are compiled in parallel (one nvrtcProgram per kernel and
// target; NVRTC programs are independent). Results go to a
// content-addressed disk cache, `<cacheDir>/nvrtc/<key>.{cubin,ptx,info}`,
// key = hash(source, target, flags, NVRTC version). Entries are written to
// a per-process unique temporary and rename()d into place, so concurrent
// compiles by several threads or processes are safe; the `.info` file
// records the payload's size and hash, and an entry that fails to match
// (short, corrupt, missing half) is ignored and recompiled.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_CODEGEN_NVRTC_H
#define KILN_CODEGEN_NVRTC_H

#include "kiln/Program.h"
#include "kiln/Status.h"

#include <string>
#include <vector>

namespace kiln::codegen {

struct NvrtcOptions {
  /// Real architectures to make cubins for ("sm_80", "sm_90", ...); the
  /// newest of them also gets PTX.
  std::vector<std::string> archs = {"sm_80", "sm_90"};
  /// "" = $XDG_CACHE_HOME or ~/.cache, + /kiln. The entries live in
  /// `<cacheDir>/nvrtc/`.
  std::string cacheDir;
  /// Compile threads; 0 = all cores.
  unsigned threads = 0;
  /// Appended to every NVRTC command line (part of the cache key).
  std::vector<std::string> extraFlags;
  /// When false, the cache is neither read nor written.
  bool useCache = true;
};

struct NvrtcStats {
  /// Wall-clock seconds of the whole call.
  double seconds = 0;
  /// NVRTC compiles run (one per kernel and target; PTX counts as a
  /// target) and targets served from the cache.
  unsigned compiled = 0, cached = 0;
  /// Targets that failed to compile.
  unsigned failed = 0;
  /// Threads used.
  unsigned threads = 0;
};

/// Compiles every kernel for every arch in `options` (see the file
/// comment). On failure returns Code::compile_error naming every kernel
/// that failed, with NVRTC's log, or Code::invalid_argument for bad options
/// (an arch that is not "sm_<digits>", an unnamed kernel), or
/// Code::io_error when the cache directory cannot be created. `stats` may
/// be null.
rt::Status compileKernels(std::vector<rt::KernelDesc> &kernels, const NvrtcOptions &options,
                      NvrtcStats *stats);

/// NVRTC's version, e.g. "13.0".
std::string nvrtcVersionString();

/// The ptxas statistics of one compiled entry, parsed from an NVRTC program
/// log produced with --ptxas-options=-v. Fields stay -1 when the log does
/// not state them.
struct PtxasInfo {
  int registers = -1;
  int spillBytes = -1; ///< spill stores + spill loads
  int sharedBytes = -1;
};
/// Parses the ptxas lines of `log` for entry function `entry` (or the only
/// entry in the log when `entry` does not appear).
PtxasInfo parsePtxasInfo(const std::string &log, const std::string &entry);

} // namespace kiln::codegen

#endif // KILN_CODEGEN_NVRTC_H
