//===- CudaDeviceGpuTest.cpp - The cuda device on a real GPU ---------------===//
//
// Every test starts by creating the cuda device and skips (GTEST_SKIP,
// reported as skipped, not passed) where there is none. On a GPU, a
// hand-built Program runs an NVRTC-compiled elementwise kernel, a cuBLASLt
// matmul with the bias_relu epilogue, a memset and a copy; the results are
// compared with values computed here on the CPU, and the CUDA graph that
// the first run captured is replayed (same inputs: same result; new
// inputs: the new result).
//
//===----------------------------------------------------------------------===//

#include "codegen/Nvrtc.h"
#include "kiln/Device.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

using namespace kiln;
using namespace kiln::rt;

namespace {

#define KILN_NEED_CUDA_DEVICE(device)                                          \
  std::unique_ptr<Device> device;                                              \
  do {                                                                         \
    Status st_ = createCudaDevice(DeviceOptions{}, device);                    \
    if (!st_.isOk())                                                           \
      GTEST_SKIP() << "no CUDA device: " << st_.message();                     \
  } while (0)

constexpr int64_t M = 8, K = 16, N = 12;

TensorDesc tensor(const char *name, std::vector<int64_t> shape, Region region, uint64_t offset,
                  TensorRole role) {
  TensorDesc t;
  t.name = name;
  t.dtype = DType::f32;
  t.shape = std::move(shape);
  t.region = region;
  t.offset = offset;
  t.role = role;
  t.size = uint64_t(t.numElements()) * 4;
  return t;
}

/// persistent: w[K,N] @0, bias[N] @768 | input: x[M,K] @0 |
/// arena: y[M,K] @0, d[M,N] @512, out[M,N] @896, scratch[M,N] @1280.
/// Steps: y = 2x + 1 (kernel); d = relu(y·w + bias) (cuBLASLt);
/// scratch = 0x3f bytes (memset); out = d (copy).
Program buildProgram() {
  Program p;
  p.model = "gpu-test";
  p.archs = {"sm_80", "sm_90"};
  p.persistentBytes = 832;
  KernelDesc k;
  k.name = "kiln_test_axpb_00000000000000a1";
  k.argDTypes = {DType::f32, DType::f32};
  k.source = R"(extern "C" __global__ void kiln_test_axpb_00000000000000a1(
    const float *x, float *y) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < 128) y[i] = 2.0f * x[i] + 1.0f;
})";
  p.kernels.push_back(k);
  FunctionDesc f;
  f.name = "forward";
  f.tensors = {tensor("w", {K, N}, Region::persistent, 0, TensorRole::param),
               tensor("bias", {N}, Region::persistent, 768, TensorRole::param),
               tensor("x", {M, K}, Region::input, 0, TensorRole::input),
               tensor("y", {M, K}, Region::arena, 0, TensorRole::temporary),
               tensor("d", {M, N}, Region::arena, 512, TensorRole::temporary),
               tensor("out", {M, N}, Region::arena, 896, TensorRole::output),
               tensor("scratch", {M, N}, Region::arena, 1280, TensorRole::output)};
  f.args = {2};
  f.results = {5, 6};
  f.inputBytes = 512;
  f.arenaBytes = 1664;
  Step launch;
  launch.kind = StepKind::launch;
  launch.label = "fusion#0 loop";
  launch.launch.kernel = 0;
  launch.launch.grid[0] = 2;
  launch.launch.block[0] = 64;
  launch.launch.args = {2, 3};
  Step mm;
  mm.kind = StepKind::library;
  mm.label = "matmul#1";
  mm.library.op = LibraryOp::matmul;
  mm.library.epilogue = Epilogue::bias_relu;
  mm.library.params = {1, M, N, K, 0, 0};
  mm.library.args = {3, 0, 1, 4};
  Step ms;
  ms.kind = StepKind::memset;
  ms.label = "memset#2";
  ms.dst = 6;
  ms.value = 0x3f;
  Step cp;
  cp.kind = StepKind::copy;
  cp.label = "copy#3";
  cp.dst = 5;
  cp.src = 4;
  f.steps = {launch, mm, ms, cp};
  p.functions.push_back(f);
  return p;
}

/// relu((2x + 1)·w + bias), in double.
std::vector<double> expected(const std::vector<float> &x, const std::vector<float> &w,
                             const std::vector<float> &bias) {
  std::vector<double> d(M * N);
  for (int64_t r = 0; r < M; ++r)
    for (int64_t c = 0; c < N; ++c) {
      double acc = bias[c];
      for (int64_t l = 0; l < K; ++l)
        acc += (2.0 * x[r * K + l] + 1.0) * w[l * N + c];
      d[r * N + c] = std::max(acc, 0.0);
    }
  return d;
}

std::vector<float> randomFloats(size_t n, std::mt19937 &rng) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float &x : v)
    x = u(rng);
  return v;
}

struct Fixture {
  Program program = buildProgram();
  std::string cacheDir;
  Fixture() {
    char tmpl[] = "/tmp/kiln-gpu-test-XXXXXX";
    if (const char *d = ::mkdtemp(tmpl))
      cacheDir = d;
  }
  ~Fixture() {
    if (!cacheDir.empty())
      std::system(("rm -rf '" + cacheDir + "'").c_str());
  }
  Status compile() {
    codegen::NvrtcOptions o;
    o.cacheDir = cacheDir;
    return codegen::compileKernels(program.kernels, o, nullptr);
  }
};

