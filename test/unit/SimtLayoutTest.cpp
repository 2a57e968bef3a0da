//===- SimtLayoutTest.cpp - Multi-dimensional grids and blocks on the host -===//
//
// threadIdx/blockIdx/blockDim/gridDim in all three dimensions, checked
// against the linearization CUDA documents (x fastest), and a launch the
// emulator must refuse (more than 1024 threads per block), and a block whose
// last warp is partial.
//
//===----------------------------------------------------------------------===//
#include "SimtTestUtil.h"

#include <gtest/gtest.h>

using namespace kiln::rt;
using namespace kiln_simt_test;

namespace {

TEST(SimtLayout, ThreeDimensionalIndices) {
  const uint32_t grid[3] = {3, 2, 2}, block[3] = {8, 4, 2};
  const int threads = 3 * 2 * 2 * 8 * 4 * 2;
  Builder b;
  uint32_t y = b.tensor("y", DType::i32, threads * 2);
  b.launch(b.kernel("dims", R"(
  unsigned bl = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
  unsigned tl = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
  unsigned g = bl * (blockDim.x * blockDim.y * blockDim.z) + tl;
  a0[2 * g] = (int)(threadIdx.x * 1000000 + threadIdx.y * 10000 + threadIdx.z * 100 + warpSize);
  a0[2 * g + 1] = (int)(blockIdx.x * 10000 + blockIdx.y * 100 + blockIdx.z);
)",
                    {DType::i32}),
           {y}, 1, 1);
  Step &s = b.f->steps.back();
  for (int i = 0; i < 3; ++i) {
    s.launch.grid[i] = grid[i];
    s.launch.block[i] = block[i];
  }
  Status st;
  auto d = prepared(b.p, st);
  ASSERT_TRUE(st.isOk()) << st.message();
  ASSERT_TRUE(d->run(0).isOk());
  auto v = get<int32_t>(*d, b.t(y), threads * 2);
  int g = 0;
  for (uint32_t bz = 0; bz < grid[2]; ++bz)
    for (uint32_t by = 0; by < grid[1]; ++by)
      for (uint32_t bx = 0; bx < grid[0]; ++bx)
        for (uint32_t tz = 0; tz < block[2]; ++tz)
          for (uint32_t ty = 0; ty < block[1]; ++ty)
            for (uint32_t tx = 0; tx < block[0]; ++tx, ++g) {
              ASSERT_EQ(v[2 * g], (int)(tx * 1000000 + ty * 10000 + tz * 100 + 32)) << g;
              ASSERT_EQ(v[2 * g + 1], (int)(bx * 10000 + by * 100 + bz)) << g;
            }
}

TEST(SimtLayout, OversizedBlockRefused) {
  Builder b;
  uint32_t y = b.tensor("y", DType::f32, 4);
  b.launch(b.kernel("big", "a0[0] = 1.f;", {DType::f32}), {y}, 1, 2048);
  Status st;
  auto d = prepared(b.p, st);
  ASSERT_TRUE(st.isOk()) << st.message();
  Status r = d->run(0);
  EXPECT_EQ(r.code(), Code::device_error);
  EXPECT_NE(r.message().find("big"), std::string::npos) << r.message();
  EXPECT_NE(r.message().find("1..1024"), std::string::npos) << r.message();
}

TEST(SimtLayout, PartialLastWarp) {
  // 48 threads: warp 1 has 16 lanes; shuffles stay inside the existing lanes
  // and the ballot has only their bits.
  Builder b;
  uint32_t y = b.tensor("y", DType::i32, 48 * 2);
  b.launch(b.kernel("partial_warp", R"(
  int t = threadIdx.x;
  a0[2 * t] = __shfl_xor_sync(0xffffffffu, t, 1);
  a0[2 * t + 1] = (int)__ballot_sync(0xffffffffu, 1);
)",
                    {DType::i32}),
           {y}, 1, 48);
  for (bool randomize : {false, true}) {
    Status st;
    auto d = prepared(b.p, st, randomize, 3);
    ASSERT_TRUE(st.isOk()) << st.message();
    ASSERT_TRUE(d->run(0).isOk());
    auto v = get<int32_t>(*d, b.t(y), 96);
    for (int t = 0; t < 48; ++t) {
      EXPECT_EQ(v[2 * t], t ^ 1) << t;
      EXPECT_EQ((uint32_t)v[2 * t + 1], t < 32 ? 0xffffffffu : 0xffffu) << t;
    }
  }
}

} // namespace
