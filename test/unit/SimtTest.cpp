//===- SimtTest.cpp - The host device runs hand-written CUDA kernels ------===//
//
// Each test builds a Program by hand (kernels as CUDA C++ strings in the
// kernel ABI of kiln/Program.h), runs it on the host device and compares
// against values computed here with plain C++ loops.
//
//===----------------------------------------------------------------------===//
#include "codegen/CudaPrelude.h"
#include "kiln/Device.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <unistd.h>
#include <vector>

using namespace kiln::rt;

namespace {

/// A per-process temporary cache directory (cleaned at exit by the OS tmp).
std::string cacheDir() {
  static std::string d = [] {
    char tmpl[] = "/tmp/kiln-simt-test-XXXXXX";
    const char *p = mkdtemp(tmpl);
    return std::string(p ? p : "/tmp/kiln-simt-test");
  }();
  return d;
}

/// Builds programs: one function "f", tensors in the arena or input region.
struct Builder {
  Program p;
  FunctionDesc *f;
  Builder() {
    p.functions.emplace_back();
    f = &p.functions.back();
    f->name = "f";
  }
  uint32_t tensor(const std::string &name, DType t, int64_t n, Region r = Region::arena) {
    TensorDesc d;
    d.name = name;
    d.dtype = t;
    d.shape = {n};
    d.region = r;
    uint64_t bytes = (uint64_t)n * dtypeBytes(t);
    bytes = (bytes + 63) / 64 * 64;
    uint64_t &top = r == Region::arena ? f->arenaBytes
                    : r == Region::input ? f->inputBytes
                                         : p.persistentBytes;
    d.offset = top;
    d.size = bytes;
    top += bytes;
    f->tensors.push_back(d);
    return (uint32_t)f->tensors.size() - 1;
  }
  uint32_t kernel(const std::string &name, const std::string &body, std::vector<DType> types,
                  bool prelude = false) {
    KernelDesc k;
    k.name = name;
    k.argDTypes = types;
    std::string params, call;
    for (size_t i = 0; i < types.size(); ++i) {
      const char *ct = types[i] == DType::f32   ? "float"
                       : types[i] == DType::f64 ? "double"
                       : types[i] == DType::i32 ? "int"
                       : types[i] == DType::i64 ? "long long"
                                                : "unsigned char";
      params += std::string(i ? ", " : "") + ct + " *__restrict__ a" + std::to_string(i);
      call += std::string(i ? ", " : "") + "*(" + ct + " **)args[" + std::to_string(i) + "]";
    }
    k.source = std::string(prelude ? kiln::codegen::cudaPrelude() : "") + "extern \"C\" __global__ void " +
               name + "(" + params + ") {\n" + body + "\n}\n#ifdef KILN_HOST_SIMT\nextern \"C\" void " +
               name + "_host(void **args) { " + name + "(" + call + "); }\n#endif\n";
    p.kernels.push_back(k);
    return (uint32_t)p.kernels.size() - 1;
  }
  void launch(uint32_t k, std::vector<uint32_t> args, uint32_t grid, uint32_t block,
              uint32_t dyn = 0) {
    Step s;
    s.kind = StepKind::launch;
    s.label = "launch " + p.kernels[k].name;
    s.launch.kernel = k;
    s.launch.grid[0] = grid;
    s.launch.block[0] = block;
    s.launch.dynamicSharedBytes = dyn;
    s.launch.args = std::move(args);
    f->steps.push_back(s);
  }
  const TensorDesc &t(uint32_t i) const { return f->tensors[i]; }
};

std::unique_ptr<Device> prepared(const Program &p, Status &st, bool randomize = false,
                                 uint64_t seed = 0) {
  DeviceOptions o;
  o.cacheDir = cacheDir();
  o.randomizeThreadOrder = randomize;
  o.seed = seed;
  auto d = createHostDevice(o);
  st = d->prepare(p);
  return d;
}

template <typename T> void put(Device &d, const TensorDesc &t, const std::vector<T> &v) {
  ASSERT_TRUE(d.write(t.region, t.offset, v.data(), v.size() * sizeof(T)).isOk());
}
template <typename T> std::vector<T> get(Device &d, const TensorDesc &t, size_t n) {
  std::vector<T> v(n);
  Status s = d.read(t.region, t.offset, v.data(), n * sizeof(T));
  EXPECT_TRUE(s.isOk()) << s.message();
  return v;
}

double seconds(std::chrono::steady_clock::time_point a) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - a).count();
}

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

} // namespace
