//===- SimtTest.cpp - The host device runs hand-written CUDA kernels ------===//
//
// Each test builds a Program by hand (kernels as CUDA C++ strings in the
// kernel ABI of kiln/Program.h), runs it on the host device and compares
// against values computed here with plain C++ loops.
//
//===----------------------------------------------------------------------===//
#include "SimtTestUtil.h"
#include "runtime/host/Simt.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace kiln::rt;
using namespace kiln_simt_test;

namespace {

const char *kElementwise = R"(
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < 1000000) a1[i] = kiln_dev::sigmoid(a0[i]) * 3.0f + kiln_dev::exp(a0[i] * 0.5f);
)";

TEST(Simt, ElementwiseBitExact) {
  const int n = 1000000;
  Builder b;
  uint32_t x = b.tensor("x", DType::f32, n, Region::input), y = b.tensor("y", DType::f32, n);
  uint32_t k = b.kernel("ew", kElementwise, {DType::f32, DType::f32}, true);
  b.launch(k, {x, y}, (n + 255) / 256, 256);
  Status st;
  auto d = prepared(b.p, st);
  ASSERT_TRUE(st.isOk()) << st.message();
  std::vector<float> xv(n);
  for (int i = 0; i < n; ++i)
    xv[i] = std::sin(i * 0.001f) * 10.0f;
  put(*d, b.t(x), xv);
  ASSERT_TRUE(d->run(0).isOk());
  auto t0 = std::chrono::steady_clock::now();
  const int reps = 5;
  for (int r = 0; r < reps; ++r)
    ASSERT_TRUE(d->run(0).isOk());
  double s = seconds(t0) / reps;
  printf("[ perf ] elementwise: %.1f M elements/s\n", n / s / 1e6);
  // Barrier-free: every block runs all its threads on one fiber, no switch.
  auto c0 = kiln::rt::host::simtCounters();
  ASSERT_TRUE(d->run(0).isOk());
  auto c1 = kiln::rt::host::simtCounters();
  EXPECT_EQ(c1.blocks - c0.blocks, (uint64_t)(n + 255) / 256);
  EXPECT_EQ(c1.fibers - c0.fibers, c1.blocks - c0.blocks);
  EXPECT_EQ(c1.resumes - c0.resumes, 0u);
  auto yv = get<float>(*d, b.t(y), n);
  for (int i = 0; i < n; ++i) {
    float v = xv[i];
    float sg = v >= 0.f ? 1.f / (1.f + expf(-v)) : expf(v) / (1.f + expf(v));
    float want = sg * 3.0f + expf(v * 0.5f);
    ASSERT_EQ(std::memcmp(&want, &yv[i], 4), 0) << "at " << i << ": " << yv[i] << " vs " << want;
  }
}

TEST(Simt, GridStrideLoop) {
  const int n = 100003;
  Builder b;
  uint32_t x = b.tensor("x", DType::i32, n, Region::input), y = b.tensor("y", DType::i32, n);
  uint32_t k = b.kernel("gs", R"(
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < 100003; i += gridDim.x * blockDim.x)
    a1[i] = a0[i] * 7 + i;
)",
                        {DType::i32, DType::i32});
  b.launch(k, {x, y}, 13, 128);
  Status st;
  auto d = prepared(b.p, st);
  ASSERT_TRUE(st.isOk()) << st.message();
  std::vector<int> xv(n);
  for (int i = 0; i < n; ++i)
    xv[i] = i % 1000 - 500;
  put(*d, b.t(x), xv);
  ASSERT_TRUE(d->run(0).isOk());
  auto yv = get<int>(*d, b.t(y), n);
  for (int i = 0; i < n; ++i)
    ASSERT_EQ(yv[i], xv[i] * 7 + i) << i;
}

// One block per row; the real prelude's block_reduce over 256 threads.
const char *kRowSum = R"(
  __shared__ float scratch[32];
  for (int row = blockIdx.x; row < 512; row += gridDim.x) {
    float v = 0.f;
    for (int c = threadIdx.x; c < 2048; c += blockDim.x) v += a0[row * 2048 + c];
    float r = kiln_dev::block_reduce(v, kiln_dev::SumOp<float>(), 0.f, scratch);
    float m = kiln_dev::block_reduce(v, kiln_dev::MaxOp<float>(), -KILN_INF, scratch);
    if (threadIdx.x == 0) { a1[row] = r; a2[row] = m; }
  }
)";

