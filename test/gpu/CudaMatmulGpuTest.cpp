//===- CudaMatmulGpuTest.cpp - Every matmul epilogue on a real GPU --------===//
//
// One Program per case with a single matmul library step (inputs in the
// input region, outputs in the arena), run on the cuda device and compared
// with a row-major double-precision evaluation of Program.h's definition:
// every epilogue (fused by cuBLASLt or run by the device's fallback
// kernels), both transposes, batch > 1, f32 and f64. Skipped without a
// CUDA device.
//
//===----------------------------------------------------------------------===//

#include "kiln/Device.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

using namespace kiln::rt;

namespace {

struct Case {
  Epilogue epilogue;
  int ta, tb;
  int64_t batch;
  DType dtype;
};

double gelu(double x) {
  const double k = 0.79788456080286535588;
  return 0.5 * x * (1 + std::tanh(k * (x + 0.044715 * x * x * x)));
}
double geluGrad(double x) {
  const double k = 0.79788456080286535588;
  double t = std::tanh(k * (x + 0.044715 * x * x * x));
  return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * k * (1 + 3 * 0.044715 * x * x);
}

/// Row-major reference of a matmul step; returns D and (if any) dbias.
void reference(const Case &c, int64_t m, int64_t n, int64_t k, const std::vector<double> &A,
               const std::vector<double> &B, const std::vector<double> &vec,
               const std::vector<double> &aux, std::vector<double> &D,
               std::vector<double> &dbias) {
  D.assign(c.batch * m * n, 0);
  const Epilogue e = c.epilogue;
  for (int64_t b = 0; b < c.batch; ++b)
    for (int64_t r = 0; r < m; ++r)
      for (int64_t col = 0; col < n; ++col) {
        double acc = 0;
        for (int64_t l = 0; l < k; ++l) {
          double a = c.ta ? A[b * m * k + l * m + r] : A[b * m * k + r * k + l];
          double bb = c.tb ? B[b * k * n + col * k + l] : B[b * k * n + l * n + col];
          acc += a * bb;
        }
        if (e == Epilogue::bias || e == Epilogue::bias_relu || e == Epilogue::bias_gelu)
          acc += vec[col];
        if (e == Epilogue::relu || e == Epilogue::bias_relu)
          acc = std::max(acc, 0.0);
        if (e == Epilogue::gelu || e == Epilogue::bias_gelu)
          acc = gelu(acc);
        if (e == Epilogue::drelu || e == Epilogue::drelu_bgrad)
          acc *= aux[r * n + col] > 0 ? 1.0 : 0.0;
        if (e == Epilogue::dgelu || e == Epilogue::dgelu_bgrad)
          acc *= geluGrad(aux[r * n + col]);
        D[b * m * n + r * n + col] = acc;
      }
  dbias.clear();
  if (e == Epilogue::drelu_bgrad || e == Epilogue::dgelu_bgrad || e == Epilogue::bgradb) {
    dbias.assign(n, 0);
    for (int64_t col = 0; col < n; ++col)
      for (int64_t r = 0; r < (e == Epilogue::bgradb ? k : m); ++r)
        dbias[col] += e == Epilogue::bgradb ? B[r * n + col] : D[r * n + col];
  }
}

std::string describe(const Case &c) {
  return std::string(epilogueName(c.epilogue)) + " ta=" + std::to_string(c.ta) +
         " tb=" + std::to_string(c.tb) + " batch=" + std::to_string(c.batch) + " " +
         dtypeName(c.dtype);
}

/// Builds, runs and checks one case; failures name it.
void runCase(Device &dev, const Case &c) {
  const int64_t m = 24, n = 40, k = 32; // not multiples of each other
  const uint32_t eb = dtypeBytes(c.dtype);
  const Epilogue e = c.epilogue;
  const bool hasBias = e == Epilogue::bias || e == Epilogue::bias_relu || e == Epilogue::bias_gelu;
  const bool hasAux = e == Epilogue::drelu || e == Epilogue::drelu_bgrad ||
                      e == Epilogue::dgelu || e == Epilogue::dgelu_bgrad;
  const bool hasDbias =
      e == Epilogue::drelu_bgrad || e == Epilogue::dgelu_bgrad || e == Epilogue::bgradb;
  std::mt19937 rng(int(e) * 100 + c.ta * 10 + c.tb + int(c.batch));
  std::uniform_real_distribution<double> u(-1, 1);
  auto randoms = [&](size_t count) {
    std::vector<double> v(count);
    for (double &x : v)
      x = c.dtype == DType::f32 ? double(float(u(rng))) : u(rng);
    return v;
  };
  std::vector<double> A = randoms(c.batch * m * k), B = randoms(c.batch * k * n),
                      vec = randoms(n), aux = randoms(m * n);
  FunctionDesc f;
  f.name = "mm";
  uint64_t in = 0, arena = 0;
  auto add = [&](const char *name, std::vector<int64_t> shape, Region r) {
    TensorDesc t;
    t.name = name;
    t.dtype = c.dtype;
    t.shape = shape;
    t.region = r;
    t.size = (uint64_t(t.numElements()) * eb + 63) / 64 * 64;
    uint64_t &cursor = r == Region::input ? in : arena;
    t.offset = cursor;
    cursor += t.size;
    f.tensors.push_back(t);
    return uint32_t(f.tensors.size() - 1);
  };
  uint32_t ia = add("A", c.ta ? std::vector<int64_t>{c.batch, k, m} : std::vector<int64_t>{c.batch, m, k},
                    Region::input);
  uint32_t ib = add("B", c.tb ? std::vector<int64_t>{c.batch, n, k} : std::vector<int64_t>{c.batch, k, n},
                    Region::input);
  Step s;
  s.kind = StepKind::library;
  s.label = "matmul " + describe(c);
  s.library.op = LibraryOp::matmul;
  s.library.epilogue = e;
  s.library.dtype = c.dtype;
  s.library.params = {c.batch, m, n, k, c.ta, c.tb};
  s.library.args = {ia, ib};
  uint32_t ivec = 0, iaux = 0;
  if (hasBias)
    s.library.args.push_back(ivec = add("bias", {n}, Region::input));
  if (hasAux)
    s.library.args.push_back(iaux = add("aux", {m, n}, Region::input));
  uint32_t id = add("D", {c.batch, m, n}, Region::arena);
  s.library.args.push_back(id);
  uint32_t idb = 0;
  if (hasDbias)
    s.library.args.push_back(idb = add("dbias", {n}, Region::arena));
  f.steps = {s};
  f.inputBytes = in;
  f.arenaBytes = arena;
  // Programs outlive the device (Device::prepare's contract).
  static std::vector<std::unique_ptr<Program>> programs;
  programs.push_back(std::make_unique<Program>());
  Program &p = *programs.back();
  p.functions = {f};
  Status st = dev.prepare(p);
  ASSERT_TRUE(st.isOk()) << describe(c) << ": " << st.message();
  auto upload = [&](uint32_t t, const std::vector<double> &v) {
    std::vector<uint8_t> bytes(v.size() * eb);
    for (size_t i = 0; i < v.size(); ++i) {
      if (c.dtype == DType::f32) {
        float x = float(v[i]);
        std::memcpy(&bytes[i * 4], &x, 4);
      } else {
        std::memcpy(&bytes[i * 8], &v[i], 8);
      }
    }
    ASSERT_TRUE(dev.write(Region::input, f.tensors[t].offset, bytes.data(), bytes.size()).isOk());
  };
  upload(ia, A);
  upload(ib, B);
  if (hasBias)
    upload(ivec, vec);
  if (hasAux)
    upload(iaux, aux);
  st = dev.run(0);
  ASSERT_TRUE(st.isOk()) << describe(c) << ": " << st.message();
  auto download = [&](uint32_t t, size_t count) {
    std::vector<uint8_t> bytes(count * eb);
    EXPECT_TRUE(dev.read(Region::arena, f.tensors[t].offset, bytes.data(), bytes.size()).isOk());
    std::vector<double> v(count);
    for (size_t i = 0; i < count; ++i) {
      if (c.dtype == DType::f32) {
        float x;
        std::memcpy(&x, &bytes[i * 4], 4);
        v[i] = x;
      } else {
        std::memcpy(&v[i], &bytes[i * 8], 8);
      }
    }
    return v;
  };
  std::vector<double> wantD, wantDbias;
  reference(c, m, n, k, A, B, vec, aux, wantD, wantDbias);
  const double tol = c.dtype == DType::f32 ? 2e-5 : 1e-12;
  std::vector<double> gotD = download(id, wantD.size());
  for (size_t i = 0; i < wantD.size(); ++i)
    ASSERT_NEAR(gotD[i], wantD[i], tol * (k + std::fabs(wantD[i]))) << describe(c) << " D[" << i << "]";
  if (hasDbias) {
    std::vector<double> got = download(idb, n);
    for (int64_t i = 0; i < n; ++i)
      ASSERT_NEAR(got[i], wantDbias[i], tol * (m + k) * (1 + std::fabs(wantDbias[i])))
          << describe(c) << " dbias[" << i << "]";
  }
}

} // namespace

