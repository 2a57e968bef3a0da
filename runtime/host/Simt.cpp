//===- Simt.cpp - Fibers, barriers and warps for host kernels -------------===//
//
// How a block runs (runBlock):
//  1. Shared memory is poisoned (the .so's TLS block holds every static
//     __shared__ array; the worker's dynamic-shared buffer) and a first
//     fiber starts thread 0.
//  2. A fiber loops: it takes the next unstarted thread and calls the
//     kernel; a thread that never blocks returns and the same fiber (and
//     stack) takes the next thread, so barrier-free kernels never switch.
//  3. A thread that reaches __syncthreads or a warp operation records its
//     arrival and switches to the scheduler. The scheduler resumes runnable
//     threads in queue order, else starts a new fiber for the next unstarted
//     thread. The last arrival at a barrier queues the whole block (forward
//     or seeded random order); the last lane at a warp operation queues its
//     warp (double-buffered exchange slots, so one rendezvous per operation).
//  4. Nothing runnable, nothing unstarted, but not every thread exited:
//     a divergent barrier. The block's fibers are unwound and the launch
//     fails; it never hangs.
//
//===----------------------------------------------------------------------===//
#include "Simt.h"

#include "simt.h"

#include <boost/context/detail/exception.hpp>
#include <boost/context/fiber.hpp>
#include <boost/context/stack_context.hpp>

#include <dlfcn.h>
#include <link.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace ctx = boost::context;

namespace kiln::rt::host {
namespace {

// --- Pooled, guarded fiber stacks (one pool per OS thread) ---------------

struct StackPool {
  std::vector<void *> free;
  ~StackPool() {
    for (void *p : free)
      munmap(p, kSimtStackBytes + pageBytes());
  }
  static size_t pageBytes() {
    static const size_t p = (size_t)sysconf(_SC_PAGESIZE);
    return p;
  }
};
thread_local StackPool tStacks;

/// Boost.Context stack allocator over tStacks: a guard page below each
/// stack turns an overflow into a fault, not silent corruption.
struct PooledStack {
  ctx::stack_context allocate() {
    void *base;
    if (!tStacks.free.empty()) {
      base = tStacks.free.back();
      tStacks.free.pop_back();
    } else {
      size_t total = kSimtStackBytes + StackPool::pageBytes();
      base = mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (base == MAP_FAILED)
        throw std::bad_alloc();
      mprotect(base, StackPool::pageBytes(), PROT_NONE);
    }
    ctx::stack_context sc;
    sc.size = kSimtStackBytes;
    sc.sp = static_cast<char *>(base) + StackPool::pageBytes() + kSimtStackBytes;
    return sc;
  }
  void deallocate(ctx::stack_context &sc) noexcept {
    void *base = static_cast<char *>(sc.sp) - kSimtStackBytes - StackPool::pageBytes();
    tStacks.free.push_back(base);
  }
};

// --- One block on one worker ----------------------------------------------

enum ThreadState : uint8_t { kUnstarted, kRunning, kAtBarrier, kAtWarp, kDone };

struct Runner;
struct ThreadRec {
  KilnSimtThread t;
  Runner *runner;
  unsigned index;
  ThreadState state;
  ctx::fiber fiber; ///< set while the thread is suspended
};

struct WarpRec {
  unsigned arrived = 0, phase = 0, size = 32;
  unsigned long long buf[2][32];
};

uint64_t splitmix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

struct Runner {
  // Per launch.
  SimtKernelFn fn = nullptr;
  void **args = nullptr;
  const SimtLaunchOptions *opt = nullptr;
  KilnSimtThread **slot = nullptr;
  void *tls = nullptr;
  size_t tlsBytes = 0;
  unsigned n = 0;
  uint32_t bdim[3] = {1, 1, 1};
  uint32_t dynBytes = 0;
  std::vector<unsigned char> dynStorage;
  // Per block.
  KilnSimtBlock blk{};
  uint64_t blockLinear = 0;
  std::vector<ThreadRec> th;
  std::vector<WarpRec> warps;
  std::vector<unsigned> runq;
  size_t runqHead = 0;
  unsigned nextUnstarted = 0, exited = 0, barrierArrived = 0, current = 0, barriers = 0;
  bool failed = false;
  std::string error;
  uint64_t fibers = 0, resumes = 0, blocks = 0; ///< this launch, this worker
  ctx::fiber sched; ///< the scheduler, while a fiber runs

