//===- NvrtcTest.cpp - codegen/Nvrtc.h against real NVRTC ----------------===//
//
// Compiles small kernels in the Program.h ABI for sm_80 and sm_90 with the
// real NVRTC (no GPU needed) and checks what comes back independently: the
// ELF magic and e_flags arch byte of each cubin (and readelf's view when
// readelf exists), the PTX entry line, the ptxas statistics (a kernel with
// `__shared__ float s[256]` must report 1024 shared bytes), the disk cache
// (hits return identical bytes, corrupt entries are recompiled, concurrent
// threads and processes share one directory) and compile errors.
//
//===----------------------------------------------------------------------===//

#include "codegen/Nvrtc.h"

// The prelude's text without the emitter's MLIR-using header: this test
// links no MLIR/LLVM (see CMakeLists.txt).
#define KILN_CODEGEN_CUDAEMITTER_H
namespace kiln::codegen {
const char *cudaPrelude();
}
#include "codegen/CudaPrelude.cpp"
#include "runtime/cuda/EpilogueKernels.h"
#include "runtime/cuda/NnKernels.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fstream>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

using namespace kiln;
using kiln::codegen::compileKernels;
using kiln::codegen::NvrtcOptions;
using kiln::codegen::NvrtcStats;

namespace {

/// A fresh directory under /tmp, removed at the end of the test.
struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/kiln-nvrtc-test-XXXXXX";
    const char *p = ::mkdtemp(tmpl);
    path = p ? p : "";
  }
  ~TempDir() {
    if (!path.empty())
      std::system(("rm -rf '" + path + "'").c_str());
  }
};

std::vector<rt::KernelDesc> twoKernels() {
  rt::KernelDesc add;
  add.name = "kiln_test_add_0000000000000001";
  add.argDTypes = {rt::DType::f32, rt::DType::f32, rt::DType::f32};
  add.source = R"(extern "C" __global__ void kiln_test_add_0000000000000001(
    const float *a, const float *b, float *c) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < 1000) c[i] = a[i] + b[i] * 2.0f;
})";
  rt::KernelDesc rev;
  rev.name = "kiln_test_reverse_0000000000000002";
  rev.argDTypes = {rt::DType::f32, rt::DType::f32};
  rev.source = R"(extern "C" __global__ void kiln_test_reverse_0000000000000002(
    const float *a, float *b) {
  __shared__ float s[256];
  s[threadIdx.x] = a[blockIdx.x * 256 + threadIdx.x];
  __syncthreads();
  b[blockIdx.x * 256 + threadIdx.x] = s[255 - threadIdx.x];
})";
  return {add, rev};
}

/// The architecture number in a cubin's ELF header: byte 1 of e_flags
/// (ELF64 e_flags is at offset 48), e.g. 0x5a for sm_90.
int cubinArch(const std::string &cubin) {
  if (cubin.size() < 52)
    return -1;
  uint32_t flags;
  std::memcpy(&flags, cubin.data() + 48, 4);
  return (flags >> 8) & 0xff;
}

std::string runCommand(const std::string &cmd) {
  std::string out;
  if (FILE *f = ::popen(cmd.c_str(), "r")) {
    char buf[512];
    while (size_t n = std::fread(buf, 1, sizeof buf, f))
      out.append(buf, n);
    ::pclose(f);
  }
  return out;
}

std::vector<std::string> listDir(const std::string &dir) {
  std::vector<std::string> names;
  if (DIR *d = ::opendir(dir.c_str())) {
    while (dirent *e = ::readdir(d))
      if (e->d_name[0] != '.')
        names.push_back(e->d_name);
    ::closedir(d);
  }
  return names;
}

NvrtcOptions optionsFor(const TempDir &dir) {
  NvrtcOptions o;
  o.cacheDir = dir.path;
  return o;
}

} // namespace

TEST(Nvrtc, VersionString) {
  std::string v = codegen::nvrtcVersionString();
  ASSERT_FALSE(v.empty());
  EXPECT_TRUE(std::isdigit(static_cast<unsigned char>(v[0]))) << v;
  EXPECT_NE(v.find('.'), std::string::npos) << v;
}

