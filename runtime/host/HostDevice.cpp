//===- HostDevice.cpp - The "host" device: CUDA kernels on the CPU --------===//
//
// prepare(program):
//  1. The kernel sources are concatenated (each is include-guarded for its
//     prelude) into at most two batches, compiled in parallel with the host
//     compiler ($CXX, else c++) against runtime/host/simt.h, which is
//     embedded in this library and written into the cache directory.
//     `extern __shared__ T name[];` is rewritten into a macro over the
//     block's dynamic shared memory (undefined again after that kernel).
//  2. Each batch is cached as <cacheDir>/host/<hash>.so, the hash covering
//     the batch source, simt.h and the compiler command; it is written under
//     a unique temporary name and renamed, so concurrent processes are safe.
//  3. The libraries are dlopened and bound to the emulator; every
//     NAME_host is resolved; the three regions are allocated (64-byte
//     aligned, zero-filled).
// run(f) executes the function's steps in order (launch, library, memset,
// copy); every error names the step index, its label and the kernel.
//
//===----------------------------------------------------------------------===//
#include "kiln/CacheFiles.h"
#include "kiln/Device.h"

#include "Library.h"
#include "Simt.h"

#include <dlfcn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <future>
#include <random>
#include <sstream>
#include <unordered_map>

namespace kiln::rt::host {
/// The text of runtime/host/simt.h (generated SimtHeader.cpp).
extern const char *const kSimtHeaderText;
} // namespace kiln::rt::host

namespace kiln::rt {
namespace {

using host::SimtModule;

uint64_t fnv1a(const std::string &s, uint64_t h = 0xcbf29ce484222325ull) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

std::string hex16(uint64_t v) {
  char b[17];
  snprintf(b, sizeof b, "%016llx", (unsigned long long)v);
  return b;
}

std::string shellQuote(const std::string &s) {
  std::string r = "'";
  for (char c : s) {
    if (c == '\'')
      r += "'\\''";
    else
      r += c;
  }
  return r + "'";
}

/// Writes `data` to `path` unless an identical file is there (temp+rename).
bool writeFileAtomic(const std::string &path, const std::string &data, std::string &err) {
  std::string existing;
  if (readWholeFile(path, existing) && existing == data)
    return true;
  return writeFileReplacing(path, data, err);
}

/// Rewrites `extern __shared__ T name[];` into a macro over the block's
/// dynamic shared memory; `defined` collects the macro names.
std::string rewriteDynamicShared(const std::string &src, std::vector<std::string> &defined) {
  static const std::string key = "extern __shared__";
  std::string out;
  size_t pos = 0;
  for (;;) {
    size_t k = src.find(key, pos);
    if (k == std::string::npos)
      break;
    size_t semi = src.find(';', k);
    size_t lb = src.find('[', k);
    if (semi == std::string::npos || lb == std::string::npos || lb > semi)
      break;
    std::string decl = src.substr(k + key.size(), lb - k - key.size());
    // Drop __align__(n) / alignas(n).
    for (const char *a : {"__align__", "alignas"}) {
      size_t p = decl.find(a);
      if (p != std::string::npos) {
        size_t close = decl.find(')', p);
        if (close != std::string::npos)
          decl.erase(p, close - p + 1);
      }
    }
    size_t e = decl.find_last_not_of(" \t\n");
    size_t b = e;
    while (b != std::string::npos && b > 0 &&
           (isalnum((unsigned char)decl[b - 1]) || decl[b - 1] == '_'))
      --b;
    if (e == std::string::npos)
      break;
    std::string name = decl.substr(b, e - b + 1);
    std::string type = decl.substr(0, b);
    out += src.substr(pos, k - pos);
    out += "\n#define " + name + " (reinterpret_cast<" + type + " *>(kiln_simt_dynamic_shared()))\n";
    defined.push_back(name);
    pos = semi + 1;
  }
  out += src.substr(pos);
  return out;
}

struct Batch {
  std::vector<uint32_t> kernels;
  std::string source;
  std::string soPath;
  std::string names; ///< for messages
};

class HostDevice final : public Device {
public:
  explicit HostDevice(const DeviceOptions &o) : options_(o) {}
  ~HostDevice() override {
    for (void *h : handles_)
      dlclose(h);
    for (int i = 0; i < 3; ++i)
      std::free(base_[i]);
  }
  const char *name() const override { return "host"; }
  Status prepare(const Program &program) override;
  Status write(Region region, uint64_t offset, const void *src, uint64_t bytes) override;
  Status read(Region region, uint64_t offset, void *dst, uint64_t bytes) override;
  Status run(uint32_t function) override;

private:
  Status compileBatch(Batch &b, const std::string &headerPath, const std::string &dir);
  Status checkRange(const char *what, Region region, uint64_t offset, uint64_t bytes) const;
  Status runStep(const FunctionDesc &f, size_t index, const Step &s);