struct RowSum {
  Builder b;
  uint32_t x, sum, mx;
  std::vector<float> xv;
  RowSum() {
    x = b.tensor("x", DType::f32, 512 * 2048, Region::input);
    sum = b.tensor("sum", DType::f32, 512);
    mx = b.tensor("max", DType::f32, 512);
    uint32_t k = b.kernel("rowsum", kRowSum, {DType::f32, DType::f32, DType::f32}, true);
    b.launch(k, {x, sum, mx}, 200, 256);
    xv.resize(512 * 2048);
    for (size_t i = 0; i < xv.size(); ++i)
      xv[i] = (float)((i * 2654435761u) % 1000) * 0.001f - 0.5f;
  }
  /// Runs and returns sums then maxima.
  std::vector<float> run(bool randomize, uint64_t seed, double *seconds = nullptr) {
    Status st;
    auto d = prepared(b.p, st, randomize, seed);
    EXPECT_TRUE(st.isOk()) << st.message();
    if (!st.isOk())
      return {};
    put(*d, b.t(x), xv);
    Status r = d->run(0);
    if (seconds && r.isOk()) { // a second, warm run (stacks mapped)
      auto c0 = kiln::rt::host::simtCounters();
      auto t0 = std::chrono::steady_clock::now();
      r = d->run(0);
      *seconds = ::seconds(t0);
      auto c1 = kiln::rt::host::simtCounters();
      printf("[ perf ] %llu fibers, %llu resumes: %.0f ns per resume (all time / resumes)\n",
             (unsigned long long)(c1.fibers - c0.fibers),
             (unsigned long long)(c1.resumes - c0.resumes),
             *seconds * 1e9 / double(c1.resumes - c0.resumes));
    }
    EXPECT_TRUE(r.isOk()) << r.message();
    auto s = get<float>(*d, b.t(sum), 512);
    auto m = get<float>(*d, b.t(mx), 512);
    s.insert(s.end(), m.begin(), m.end());
    return s;
  }
};

TEST(Simt, BlockReduceWithPrelude) {
  RowSum rs;
  double secs = 0;
  auto got = rs.run(false, 0, &secs);
  ASSERT_EQ(got.size(), 1024u);
  printf("[ perf ] block reduction (2 reductions, 256 threads): %.1f M elements/s\n",
         512 * 2048 / secs / 1e6);
  for (int r = 0; r < 512; ++r) {
    double want = 0;
    float m = -INFINITY;
    for (int t = 0; t < 256; ++t) { // each thread's partial sum, in its order
      float v = 0.f;
      for (int c = t; c < 2048; c += 256)
        v += rs.xv[r * 2048 + c];
      want += v;
      m = std::max(m, v);
    }
    EXPECT_NEAR(got[r], want, 1e-3) << "row " << r;
    EXPECT_EQ(got[512 + r], m) << "row " << r;
  }
}

TEST(Simt, RandomizedOrderAgreesWithForward) {
  RowSum rs;
  auto fwd = rs.run(false, 0);
  for (uint64_t seed : {1ull, 2ull, 99ull}) {
    auto rnd = rs.run(true, seed);
    ASSERT_EQ(fwd.size(), rnd.size());
    EXPECT_EQ(std::memcmp(fwd.data(), rnd.data(), fwd.size() * 4), 0) << "seed " << seed;
  }
}

// Shift left by one through shared memory, with the barrier between the
// read of the neighbour and the overwrite of the own slot left out. Forward
// order hides it (thread t reads slot t+1 before thread t+1 runs).
const char *kPlantedRace = R"(
  __shared__ float s[256];
  int t = threadIdx.x;
  s[t] = a0[blockIdx.x * 256 + t];
  __syncthreads();
  float v = t + 1 < 256 ? s[t + 1] : 0.f;
  /* missing __syncthreads(); */
  s[t] = v;
  __syncthreads();
  a1[blockIdx.x * 256 + t] = s[t];
)";

