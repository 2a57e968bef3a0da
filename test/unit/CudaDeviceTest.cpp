//===- CudaDeviceTest.cpp - The cuda device on a machine without a GPU ----===//
//
// What can be checked without a driver: createCudaDevice fails cleanly with
// Code::no_device ("no CUDA driver"), the binary does not link libcuda (so
// it starts here at all), and the row-major -> column-major mapping of
// matmul steps onto cuBLASLt (runtime/cuda/MatmulPlan.h): the plan is
// executed by a small emulator of cuBLASLt's documented column-major
// semantics (op(A)·op(B), then the epilogue along D's rows) and compared
// with a direct row-major evaluation of the step as Program.h defines it.
//
//===----------------------------------------------------------------------===//

#include "kiln/Device.h"
#include "runtime/cuda/EpilogueKernels.h"
#include "runtime/cuda/MatmulPlan.h"
#include "runtime/cuda/NnKernels.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <unistd.h>
#include <vector>

using namespace kiln::rt;
using kiln::rt::cuda::LtEpilogue;
using kiln::rt::cuda::LtMatmulPlan;
using kiln::rt::cuda::planMatmul;

TEST(CudaDevice, NoDriverIsCleanNoDevice) {
  // This machine has no libcuda.so.1 (TOOLCHAIN.md); where one exists the
  // test has nothing to check.
  std::unique_ptr<Device> device;
  Status s = createCudaDevice(DeviceOptions{}, device);
  if (s.isOk())
    GTEST_SKIP() << "a CUDA device exists here: " << device->name();
  EXPECT_EQ(s.code(), Code::no_device) << s.message();
  EXPECT_EQ(device, nullptr);
  if (s.message().find("no CUDA driver") == std::string::npos)
    GTEST_SKIP() << "a driver exists but no usable GPU: " << s.message();
  EXPECT_NE(s.message().find("libcuda.so.1 not found"), std::string::npos) << s.message();
  std::printf("createCudaDevice: %s\n", s.message().c_str());
  // Again: nothing was left half-initialized.
  Status again = createCudaDevice(DeviceOptions{}, device);
  EXPECT_EQ(again.code(), Code::no_device);
  EXPECT_EQ(again.message(), s.message());
}

TEST(CudaDevice, BinaryDoesNotLinkCudaLibraries) {
  char self[4096] = {0};
  ASSERT_GT(::readlink("/proc/self/exe", self, sizeof self - 1), 0);
  FILE *f = ::popen(("ldd '" + std::string(self) + "' 2>&1").c_str(), "r");
  ASSERT_NE(f, nullptr);
  std::string out;
  char buf[512];
  while (size_t n = std::fread(buf, 1, sizeof buf, f))
    out.append(buf, n);
  ::pclose(f);
  ASSERT_NE(out.find("libc.so"), std::string::npos) << out; // ldd did run
  EXPECT_EQ(out.find("libcuda"), std::string::npos) << out;
  EXPECT_EQ(out.find("libcublas"), std::string::npos) << out;
  EXPECT_EQ(out.find("libnvrtc"), std::string::npos) << out;
}

