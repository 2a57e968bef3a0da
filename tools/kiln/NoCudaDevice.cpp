// Temporary: createCudaDevice until runtime/cuda lands (removed at merge).
#include "kiln/Device.h"
namespace kiln::rt {
Status createCudaDevice(const DeviceOptions &, std::unique_ptr<Device> &out) {
  out.reset();
  return Status(Code::no_device, "device 'cuda': not built into this kiln");
}
} // namespace kiln::rt
