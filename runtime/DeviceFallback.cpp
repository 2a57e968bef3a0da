//===- DeviceFallback.cpp - Stand-ins for devices not in this build -------===//
//
// Contract: compiled only where the target KilnHostDevice / KilnCudaDevice
// does not exist (KILN_NO_HOST_DEVICE / KILN_NO_CUDA_DEVICE), so that the
// runtime links; each stand-in reports Code::unsupported (host: a null
// device, which Session reports as unsupported). To be dropped once both
// devices are merged.
//
//===----------------------------------------------------------------------===//
#include "kiln/Device.h"

namespace kiln::rt {

#ifdef KILN_NO_HOST_DEVICE
std::unique_ptr<Device> createHostDevice(const DeviceOptions &) { return nullptr; }
#endif

#ifdef KILN_NO_CUDA_DEVICE
Status createCudaDevice(const DeviceOptions &, std::unique_ptr<Device> &out) {
  out.reset();
  return Status(Code::unsupported, "device 'cuda': not built into this runtime");
}
#endif

} // namespace kiln::rt
