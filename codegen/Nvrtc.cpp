//===- Nvrtc.cpp - Parallel, cached NVRTC compilation of kernels ---------===//
//
// Implements codegen/Nvrtc.h. One job per (kernel, target), where a target
// is a cubin arch ("sm_90") or the PTX of the newest arch ("compute_90").
// Jobs run on a small pool of std::threads that pull the next job index
// from an atomic counter; each job first looks in the disk cache, then
// compiles with its own nvrtcProgram and stores the result.
//
// Cache entry (key = FNV-1a-128 of NVRTC version, target, flags, source):
//   <key>.cubin or <key>.ptx   the payload, raw bytes
//   <key>.info                 text: format tag, payload size and hash,
//                              registers, spill bytes, shared bytes
// The payload is renamed into place before the .info, and a reader checks
// the payload against the .info, so a torn or mixed entry is a miss.
//
//===----------------------------------------------------------------------===//

#include "codegen/Nvrtc.h"
#include "kiln/CacheFiles.h"

#include <nvrtc.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

#ifndef KILN_CUDA_INCLUDE_DIR
#define KILN_CUDA_INCLUDE_DIR "/usr/local/cuda/include"
#endif

namespace kiln::codegen {
using rt::Status;
namespace {

/// FNV-1a with a 128-bit state: collisions among cache keys are not a
/// practical concern, and it needs no crypto library.
struct Hash128 {
  unsigned __int128 h = (static_cast<unsigned __int128>(0x6c62272e07bb0142ULL) << 64) |
                        0x62b821756295c58dULL;
  void add(const void *data, size_t n) {
    const unsigned __int128 prime = (static_cast<unsigned __int128>(1) << 88) | 0x13bULL;
    const auto *p = static_cast<const unsigned char *>(data);
    for (size_t i = 0; i < n; ++i) {
      h ^= p[i];
      h *= prime;
    }
  }
  /// Adds a length-prefixed string, so that field boundaries are part of
  /// the hash ("ab"+"c" differs from "a"+"bc").
  void addField(const std::string &s) {
    uint64_t n = s.size();
    add(&n, sizeof n);
    add(s.data(), s.size());
  }
  std::string hex() const {
    char buf[33];
    std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(h >> 64),
                  static_cast<unsigned long long>(h));
    return buf;
  }
};

std::string hashBytes(const std::string &bytes) {
  Hash128 h;
  h.add(bytes.data(), bytes.size());
  return h.hex();
}

/// `sm_<digits>` with an optional letter suffix (sm_90a); returns the
/// number, or -1.
int archNumber(const std::string &arch) {
  if (arch.size() < 4 || arch.compare(0, 3, "sm_") != 0)
    return -1;
  size_t i = 3;
  int n = 0;
  while (i < arch.size() && std::isdigit(static_cast<unsigned char>(arch[i])) && n < 10000)
    n = n * 10 + (arch[i++] - '0');
  if (i == 3)
    return -1;
  if (i + 1 == arch.size() && std::islower(static_cast<unsigned char>(arch[i])))
    ++i;
  return i == arch.size() ? n : -1;
}

struct Job {
  size_t kernel = 0;
  std::string target; ///< "sm_90" (cubin) or "compute_90" (PTX)
  bool ptx = false;
  std::vector<std::string> flags;
  std::string key;
  // Results.
  bool ok = false;
  bool fromCache = false;
  std::string payload;
  PtxasInfo info;
  std::string error; ///< NVRTC's result and log when !ok
};

std::string infoText(const Job &job) {
  std::ostringstream s;
  s << "kiln-nvrtc-cache 1\n"
    << "target " << job.target << "\n"
    << "size " << job.payload.size() << "\n"
    << "hash " << hashBytes(job.payload) << "\n"
    << "registers " << job.info.registers << "\n"
    << "spill " << job.info.spillBytes << "\n"
    << "shared " << job.info.sharedBytes << "\n";
  return s.str();
}

/// Looks `job` up in the cache; true on a complete, consistent entry.
bool loadCached(const std::string &dir, Job &job) {
  std::string info, payload;
  if (!readWholeFile(dir + "/" + job.key + ".info", info))
    return false;
  std::istringstream in(info);
  std::string tag, version, word, target, hash;
  uint64_t size = 0;
  PtxasInfo p;
  if (!(in >> tag >> version) || tag != "kiln-nvrtc-cache" || version != "1")
    return false;
  if (!(in >> word >> target) || word != "target" || target != job.target)
    return false;
  if (!(in >> word >> size) || word != "size")
    return false;
  if (!(in >> word >> hash) || word != "hash")
    return false;
  if (!(in >> word >> p.registers) || word != "registers")
    return false;
  if (!(in >> word >> p.spillBytes) || word != "spill")
    return false;
  if (!(in >> word >> p.sharedBytes) || word != "shared")
    return false;
  if (!readWholeFile(dir + "/" + job.key + (job.ptx ? ".ptx" : ".cubin"), payload))
    return false;
  if (payload.size() != size || hashBytes(payload) != hash)
    return false;
  if (!job.ptx && (payload.size() < 4 || payload.compare(0, 4, "\x7f" "ELF") != 0))
    return false;
  job.payload = std::move(payload);
  job.info = p;
  job.ok = true;
  job.fromCache = true;
  return true;
}

void storeCached(const std::string &dir, const Job &job) {
  // Payload first: a reader that finds the new .info finds its payload.
  // Failure only costs a cache entry: the error is not reported.
  std::string error;
  if (writeFileReplacing(dir + "/" + job.key + (job.ptx ? ".ptx" : ".cubin"), job.payload, error))
    writeFileReplacing(dir + "/" + job.key + ".info", infoText(job), error);
}

void compileJob(const rt::KernelDesc &kernel, Job &job) {
  nvrtcProgram prog = nullptr;
  nvrtcResult r = nvrtcCreateProgram(&prog, kernel.source.c_str(), (kernel.name + ".cu").c_str(),
                                     0, nullptr, nullptr);
  if (r != NVRTC_SUCCESS) {
    job.error = std::string("nvrtcCreateProgram: ") + nvrtcGetErrorString(r);
    return;
  }
  std::vector<const char *> argv;
  for (const std::string &f : job.flags)
    argv.push_back(f.c_str());
  r = nvrtcCompileProgram(prog, static_cast<int>(argv.size()), argv.data());
  std::string log;
  size_t logSize = 0;
  if (nvrtcGetProgramLogSize(prog, &logSize) == NVRTC_SUCCESS && logSize > 1) {
    log.resize(logSize);
    if (nvrtcGetProgramLog(prog, log.data()) == NVRTC_SUCCESS)
      log.resize(std::strlen(log.c_str()));
    else
      log.clear();
  }
  while (!log.empty() && (log.back() == '\n' || log.back() == ' '))
    log.pop_back();
  if (r != NVRTC_SUCCESS) {
    job.error = std::string(nvrtcGetErrorString(r)) + "\n" + log;
    nvrtcDestroyProgram(&prog);
    return;
  }
  size_t n = 0;
  if (job.ptx) {
    r = nvrtcGetPTXSize(prog, &n);
    if (r == NVRTC_SUCCESS) {
      job.payload.resize(n);
      r = nvrtcGetPTX(prog, job.payload.data());
    }
    // The size counts the terminating NUL; KernelDesc::ptx is the text.
    while (!job.payload.empty() && job.payload.back() == '\0')
      job.payload.pop_back();
  } else {
    r = nvrtcGetCUBINSize(prog, &n);
    if (r == NVRTC_SUCCESS) {
      job.payload.resize(n);
      r = nvrtcGetCUBIN(prog, job.payload.data());
    }
    job.info = parsePtxasInfo(log, kernel.name);
  }
  nvrtcDestroyProgram(&prog);
  if (r != NVRTC_SUCCESS) {
    job.error = std::string("retrieving the ") + (job.ptx ? "PTX" : "cubin") + ": " +
                nvrtcGetErrorString(r);
    return;
  }
  if (job.payload.empty() ||
      (!job.ptx && (job.payload.size() < 4 || job.payload.compare(0, 4, "\x7f" "ELF") != 0))) {
    job.error = std::string("NVRTC returned an empty or malformed ") +
                (job.ptx ? "PTX" : "cubin") + " (" + std::to_string(job.payload.size()) +
                " bytes)";
    return;
  }
  job.ok = true;
}

/// Reads the integer just before `suffix` in `line` ("12 registers").
int numberBefore(const std::string &line, const char *suffix) {
  size_t pos = line.find(suffix);
  if (pos == std::string::npos)
    return -1;
  size_t end = pos;
  while (end > 0 && line[end - 1] == ' ')
    --end;
  size_t begin = end;
  while (begin > 0 && std::isdigit(static_cast<unsigned char>(line[begin - 1])))
    --begin;
  if (begin == end)
    return -1;
  return std::atoi(line.substr(begin, end - begin).c_str());
}

} // namespace