TEST(Nvrtc, CompilesCubinsAndPtxWithStatistics) {
  TempDir dir;
  auto kernels = twoKernels();
  NvrtcStats stats;
  rt::Status s = compileKernels(kernels, optionsFor(dir), &stats);
  ASSERT_TRUE(s.isOk()) << s.message();
  EXPECT_EQ(stats.compiled, 6u); // 2 kernels x (sm_80, sm_90, compute_90)
  EXPECT_EQ(stats.cached, 0u);
  std::printf("cold compile of 2 kernels x 3 targets: %.3f s on %u threads\n", stats.seconds,
              stats.threads);
  bool haveReadelf = !runCommand("command -v readelf").empty();
  for (const rt::KernelDesc &k : kernels) {
    ASSERT_EQ(k.cubins.size(), 2u) << k.name;
    EXPECT_EQ(k.cubins[0].arch, "sm_80");
    EXPECT_EQ(k.cubins[1].arch, "sm_90");
    for (const auto &bin : k.cubins) {
      ASSERT_GE(bin.cubin.size(), 64u);
      EXPECT_EQ(bin.cubin.compare(0, 4, "\x7f" "ELF"), 0) << k.name << " " << bin.arch;
      EXPECT_EQ(cubinArch(bin.cubin), std::stoi(bin.arch.substr(3))) << k.name << " " << bin.arch;
      if (haveReadelf) {
        TempDir tmp;
        std::string path = tmp.path + "/k.cubin";
        std::ofstream(path, std::ios::binary) << bin.cubin;
        std::string header = runCommand("readelf -h '" + path + "' 2>/dev/null");
        EXPECT_NE(header.find("NVIDIA CUDA"), std::string::npos) << header;
        std::string sections = runCommand("readelf -S -W '" + path + "' 2>/dev/null");
        EXPECT_NE(sections.find(".text." + k.name), std::string::npos) << sections;
      }
    }
    EXPECT_NE(k.ptx.find(".visible .entry " + k.name), std::string::npos) << k.ptx;
    EXPECT_NE(k.ptx.find(".target sm_90"), std::string::npos);
    EXPECT_EQ(k.ptx.find('\0'), std::string::npos);
    EXPECT_GT(k.registers, 0) << k.name;
    EXPECT_EQ(k.spillBytes, 0) << k.name;
  }
  EXPECT_EQ(kernels[0].sharedBytes, 0);
  EXPECT_EQ(kernels[1].sharedBytes, 1024);
}

TEST(Nvrtc, CacheHitReturnsIdenticalBytes) {
  TempDir dir;
  auto cold = twoKernels();
  NvrtcStats s1, s2;
  ASSERT_TRUE(compileKernels(cold, optionsFor(dir), &s1).isOk());
  auto warm = twoKernels();
  rt::Status s = compileKernels(warm, optionsFor(dir), &s2);
  ASSERT_TRUE(s.isOk()) << s.message();
  EXPECT_EQ(s2.compiled, 0u);
  EXPECT_EQ(s2.cached, 6u);
  std::printf("cold %.1f ms (%u compiles), cached %.3f ms (%u hits)\n", s1.seconds * 1e3,
              s1.compiled, s2.seconds * 1e3, s2.cached);
  for (size_t i = 0; i < cold.size(); ++i) {
    ASSERT_EQ(warm[i].cubins.size(), 2u);
    for (size_t a = 0; a < 2; ++a) {
      EXPECT_EQ(warm[i].cubins[a].arch, cold[i].cubins[a].arch);
      EXPECT_EQ(warm[i].cubins[a].cubin, cold[i].cubins[a].cubin);
    }
    EXPECT_EQ(warm[i].ptx, cold[i].ptx);
    EXPECT_EQ(warm[i].registers, cold[i].registers);
    EXPECT_EQ(warm[i].sharedBytes, cold[i].sharedBytes);
    EXPECT_EQ(warm[i].spillBytes, cold[i].spillBytes);
  }
  // A changed source is a different key: one kernel recompiles.
  auto changed = twoKernels();
  changed[0].source += "\n// changed\n";
  NvrtcStats s3;
  ASSERT_TRUE(compileKernels(changed, optionsFor(dir), &s3).isOk());
  EXPECT_EQ(s3.compiled, 3u);
  EXPECT_EQ(s3.cached, 3u);
  // No temporaries are left behind.
  for (const std::string &name : listDir(dir.path + "/nvrtc"))
    EXPECT_EQ(name.find(".tmp."), std::string::npos) << name;
}