  DeviceOptions options_;
  const Program *program_ = nullptr;
  std::vector<void *> handles_;
  std::vector<SimtModule> modules_;
  std::vector<host::SimtKernelFn> fns_;
  std::vector<size_t> moduleOf_;
  void *base_[3] = {nullptr, nullptr, nullptr};
  uint64_t size_[3] = {0, 0, 0};
};

std::string compilerCommand() {
  const char *cxx = getenv("CXX");
  std::string c = (cxx && *cxx) ? cxx : "c++";
  return c + " -O2 -std=c++17 -shared -fPIC -DKILN_HOST_SIMT -I/usr/local/cuda/include";
}

Status HostDevice::compileBatch(Batch &b, const std::string &headerPath, const std::string &dir) {
  std::string cmd = compilerCommand() + " -include " + shellQuote(headerPath);
  uint64_t h = fnv1a(b.source, fnv1a(host::kSimtHeaderText, fnv1a(cmd)));
  b.soPath = dir + "/" + hex16(h) + ".so";
  if (access(b.soPath.c_str(), R_OK) == 0)
    return Status::ok();
  std::string suffix = uniqueTempSuffix();
  std::string src = dir + "/" + hex16(h) + suffix + ".cu";
  std::string tmp = b.soPath + suffix;
  std::string log = tmp + ".log";
  std::string err;
  if (!writeFileAtomic(src, b.source, err))
    return {Code::io_error, "host device: " + err};
  std::string full = cmd + " -x c++ " + shellQuote(src) + " -o " + shellQuote(tmp) + " > " +
                     shellQuote(log) + " 2>&1";
  int rc = std::system(full.c_str());
  std::string text;
  readWholeFile(log, text);
  unlink(log.c_str());
  unlink(src.c_str());
  if (rc != 0 && WIFEXITED(rc) && WEXITSTATUS(rc) == 127 && text.find("error") == std::string::npos) {
    unlink(tmp.c_str());
    return {Code::no_device, "host device: no host C++ compiler (" + cmd.substr(0, cmd.find(' ')) +
                                 " not found; set $CXX): " + text};
  }
  if (rc != 0) {
    unlink(tmp.c_str());
    if (text.size() > 20000)
      text = text.substr(0, 20000) + "\n... (log truncated)";
    return {Code::compile_error, "host device: compiling kernel(s) " + b.names + " failed (" +
                                     full.substr(0, full.find(" >")) + "):\n" + text};
  }
  if (rename(tmp.c_str(), b.soPath.c_str()) != 0) {
    unlink(tmp.c_str());
    return {Code::io_error, "host device: cannot rename " + tmp + " to " + b.soPath + ": " +
                                strerror(errno)};
  }
  return Status::ok();
}

Status HostDevice::prepare(const Program &program) {
  if (program_)
    return {Code::invalid_argument, "host device: prepare called twice"};
  std::string dir = (options_.cacheDir.empty() ? defaultCacheDir() : options_.cacheDir) + "/host";
  std::string err;
  if (!makeDirectories(dir, err))
    return {Code::io_error, "host device: " + err};
  std::string header = host::kSimtHeaderText;
  std::string headerPath = dir + "/simt-" + hex16(fnv1a(header)) + ".h";
  if (!writeFileAtomic(headerPath, header, err))
    return {Code::io_error, "host device: " + err};

  // 1. Batches: two when there are several kernels (both cores compile).
  const size_t nk = program.kernels.size();
  size_t nb = nk >= 2 ? 2 : nk;
  std::vector<Batch> batches(nb);
  std::unordered_map<std::string, size_t> seen;
  for (size_t i = 0; i < nk; ++i) {
    const KernelDesc &k = program.kernels[i];
    auto it = seen.find(k.name);
    if (it != seen.end()) { // same name, same source (content-derived names)
      batches[it->second].kernels.push_back((uint32_t)i);
      continue;
    }
    seen[k.name] = i * nb / nk;
    Batch &b = batches[i * nb / nk];
    b.kernels.push_back((uint32_t)i);
    std::vector<std::string> macros;
    b.source += "// kernel " + k.name + "\n" + rewriteDynamicShared(k.source, macros) + "\n";
    for (const std::string &m : macros)
      b.source += "#undef " + m + "\n";
    b.names += (b.names.empty() ? "" : ", ") + k.name;
  }
  std::vector<std::future<Status>> jobs;
  for (size_t i = 1; i < nb; ++i)
    jobs.push_back(std::async(std::launch::async,
                              [&, i] { return compileBatch(batches[i], headerPath, dir); }));
  Status first = nb ? compileBatch(batches[0], headerPath, dir) : Status::ok();
  std::string failures = first.isOk() ? "" : first.message();
  Code code = first.code();
  for (auto &j : jobs) {
    Status s = j.get();
    if (!s.isOk()) {
      failures += (failures.empty() ? "" : "\n") + s.message();
      code = s.code();
    }
  }
  if (!failures.empty())
    return {code, failures};

  // 3. Load, bind, resolve.
  fns_.assign(nk, nullptr);
  modules_.resize(nb);
  for (size_t bi = 0; bi < nb; ++bi) {
    Batch &b = batches[bi];
    void *h = dlopen(b.soPath.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!h) { // a damaged cache entry: compile it again, once
      std::string why = dlerror();
      unlink(b.soPath.c_str());
      KILN_RT_RETURN_IF_ERROR(compileBatch(b, headerPath, dir));
      h = dlopen(b.soPath.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (!h)
        return {Code::device_error, "host device: dlopen " + b.soPath + ": " + dlerror() +
                                        " (before recompiling: " + why + ")"};
    }
    handles_.push_back(h);
    KILN_RT_RETURN_IF_ERROR(modules_[bi].bind(h, b.soPath));
    for (uint32_t k : b.kernels) {
      const std::string &name = program.kernels[k].name;
      void *sym = dlsym(h, (name + "_host").c_str());
      if (!sym)
        return {Code::invalid_artifact, "host device: kernel " + name + ": no " + name +
                                            "_host in its source (the KILN_HOST_SIMT trampoline)"};
      fns_[k] = reinterpret_cast<host::SimtKernelFn>(sym);
    }
  }
  moduleOf_.assign(nk, 0);
  for (size_t bi = 0; bi < nb; ++bi)
    for (uint32_t k : batches[bi].kernels)
      moduleOf_[k] = bi;

  uint64_t inputBytes = 0;
  for (const FunctionDesc &f : program.functions)
    inputBytes = std::max(inputBytes, f.inputBytes);
  size_[0] = program.persistentBytes;
  size_[1] = inputBytes;
  size_[2] = program.arenaBytes();
  for (int r = 0; r < 3; ++r) {
    uint64_t bytes = (size_[r] + 63) / 64 * 64;
    base_[r] = std::aligned_alloc(64, bytes ? bytes : 64);
    if (!base_[r])
      return {Code::out_of_memory, std::string("host device: cannot allocate the ") +
                                       regionName((Region)r) + " region (" +
                                       std::to_string(size_[r]) + " bytes)"};
    std::memset(base_[r], 0, bytes ? bytes : 64);
  }
  program_ = &program;
  return Status::ok();
}

Status HostDevice::checkRange(const char *what, Region region, uint64_t offset,
                              uint64_t bytes) const {
  if (!program_)
    return {Code::invalid_argument, std::string("host device: ") + what + " before prepare"};
  unsigned r = (unsigned)region;
  if (r > 2)
    return {Code::invalid_argument, std::string("host device: ") + what + ": bad region " +
                                        std::to_string(r)};
  if (offset > size_[r] || bytes > size_[r] - offset)
    return {Code::invalid_argument, std::string("host device: ") + what + " of " +
                                        std::to_string(bytes) + " bytes at offset " +
                                        std::to_string(offset) + " is outside the " +
                                        regionName(region) + " region (" +
                                        std::to_string(size_[r]) + " bytes)"};
  return Status::ok();
}

Status HostDevice::write(Region region, uint64_t offset, const void *src, uint64_t bytes) {
  KILN_RT_RETURN_IF_ERROR(checkRange("write", region, offset, bytes));
  if (bytes)
    std::memcpy(static_cast<char *>(base_[(int)region]) + offset, src, bytes);
  return Status::ok();
}

Status HostDevice::read(Region region, uint64_t offset, void *dst, uint64_t bytes) {
  KILN_RT_RETURN_IF_ERROR(checkRange("read", region, offset, bytes));
  if (bytes)
    std::memcpy(dst, static_cast<char *>(base_[(int)region]) + offset, bytes);
  return Status::ok();
}

Status HostDevice::runStep(const FunctionDesc &f, size_t index, const Step &s) {
  const std::string at = "function " + f.name + ", step " + std::to_string(index) + " (" +
                         s.label + ")";
  auto tensor = [&](uint32_t t, const char *role, const TensorDesc *&out) -> Status {
    if (t >= f.tensors.size())
      return {Code::invalid_argument, at + ": " + role + " tensor index " + std::to_string(t) +
                                          " out of range (" + std::to_string(f.tensors.size()) +
                                          " tensors)"};
    out = &f.tensors[t];
    unsigned r = (unsigned)out->region;
    if (r > 2 || out->offset > size_[r] || out->size > size_[r] - out->offset)
      return {Code::invalid_argument, at + ": tensor " + out->name + " (" +
                                          std::to_string(out->size) + " bytes at " +
                                          std::to_string(out->offset) + ") is outside its region"};
    return Status::ok();
  };
  auto ptr = [&](const TensorDesc *t) {
    return static_cast<char *>(base_[(int)t->region]) + t->offset;
  };
  switch (s.kind) {
  case StepKind::launch: {
    const LaunchStep &l = s.launch;
    if (l.kernel >= program_->kernels.size())
      return {Code::invalid_argument, at + ": kernel index " + std::to_string(l.kernel) +
                                          " out of range"};
    const KernelDesc &k = program_->kernels[l.kernel];
    if (l.args.size() != k.argDTypes.size())
      return {Code::invalid_argument, at + ", kernel " + k.name + ": " +
                                          std::to_string(l.args.size()) + " args, the kernel takes " +
                                          std::to_string(k.argDTypes.size())};
    std::vector<void *> ptrs(l.args.size());
    std::vector<void *> args(l.args.size());
    for (size_t i = 0; i < l.args.size(); ++i) {
      const TensorDesc *t;
      KILN_RT_RETURN_IF_ERROR(tensor(l.args[i], "arg", t));
      if (t->dtype != k.argDTypes[i])
        return {Code::invalid_argument, at + ", kernel " + k.name + ": arg " + std::to_string(i) +
                                            " (" + t->name + ") is " + dtypeName(t->dtype) +
                                            ", the kernel takes " + dtypeName(k.argDTypes[i])};
      ptrs[i] = ptr(t);
      args[i] = &ptrs[i];
    }
    host::SimtLaunchOptions o;
    o.randomizeThreadOrder = options_.randomizeThreadOrder;
    o.seed = options_.seed;
    o.kernelName = k.name.c_str();
    Status st = host::simtLaunch(modules_[moduleOf_[l.kernel]], fns_[l.kernel], l.grid, l.block,
                                 l.dynamicSharedBytes, args.data(), o);
    if (!st.isOk())
      return {st.code(), at + ": " + st.message()};
    return Status::ok();
  }
  case StepKind::library: {
    const LibraryStep &l = s.library;
    std::vector<uint64_t> bytes(l.args.size());
    std::vector<void *> ptrs(l.args.size());
    for (size_t i = 0; i < l.args.size(); ++i) {
      const TensorDesc *t;
      KILN_RT_RETURN_IF_ERROR(tensor(l.args[i], "library arg", t));
      bytes[i] = (uint64_t)t->numElements() * dtypeBytes(t->dtype);
      ptrs[i] = ptr(t);
    }
    Status st = host::checkLibraryStep(l, bytes.data(), bytes.size());
    if (st.isOk())
      st = host::runLibraryStep(l, ptrs.data());
    if (!st.isOk())
      return {st.code(), at + ", " + libraryOpName(l.op) + ": " + st.message()};
    return Status::ok();
  }
  case StepKind::memset: {
    const TensorDesc *d;
    KILN_RT_RETURN_IF_ERROR(tensor(s.dst, "memset dst", d));
    std::memset(ptr(d), s.value, d->size);
    return Status::ok();
  }
  case StepKind::copy: {
    const TensorDesc *d, *src;
    KILN_RT_RETURN_IF_ERROR(tensor(s.dst, "copy dst", d));
    KILN_RT_RETURN_IF_ERROR(tensor(s.src, "copy src", src));
    if (d->size != src->size)
      return {Code::invalid_argument, at + ": copy of " + src->name + " (" +
                                          std::to_string(src->size) + " bytes) into " + d->name +
                                          " (" + std::to_string(d->size) + " bytes)"};
    std::memmove(ptr(d), ptr(src), d->size);
    return Status::ok();
  }
  }
  return {Code::invalid_argument, at + ": unknown step kind " + std::to_string((int)s.kind)};
}

Status HostDevice::run(uint32_t function) {
  if (!program_)
    return {Code::invalid_argument, "host device: run before prepare"};
  if (function >= program_->functions.size())
    return {Code::invalid_argument, "host device: function index " + std::to_string(function) +
                                        " out of range (" +
                                        std::to_string(program_->functions.size()) + ")"};
  const FunctionDesc &f = program_->functions[function];
  if (options_.poisonArena && size_[2])
    std::memset(base_[2], 0xFF, size_[2]);
  try {
    for (size_t i = 0; i < f.steps.size(); ++i)
      KILN_RT_RETURN_IF_ERROR(runStep(f, i, f.steps[i]));
  } catch (const std::exception &e) {
    return {Code::device_error, "host device: function " + f.name + ": " + e.what()};
  }
  return Status::ok();
}

} // namespace

std::unique_ptr<Device> createHostDevice(const DeviceOptions &options) {
  return std::make_unique<HostDevice>(options);
}

} // namespace kiln::rt