PtxasInfo parsePtxasInfo(const std::string &log, const std::string &entry) {
  // ptxas -v prints, per entry:
  //   ptxas info    : Compiling entry function 'NAME' for 'sm_90'
  //   ptxas info    : Function properties for NAME
  //   ptxas         .     0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
  //   ptxas info    : Used 12 registers, used 1 barriers, 1024 bytes smem
  // Take the block of `entry`, else the first block.
  std::istringstream in(log);
  std::string line;
  PtxasInfo first, named;
  bool inNamed = false, seenEntry = false, foundNamed = false;
  PtxasInfo *cur = nullptr;
  while (std::getline(in, line)) {
    if (line.find("Compiling entry function '") != std::string::npos) {
      inNamed = line.find("'" + entry + "'") != std::string::npos;
      if (inNamed) {
        foundNamed = true;
        cur = &named;
      } else {
        cur = seenEntry ? nullptr : &first;
      }
      seenEntry = true;
      continue;
    }
    if (!cur)
      continue;
    if (line.find("spill stores") != std::string::npos) {
      int st = numberBefore(line, "bytes spill stores");
      int ld = numberBefore(line, "bytes spill loads");
      if (st >= 0 && ld >= 0)
        cur->spillBytes = st + ld;
    }
    if (line.find("Used ") != std::string::npos && line.find(" registers") != std::string::npos) {
      cur->registers = numberBefore(line, "registers");
      int smem = numberBefore(line, "bytes smem");
      cur->sharedBytes = smem >= 0 ? smem : 0;
    }
  }
  return foundNamed ? named : first;
}

