//===- CompileArtifact.cpp - kiln compile MODEL -o MODEL.kart -------------===//
//
// The whole compiler: the pipeline of `kiln train` (verify-model, autodiff,
// optimizer, eval-function), --kiln-fuse and --kiln-plan-memory, CUDA
// codegen (codegen/ArtifactBuilder.h), NVRTC for every requested
// architecture (codegen/Nvrtc.h, cached), the initial persistent bytes
// (parameters from their initializers with --seed, optimizer state and the
// step counter zero), then the .kart file, written atomically.
// --report FILE.json adds every kernel's registers, spills and shared
// memory and the compile time of each stage.
//
//===----------------------------------------------------------------------===//
#include "tools/kiln/Commands.h"

#include "codegen/ArtifactBuilder.h"
#include "codegen/Nvrtc.h"
#include "kiln/Artifact.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <cstring>

using namespace mlir;

namespace kiln::tool {
namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

/// Fills program.initialPersistent from @train_step's (else the first
/// function's) initial arguments.
bool fillInitialState(ModuleOp module, rt::Program &program, const Options &opts) {
  func::FuncOp fn = module.lookupSymbol<func::FuncOp>("train_step");
  if (!fn)
    fn = entryFunction(module);
  if (!fn)
    return fail("'" + opts.model + "' has no function to take the initial state from"), false;
  auto args = buildArguments(fn, {}, opts.seed, opts.model);
  if (!args)
    return fail(llvm::toString(args.takeError())), false;
  for (rt::StateDesc &s : program.state) {
    bool found = false;
    for (unsigned i = 0; i < fn.getNumArguments() && !found; ++i) {
      if (argName(fn, i) != s.tensor.name)
        continue;
      found = true;
      std::vector<uint8_t> bytes(static_cast<size_t>(s.tensor.numElements()) * rt::dtypeBytes(s.tensor.dtype));
      (*args)[i].toRaw(bytes.data());
      if (s.tensor.offset + bytes.size() > program.initialPersistent.size())
        return fail("internal error: persistent tensor '" + s.tensor.name + "' leaves the region"), false;
      std::memcpy(program.initialPersistent.data() + s.tensor.offset, bytes.data(), bytes.size());
    }
    if (!found)
      return fail("internal error: persistent tensor '" + s.tensor.name + "' is no argument of @" +
                  fn.getSymName()),
             false;
  }
  return true;
}

} // namespace