namespace {

double gelu(double x) {
  const double c = std::sqrt(2.0 / M_PI);
  return 0.5 * x * (1 + std::tanh(c * (x + 0.044715 * x * x * x)));
}
double geluGrad(double x) {
  const double c = std::sqrt(2.0 / M_PI);
  double u = c * (x + 0.044715 * x * x * x), t = std::tanh(u);
  return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * c * (1 + 3 * 0.044715 * x * x);
}

/// cuBLASLt as documented, column-major: D = epilogue(op(A)·op(B)) with
/// element (r, c) of a stored matrix at r + c·ld; bias vectors have one
/// entry per row of D (M); BGRADA sums op(A) over K.
void emulateLt(const LtMatmulPlan &p, const std::vector<const double *> &args,
               std::vector<double *> outs) {
  const double *A = args[p.argA], *B = args[p.argB];
  const double *aux = p.argAux >= 0 ? args[p.argAux] : nullptr;
  const double *bias = p.argBias >= 0 ? args[p.argBias] : nullptr;
  double *D = outs[p.argD];
  double *dbias = p.argBias >= 0 ? outs[p.argBias] : nullptr;
  auto opA = [&](int64_t b, uint64_t i, uint64_t l) {
    const double *a = A + b * p.a.batchStride;
    return p.transA ? a[l + i * p.a.ld] : a[i + l * p.a.ld];
  };
  auto opB = [&](int64_t b, uint64_t l, uint64_t j) {
    const double *m = B + b * p.b.batchStride;
    return p.transB ? m[j + l * p.b.ld] : m[l + j * p.b.ld];
  };
  const bool bgrad = p.epilogue == LtEpilogue::dgelu_bgrad || p.epilogue == LtEpilogue::bgrada;
  if (bgrad)
    for (uint64_t i = 0; i < p.m; ++i)
      dbias[i] = 0;
  for (int64_t b = 0; b < p.batch; ++b)
    for (uint64_t j = 0; j < p.n; ++j)
      for (uint64_t i = 0; i < p.m; ++i) {
        double acc = 0;
        for (uint64_t l = 0; l < p.k; ++l)
          acc += opA(b, i, l) * opB(b, l, j);
        switch (p.epilogue) {
        case LtEpilogue::none: break;
        case LtEpilogue::bias: acc += bias[i]; break;
        case LtEpilogue::relu: acc = std::max(acc, 0.0); break;
        case LtEpilogue::relu_bias: acc = std::max(acc + bias[i], 0.0); break;
        case LtEpilogue::gelu: acc = gelu(acc); break;
        case LtEpilogue::gelu_bias: acc = gelu(acc + bias[i]); break;
        case LtEpilogue::dgelu:
        case LtEpilogue::dgelu_bgrad: acc *= geluGrad(aux[i + j * p.auxLd]); break;
        case LtEpilogue::bgrada: break;
        }
        D[b * p.d.batchStride + i + j * p.d.ld] = acc;
        if (p.epilogue == LtEpilogue::dgelu_bgrad)
          dbias[i] += acc;
      }
  if (p.epilogue == LtEpilogue::bgrada)
    for (uint64_t i = 0; i < p.m; ++i)
      for (uint64_t l = 0; l < p.k; ++l)
        dbias[i] += opA(0, i, l);
}

/// The step as Program.h defines it, row-major.
void referenceStep(const LibraryStep &s, const std::vector<const double *> &args,
                   std::vector<double *> outs) {
  const int64_t batch = s.params[0], m = s.params[1], n = s.params[2], k = s.params[3];
  const bool ta = s.params[4], tb = s.params[5];
  const double *A = args[0], *B = args[1];
  auto a = [&](int64_t b, int64_t r, int64_t c) {
    return ta ? A[b * m * k + c * m + r] : A[b * m * k + r * k + c];
  };
  auto bm = [&](int64_t b, int64_t r, int64_t c) {
    return tb ? B[b * k * n + c * k + r] : B[b * k * n + r * n + c];
  };
  int dArg = 2, biasArg = -1, auxArg = -1, dbiasArg = -1;
  switch (s.epilogue) {
  case Epilogue::bias: case Epilogue::bias_relu: case Epilogue::bias_gelu:
    biasArg = 2; dArg = 3; break;
  case Epilogue::dgelu: auxArg = 2; dArg = 3; break;
  case Epilogue::dgelu_bgrad: auxArg = 2; dArg = 3; dbiasArg = 4; break;
  case Epilogue::bgradb: dArg = 2; dbiasArg = 3; break;
  default: break;
  }
  double *D = outs[dArg];
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t r = 0; r < m; ++r)
      for (int64_t c = 0; c < n; ++c) {
        double acc = 0;
        for (int64_t l = 0; l < k; ++l)
          acc += a(b, r, l) * bm(b, l, c);
        if (biasArg >= 0)
          acc += args[biasArg][c];
        if (s.epilogue == Epilogue::relu || s.epilogue == Epilogue::bias_relu)
          acc = std::max(acc, 0.0);
        if (s.epilogue == Epilogue::gelu || s.epilogue == Epilogue::bias_gelu)
          acc = gelu(acc);
        if (auxArg >= 0)
          acc *= geluGrad(args[auxArg][r * n + c]);
        D[b * m * n + r * n + c] = acc;
      }
  if (dbiasArg >= 0)
    for (int64_t c = 0; c < n; ++c) {
      double sum = 0;
      for (int64_t r = 0; r < (s.epilogue == Epilogue::bgradb ? k : m); ++r)
        sum += s.epilogue == Epilogue::bgradb ? bm(0, r, c) : D[r * n + c];
      outs[dbiasArg][c] = sum;
    }
}

} // namespace