TEST(Simt, RandomizedOrderCatchesMissingBarrier) {
  Builder b;
  uint32_t x = b.tensor("x", DType::f32, 1024, Region::input), y = b.tensor("y", DType::f32, 1024);
  b.launch(b.kernel("race", kPlantedRace, {DType::f32, DType::f32}), {x, y}, 4, 256);
  std::vector<float> xv(1024);
  for (int i = 0; i < 1024; ++i)
    xv[i] = (float)i;
  std::vector<float> want(1024);
  for (int i = 0; i < 1024; ++i)
    want[i] = i % 256 == 255 ? 0.f : xv[i + 1];
  for (bool randomize : {false, true}) {
    Status st;
    auto d = prepared(b.p, st, randomize, 7);
    ASSERT_TRUE(st.isOk()) << st.message();
    put(*d, b.t(x), xv);
    ASSERT_TRUE(d->run(0).isOk());
    auto got = get<float>(*d, b.t(y), 1024);
    if (!randomize)
      EXPECT_EQ(got, want) << "forward order should hide the race";
    else
      EXPECT_NE(got, want) << "randomized order should expose the race";
  }
}

TEST(Simt, DynamicSharedMemory) {
  Builder b;
  uint32_t x = b.tensor("x", DType::f64, 4 * 128, Region::input),
           y = b.tensor("y", DType::f64, 4 * 128);
  // Reverse each block's chunk through dynamic shared memory; the slot past
  // the chunk is poisoned shared memory (NaN) on every block.
  b.launch(b.kernel("rev", R"(
  extern __shared__ __align__(16) double buf[];
  int t = threadIdx.x;
  buf[t] = a0[blockIdx.x * 128 + t];
  __syncthreads();
  a1[blockIdx.x * 128 + t] = t == 0 ? buf[128] : buf[127 - t];
)",
                    {DType::f64, DType::f64}),
           {x, y}, 4, 128, 129 * 8);
  Status st;
  auto d = prepared(b.p, st);
  ASSERT_TRUE(st.isOk()) << st.message();
  std::vector<double> xv(512);
  for (int i = 0; i < 512; ++i)
    xv[i] = i * 1.5;
  put(*d, b.t(x), xv);
  ASSERT_TRUE(d->run(0).isOk());
  auto got = get<double>(*d, b.t(y), 512);
  for (int blk = 0; blk < 4; ++blk)
    for (int t = 0; t < 128; ++t) {
      if (t == 0)
        EXPECT_TRUE(std::isnan(got[blk * 128])) << "poisoned slot, block " << blk;
      else
        EXPECT_EQ(got[blk * 128 + t], xv[blk * 128 + 127 - t]);
    }
}

TEST(Simt, Atomics) {
  Builder b;
  uint32_t out = b.tensor("out", DType::i64, 8);
  b.f->steps.push_back([&] {
    Step s;
    s.kind = StepKind::memset;
    s.label = "zero";
    s.dst = out;
    return s;
  }());
  b.launch(b.kernel("atom", R"(
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  unsigned long long *u = (unsigned long long *)a0;
  atomicAdd((int *)&u[0], 1);
  atomicAdd((float *)&u[1], 0.5f);
  atomicAdd((double *)&u[2], 0.25);
  atomicMax((int *)&u[3], i);
  atomicMin((int *)&u[3] + 1, -i);
  atomicAdd(&u[4], (unsigned long long)i);
  atomicMax((unsigned *)&u[5], (unsigned)i * 3u);
  if (atomicCAS((int *)&u[6], 0, i + 1) == 0) atomicExch((unsigned *)&u[6] + 1, 77u);
)",
                    {DType::i64}),
           {out}, 64, 256);
  Status st;
  auto d = prepared(b.p, st);
  ASSERT_TRUE(st.isOk()) << st.message();
  ASSERT_TRUE(d->run(0).isOk());
  auto v = get<int64_t>(*d, b.t(out), 8);
  const int n = 64 * 256;
  int32_t w[16];
  std::memcpy(w, v.data(), sizeof w);
  EXPECT_EQ(w[0], n);
  float f;
  std::memcpy(&f, &v[1], 4);
  EXPECT_EQ(f, n * 0.5f);
  double dd;
  std::memcpy(&dd, &v[2], 8);
  EXPECT_EQ(dd, n * 0.25);
  EXPECT_EQ(w[6], n - 1);
  EXPECT_EQ(w[7], -(n - 1));
  EXPECT_EQ((uint64_t)v[4], (uint64_t)n * (n - 1) / 2);
  EXPECT_EQ((uint32_t)w[10], (uint32_t)(n - 1) * 3u);
  EXPECT_GT(w[12], 0);
  EXPECT_EQ(w[13], 77);
}