  void yield() { sched = std::move(sched).resume(); }

  [[noreturn]] void fail(std::string msg) {
    if (!failed) {
      failed = true;
      error = std::move(msg);
    }
    yield(); // never resumed: unwound by the scheduler
    __builtin_unreachable();
  }

  void release() {
    barrierArrived = 0;
    ++barriers;
    size_t first = runq.size();
    for (unsigned i = 0; i < n; ++i)
      runq.push_back(i);
    if (opt->randomizeThreadOrder) {
      uint64_t s = splitmix(opt->seed ^ splitmix(blockLinear) ^ ((uint64_t)barriers << 40));
      for (unsigned i = n - 1; i > 0; --i) {
        s = splitmix(s);
        unsigned j = (unsigned)(s % (i + 1));
        std::swap(runq[first + i], runq[first + j]);
      }
    }
  }

  void resume(unsigned i) {
    ++resumes;
    current = i;
    *slot = &th[i].t;
    th[i].state = kRunning;
    ctx::fiber c = std::move(th[i].fiber).resume();
    if (c)
      th[current].fiber = std::move(c);
  }

  void startFiber() {
    ++fibers;
    ctx::fiber f(std::allocator_arg, PooledStack(), [this](ctx::fiber &&caller) {
      sched = std::move(caller);
      while (nextUnstarted < n && !failed) {
        unsigned i = nextUnstarted++;
        current = i;
        *slot = &th[i].t;
        th[i].state = kRunning;
        try {
          fn(args);
        } catch (const ctx::detail::forced_unwind &) {
          throw; // the scheduler is unwinding this fiber
        } catch (const std::exception &e) {
          failed = true;
          error = where() + ": thread " + std::to_string(i) + " threw: " + e.what();
          break;
        }
        th[i].state = kDone;
        ++exited;
      }
      return std::move(sched);
    });
    ctx::fiber c = std::move(f).resume();
    if (c)
      th[current].fiber = std::move(c);
  }

  std::string where() const {
    return "kernel " + std::string(opt->kernelName) + ", block (" + std::to_string(blk.blockIdx.x) +
           "," + std::to_string(blk.blockIdx.y) + "," + std::to_string(blk.blockIdx.z) + ")";
  }

  /// Runs one block; false (with `error`) on a device error.
  bool runBlock(uint64_t linear, const uint32_t grid[3]) {
    blockLinear = linear;
    ++blocks;
    blk.blockIdx = {(unsigned)(linear % grid[0]), (unsigned)((linear / grid[0]) % grid[1]),
                    (unsigned)(linear / ((uint64_t)grid[0] * grid[1]))};
    if (tls)
      std::memset(tls, 0xFF, tlsBytes);
    if (dynBytes)
      std::memset(blk.dynamicShared, 0xFF, dynBytes);
    for (unsigned i = 0; i < n; ++i) {
      th[i].state = kUnstarted;
      th[i].fiber = ctx::fiber();
    }
    for (size_t w = 0; w < warps.size(); ++w) {
      warps[w].arrived = 0;
      warps[w].phase = 0;
    }
    runq.clear();
    runqHead = 0;
    nextUnstarted = exited = barrierArrived = barriers = 0;
    failed = false;
    error.clear();
    while (!failed) {
      if (runqHead < runq.size()) {
        unsigned i = runq[runqHead++];
        if (runqHead == runq.size()) {
          runq.clear();
          runqHead = 0;
        }
        resume(i);
      } else if (nextUnstarted < n) {
        startFiber();
      } else {
        break;
      }
    }
    if (!failed && exited < n) {
      unsigned atBarrier = 0, atWarp = 0;
      for (unsigned i = 0; i < n; ++i) {
        atBarrier += th[i].state == kAtBarrier;
        atWarp += th[i].state == kAtWarp;
      }
      failed = true;
      error = where() + ": divergent barrier: " + std::to_string(atBarrier) +
              " thread(s) wait at __syncthreads, " + std::to_string(atWarp) +
              " at a warp operation, " + std::to_string(exited) + " of " + std::to_string(n) +
              " exited";
    }
    if (failed) {
      for (unsigned i = 0; i < n; ++i)
        th[i].fiber = ctx::fiber(); // unwinds a suspended fiber
    }
    return !failed;
  }