TEST(CudaMatmulPlan, ColumnMajorMappingMatchesRowMajorSemantics) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> small(-4, 4);
  const Epilogue epilogues[] = {Epilogue::none,      Epilogue::bias,  Epilogue::relu,
                                Epilogue::bias_relu, Epilogue::gelu,  Epilogue::bias_gelu,
                                Epilogue::dgelu,     Epilogue::dgelu_bgrad, Epilogue::bgradb};
  int cases = 0;
  for (Epilogue e : epilogues)
    for (int ta = 0; ta < 2; ++ta)
      for (int tb = 0; tb < 2; ++tb)
        for (int64_t batch : {int64_t(1), int64_t(3)}) {
          if (batch > 1 && e != Epilogue::none)
            continue;
          const int64_t m = 3, n = 5, k = 4;
          LibraryStep s;
          s.op = LibraryOp::matmul;
          s.epilogue = e;
          s.dtype = DType::f32;
          s.params = {batch, m, n, k, ta, tb};
          LtMatmulPlan plan;
          Status st;
          for (size_t count = 3; count <= 5; ++count) {
            s.args.assign(count, 0);
            if ((st = planMatmul(s, plan)).isOk())
              break;
          }
          ASSERT_TRUE(st.isOk()) << st.message();
          std::vector<std::vector<double>> in(plan.numArgs), ref(plan.numArgs),
              lt(plan.numArgs);
          std::vector<const double *> inPtrs;
          std::vector<double *> refPtrs, ltPtrs;
          for (int i = 0; i < plan.numArgs; ++i) {
            in[i].resize(plan.argElements[i]);
            for (double &x : in[i])
              x = small(rng) * 0.5;
            ref[i].assign(plan.argElements[i], 1e300);
            lt[i].assign(plan.argElements[i], 1e300);
            inPtrs.push_back(in[i].data());
            refPtrs.push_back(ref[i].data());
            ltPtrs.push_back(lt[i].data());
          }
          referenceStep(s, inPtrs, refPtrs);
          emulateLt(plan, inPtrs, ltPtrs);
          std::vector<int> outputs = {plan.argD};
          if (e == Epilogue::dgelu_bgrad || e == Epilogue::bgradb)
            outputs.push_back(plan.argBias);
          for (int o : outputs)
            for (size_t j = 0; j < ref[o].size(); ++j)
              ASSERT_NEAR(lt[o][j], ref[o][j], 1e-12)
                  << epilogueName(e) << " ta=" << ta << " tb=" << tb << " batch=" << batch
                  << " arg " << o << " element " << j;
          ++cases;
        }
  EXPECT_EQ(cases, 9 * 4 + 4);
}