TEST(Simt, WarpShuffles) {
  Builder b;
  const int n = 2 * 64;
  uint32_t x = b.tensor("x", DType::f64, n, Region::input), y = b.tensor("y", DType::i64, n * 8);
  b.launch(b.kernel("shfl", R"(
  int t = blockIdx.x * blockDim.x + threadIdx.x;
  long long *o = a1 + t * 8;
  double v = a0[t];
  o[0] = (long long)__shfl_xor_sync(0xffffffffu, v, 5);
  o[1] = __shfl_down_sync(0xffffffffu, (long long)t, 3);
  o[2] = __shfl_up_sync(0xffffffffu, (int)t, 2);
  o[3] = __shfl_sync(0xffffffffu, (unsigned)t, 7);
  o[4] = (long long)__shfl_xor_sync(0xffffffffu, (float)v, 16);
  o[5] = __ballot_sync(0xffffffffu, (t & 3) == 0);
  o[6] = __any_sync(0xffffffffu, t == 37) * 10 + __all_sync(0xffffffffu, t < 1000);
  o[7] = __shfl_sync(0xffffffffu, t, threadIdx.x + 1, 8);
)",
                    {DType::f64, DType::i64}),
           {x, y}, 2, 64);
  Status st;
  auto d = prepared(b.p, st);
  ASSERT_TRUE(st.isOk()) << st.message();
  std::vector<double> xv(n);
  for (int i = 0; i < n; ++i)
    xv[i] = i * 2.0;
  put(*d, b.t(x), xv);
  ASSERT_TRUE(d->run(0).isOk());
  auto o = get<int64_t>(*d, b.t(y), n * 8);
  for (int t = 0; t < n; ++t) {
    int lane = t % 32, base = t - lane;
    const int64_t *r = &o[t * 8];
    EXPECT_EQ(r[0], (int64_t)xv[base + (lane ^ 5)]) << t;
    EXPECT_EQ(r[1], lane + 3 < 32 ? t + 3 : t) << t;
    EXPECT_EQ(r[2], lane >= 2 ? t - 2 : t) << t;
    EXPECT_EQ(r[3], base + 7) << t;
    EXPECT_EQ(r[4], (int64_t)xv[base + (lane ^ 16)]) << t;
    EXPECT_EQ(r[5], 0x11111111) << t;
    EXPECT_EQ(r[6], (base == 32 ? 10 : 0) + 1) << t;
    EXPECT_EQ(r[7], base + (lane & ~7) + ((lane + 1) & 7)) << t;
  }
}

TEST(Simt, MemsetAndCopySteps) {
  Builder b;
  uint32_t p = b.tensor("p", DType::i32, 100, Region::persistent), a = b.tensor("a", DType::i32, 100);
  Step m;
  m.kind = StepKind::memset;
  m.label = "set";
  m.dst = a;
  m.value = 0x01;
  b.f->steps.push_back(m);
  Step c;
  c.kind = StepKind::copy;
  c.label = "back";
  c.src = a;
  c.dst = p;
  b.f->steps.push_back(c);
  Status st;
  auto d = prepared(b.p, st);
  ASSERT_TRUE(st.isOk()) << st.message();
  ASSERT_TRUE(d->run(0).isOk());
  auto v = get<int32_t>(*d, b.t(p), 100);
  for (int i = 0; i < 100; ++i)
    EXPECT_EQ(v[i], 0x01010101);
}

