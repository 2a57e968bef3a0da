/*===- FakeCuda.c - A stand-in libcuda.so.1 for tests without a driver ----===//
 *
 * Exports every entry point the cuda device dlsym()s, under the versioned
 * names, so that tests can reach the device's initialization paths on a
 * machine without a driver. Behaviour, read from the environment at each
 * call: KILN_FAKE_CUDA_INIT = the CUresult cuInit returns (default 0),
 * KILN_FAKE_CUDA_COUNT = the device count (default 0). Everything else
 * fails with CUDA_ERROR_NOT_SUPPORTED (801).
 *===----------------------------------------------------------------------===*/
#include <stdlib.h>

static int envInt(const char *name, int dflt) {
  const char *v = getenv(name);
  return v ? atoi(v) : dflt;
}

int cuInit(unsigned flags) { (void)flags; return envInt("KILN_FAKE_CUDA_INIT", 0); }
int cuDeviceGetCount(int *count) {
  *count = envInt("KILN_FAKE_CUDA_COUNT", 0);
  return 0;
}
int cuGetErrorName(int r, const char **s) {
  *s = r == 100 ? "CUDA_ERROR_NO_DEVICE" : r == 35 ? "CUDA_ERROR_INSUFFICIENT_DRIVER"
                                                   : "CUDA_ERROR_FAKE";
  return 0;
}
int cuGetErrorString(int r, const char **s) {
  *s = r == 100 ? "no CUDA-capable device is detected" : "fake driver error";
  return 0;
}

#define FAIL(name) int name(void) { return 801; }
FAIL(cuDriverGetVersion) FAIL(cuDeviceGet) FAIL(cuDeviceGetName) FAIL(cuDeviceGetAttribute)
FAIL(cuDevicePrimaryCtxRetain) FAIL(cuDevicePrimaryCtxRelease_v2) FAIL(cuCtxSetCurrent)
FAIL(cuCtxSynchronize) FAIL(cuStreamCreate) FAIL(cuStreamDestroy_v2) FAIL(cuStreamSynchronize)
FAIL(cuModuleLoadDataEx) FAIL(cuModuleUnload) FAIL(cuModuleGetFunction) FAIL(cuFuncSetAttribute)
FAIL(cuMemAlloc_v2) FAIL(cuMemFree_v2) FAIL(cuMemGetInfo_v2) FAIL(cuMemsetD8Async)
FAIL(cuMemcpyDtoDAsync_v2) FAIL(cuMemcpyHtoD_v2) FAIL(cuMemcpyDtoH_v2) FAIL(cuLaunchKernel)
FAIL(cuStreamBeginCapture_v2) FAIL(cuStreamEndCapture) FAIL(cuGraphInstantiateWithFlags)
FAIL(cuGraphLaunch) FAIL(cuGraphDestroy) FAIL(cuGraphExecDestroy)