TEST(CudaMatmulPlan, RejectsBadStepsAndPlansDreluUnfused) {
  LibraryStep s;
  s.params = {1, 2, 3, 4, 0, 0};
  s.args = {0, 1, 2};
  LtMatmulPlan plan;
  EXPECT_TRUE(planMatmul(s, plan).isOk());
  EXPECT_TRUE(plan.fusable);
  s.epilogue = Epilogue::drelu;
  s.args = {0, 1, 2, 3};
  Status st = planMatmul(s, plan);
  ASSERT_TRUE(st.isOk()) << st.message();
  EXPECT_FALSE(plan.fusable);
  EXPECT_EQ(plan.epilogue, LtEpilogue::none);
  EXPECT_EQ(plan.argAux, 2);
  EXPECT_EQ(plan.argD, 3);
  s.epilogue = Epilogue::drelu_bgrad;
  s.args = {0, 1, 2, 3, 4};
  ASSERT_TRUE(planMatmul(s, plan).isOk());
  EXPECT_EQ(plan.argBias, 4);
  EXPECT_EQ(plan.argElements[4], 3u);
  s.epilogue = Epilogue::bias;
  s.args = {0, 1, 2};
  st = planMatmul(s, plan);
  EXPECT_EQ(st.code(), Code::invalid_argument);
  EXPECT_NE(st.message().find("expected 4 args, got 3"), std::string::npos) << st.message();
  s.epilogue = Epilogue::none;
  s.params = {1, 2, 0, 4, 0, 0};
  st = planMatmul(s, plan);
  EXPECT_NE(st.message().find("param n = 0"), std::string::npos) << st.message();
  s.params = {2, 2, 3, 4, 0, 0};
  s.epilogue = Epilogue::relu;
  st = planMatmul(s, plan);
  EXPECT_NE(st.message().find("batch = 2 > 1"), std::string::npos) << st.message();
  s.params = {1, 2, 3};
  st = planMatmul(s, plan);
  EXPECT_NE(st.message().find("expected 6 params"), std::string::npos) << st.message();
}

// --- The device's fallback epilogue kernels, run on the CPU -------------
// EpilogueKernels.cu uses no barriers, shuffles or shared memory, so a
// plain loop over every (block, thread) runs it faithfully.
namespace fake_simt {
struct dim3 {
  unsigned x = 1, y = 1, z = 1;
};
thread_local dim3 blockIdx, threadIdx, blockDim, gridDim;
#define __global__
#define __device__
#define __forceinline__ inline
using std::tanh;
inline float tanhf(float x) { return std::tanh(x); }
#include "runtime/cuda/EpilogueKernels.cu"
#undef __global__
#undef __device__
#undef __forceinline__

template <typename F> void launch(unsigned blocks, unsigned threads, F kernel) {
  gridDim.x = blocks;
  blockDim.x = threads;
  for (unsigned b = 0; b < blocks; ++b)
    for (unsigned t = 0; t < threads; ++t) {
      blockIdx.x = b;
      threadIdx.x = t;
      kernel();
    }
}
} // namespace fake_simt

TEST(CudaEpilogueKernels, MatchTheStepDefinitionsOnTheCpu) {
  const long long m = 37, n = 29; // grid-stride: fewer threads than elements
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> u(-2, 2);
  std::vector<float> mm(m * n), bias(n), aux(m * n);
  for (float &x : mm) x = u(rng);
  for (float &x : bias) x = u(rng);
  for (float &x : aux) x = u(rng);
  mm[5] = std::nanf("");
  for (int mode = 0; mode <= 4; ++mode)
    for (int withBias = 0; withBias < 2; ++withBias) {
      std::vector<float> d = mm;
      const float *b = withBias ? bias.data() : nullptr;
      fake_simt::launch(3, 64, [&] {
        fake_simt::kiln_cuda_epilogue_f32(d.data(), b, aux.data(), m, n, mode);
      });
      for (long long i = 0; i < m * n; ++i) {
        double v = double(mm[i]) + (withBias ? bias[i % n] : 0.0);
        double want = mode == kiln::rt::cuda::kEpiRelu    ? (std::isnan(v) ? v : std::max(v, 0.0))
                      : mode == kiln::rt::cuda::kEpiGelu  ? gelu(v)
                      : mode == kiln::rt::cuda::kEpiDrelu ? v * (aux[i] > 0 ? 1.0 : 0.0)
                      : mode == kiln::rt::cuda::kEpiDgelu ? v * geluGrad(aux[i])
                                                          : v;
        if (std::isnan(want)) {
          EXPECT_TRUE(std::isnan(d[i])) << "mode " << mode << " element " << i;
          continue;
        }
        ASSERT_NEAR(d[i], want, 1e-5 * (1 + std::fabs(want)))
            << "mode " << mode << " bias " << withBias << " element " << i;
      }
    }
  // Column sums, f64: `=`, over every row.
  std::vector<double> x(m * n), sums(n, 1e300);
  for (double &v : x) v = u(rng);
  fake_simt::launch(1, 32, [&] { fake_simt::kiln_cuda_colsum_f64(x.data(), sums.data(), m, n); });
  for (long long c = 0; c < n; ++c) {
    double want = 0;
    for (long long r = 0; r < m; ++r)
      want += x[r * n + c];
    ASSERT_DOUBLE_EQ(sums[c], want) << "column " << c;
  }
}