TEST(Simt, CompileErrorShowsLog) {
  Builder b;
  uint32_t x = b.tensor("x", DType::f32, 4);
  b.launch(b.kernel("broken_kernel", "a0[0] = undeclared_thing;", {DType::f32}), {x}, 1, 1);
  Status st;
  auto d = prepared(b.p, st);
  EXPECT_EQ(st.code(), Code::compile_error);
  EXPECT_NE(st.message().find("broken_kernel"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("undeclared_thing"), std::string::npos) << st.message();
}

TEST(Simt, DivergentBarrierIsAnError) {
  Builder b;
  uint32_t x = b.tensor("x", DType::f32, 64);
  b.launch(b.kernel("diverge", "if (threadIdx.x < 16) return; __syncthreads(); a0[threadIdx.x] = 1.f;",
                    {DType::f32}),
           {x}, 3, 64);
  Status st;
  auto d = prepared(b.p, st);
  ASSERT_TRUE(st.isOk()) << st.message();
  Status r = d->run(0);
  EXPECT_EQ(r.code(), Code::device_error);
  EXPECT_NE(r.message().find("diverge"), std::string::npos) << r.message();
  EXPECT_NE(r.message().find("block ("), std::string::npos) << r.message();
  EXPECT_NE(r.message().find("step 0"), std::string::npos) << r.message();
  printf("[ info ] %s\n", r.message().c_str());
  // The device still works afterwards (fibers were unwound, not leaked).
  EXPECT_EQ(d->run(0).code(), Code::device_error);
}

TEST(Simt, PartialWarpMaskIsAnError) {
  Builder b;
  uint32_t x = b.tensor("x", DType::f32, 64);
  b.launch(b.kernel("partial", "a0[threadIdx.x] = __shfl_xor_sync(0xffffu, 1.f, 1);", {DType::f32}),
           {x}, 1, 64);
  Status st;
  auto d = prepared(b.p, st);
  ASSERT_TRUE(st.isOk()) << st.message();
  Status r = d->run(0);
  EXPECT_EQ(r.code(), Code::device_error);
  EXPECT_NE(r.message().find("partial mask"), std::string::npos) << r.message();
}

TEST(Simt, WarpOpAfterLanesExitedIsAnError) {
  Builder b;
  uint32_t x = b.tensor("x", DType::f32, 64);
  b.launch(b.kernel("warpdiv", "if (threadIdx.x & 1) return; a0[threadIdx.x] = __shfl_xor_sync(0xffffffffu, 1.f, 2);",
                    {DType::f32}),
           {x}, 1, 64);
  Status st;
  auto d = prepared(b.p, st);
  ASSERT_TRUE(st.isOk()) << st.message();
  Status r = d->run(0);
  EXPECT_EQ(r.code(), Code::device_error);
  EXPECT_NE(r.message().find("warp operation"), std::string::npos) << r.message();
}

TEST(Simt, SecondPrepareHitsTheCache) {
  Builder b;
  uint32_t x = b.tensor("x", DType::f32, 16);
  // A unique kernel so the first prepare is a real compile.
  std::string name = "cache_probe_" + std::to_string(getpid());
  b.launch(b.kernel(name, "a0[threadIdx.x] = 2.f;", {DType::f32}, true), {x}, 1, 16);
  b.launch(b.kernel(name + "_b", "a0[threadIdx.x] += 1.f;", {DType::f32}, true), {x}, 1, 16);
  // The same kernel listed again (it lands in the other batch's half).
  b.p.kernels.push_back(b.p.kernels[1]);
  b.launch(2, {x}, 1, 16);
  Status st;
  auto t0 = std::chrono::steady_clock::now();
  auto d1 = prepared(b.p, st);
  double cold = seconds(t0);
  ASSERT_TRUE(st.isOk()) << st.message();
  t0 = std::chrono::steady_clock::now();
  auto d2 = prepared(b.p, st);
  double warm = seconds(t0);
  ASSERT_TRUE(st.isOk()) << st.message();
  printf("[ perf ] prepare (3 kernels, 2 batches): cold %.3f s, cached %.4f s\n", cold, warm);
  EXPECT_LT(warm, cold / 5);
  ASSERT_TRUE(d2->run(0).isOk());
  EXPECT_EQ(get<float>(*d2, b.t(x), 16), std::vector<float>(16, 4.f));
}

TEST(Simt, OutOfBoundsWriteAndReadRejected) {
  Builder b;
  b.tensor("x", DType::f32, 16); // arena of 64 bytes
  Status st;
  auto d = prepared(b.p, st);
  ASSERT_TRUE(st.isOk()) << st.message();
  char buf[128] = {};
  Status w = d->write(Region::arena, 32, buf, 64);
  EXPECT_EQ(w.code(), Code::invalid_argument);
  EXPECT_NE(w.message().find("arena"), std::string::npos) << w.message();
  EXPECT_NE(w.message().find("offset 32"), std::string::npos) << w.message();
  EXPECT_NE(w.message().find("64 bytes)"), std::string::npos) << w.message();
  EXPECT_EQ(d->read(Region::arena, ~0ull, buf, 2).code(), Code::invalid_argument);
  EXPECT_EQ(d->read(Region::input, 0, buf, 1).code(), Code::invalid_argument);
  EXPECT_TRUE(d->read(Region::arena, 0, buf, 64).isOk());
}

TEST(Simt, LaunchArgumentsChecked) {
  Builder b;
  uint32_t x = b.tensor("x", DType::i32, 16);
  uint32_t k = b.kernel("typed", "a0[0] = 1.f;", {DType::f32});
  b.launch(k, {x}, 1, 1);
  Status st;
  auto d = prepared(b.p, st);
  ASSERT_TRUE(st.isOk()) << st.message();
  Status r = d->run(0);
  EXPECT_EQ(r.code(), Code::invalid_argument);
  EXPECT_NE(r.message().find("i32"), std::string::npos) << r.message();
  EXPECT_NE(r.message().find("typed"), std::string::npos) << r.message();
}

} // namespace

