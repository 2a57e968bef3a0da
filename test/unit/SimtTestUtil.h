//===- SimtTestUtil.h - Hand-built programs for the host device tests -*- C++ -*-===//
//
// A Builder makes a one-function Program (tensors, hand-written CUDA kernels
// in the kernel ABI of kiln/Program.h, launch steps); `prepared` gives a host
// device over it with a per-process temporary cache directory.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_TEST_UNIT_SIMTTESTUTIL_H
#define KILN_TEST_UNIT_SIMTTESTUTIL_H

#include "codegen/CudaPrelude.h"
#include "kiln/Device.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

namespace kiln_simt_test {
using namespace kiln::rt;


/// A per-process temporary cache directory (cleaned at exit by the OS tmp).
inline std::string cacheDir() {
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

inline std::unique_ptr<Device> prepared(const Program &p, Status &st, bool randomize = false,
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

inline double seconds(std::chrono::steady_clock::time_point a) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - a).count();
}

} // namespace kiln_simt_test

#endif // KILN_TEST_UNIT_SIMTTESTUTIL_H
