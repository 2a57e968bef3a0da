//===- Device.h - Where a program's steps run ---------------------*- C++ -*-===//
//
// One narrow interface in front of every device (host SIMT emulation, CUDA).
// The runtime core owns the program and the region sizes; a device owns the
// memory of the three regions and runs whole functions. All calls return a
// Status; none aborts.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_DEVICE_H
#define KILN_RUNTIME_DEVICE_H

#include "kiln/Program.h"
#include "kiln/Status.h"

#include <cstdint>
#include <memory>

namespace kiln::rt {

struct DeviceOptions {
  /// host: resume the fibers of a block in a random order after each
  /// barrier (seeded), to expose missing __syncthreads.
  bool randomizeThreadOrder = false;
  uint64_t seed = 0;
  /// host: where compiled kernel libraries are cached ("" = $XDG_CACHE_HOME
  /// or ~/.cache, + /kiln).
  std::string cacheDir;
  /// host: poison the arena (NaN bytes) before every call.
  bool poisonArena = true;
};

class Device {
public:
  virtual ~Device() = default;
  /// "host" or "cuda".
  virtual const char *name() const = 0;
  /// Prepares `program` (which outlives the device): compiles or loads
  /// kernels, creates library handles, allocates the regions (persistent:
  /// program.persistentBytes, input: the largest inputBytes, arena:
  /// program.arenaBytes()) and zero-fills them.
  virtual Status prepare(const Program &program) = 0;
  /// Copies `bytes` bytes between host memory and a region.
  virtual Status write(Region region, uint64_t offset, const void *src, uint64_t bytes) = 0;
  virtual Status read(Region region, uint64_t offset, void *dst, uint64_t bytes) = 0;
  /// Runs every step of program.functions[function] in order and waits for
  /// them to finish. Errors name the step index, its label and the kernel.
  virtual Status run(uint32_t function) = 0;
};

/// The host device (runtime/host/): same CUDA kernels, SIMT-emulated.
std::unique_ptr<Device> createHostDevice(const DeviceOptions &options);
/// The CUDA device (runtime/cuda/): fails with Code::no_device (and says
/// why) where there is no driver or no GPU.
Status createCudaDevice(const DeviceOptions &options, std::unique_ptr<Device> &out);

} // namespace kiln::rt

#endif // KILN_RUNTIME_DEVICE_H
