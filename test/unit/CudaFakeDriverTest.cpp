//===- CudaFakeDriverTest.cpp - The cuda device's init against a fake driver ===//
//
// Runs with LD_LIBRARY_PATH pointing at test/unit/fakecuda's libcuda.so.1
// (ctest sets it): the device must find the driver, resolve every
// versioned symbol, and turn cuInit's and cuDeviceGetCount's answers into
// Code::no_device messages ("no CUDA GPU", the driver's error text). A
// device count > 0 makes the fake fail the next call, which must be a
// clean error naming that call.
//
//===----------------------------------------------------------------------===//

#include "kiln/Device.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

using namespace kiln::rt;

namespace {
Status create(const char *init, const char *count) {
  ::setenv("KILN_FAKE_CUDA_INIT", init, 1);
  ::setenv("KILN_FAKE_CUDA_COUNT", count, 1);
  std::unique_ptr<Device> device;
  Status s = createCudaDevice(DeviceOptions{}, device);
  EXPECT_EQ(device != nullptr, s.isOk());
  return s;
}
} // namespace

TEST(CudaFakeDriver, ZeroDevicesIsNoCudaGpu) {
  Status s = create("0", "0");
  if (s.message().find("no CUDA driver") != std::string::npos)
    GTEST_SKIP() << "the fake libcuda.so.1 is not on LD_LIBRARY_PATH: " << s.message();
  EXPECT_EQ(s.code(), Code::no_device);
  EXPECT_NE(s.message().find("no CUDA GPU"), std::string::npos) << s.message();
}

TEST(CudaFakeDriver, InitFailureIsNoDeviceWithDriverText) {
  Status s = create("100", "0");
  if (s.message().find("no CUDA driver") != std::string::npos)
    GTEST_SKIP() << "the fake libcuda.so.1 is not on LD_LIBRARY_PATH: " << s.message();
  EXPECT_EQ(s.code(), Code::no_device);
  EXPECT_NE(s.message().find("no CUDA GPU (cuInit: CUDA_ERROR_NO_DEVICE (no CUDA-capable device"),
            std::string::npos)
      << s.message();
  s = create("35", "0");
  EXPECT_EQ(s.code(), Code::no_device);
  EXPECT_NE(s.message().find("CUDA driver failed to initialize (cuInit: "
                             "CUDA_ERROR_INSUFFICIENT_DRIVER"),
            std::string::npos)
      << s.message();
}

TEST(CudaFakeDriver, LaterFailureNamesTheCall) {
  Status s = create("0", "1");
  if (s.message().find("no CUDA driver") != std::string::npos)
    GTEST_SKIP() << "the fake libcuda.so.1 is not on LD_LIBRARY_PATH: " << s.message();
  EXPECT_EQ(s.code(), Code::device_error);
  EXPECT_NE(s.message().find("cuDeviceGet(0): CUDA_ERROR_FAKE"), std::string::npos)
      << s.message();
}