  void setup(const uint32_t block[3], uint32_t dyn) {
    bdim[0] = block[0];
    bdim[1] = block[1];
    bdim[2] = block[2];
    n = block[0] * block[1] * block[2];
    th.resize(n);
    for (unsigned i = 0; i < n; ++i) {
      th[i].t.threadIdx = {i % block[0], (i / block[0]) % block[1], i / (block[0] * block[1])};
      th[i].t.block = &blk;
      th[i].t.impl = &th[i];
      th[i].runner = this;
      th[i].index = i;
    }
    warps.resize((n + 31) / 32);
    for (size_t w = 0; w < warps.size(); ++w)
      warps[w].size = std::min<unsigned>(32, n - (unsigned)w * 32);
    blk.blockDim = {block[0], block[1], block[2]};
    dynBytes = dyn;
    if (dynStorage.size() < (size_t)dyn + 64)
      dynStorage.resize((size_t)dyn + 64);
    uintptr_t p = reinterpret_cast<uintptr_t>(dynStorage.data());
    blk.dynamicShared = reinterpret_cast<void *>((p + 63) & ~uintptr_t(63));
  }
};

thread_local Runner tRunner;

std::atomic<uint64_t> gFibers{0}, gResumes{0}, gBlocks{0};

// --- The emulator's entry points, called from kernel code -----------------

void apiSyncthreads(KilnSimtThread *self) {
  ThreadRec *rec = static_cast<ThreadRec *>(self->impl);
  Runner &r = *rec->runner;
  rec->state = kAtBarrier;
  if (++r.barrierArrived == r.n)
    r.release();
  r.yield();
}

/// The rendezvous of one warp operation: stores `value` in this lane's
/// slot and returns when every lane of the warp stored its own; the slots
/// are double-buffered by phase (a lane cannot reach operation k+2 before
/// every lane has read operation k's values). Returns the phase's buffer.
const unsigned long long *warpRendezvous(ThreadRec *rec, unsigned mask, unsigned long long value,
                                         unsigned &size) {
  Runner &r = *rec->runner;
  unsigned lane = rec->index & 31u, base = rec->index & ~31u;
  WarpRec &w = r.warps[rec->index >> 5];
  if (mask != 0xffffffffu) {
    char buf[160];
    snprintf(buf, sizeof buf, ": warp operation with partial mask 0x%08x at thread %u", mask,
             rec->index);
    r.fail(r.where() + buf + " (the host device supports only the full mask)");
  }
  unsigned par = w.phase & 1u;
  w.buf[par][lane] = value;
  if (++w.arrived == w.size) {
    w.arrived = 0;
    ++w.phase;
    for (unsigned l = 0; l < w.size; ++l)
      if (l != lane && r.th[base + l].state == kAtWarp)
        r.runq.push_back(base + l);
  } else {
    rec->state = kAtWarp;
    r.yield();
  }
  size = w.size;
  return w.buf[par];
}

unsigned long long apiWarpShuffle(KilnSimtThread *self, unsigned mask, unsigned long long value,
                                  unsigned src) {
  unsigned size;
  const unsigned long long *buf =
      warpRendezvous(static_cast<ThreadRec *>(self->impl), mask, value, size);
  return src < size ? buf[src] : value;
}

unsigned apiWarpBallot(KilnSimtThread *self, unsigned mask, int predicate) {
  unsigned size;
  const unsigned long long *buf =
      warpRendezvous(static_cast<ThreadRec *>(self->impl), mask, predicate != 0, size);
  unsigned bits = 0;
  for (unsigned l = 0; l < size; ++l)
    bits |= (unsigned)buf[l] << l;
  return bits;
}

void apiSyncwarp(KilnSimtThread *self, unsigned mask) {
  unsigned size;
  warpRendezvous(static_cast<ThreadRec *>(self->impl), mask, 0, size);
}

const KilnSimtApi kApi = {KILN_SIMT_ABI_VERSION, apiSyncthreads, apiWarpShuffle, apiWarpBallot,
                          apiSyncwarp};

// --- Worker pool ------------------------------------------------------------

/// hardware_concurrency() - 1 helper threads; the caller of run() is the
/// last worker. One job at a time.
class Pool {
public:
  static Pool &get() {
    static Pool *p = new Pool(); // never destroyed: helpers idle at exit
    return *p;
  }
  unsigned workers() const { return (unsigned)threads_.size() + 1; }
  /// Calls job(worker) on `count` workers (the caller is worker 0).
  void run(unsigned count, const std::function<void(unsigned)> &job) {
    std::lock_guard<std::mutex> one(runMutex_);
    count = std::min(count, workers());
    {
      std::lock_guard<std::mutex> l(m_);
      job_ = &job;
      wanted_ = count - 1;
      pending_ = count - 1;
      taken_ = 0;
      ++gen_;
    }
    cv_.notify_all();
    job(0);
    std::unique_lock<std::mutex> l(m_);
    done_.wait(l, [&] { return pending_ == 0; });
    job_ = nullptr;
  }

private:
  Pool() {
    unsigned hc = std::max(1u, std::thread::hardware_concurrency());
    for (unsigned i = 1; i < hc; ++i)
      threads_.emplace_back([this] { loop(); });
    for (auto &t : threads_)
      t.detach();
  }
  void loop() {
    uint64_t seen = 0;
    std::unique_lock<std::mutex> l(m_);
    for (;;) {
      cv_.wait(l, [&] { return gen_ != seen; });
      seen = gen_;
      if (taken_ >= wanted_)
        continue;
      unsigned me = ++taken_;
      const std::function<void(unsigned)> *job = job_;
      l.unlock();
      (*job)(me);
      l.lock();
      if (--pending_ == 0)
        done_.notify_all();
    }
  }
  std::mutex runMutex_, m_;
  std::condition_variable cv_, done_;
  std::vector<std::thread> threads_;
  const std::function<void(unsigned)> *job_ = nullptr;
  unsigned wanted_ = 0, pending_ = 0, taken_ = 0;
  uint64_t gen_ = 0;
};

struct TlsSize {
  uintptr_t base;
  size_t bytes = 0;
};

} // namespace

SimtCounters simtCounters() {
  SimtCounters c;
  c.fibers = gFibers.load();
  c.resumes = gResumes.load();
  c.blocks = gBlocks.load();
  return c;
}

Status SimtModule::bind(void *dlHandle, const std::string &what) {
  handle = dlHandle;
  auto bindFn = reinterpret_cast<int (*)(const KilnSimtApi *)>(dlsym(handle, "kiln_simt_bind"));
  slot = reinterpret_cast<KilnSimtThread **(*)()>(dlsym(handle, "kiln_simt_slot"));
  if (!bindFn || !slot)
    return {Code::invalid_artifact,
            what + ": no kiln_simt_bind/kiln_simt_slot (not compiled with runtime/host/simt.h)"};
  int v = bindFn(&kApi);
  if (v != KILN_SIMT_ABI_VERSION)
    return {Code::invalid_artifact, what + ": SIMT ABI version " + std::to_string(v) +
                                        ", the runtime has " +
                                        std::to_string(KILN_SIMT_ABI_VERSION)};
  link_map *lm = nullptr;
  if (dlinfo(handle, RTLD_DI_LINKMAP, &lm) != 0 || !lm)
    return {Code::device_error, what + ": dlinfo(RTLD_DI_LINKMAP) failed"};
  TlsSize q{lm->l_addr};
  dl_iterate_phdr(
      [](dl_phdr_info *info, size_t, void *data) -> int {
        auto *q = static_cast<TlsSize *>(data);
        if (info->dlpi_addr != q->base)
          return 0;
        for (int i = 0; i < info->dlpi_phnum; ++i)
          if (info->dlpi_phdr[i].p_type == PT_TLS)
            q->bytes = info->dlpi_phdr[i].p_memsz;
        return 1;
      },
      &q);
  tlsBytes = q.bytes;
  return Status::ok();
}

Status simtLaunch(const SimtModule &module, SimtKernelFn fn, const uint32_t grid[3],
                  const uint32_t block[3], uint32_t dynamicSharedBytes, void **args,
                  const SimtLaunchOptions &options) {
  const std::string k = options.kernelName;
  uint64_t threads = (uint64_t)block[0] * block[1] * block[2];
  if (threads == 0 || threads > 1024 || block[2] > 64)
    return {Code::device_error, "kernel " + k + ": block (" + std::to_string(block[0]) + "," +
                                    std::to_string(block[1]) + "," + std::to_string(block[2]) +
                                    ") is not 1..1024 threads (z <= 64)"};
  uint64_t blocks = (uint64_t)grid[0] * grid[1] * grid[2];
  if (blocks == 0 || grid[0] > 0x7fffffffu || grid[1] > 65535 || grid[2] > 65535)
    return {Code::device_error, "kernel " + k + ": grid (" + std::to_string(grid[0]) + "," +
                                    std::to_string(grid[1]) + "," + std::to_string(grid[2]) +
                                    ") is empty or beyond CUDA's limits"};
  if (dynamicSharedBytes > 227 * 1024)
    return {Code::device_error, "kernel " + k + ": " + std::to_string(dynamicSharedBytes) +
                                    " bytes of dynamic shared memory (at most 232448)"};
  if (!module.slot)
    return {Code::device_error, "kernel " + k + ": its library is not bound to the emulator"};

  std::atomic<uint64_t> next{0};
  std::atomic<bool> stop{false};
  std::mutex errMutex;
  std::string firstError;
  auto job = [&](unsigned) {
    Runner &r = tRunner;
    r.fn = fn;
    r.args = args;
    r.opt = &options;
    r.slot = module.slot(); // allocates this thread's TLS block of the .so
    r.tls = nullptr;
    r.tlsBytes = module.tlsBytes;
    if (module.tlsBytes && dlinfo(module.handle, RTLD_DI_TLS_DATA, &r.tls) != 0)
      r.tls = nullptr;
    r.setup(block, dynamicSharedBytes);
    r.fibers = r.resumes = r.blocks = 0;
    struct Flush { // counters, also on early return
      Runner &r;
      ~Flush() {
        gFibers += r.fibers;
        gResumes += r.resumes;
        gBlocks += r.blocks;
      }
    } flush{r};
    r.blk.gridDim = {grid[0], grid[1], grid[2]};
    try {
      for (;;) {
        if (stop.load(std::memory_order_relaxed))
          return;
        uint64_t b = next.fetch_add(1, std::memory_order_relaxed);
        if (b >= blocks)
          return;
        if (!r.runBlock(b, grid)) {
          std::lock_guard<std::mutex> l(errMutex);
          if (firstError.empty())
            firstError = r.error;
          stop = true;
          return;
        }
      }
    } catch (const std::exception &e) {
      std::lock_guard<std::mutex> l(errMutex);
      if (firstError.empty())
        firstError = "kernel " + k + ": " + e.what();
      stop = true;
    }
  };
  Pool &pool = Pool::get();
  unsigned want = (unsigned)std::min<uint64_t>(blocks, pool.workers());
  if (want <= 1)
    job(0);
  else
    pool.run(want, job);
  if (!firstError.empty())
    return {Code::device_error, firstError};
  return Status::ok();
}

} // namespace kiln::rt::host