TEST(Nvrtc, CorruptCacheEntriesAreRecompiled) {
  TempDir dir;
  auto ref = twoKernels();
  ASSERT_TRUE(compileKernels(ref, optionsFor(dir), nullptr).isOk());
  std::string cache = dir.path + "/nvrtc";
  int truncated = 0, garbled = 0, infoBroken = 0;
  for (const std::string &name : listDir(cache)) {
    std::string path = cache + "/" + name;
    if (name.size() > 6 && name.compare(name.size() - 6, 6, ".cubin") == 0) {
      if (truncated == 0) {
        ASSERT_EQ(::truncate(path.c_str(), 100), 0);
        ++truncated;
      } else if (garbled == 0) {
        std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(200);
        f.put('\x5a');
        f.put('\xa5');
        ++garbled;
      }
    } else if (name.size() > 4 && name.compare(name.size() - 4, 4, ".ptx") == 0 &&
               infoBroken == 0) {
      std::string info = path.substr(0, path.size() - 4) + ".info";
      std::ofstream(info, std::ios::trunc) << "kiln-nvrtc-cache 1\ntarget";
      ++infoBroken;
    }
  }
  ASSERT_EQ(truncated + garbled + infoBroken, 3);
  auto again = twoKernels();
  NvrtcStats stats;
  rt::Status s = compileKernels(again, optionsFor(dir), &stats);
  ASSERT_TRUE(s.isOk()) << s.message();
  EXPECT_EQ(stats.compiled, 3u);
  EXPECT_EQ(stats.cached, 3u);
  for (size_t i = 0; i < ref.size(); ++i) {
    for (size_t a = 0; a < 2; ++a)
      EXPECT_EQ(again[i].cubins[a].cubin, ref[i].cubins[a].cubin);
    EXPECT_EQ(again[i].ptx, ref[i].ptx);
  }
  // The repaired entries are hits now.
  auto third = twoKernels();
  ASSERT_TRUE(compileKernels(third, optionsFor(dir), &stats).isOk());
  EXPECT_EQ(stats.compiled, 0u);
}

TEST(Nvrtc, ConcurrentThreadsAndProcessesShareOneCache) {
  TempDir dir;
  // Several kernels so that the compiles overlap.
  std::vector<rt::KernelDesc> set;
  for (int i = 0; i < 6; ++i) {
    rt::KernelDesc k;
    char name[64];
    std::snprintf(name, sizeof name, "kiln_test_scale_%016x", i + 16);
    k.name = name;
    k.argDTypes = {rt::DType::f32};
    k.source = std::string("extern \"C\" __global__ void ") + name +
               "(float *a) { a[threadIdx.x] *= " + std::to_string(i + 2) + ".0f; }";
    set.push_back(k);
  }
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto mine = set;
    rt::Status s = compileKernels(mine, optionsFor(dir), nullptr);
    ::_exit(s.isOk() && mine[5].cubins.size() == 2 ? 0 : 1);
  }
  auto a = set, b = set;
  rt::Status sa, sb;
  std::thread ta([&] { sa = compileKernels(a, optionsFor(dir), nullptr); });
  std::thread tb([&] { sb = compileKernels(b, optionsFor(dir), nullptr); });
  ta.join();
  tb.join();
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the child process failed";
  ASSERT_TRUE(sa.isOk()) << sa.message();
  ASSERT_TRUE(sb.isOk()) << sb.message();
  for (size_t i = 0; i < set.size(); ++i) {
    ASSERT_EQ(a[i].cubins.size(), 2u);
    EXPECT_EQ(a[i].cubins[1].cubin, b[i].cubins[1].cubin);
    EXPECT_EQ(a[i].ptx, b[i].ptx);
  }
  // Afterwards everything is a hit, and the entries are consistent.
  auto c = set;
  NvrtcStats stats;
  ASSERT_TRUE(compileKernels(c, optionsFor(dir), &stats).isOk());
  EXPECT_EQ(stats.compiled, 0u);
  EXPECT_EQ(stats.cached, 18u);
}