TEST(CudaGpuMatmul, EveryEpilogueTransposeAndDtype) {
  std::unique_ptr<Device> dev;
  Status st = createCudaDevice(DeviceOptions{}, dev);
  if (!st.isOk())
    GTEST_SKIP() << "no CUDA device: " << st.message();
  const Epilogue all[] = {Epilogue::none,  Epilogue::bias,        Epilogue::relu,
                          Epilogue::bias_relu, Epilogue::gelu,    Epilogue::bias_gelu,
                          Epilogue::drelu, Epilogue::drelu_bgrad, Epilogue::bgradb,
                          Epilogue::dgelu, Epilogue::dgelu_bgrad};
  int cases = 0;
  for (DType t : {DType::f32, DType::f64})
    for (Epilogue e : all)
      for (int ta = 0; ta < 2; ++ta)
        for (int tb = 0; tb < 2; ++tb) {
          if (e == Epilogue::bgradb && tb)
            continue; // B is [k, n] for bgradb
          runCase(*dev, Case{e, ta, tb, 1, t});
          if (HasFatalFailure())
            return;
          ++cases;
        }
  for (DType t : {DType::f32, DType::f64})
    for (int ta = 0; ta < 2; ++ta)
      for (int tb = 0; tb < 2; ++tb) {
        runCase(*dev, Case{Epilogue::none, ta, tb, 3, t});
        if (HasFatalFailure())
          return;
        ++cases;
      }
  std::printf("%d matmul cases checked on the GPU\n", cases);
}