namespace {

TEST(Simt, StaticSharedPoisonedBeforeEachBlock) {
  Builder b;
  uint32_t y = b.tensor("y", DType::f32, 64 * 64);
  // Block 0 fills s; every block then reads s[t] without writing it first
  // (except block 0): other blocks must see poison (NaN), never block 0's
  // leftovers, even on the same worker.
  b.launch(b.kernel("poison", R"(
  __shared__ float s[64];
  if (blockIdx.x == 0) s[threadIdx.x] = 5.f;
  __syncthreads();
  a0[blockIdx.x * 64 + threadIdx.x] = s[threadIdx.x];
)",
                    {DType::f32}),
           {y}, 64, 64);
  Status st;
  auto d = prepared(b.p, st);
  ASSERT_TRUE(st.isOk()) << st.message();
  ASSERT_TRUE(d->run(0).isOk());
  auto v = get<float>(*d, b.t(y), 64 * 64);
  for (int i = 0; i < 64 * 64; ++i) {
    if (i < 64)
      ASSERT_EQ(v[i], 5.f) << i;
    else
      ASSERT_TRUE(std::isnan(v[i])) << i << ": " << v[i];
  }
}

TEST(Simt, HalfAndBf16AndArgmax) {
  Builder b;
  uint32_t h = b.tensor("h", DType::f16, 64, Region::input), o = b.tensor("o", DType::f32, 64),
           idx = b.tensor("i", DType::i64, 1);
  KernelDesc k;
  k.name = "halfk";
  k.argDTypes = {DType::f16, DType::f32, DType::i64};
  k.source = std::string("#include <cuda_fp16.h>\n#include <cuda_bf16.h>\n") +
             kiln::codegen::cudaPrelude() + R"(
extern "C" __global__ void halfk(__half *a0, float *a1, long long *a2) {
  __shared__ float sv[32];
  __shared__ long long si[32];
  int t = threadIdx.x;
  float v = __half2float(a0[t]);
  a1[t] = __bfloat162float(__float2bfloat16(v * 2.0f));
  long long i = t;
  kiln_dev::block_argmax(v, i, sv, si);
  if (t == 0) a2[0] = i;
}
#ifdef KILN_HOST_SIMT
extern "C" void halfk_host(void **args) { halfk(*(__half **)args[0], *(float **)args[1], *(long long **)args[2]); }
#endif
)";
  b.p.kernels.push_back(k);
  b.launch(0, {h, o, idx}, 1, 64);
  Status st;
  auto d = prepared(b.p, st);
  ASSERT_TRUE(st.isOk()) << st.message();
  std::vector<uint16_t> hv(64);
  for (int i = 0; i < 64; ++i)
    hv[i] = (uint16_t)(0x3C00 + i * 3); // 1.0 and up; index 63 largest
  hv[40] = 0x5000;                      // 32.0: the maximum
  put(*d, b.t(h), hv);
  ASSERT_TRUE(d->run(0).isOk());
  auto ov = get<float>(*d, b.t(o), 64);
  EXPECT_EQ(ov[0], 2.0f);
  EXPECT_EQ(ov[40], 64.0f);
  EXPECT_EQ(get<int64_t>(*d, b.t(idx), 1)[0], 40);
}