TEST(Nvrtc, CompileErrorsNameEveryFailingKernel) {
  TempDir dir;
  auto kernels = twoKernels();
  rt::KernelDesc bad1;
  bad1.name = "kiln_test_bad_00000000000000aa";
  bad1.source = "extern \"C\" __global__ void kiln_test_bad_00000000000000aa(float *a) {"
                " a[0] = undefined_thing; }";
  rt::KernelDesc bad2;
  bad2.name = "kiln_test_bad_00000000000000bb";
  bad2.source = "extern \"C\" __global__ void kiln_test_bad_00000000000000bb(float *a) {"
                " a[0] = 1.0f }";
  kernels.insert(kernels.begin() + 1, bad1);
  kernels.push_back(bad2);
  NvrtcStats stats;
  rt::Status s = compileKernels(kernels, optionsFor(dir), &stats);
  ASSERT_EQ(s.code(), rt::Code::compile_error);
  const std::string &m = s.message();
  EXPECT_NE(m.find("2 of 4 kernel(s) failed"), std::string::npos) << m;
  EXPECT_NE(m.find("kernel 'kiln_test_bad_00000000000000aa'"), std::string::npos) << m;
  EXPECT_NE(m.find("kernel 'kiln_test_bad_00000000000000bb'"), std::string::npos) << m;
  EXPECT_NE(m.find("identifier \"undefined_thing\" is undefined"), std::string::npos) << m;
  EXPECT_NE(m.find("expected a \";\""), std::string::npos) << m;
  EXPECT_NE(m.find("NVRTC_ERROR_COMPILATION"), std::string::npos) << m;
  EXPECT_NE(m.find("sm_80, sm_90, compute_90"), std::string::npos) << m;
  EXPECT_EQ(m.find("kiln_test_add"), std::string::npos) << m;
  EXPECT_EQ(stats.failed, 6u);
  std::printf("compile error message:\n%s\n", m.c_str());
}

TEST(Nvrtc, RejectsBadOptions) {
  auto kernels = twoKernels();
  NvrtcOptions o;
  o.useCache = false;
  o.archs = {"sm_90", "compute_90"};
  rt::Status s = compileKernels(kernels, o, nullptr);
  EXPECT_EQ(s.code(), rt::Code::invalid_argument);
  EXPECT_NE(s.message().find("'compute_90'"), std::string::npos) << s.message();
  o.archs.clear();
  EXPECT_EQ(compileKernels(kernels, o, nullptr).code(), rt::Code::invalid_argument);
  o.archs = {"sm_90"};
  kernels[0].name.clear();
  s = compileKernels(kernels, o, nullptr);
  EXPECT_EQ(s.code(), rt::Code::invalid_argument);
  EXPECT_NE(s.message().find("kernel #0"), std::string::npos) << s.message();
}