// --- The device's conv2d / pool2d kernels, run on the CPU ---------------
#include "test/common/NnReference.h"
namespace fake_simt {
#define __global__
#define __device__
#define __forceinline__ inline
#include "runtime/cuda/NnKernels.cu"
#undef __global__
#undef __device__
#undef __forceinline__
} // namespace fake_simt

namespace {
std::vector<double> randomVector(size_t n, std::mt19937 &rng) {
  std::uniform_int_distribution<int> u(-8, 8);
  std::vector<double> v(n);
  for (double &x : v)
    x = u(rng) * 0.25; // exact sums: any order gives the same result
  return v;
}
} // namespace

TEST(CudaNnKernels, ConvAndItsGradientsMatchTheReferenceOnTheCpu) {
  std::mt19937 rng(5);
  // [N, C, H, W, O, KH, KW, OH, OW, sh, sw, pt, pl, pb, pr, dh, dw, groups]
  const std::vector<std::vector<int64_t>> cases = {
      {2, 3, 7, 6, 4, 3, 3, 5, 4, 1, 1, 0, 0, 0, 0, 1, 1, 1},
      {1, 4, 9, 8, 6, 3, 2, 5, 5, 2, 2, 1, 1, 1, 1, 1, 1, 2}, // stride, pad, groups
      {2, 2, 8, 8, 2, 3, 3, 4, 6, 1, 1, 0, 1, 0, 1, 2, 1, 2}, // dilation, depthwise
      {1, 3, 5, 5, 2, 2, 2, 3, 2, 2, 3, 1, 0, 0, 0, 1, 1, 1}};
  for (const auto &p : cases) {
    fake_simt::KilnConvParams kp;
    std::copy(p.begin(), p.end(), kp.v);
    const size_t xs = p[0] * p[1] * p[2] * p[3], ws = p[4] * (p[1] / p[17]) * p[5] * p[6],
                 ys = p[0] * p[4] * p[7] * p[8];
    std::vector<double> x = randomVector(xs, rng), w = randomVector(ws, rng),
                        dy = randomVector(ys, rng);
    std::vector<double> y(ys, 1e300), dx(xs, 1e300), dw(ws, 1e300);
    fake_simt::launch(2, 32, [&] { fake_simt::kiln_cuda_conv2d_f64(x.data(), w.data(), y.data(), kp); });
    fake_simt::launch(2, 32, [&] {
      fake_simt::kiln_cuda_conv2d_grad_input_f64(dy.data(), w.data(), dx.data(), kp);
    });
    fake_simt::launch(2, 32, [&] {
      fake_simt::kiln_cuda_conv2d_grad_filter_f64(x.data(), dy.data(), dw.data(), kp);
    });
    EXPECT_EQ(y, kiln::test::convReference(0, p, x, w, ys)) << "conv2d case " << &p - &cases[0];
    EXPECT_EQ(dx, kiln::test::convReference(1, p, dy, w, xs)) << "grad_input case " << &p - &cases[0];
    EXPECT_EQ(dw, kiln::test::convReference(2, p, x, dy, ws)) << "grad_filter case " << &p - &cases[0];
  }
}