TEST(Simt, MissingTrampolineNamesTheKernel) {
  Builder b;
  uint32_t x = b.tensor("x", DType::f32, 4);
  KernelDesc k;
  k.name = "no_tramp";
  k.argDTypes = {DType::f32};
  k.source = "extern \"C\" __global__ void no_tramp(float *a) { a[0] = 1.f; }\n";
  b.p.kernels.push_back(k);
  b.launch(0, {x}, 1, 1);
  Status st;
  auto d = prepared(b.p, st);
  EXPECT_EQ(st.code(), Code::invalid_artifact);
  EXPECT_NE(st.message().find("no_tramp_host"), std::string::npos) << st.message();
}

TEST(Simt, TinyLaunchCost) {
  Builder b;
  uint32_t x = b.tensor("x", DType::f32, 32);
  uint32_t k = b.kernel("tiny", "a0[threadIdx.x] += 1.f;", {DType::f32});
  for (int i = 0; i < 1000; ++i)
    b.launch(k, {x}, 1, 32);
  DeviceOptions o;
  o.cacheDir = cacheDir();
  o.poisonArena = false;
  auto d = createHostDevice(o);
  Status st = d->prepare(b.p);
  ASSERT_TRUE(st.isOk()) << st.message();
  ASSERT_TRUE(d->run(0).isOk());
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(d->run(0).isOk());
  printf("[ perf ] tiny launch (1 block of 32): %.2f us\n", seconds(t0) * 1e6 / 1000);
  EXPECT_EQ(get<float>(*d, b.t(x), 32), std::vector<float>(32, 2000.f));
}

} // namespace

namespace {

TEST(Simt, ConcurrentPreparesShareOneCache) {
  char tmpl[] = "/tmp/kiln-simt-conc-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  Builder b;
  uint32_t x = b.tensor("x", DType::f32, 8);
  b.launch(b.kernel("conc", "a0[threadIdx.x] = (float)threadIdx.x;", {DType::f32}, true), {x}, 1, 8);
  Status st[3];
  std::unique_ptr<Device> dev[3];
  std::vector<std::thread> ts;
  for (int i = 0; i < 3; ++i)
    ts.emplace_back([&, i] {
      DeviceOptions o;
      o.cacheDir = tmpl;
      dev[i] = createHostDevice(o);
      st[i] = dev[i]->prepare(b.p);
    });
  for (auto &t : ts)
    t.join();
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(st[i].isOk()) << st[i].message();
    ASSERT_TRUE(dev[i]->run(0).isOk());
    EXPECT_EQ(get<float>(*dev[i], b.t(x), 8)[7], 7.f);
  }
  // Only finished libraries (and the header) remain: no temporaries.
  std::string cmd = std::string("ls ") + tmpl + "/host | grep -c tmp";
  FILE *p = popen(cmd.c_str(), "r");
  char buf[16] = {};
  ASSERT_NE(p, nullptr);
  fgets(buf, sizeof buf, p);
  pclose(p);
  EXPECT_EQ(atoi(buf), 0) << "temporaries left in " << tmpl;
}

} // namespace

