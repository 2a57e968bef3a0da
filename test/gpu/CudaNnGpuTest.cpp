//===- CudaNnGpuTest.cpp - conv2d / pool2d library steps on a real GPU ----===//
//
// One Program per case with a single conv/pool library step (inputs in the
// input region, the output in the arena), run on the cuda device and
// compared with test/common/NnReference.h (the reference interpreter's
// formulation, in double). Skipped without a CUDA device.
//
//===----------------------------------------------------------------------===//

#include "kiln/Device.h"
#include "test/common/NnReference.h"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

using namespace kiln::rt;

namespace {

/// Runs `op` with inputs `ins` (f32) and returns the output's elements.
std::vector<double> runStep(Device &dev, LibraryOp op, const std::vector<int64_t> &params,
                            const std::vector<std::vector<double>> &ins, size_t outElems) {
  static std::vector<std::unique_ptr<Program>> programs; // outlive the device
  programs.push_back(std::make_unique<Program>());
  Program &p = *programs.back();
  FunctionDesc f;
  f.name = "nn";
  uint64_t in = 0;
  Step s;
  s.kind = StepKind::library;
  s.label = std::string(libraryOpName(op)) + " test";
  s.library.op = op;
  s.library.dtype = DType::f32;
  s.library.params = params;
  for (size_t a = 0; a <= ins.size(); ++a) {
    TensorDesc t;
    t.name = a < ins.size() ? "in" + std::to_string(a) : "out";
    t.shape = {int64_t(a < ins.size() ? ins[a].size() : outElems)};
    t.region = a < ins.size() ? Region::input : Region::arena;
    t.size = (uint64_t(t.shape[0]) * 4 + 63) / 64 * 64;
    t.offset = a < ins.size() ? in : 0;
    if (a < ins.size())
      in += t.size;
    f.tensors.push_back(t);
    s.library.args.push_back(uint32_t(a));
  }
  f.inputBytes = in;
  f.arenaBytes = f.tensors.back().size;
  f.steps = {s};
  p.functions = {f};
  Status st = dev.prepare(p);
  EXPECT_TRUE(st.isOk()) << st.message();
  if (!st.isOk())
    return {};
  for (size_t a = 0; a < ins.size(); ++a) {
    std::vector<float> v(ins[a].begin(), ins[a].end());
    EXPECT_TRUE(dev.write(Region::input, f.tensors[a].offset, v.data(), v.size() * 4).isOk());
  }
  st = dev.run(0);
  EXPECT_TRUE(st.isOk()) << st.message();
  std::vector<float> out(outElems);
  EXPECT_TRUE(dev.read(Region::arena, 0, out.data(), out.size() * 4).isOk());
  return std::vector<double>(out.begin(), out.end());
}

std::vector<double> randomVector(size_t n, std::mt19937 &rng) {
  std::uniform_int_distribution<int> u(-8, 8);
  std::vector<double> v(n);
  for (double &x : v)
    x = u(rng) * 0.25; // exactly representable sums
  return v;
}

#define KILN_NEED_CUDA_DEVICE(device)                                          \
  std::unique_ptr<Device> device;                                              \
  do {                                                                         \
    Status st_ = createCudaDevice(DeviceOptions{}, device);                    \
    if (!st_.isOk())                                                           \
      GTEST_SKIP() << "no CUDA device: " << st_.message();                     \
  } while (0)

} // namespace

TEST(CudaGpuNn, ConvForwardAndGradients) {
  KILN_NEED_CUDA_DEVICE(dev);
  std::mt19937 rng(1);
  const std::vector<std::vector<int64_t>> cases = {
      {2, 3, 7, 6, 4, 3, 3, 5, 4, 1, 1, 0, 0, 0, 0, 1, 1, 1},
      {1, 4, 9, 8, 6, 3, 2, 5, 5, 2, 2, 1, 1, 1, 1, 1, 1, 2},
      {2, 2, 8, 8, 2, 3, 3, 4, 6, 1, 1, 0, 1, 0, 1, 2, 1, 2}};
  for (const auto &p : cases) {
    const size_t xs = p[0] * p[1] * p[2] * p[3], ws = p[4] * (p[1] / p[17]) * p[5] * p[6],
                 ys = p[0] * p[4] * p[7] * p[8];
    auto x = randomVector(xs, rng), w = randomVector(ws, rng), dy = randomVector(ys, rng);
    EXPECT_EQ(runStep(*dev, LibraryOp::conv2d, p, {x, w}, ys), kiln::test::convReference(0, p, x, w, ys));
    EXPECT_EQ(runStep(*dev, LibraryOp::conv2d_grad_input, p, {dy, w}, xs),
              kiln::test::convReference(1, p, dy, w, xs));
    EXPECT_EQ(runStep(*dev, LibraryOp::conv2d_grad_filter, p, {x, dy}, ws),
              kiln::test::convReference(2, p, x, dy, ws));
  }
}

TEST(CudaGpuNn, PoolForwardAndGradient) {
  KILN_NEED_CUDA_DEVICE(dev);
  std::mt19937 rng(2);
  for (int isMax = 0; isMax < 2; ++isMax)
    for (int include = 0; include < 2; ++include) {
      std::vector<int64_t> p = {1, 2, 7, 5, 4, 3, 3, 3, 2, 2, 1, 1, 1, 1, isMax, include};
      const size_t xs = 70, ys = 24;
      auto x = randomVector(xs, rng), dy = randomVector(ys, rng);
      auto want = kiln::test::poolReference(false, p, x, dy);
      auto got = runStep(*dev, LibraryOp::pool2d, p, {x}, ys);
      ASSERT_EQ(got.size(), want.size());
      for (size_t i = 0; i < ys; ++i)
        EXPECT_NEAR(got[i], want[i], 1e-6) << "pool2d max=" << isMax << " y " << i;
      auto wantDx = kiln::test::poolReference(true, p, x, dy);
      auto gotDx = runStep(*dev, LibraryOp::pool2d_grad, p, {x, dy}, xs);
      ASSERT_EQ(gotDx.size(), wantDx.size());
      for (size_t i = 0; i < xs; ++i)
        EXPECT_NEAR(gotDx[i], wantDx[i], 1e-6) << "pool2d_grad max=" << isMax << " dx " << i;
    }
}