TEST(CudaNnKernels, PoolingAndItsGradientMatchTheReferenceOnTheCpu) {
  std::mt19937 rng(9);
  // [N, C, H, W, OH, OW, wh, ww, sh, sw, pt, pl, pb, pr, is_max, count_include_pad]
  std::vector<std::vector<int64_t>> cases;
  for (int isMax = 0; isMax < 2; ++isMax)
    for (int include = 0; include < 2; ++include) {
      cases.push_back({2, 3, 6, 6, 3, 3, 2, 2, 2, 2, 0, 0, 0, 0, isMax, include});
      cases.push_back({1, 2, 7, 5, 4, 3, 3, 3, 2, 2, 1, 1, 1, 1, isMax, include}); // padded
      cases.push_back({1, 1, 5, 5, 3, 3, 3, 3, 1, 1, 0, 0, 0, 0, isMax, include}); // overlapping
    }
  for (const auto &p : cases) {
    fake_simt::KilnPoolParams kp;
    std::copy(p.begin(), p.end(), kp.v);
    const size_t xs = p[0] * p[1] * p[2] * p[3], ys = p[0] * p[1] * p[4] * p[5];
    std::vector<double> x = randomVector(xs, rng), dy = randomVector(ys, rng);
    if (p[14] && xs > 7) {
      x[3] = std::nan(""); // the first NaN is the maximum
      x[7] = x[6];         // ties: the first one wins
    }
    std::vector<double> y(ys, 1e300), dx(xs, 1e300);
    fake_simt::launch(1, 16, [&] { fake_simt::kiln_cuda_pool2d_f64(x.data(), y.data(), kp); });
    fake_simt::launch(1, 16, [&] { fake_simt::kiln_cuda_pool2d_grad_f64(x.data(), dy.data(), dx.data(), kp); });
    std::vector<double> wantY = kiln::test::poolReference(false, p, x, dy),
                        wantDx = kiln::test::poolReference(true, p, x, dy);
    for (size_t i = 0; i < ys; ++i) {
      if (std::isnan(wantY[i]))
        EXPECT_TRUE(std::isnan(y[i])) << i;
      else
        EXPECT_NEAR(y[i], wantY[i], 1e-12) << "pool case " << &p - &cases[0] << " y " << i;
    }
    for (size_t i = 0; i < xs; ++i)
      EXPECT_NEAR(dx[i], wantDx[i], 1e-12) << "pool_grad case " << &p - &cases[0] << " dx " << i;
  }
}

TEST(CudaNnKernels, EmbeddedPtxHoldsEveryEntryForSm80) {
  // kiln-embed-ptx ran at build time: the driver JITs this PTX on the GPU.
  const std::string nn = kiln::rt::cuda::embeddedNnPtx();
  const std::string epi = kiln::rt::cuda::embeddedEpiloguePtx();
  EXPECT_NE(nn.find(".target sm_80"), std::string::npos);
  EXPECT_NE(epi.find(".target sm_80"), std::string::npos);
  for (const char *op : {"conv2d", "conv2d_grad_input", "conv2d_grad_filter", "pool2d",
                         "pool2d_grad"})
    for (const char *t : {"_f32", "_f64"})
      EXPECT_NE(nn.find(std::string(".visible .entry kiln_cuda_") + op + t), std::string::npos)
          << op << t;
  for (const char *entry : {"kiln_cuda_epilogue_f32", "kiln_cuda_epilogue_f64",
                            "kiln_cuda_colsum_f32", "kiln_cuda_colsum_f64"})
    EXPECT_NE(epi.find(std::string(".visible .entry ") + entry), std::string::npos) << entry;
}