namespace {

TEST(Simt, MissingCompilerIsNoDevice) {
  char tmpl[] = "/tmp/kiln-simt-nocxx-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  Builder b;
  uint32_t x = b.tensor("x", DType::f32, 8);
  b.launch(b.kernel("nocxx", "a0[0] = 1.f;", {DType::f32}), {x}, 1, 1);
  const char *old = getenv("CXX");
  std::string saved = old ? old : "";
  setenv("CXX", "/nonexistent/kiln-no-such-cxx", 1);
  DeviceOptions o;
  o.cacheDir = tmpl;
  auto d = createHostDevice(o);
  Status st = d->prepare(b.p);
  if (old)
    setenv("CXX", saved.c_str(), 1);
  else
    unsetenv("CXX");
  EXPECT_EQ(st.code(), Code::no_device) << st.message();
  EXPECT_NE(st.message().find("kiln-no-such-cxx"), std::string::npos) << st.message();
}

TEST(Simt, CudaMathSpellingsCompile) {
  Builder b;
  uint32_t in = b.tensor("in", DType::f32, 1, Region::input), x = b.tensor("x", DType::f32, 1);
  b.launch(b.kernel("spell", R"(
  float v = max(1.f, 2.f) + min(3, 4) + __fmul_rn(2.f, 3.f) + __fdividef(1.f, 4.f);
  v += (float)__popc(7u) + (float)__umulhi(0x80000000u, 4u) + (float)__mul64hi(1ll << 62, 8);
  v += __uint_as_float(__float_as_uint(0.5f)) + (float)__longlong_as_double(__double_as_longlong(1.0));
  float4 q = make_float4(1.f, 2.f, 3.f, 4.f);
  static_assert(alignof(float4) == 16 && alignof(float2) == 8 && alignof(int4) == 16, "CUDA alignment");
  a1[0] = v + q.w + __ldg(&a0[0]) + fmaf(1.f, 1.f, 0.f);
)",
                    {DType::f32, DType::f32}),
           {in, x}, 1, 1);
  Status st;
  auto d = prepared(b.p, st);
  ASSERT_TRUE(st.isOk()) << st.message();
  put(*d, b.t(in), std::vector<float>{10.f});
  ASSERT_TRUE(d->run(0).isOk());
  // 2 + 3 + 6 + 0.25 + 3 + 2 + 2 + 0.5 + 1 + 4 + 10 + 1
  EXPECT_EQ(get<float>(*d, b.t(x), 1)[0], 34.75f);
}

} // namespace

namespace {

TEST(Simt, WarpShuffleAndBarrierCost) {
  Builder b;
  uint32_t x = b.tensor("x", DType::f32, 256 * 8);
  b.launch(b.kernel("shcost", R"(
  float v = (float)threadIdx.x;
  for (int i = 0; i < 200; ++i) v += __shfl_xor_sync(0xffffffffu, v, i & 31) * 0.5f;
  a0[blockIdx.x * 256 + threadIdx.x] = v;
)",
                    {DType::f32}),
           {x}, 8, 256);
  b.launch(b.kernel("barcost", R"(
  for (int i = 0; i < 200; ++i) __syncthreads();
  a0[blockIdx.x * 256 + threadIdx.x] = 1.f;
)",
                    {DType::f32}),
           {x}, 8, 256);
  Status st;
  auto d = prepared(b.p, st);
  ASSERT_TRUE(st.isOk()) << st.message();
  ASSERT_TRUE(d->run(0).isOk());
  auto c0 = kiln::rt::host::simtCounters();
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(d->run(0).isOk());
  double s = seconds(t0);
  auto c1 = kiln::rt::host::simtCounters();
  printf("[ perf ] 2 x 8 blocks x 256 threads x 200 (shuffles, then barriers): %.3f s, "
         "%.0f ns per thread-operation, %llu resumes\n",
         s, s * 1e9 / (2.0 * 8 * 256 * 200), (unsigned long long)(c1.resumes - c0.resumes));
}

} // namespace