TEST(Nvrtc, PreludeCompilesForBothArchs) {
  // The contract prelude, with a block reduction that uses its shuffles
  // and shared scratch, in the kernel ABI.
  rt::KernelDesc k;
  k.name = "kiln_reduce_00000000000000cc";
  k.argDTypes = {rt::DType::f32, rt::DType::f32};
  k.source = std::string(codegen::cudaPrelude()) + R"(
extern "C" __global__ void kiln_reduce_00000000000000cc(const float *x, float *y) {
  __shared__ float scratch[32];
  float v = x[blockIdx.x * blockDim.x + threadIdx.x];
  float r = kiln_dev::block_reduce(v, kiln_dev::SumOp<float>(), 0.0f, scratch);
  if (threadIdx.x == 0) y[blockIdx.x] = kiln_dev::exp(r);
})";
  std::vector<rt::KernelDesc> ks = {k};
  NvrtcOptions o;
  o.useCache = false;
  rt::Status s = compileKernels(ks, o, nullptr);
  ASSERT_TRUE(s.isOk()) << s.message();
  EXPECT_EQ(ks[0].sharedBytes, 128);
  EXPECT_NE(ks[0].ptx.find("shfl.sync.bfly"), std::string::npos);
}

TEST(Nvrtc, ParsesPtxasLogOfTheNamedEntry) {
  const std::string log = "ptxas info    : 0 bytes gmem\n"
                          "ptxas info    : Compiling entry function 'other' for 'sm_90'\n"
                          "ptxas info    : Function properties for other\n"
                          "ptxas         .     0 bytes stack frame, 0 bytes spill stores, "
                          "0 bytes spill loads\n"
                          "ptxas info    : Used 7 registers, used 0 barriers\n"
                          "ptxas info    : Compiling entry function 'mine' for 'sm_90'\n"
                          "ptxas info    : Function properties for mine\n"
                          "ptxas         .     40 bytes stack frame, 24 bytes spill stores, "
                          "16 bytes spill loads\n"
                          "ptxas info    : Used 255 registers, used 1 barriers, 4096 bytes "
                          "smem, 360 bytes cmem[0]\n";
  auto p = codegen::parsePtxasInfo(log, "mine");
  EXPECT_EQ(p.registers, 255);
  EXPECT_EQ(p.spillBytes, 40);
  EXPECT_EQ(p.sharedBytes, 4096);
  auto q = codegen::parsePtxasInfo(log, "absent");
  EXPECT_EQ(q.registers, 7);
  EXPECT_EQ(q.spillBytes, 0);
  EXPECT_EQ(q.sharedBytes, 0);
  auto e = codegen::parsePtxasInfo("", "x");
  EXPECT_EQ(e.registers, -1);
}

TEST(Nvrtc, CudaDeviceEpilogueKernelsCompile) {
  // runtime/cuda/EpilogueKernels.h is compiled at prepare on the GPU
  // machine; check here that it compiles at all and defines its entries.
  rt::KernelDesc k;
  k.name = "kiln_cuda_epilogue_f32";
  k.source = rt::cuda::epilogueKernelSource();
  std::vector<rt::KernelDesc> ks = {k};
  NvrtcOptions o;
  o.useCache = false;
  rt::Status s = compileKernels(ks, o, nullptr);
  ASSERT_TRUE(s.isOk()) << s.message();
  for (const char *entry : {"kiln_cuda_epilogue_f32", "kiln_cuda_epilogue_f64",
                            "kiln_cuda_colsum_f32", "kiln_cuda_colsum_f64"})
    EXPECT_NE(ks[0].ptx.find(std::string(".visible .entry ") + entry), std::string::npos) << entry;
  EXPECT_EQ(ks[0].spillBytes, 0);
}

TEST(Nvrtc, CudaDeviceConvPoolKernelsCompile) {
  rt::KernelDesc k;
  k.name = "kiln_cuda_conv2d_f32";
  k.source = rt::cuda::nnKernelSource();
  std::vector<rt::KernelDesc> ks = {k};
  NvrtcOptions o;
  o.useCache = false;
  rt::Status s = compileKernels(ks, o, nullptr);
  ASSERT_TRUE(s.isOk()) << s.message();
  for (const char *op : {"conv2d", "conv2d_grad_input", "conv2d_grad_filter", "pool2d",
                         "pool2d_grad"})
    for (const char *t : {"_f32", "_f64"})
      EXPECT_NE(ks[0].ptx.find(std::string(".visible .entry kiln_cuda_") + op + t),
                std::string::npos)
          << op << t;
}