int runCompileArtifact(const Options &opts, ModuleOp module) {
  llvm::json::Object stages;
  auto t0 = Clock::now();
  if (opts.outputFile == "-")
    return fail("'kiln compile -o' needs a file name for the artifact");
  if (!runTrainingPipeline(module, /*withOptimizer=*/true))
    return 1;
  stages["pipeline"] = since(t0);
  auto t1 = Clock::now();
  if (!runFuseAndPlan(module))
    return 1;
  stages["fuse_and_plan"] = since(t1);
  auto t2 = Clock::now();
  FailureOr<rt::Program> program = codegen::buildProgram(module);
  if (failed(program))
    return 1;
  stages["codegen"] = since(t2);
  auto t3 = Clock::now();
  if (!fillInitialState(module, *program, opts))
    return 1;
  stages["initial_state"] = since(t3);

  codegen::NvrtcOptions nvrtc;
  nvrtc.archs.clear();
  for (llvm::StringRef a : llvm::split(opts.archs, ',')) {
    a = a.trim();
    if (a.empty())
      continue;
    unsigned version;
    llvm::StringRef digits = a;
    if (!digits.consume_front("sm_") || digits.getAsInteger(10, version) || version < 50)
      return fail("--arch: '" + a + "' is not a CUDA architecture such as sm_80 or sm_90");
    nvrtc.archs.push_back(a.str());
  }
  if (nvrtc.archs.empty())
    return fail("--arch needs at least one architecture, e.g. --arch sm_90");
  codegen::NvrtcStats stats;
  rt::Status s = codegen::compileKernels(program->kernels, nvrtc, &stats);
  if (!s.isOk()) {
    // Name the fusion(s) behind each failing kernel.
    std::string where;
    for (size_t k = 0; k < program->kernels.size(); ++k) {
      if (s.message().find(program->kernels[k].name) == std::string::npos)
        continue;
      for (const rt::FunctionDesc &f : program->functions)
        for (const rt::Step &st : f.steps)
          if (st.kind == rt::StepKind::launch && st.launch.kernel == k) {
            where += "\n  " + program->kernels[k].name + " is " + st.label.substr(0, st.label.find(' ')) +
                     " of @" + f.name;
            break;
          }
    }
    return fail("NVRTC: " + s.message() + where);
  }
  stages["nvrtc"] = stats.seconds;
  program->archs = nvrtc.archs;
  program->compilerVersion = "kiln 0.5 (NVRTC " + codegen::nvrtcVersionString() + ")";

  auto t4 = Clock::now();
  if (rt::Status v = rt::verifyProgram(*program); !v.isOk())
    return fail("internal error: the artifact does not verify: " + v.message());
  if (opts.outputFile == "-")
    return fail("'kiln compile -o' needs a file name for the artifact");
  if (rt::Status w = rt::writeArtifactFile(*program, opts.outputFile); !w.isOk())
    return fail(w.message());
  stages["write"] = since(t4);
  stages["total"] = since(t0);

  size_t steps = 0;
  for (const rt::FunctionDesc &f : program->functions)
    steps += f.steps.size();
  llvm::outs() << "wrote " << opts.outputFile << ": " << program->kernels.size() << " kernels ("
               << llvm::join(nvrtc.archs, ", ") << " + PTX; " << stats.compiled << " NVRTC compiles, "
               << stats.cached << " cached, " << llvm::formatv("{0:f2}", stats.seconds) << " s), "
               << program->functions.size() << " functions, " << steps << " steps\n";

  if (!opts.reportFile.empty()) {
    llvm::json::Array kernels;
    for (const rt::KernelDesc &k : program->kernels) {
      size_t cubinBytes = 0;
      for (const auto &b : k.cubins)
        cubinBytes += b.cubin.size();
      kernels.push_back(llvm::json::Object{{"name", k.name},
                                           {"registers", k.registers},
                                           {"spill_bytes", k.spillBytes},
                                           {"shared_bytes", k.sharedBytes},
                                           {"source_bytes", static_cast<int64_t>(k.source.size())},
                                           {"cubin_bytes", static_cast<int64_t>(cubinBytes)},
                                           {"ptx_bytes", static_cast<int64_t>(k.ptx.size())}});
    }
    llvm::json::Object functions;
    for (const rt::FunctionDesc &f : program->functions) {
      int64_t launches = 0, library = 0, copies = 0;
      for (const rt::Step &st : f.steps)
        (st.kind == rt::StepKind::launch ? launches : st.kind == rt::StepKind::library ? library : copies)++;
      functions[f.name] = llvm::json::Object{{"steps", static_cast<int64_t>(f.steps.size())},
                                             {"launches", launches},
                                             {"library_calls", library},
                                             {"copies", copies},
                                             {"arena_bytes", static_cast<int64_t>(f.arenaBytes)},
                                             {"input_bytes", static_cast<int64_t>(f.inputBytes)}};
    }
    llvm::json::Object top{{"model", opts.model},
                           {"artifact", opts.outputFile},
                           {"archs", llvm::json::Array(nvrtc.archs)},
                           {"persistent_bytes", static_cast<int64_t>(program->persistentBytes)},
                           {"compile_seconds", std::move(stages)},
                           {"nvrtc", llvm::json::Object{{"compiled", static_cast<int64_t>(stats.compiled)},
                                                        {"cached", static_cast<int64_t>(stats.cached)},
                                                        {"threads", static_cast<int64_t>(stats.threads)},
                                                        {"version", codegen::nvrtcVersionString()}}},
                           {"functions", std::move(functions)},
                           {"kernels", std::move(kernels)}};
    if (!writeFile(opts.reportFile, [&](llvm::raw_ostream &os) {
          os << llvm::formatv("{0:2}", llvm::json::Value(std::move(top))) << "\n";
        }))
      return 1;
  }
  return 0;
}

} // namespace kiln::tool