void checkForward(Device &dev, const std::vector<float> &x, const std::vector<float> &w,
                  const std::vector<float> &bias, std::vector<float> *outCopy) {
  ASSERT_TRUE(dev.write(Region::input, 0, x.data(), x.size() * 4).isOk());
  Status s = dev.run(0);
  ASSERT_TRUE(s.isOk()) << s.message();
  std::vector<float> y(M * K), d(M * N), out(M * N);
  std::vector<uint8_t> scratch(M * N * 4);
  ASSERT_TRUE(dev.read(Region::arena, 0, y.data(), y.size() * 4).isOk());
  ASSERT_TRUE(dev.read(Region::arena, 512, d.data(), d.size() * 4).isOk());
  ASSERT_TRUE(dev.read(Region::arena, 896, out.data(), out.size() * 4).isOk());
  ASSERT_TRUE(dev.read(Region::arena, 1280, scratch.data(), scratch.size()).isOk());
  for (size_t i = 0; i < y.size(); ++i)
    ASSERT_EQ(y[i], 2.0f * x[i] + 1.0f) << "y[" << i << "]";
  std::vector<double> want = expected(x, w, bias);
  int zeros = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_NEAR(d[i], want[i], 1e-5 * (1 + std::fabs(want[i]))) << "d[" << i << "]";
    zeros += want[i] == 0.0;
  }
  EXPECT_GT(zeros, 0) << "the test data should exercise the relu";
  EXPECT_EQ(std::memcmp(out.data(), d.data(), d.size() * 4), 0) << "copy step";
  for (size_t i = 0; i < scratch.size(); ++i)
    ASSERT_EQ(scratch[i], 0x3f) << "memset byte " << i;
  if (outCopy)
    *outCopy = out;
}

} // namespace

TEST(CudaGpu, KernelMatmulMemsetCopyAndGraphReplay) {
  KILN_NEED_CUDA_DEVICE(dev);
  Fixture fx;
  Status s = fx.compile();
  ASSERT_TRUE(s.isOk()) << s.message();
  s = dev->prepare(fx.program);
  ASSERT_TRUE(s.isOk()) << s.message();
  std::mt19937 rng(42);
  std::vector<float> w = randomFloats(K * N, rng), bias = randomFloats(N, rng);
  ASSERT_TRUE(dev->write(Region::persistent, 0, w.data(), w.size() * 4).isOk());
  ASSERT_TRUE(dev->write(Region::persistent, 768, bias.data(), bias.size() * 4).isOk());
  std::vector<float> x = randomFloats(M * K, rng);
  std::vector<float> first, second, third;
  checkForward(*dev, x, w, bias, &first);   // captures the graph
  checkForward(*dev, x, w, bias, &second);  // replays it
  EXPECT_EQ(std::memcmp(first.data(), second.data(), first.size() * 4), 0);
  std::vector<float> x2 = randomFloats(M * K, rng);
  checkForward(*dev, x2, w, bias, &third);  // replay reads the new input
  EXPECT_NE(std::memcmp(first.data(), third.data(), first.size() * 4), 0);
}

TEST(CudaGpu, PtxOnlyKernelIsJitCompiled) {
  KILN_NEED_CUDA_DEVICE(dev);
  Fixture fx;
  ASSERT_TRUE(fx.compile().isOk());
  fx.program.kernels[0].cubins.clear(); // only the PTX (compute_90) is left
  Status s = dev->prepare(fx.program);
  if (s.code() == Code::unsupported)
    GTEST_SKIP() << "the GPU is older than the PTX: " << s.message();
  ASSERT_TRUE(s.isOk()) << s.message();
  std::mt19937 rng(3);
  std::vector<float> w = randomFloats(K * N, rng), bias = randomFloats(N, rng);
  ASSERT_TRUE(dev->write(Region::persistent, 0, w.data(), w.size() * 4).isOk());
  ASSERT_TRUE(dev->write(Region::persistent, 768, bias.data(), bias.size() * 4).isOk());
  checkForward(*dev, randomFloats(M * K, rng), w, bias, nullptr);
}

TEST(CudaGpu, BadCallsAreErrorsNotCrashes) {
  KILN_NEED_CUDA_DEVICE(dev);
  Fixture fx;
  ASSERT_TRUE(fx.compile().isOk());
  EXPECT_EQ(dev->run(0).code(), Code::invalid_argument); // nothing prepared
  ASSERT_TRUE(dev->prepare(fx.program).isOk());
  float buf[4] = {0, 0, 0, 0};
  Status s = dev->write(Region::input, 510, buf, sizeof buf);
  EXPECT_EQ(s.code(), Code::invalid_argument);
  EXPECT_NE(s.message().find("input region of 512 bytes"), std::string::npos) << s.message();
  EXPECT_EQ(dev->run(7).code(), Code::invalid_argument);
  // A launch that passes the wrong number of tensors is caught by prepare.
  Program bad = fx.program;
  bad.functions[0].steps[0].launch.args = {2};
  s = dev->prepare(bad);
  EXPECT_EQ(s.code(), Code::invalid_argument);
  EXPECT_NE(s.message().find("step 0 (fusion#0 loop) kernel kiln_test_axpb"), std::string::npos)
      << s.message();
  // A kernel with no code for this GPU and source that does not compile.
  Program noCode = fx.program;
  noCode.kernels[0].cubins.clear();
  noCode.kernels[0].ptx.clear();
  noCode.kernels[0].source = "this is not CUDA";
  s = dev->prepare(noCode);
  EXPECT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("kiln_test_axpb"), std::string::npos) << s.message();
}
