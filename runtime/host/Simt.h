//===- Simt.h - Runs CUDA kernels compiled for the host -----------*- C++ -*-===//
//
// The emulator behind the host device. A kernel library (.so built against
// runtime/host/simt.h) is bound once with `SimtModule::bind`; `launch` then
// runs a grid: blocks are spread over a pool of
// std::thread::hardware_concurrency() OS threads (the caller is one of
// them), each running one block at a time; a block's threads are fibers
// (Boost.Context) on 64 KiB pooled stacks, switched only at __syncthreads
// and warp operations, so a barrier-free kernel runs every thread of a block
// on one stack without a single switch. Shared memory (static and dynamic)
// is filled with 0xFF bytes before each block.
//
// Errors (a partial warp mask, a barrier that not every thread reaches)
// stop the launch with Code::device_error naming the kernel and the block;
// they never hang.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_HOST_SIMT_H
#define KILN_RUNTIME_HOST_SIMT_H

#include "kiln/Status.h"

#include <cstddef>
#include <cstdint>
#include <string>

struct KilnSimtThread;

namespace kiln::rt::host {

/// Bytes of every fiber stack (kernel frames are small).
constexpr size_t kSimtStackBytes = 64 * 1024;

/// A dlopened kernel library, bound to the emulator.
struct SimtModule {
  void *handle = nullptr;                    ///< from dlopen
  KilnSimtThread **(*slot)() = nullptr;      ///< kiln_simt_slot
  size_t tlsBytes = 0;                       ///< size of the .so's TLS block
  /// Resolves and calls kiln_simt_bind, finds the TLS block size. `what`
  /// names the library in messages.
  Status bind(void *dlHandle, const std::string &what);
};

/// The kernel entry point of the ABI: `NAME_host(void **args)`.
using SimtKernelFn = void (*)(void **);

struct SimtLaunchOptions {
  bool randomizeThreadOrder = false; ///< resume order after each barrier
  uint64_t seed = 0;
  const char *kernelName = "?"; ///< for messages
};

/// Process-wide counts since start (all launches, all workers): how many
/// fibers were started and how many times a suspended thread was resumed.
/// A barrier-free launch adds one fiber per block and no resumes.
struct SimtCounters {
  uint64_t fibers = 0, resumes = 0, blocks = 0;
};
SimtCounters simtCounters();

/// Runs `fn` over grid x block threads. `args` is the ABI's argument array.
Status simtLaunch(const SimtModule &module, SimtKernelFn fn, const uint32_t grid[3],
                  const uint32_t block[3], uint32_t dynamicSharedBytes, void **args,
                  const SimtLaunchOptions &options);

} // namespace kiln::rt::host

#endif // KILN_RUNTIME_HOST_SIMT_H