std::string nvrtcVersionString() {
  int major = 0, minor = 0;
  if (nvrtcVersion(&major, &minor) != NVRTC_SUCCESS)
    return "unknown";
  return std::to_string(major) + "." + std::to_string(minor);
}

rt::Status compileKernels(std::vector<rt::KernelDesc> &kernels, const NvrtcOptions &options,
                      NvrtcStats *stats) {
  auto start = std::chrono::steady_clock::now();
  if (stats)
    *stats = NvrtcStats{};
  // 1. Check the options and the kernels.
  if (options.archs.empty())
    return Status(rt::Code::invalid_argument, "compileKernels: NvrtcOptions::archs is empty");
  std::string newest;
  int newestNumber = -1;
  for (const std::string &arch : options.archs) {
    int n = archNumber(arch);
    if (n < 0)
      return Status(rt::Code::invalid_argument,
                    "compileKernels: arch '" + arch + "' is not of the form sm_<digits>");
    if (n > newestNumber || (n == newestNumber && arch.size() > newest.size())) {
      newestNumber = n;
      newest = arch;
    }
  }
  for (size_t i = 0; i < kernels.size(); ++i) {
    if (kernels[i].name.empty())
      return Status(rt::Code::invalid_argument,
                    "compileKernels: kernel #" + std::to_string(i) + " has no name");
    if (kernels[i].source.empty())
      return Status(rt::Code::invalid_argument,
                    "compileKernels: kernel '" + kernels[i].name + "' has no source");
  }
  std::string dir;
  if (options.useCache) {
    dir = (options.cacheDir.empty() ? defaultCacheDir() : options.cacheDir) + "/nvrtc";
    std::string error;
    if (!makeDirectories(dir, error))
      return Status(rt::Code::io_error, "compileKernels: " + error);
  }

  // 2. One job per kernel and target.
  std::vector<std::string> common = {"-std=c++17", "-I" KILN_CUDA_INCLUDE_DIR,
                                     "-I" KILN_CUDA_INCLUDE_DIR "/cccl"};
  const std::string version = nvrtcVersionString();
  std::vector<Job> jobs;
  for (size_t k = 0; k < kernels.size(); ++k) {
    std::vector<std::string> targets = options.archs;
    targets.push_back("compute_" + newest.substr(3));
    for (const std::string &target : targets) {
      Job job;
      job.kernel = k;
      job.target = target;
      job.ptx = target.compare(0, 8, "compute_") == 0;
      job.flags = common;
      job.flags.push_back("-arch=" + target);
      if (!job.ptx)
        job.flags.push_back("--ptxas-options=-v");
      for (const std::string &f : options.extraFlags)
        job.flags.push_back(f);
      Hash128 h;
      h.addField("nvrtc " + version);
      h.addField(target);
      for (const std::string &f : job.flags)
        h.addField(f);
      h.addField(kernels[k].source);
      job.key = h.hex();
      jobs.push_back(std::move(job));
    }
  }

  // 3. Run the jobs on a pool of threads.
  unsigned threads = options.threads ? options.threads : std::thread::hardware_concurrency();
  threads = std::max(1u, std::min<unsigned>(threads, static_cast<unsigned>(jobs.size())));
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i; (i = next.fetch_add(1)) < jobs.size();) {
      Job &job = jobs[i];
      try {
        if (!dir.empty() && loadCached(dir, job))
          continue;
        compileJob(kernels[job.kernel], job);
        if (job.ok && !dir.empty())
          storeCached(dir, job);
      } catch (const std::exception &e) {
        job.ok = false;
        job.error = std::string("internal error: ") + e.what();
      }
    }
  };
  if (!jobs.empty()) {
    std::vector<std::thread> pool;
    try {
      for (unsigned t = 1; t < threads; ++t)
        pool.emplace_back(worker);
    } catch (const std::exception &) {
      // Fewer threads than asked for; the caller's thread still works.
    }
    worker();
    for (std::thread &t : pool)
      t.join();
  }

  // 4. Fill the kernels; report every failure, grouped by kernel.
  std::map<size_t, std::vector<const Job *>> failures;
  unsigned compiled = 0, cached = 0, failed = 0;
  for (const Job &job : jobs) {
    if (!job.ok) {
      failures[job.kernel].push_back(&job);
      ++failed;
      continue;
    }
    job.fromCache ? ++cached : ++compiled;
  }
  if (stats) {
    stats->compiled = compiled;
    stats->cached = cached;
    stats->failed = failed;
    stats->threads = jobs.empty() ? 0 : threads;
  }
  auto finish = [&] {
    if (stats)
      stats->seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  if (!failures.empty()) {
    std::ostringstream msg;
    msg << failures.size() << " of " << kernels.size() << " kernel(s) failed to compile (NVRTC "
        << version << ")";
    for (const auto &[k, list] : failures) {
      msg << "\nkernel '" << kernels[k].name << "' for";
      // Targets with the same message are listed together, once.
      std::vector<std::pair<std::string, std::string>> groups;
      for (const Job *job : list) {
        auto it = std::find_if(groups.begin(), groups.end(),
                               [&](const auto &g) { return g.second == job->error; });
        if (it == groups.end())
          groups.push_back({job->target, job->error});
        else
          it->first += ", " + job->target;
      }
      for (size_t g = 0; g < groups.size(); ++g)
        msg << (g ? "\n  and for " : " ") << groups[g].first << ": " << groups[g].second;
    }
    finish();
    return Status(rt::Code::compile_error, msg.str());
  }
  for (rt::KernelDesc &kd : kernels) {
    kd.cubins.clear();
    kd.ptx.clear();
    kd.registers = kd.spillBytes = kd.sharedBytes = -1;
  }
  for (Job &job : jobs) {
    rt::KernelDesc &kd = kernels[job.kernel];
    if (job.ptx) {
      kd.ptx = std::move(job.payload);
      continue;
    }
    kd.cubins.push_back({job.target, std::move(job.payload)});
    kd.registers = std::max(kd.registers, job.info.registers);
    kd.spillBytes = std::max(kd.spillBytes, job.info.spillBytes);
    kd.sharedBytes = std::max(kd.sharedBytes, job.info.sharedBytes);
  }
  finish();
  return Status::ok();
}

} // namespace kiln::codegen
