//===- kiln.cpp - The Kiln command-line tool ------------------------------===//
//
//   kiln check MODEL
//   kiln compile MODEL --emit=mlir [-o FILE]
//   kiln run MODEL --device reference [--input NAME=FILE.npy ...] [--seed N]
//            --output-dir DIR
//   kiln train MODEL --data DIR [--eval-data DIR] [--epochs N] [--steps N] ...
//   kiln gradcheck MODEL [--seed N] [--tolerance X]
//   kiln compile MODEL --emit=fused-mlir | --report FILE.json | --memory-plan-svg FILE.svg
//   kiln difftest MODEL [--seed N] [--precision f64|native] [--steps N] [--tolerance X]
//
// MODEL is a .kiln file (or, for compiler developers, a .mlir module with a
// func.func @forward). Every error says where and what, and exits non-zero.
//
//===----------------------------------------------------------------------===//
#include "ir/Dialect.h"
#include "ir/Reference.h"
#include "passes/Passes.h"
#include "tools/kiln/Commands.h"
#include "tools/kiln/ToolSupport.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/CheckedArithmetic.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"

#include <optional>

using namespace mlir;
using namespace kiln;
using namespace kiln::tool;

namespace {

constexpr const char *kUsage = R"(usage: kiln <command> [options]

commands:
  check MODEL                      parse and check a model; exit 0 if it is valid
  compile MODEL -o MODEL.kart      compile the training program into an artifact:
          [--arch sm_80,sm_90]       CUDA kernels (NVRTC cubins + PTX), steps,
                                     initial parameters (from --seed)
          [--report FILE.json]       kernels' registers/spills/shared memory,
                                     compile time per stage
  compile MODEL --emit=mlir        print the model's kiln IR
          [-o FILE]                  (to FILE instead of stdout)
  compile MODEL --emit=fused-mlir  print the fused, planned training step (the
                                     pipeline of train, then --kiln-fuse and
                                     --kiln-plan-memory)
          [--report FILE.json]       write kernels, library calls, bytes moved
                                     and arena sizes of every function against
                                     the unfused program (docs/fusion.md);
                                     with or without --emit
          [--memory-plan-svg FILE]   draw @train_step's arena over time
  run MODEL --output-dir DIR       run the forward pass and write every output
          [--device D]               as DIR/NAME.npy; D = reference (the f64
                                     interpreter, default), host (the CUDA
                                     kernels emulated on the CPU), cuda, auto
          [--input NAME=FILE.npy]    (repeatable; missing inputs are random)
          [--seed N]                 seed of random inputs and parameters (0)
          [--precision native|f64]   interpreter precision (native)
          [--gradients]              run the gradient step instead: write
                                     DIR/loss.npy, DIR/params/NAME.npy (the
                                     values used) and DIR/gradients/NAME.npy
                                     (f64 under --precision f64)
  train MODEL --data DIR           train on DIR/NAME.npy (one per input, first
          [--device reference]       axis = samples) with the model's optimizer
          [--eval-data DIR]          evaluate loss/accuracy after each epoch
          [--epochs N] [--steps N]   train until N epochs (1) or N steps are
                                     done (with both: whichever comes first)
          [--batch-size N]           batch size (the model's `batch`)
          [--seed N]                 parameters and shuffling (0)
          [--precision native|f64]   interpreter precision (native)
          [--checkpoint DIR]         write DIR/checkpoint.safetensors after
                                     every epoch and at the end
          [--resume]                 continue from DIR/checkpoint.safetensors
          [--metrics FILE.json]      write loss, accuracy, steps, throughput
  gradcheck MODEL                  compare every parameter gradient with
          [--seed N]                 central finite differences in f64; print
          [--tolerance X]            the worst relative error per parameter;
          [--max-elements N]         exit 1 above X (1e-6); N elements per
                                     parameter (16) plus random directions

  train MODEL.kart --data DIR      train from the artifact alone (its initial
          [--eval-data DIR]          parameters; --epochs/--steps/--seed as
          [--device auto|cuda|host]  above; no checkpoints)
  inspect MODEL.kart               print an artifact's tensors, steps, kernels
          [--dot]                    (with their sizes) and arena; --dot: the
                                     step graph in Graphviz form
  difftest MODEL                   run the gradient step and --steps full steps
          [--seed N]                 unfused (interpreter) and fused+planned (in
          [--precision f64|native]   its planned buffers, poisoned arena) on
          [--steps N]                random inputs/parameters from the seed;
          [--tolerance X]            print the worst relative error per
          [--perturb-plan]           quantity; exit 1 above X (f64: 1e-10;
                                     native: 1e-5, see docs/fusion.md).
                                     --perturb-plan moves one arena buffer onto
                                     a live one: the check must then fail
          [--device host|cuda|auto]  run the fused side as generated CUDA
                                     kernels on a device instead (tolerance
                                     5e-3, f32 kernels vs the interpreter)
          [--shuffle-threads]        host device: resume threads in a random
                                     order after each barrier

common options:
  --set NAME=INT     override a model argument, e.g. --set batch=4
  -h, --help         show this help
)";

bool parseInt(llvm::StringRef text, int64_t &value) {
  return !text.getAsInteger(10, value);
}

/// Parses argv; on error prints the message and returns false.
bool parseOptions(int argc, char **argv, Options &opts, int &exitCode) {
  exitCode = 1;
  if (argc < 2) {
    llvm::errs() << kUsage;
    return false;
  }
  llvm::StringRef cmd = argv[1];
  if (cmd == "-h" || cmd == "--help" || cmd == "help") {
    llvm::outs() << kUsage;
    exitCode = 0;
    return false;
  }
  if (cmd != "check" && cmd != "compile" && cmd != "run" && cmd != "train" &&
      cmd != "gradcheck" && cmd != "difftest" && cmd != "inspect") {
    fail("unknown command '" + cmd +
         "' (expected check, compile, run, train, gradcheck, difftest or inspect; see kiln --help)");
    return false;
  }
  opts.command = cmd.str();
  auto needValue = [&](int &i, llvm::StringRef flag, llvm::StringRef inlineValue,
                       std::string &out) {
    if (!inlineValue.empty()) {
      out = inlineValue.str();
      return true;
    }
    if (i + 1 >= argc) {
      fail("option '" + flag + "' expects a value");
      return false;
    }
    out = argv[++i];
    return true;
  };
  for (int i = 2; i < argc; ++i) {
    llvm::StringRef arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      llvm::outs() << kUsage;
      exitCode = 0;
      return false;
    }
    if (!arg.starts_with("-") || arg == "-") {
      if (!opts.model.empty()) {
        fail("unexpected argument '" + arg + "': the model is already '" +
             opts.model + "'");
        return false;
      }
      opts.model = arg.str();
      continue;
    }
    auto [flag, inlineValue] = arg.split('=');
    if (!arg.contains('='))
      inlineValue = "";
    std::string value;
    auto allowed = [&](std::initializer_list<llvm::StringRef> commands) {
      if (llvm::is_contained(commands, llvm::StringRef(opts.command)))
        return true;
      fail("option '" + flag + "' does not apply to 'kiln " + opts.command + "'");
      return false;
    };
    if (flag == "--emit") {
      if (!allowed({"compile"}) || !needValue(i, flag, inlineValue, opts.emit))
        return false;
    } else if (flag == "--report" || flag == "--memory-plan-svg") {
      if (!allowed({"compile"}) ||
          !needValue(i, flag, inlineValue, flag == "--report" ? opts.reportFile : opts.svgFile))
        return false;
    } else if (flag == "-o") {
      if (!allowed({"compile"}) || !needValue(i, flag, inlineValue, opts.outputFile))
        return false;
    } else if (flag == "--output-dir") {
      if (!allowed({"run"}) || !needValue(i, flag, inlineValue, opts.outputDir))
        return false;
    } else if (flag == "--device") {
      if (!allowed({"run", "train", "difftest"}) || !needValue(i, flag, inlineValue, opts.device))
        return false;
    } else if (flag == "--arch") {
      if (!allowed({"compile"}) || !needValue(i, flag, inlineValue, opts.archs))
        return false;
    } else if (flag == "--dot") {
      if (!allowed({"inspect"}))
        return false;
      opts.dot = true;
    } else if (flag == "--shuffle-threads") {
      if (!allowed({"difftest"}))
        return false;
      opts.shuffleThreads = true;
    } else if (flag == "--precision") {
      if (!allowed({"run", "train", "difftest"}) ||
          !needValue(i, flag, inlineValue, opts.precision))
        return false;
    } else if (flag == "--gradients" || flag == "--resume" || flag == "--perturb-plan") {
      if (!allowed({flag == "--gradients" ? "run" : flag == "--resume" ? "train" : "difftest"}))
        return false;
      if (!inlineValue.empty()) {
        fail("option '" + flag + "' takes no value");
        return false;
      }
      (flag == "--gradients" ? opts.gradients
       : flag == "--resume"  ? opts.resume
                             : opts.perturbPlan) = true;
    } else if (flag == "--data" || flag == "--eval-data" || flag == "--checkpoint" ||
               flag == "--metrics") {
      std::string &out = flag == "--data"         ? opts.dataDir
                         : flag == "--eval-data"  ? opts.evalDataDir
                         : flag == "--checkpoint" ? opts.checkpointDir
                                                  : opts.metricsFile;
      if (!allowed({"train"}) || !needValue(i, flag, inlineValue, out))
        return false;
    } else if (flag == "--epochs" || flag == "--steps" || flag == "--batch-size" ||
               flag == "--max-elements") {
      if (!(flag == "--max-elements" ? allowed({"gradcheck"})
            : flag == "--steps"      ? allowed({"train", "difftest"})
                                     : allowed({"train"})) ||
          !needValue(i, flag, inlineValue, value))
        return false;
      int64_t &out = flag == "--epochs"  ? opts.epochs
                     : flag == "--steps" ? opts.steps
                     : flag == "--batch-size" ? opts.batchSize
                                              : opts.maxElements;
      if (!parseInt(value, out) || out < 1) {
        fail(flag + " expects a positive integer, found '" + value + "'");
        return false;
      }
    } else if (flag == "--tolerance") {
      if (!allowed({"gradcheck", "difftest"}) || !needValue(i, flag, inlineValue, value))
        return false;
      opts.toleranceGiven = true;
      if (llvm::StringRef(value).getAsDouble(opts.tolerance) || !(opts.tolerance > 0)) {
        fail("--tolerance expects a positive number, found '" + value + "'");
        return false;
      }
    } else if (flag == "--seed") {
      if (!allowed({"run", "train", "gradcheck", "difftest"}) ||
          !needValue(i, flag, inlineValue, value))
        return false;
      if (!parseInt(value, opts.seed)) {
        fail("--seed expects an integer, found '" + value + "'");
        return false;
      }
    } else if (flag == "--input" || flag == "--set") {
      if (flag == "--input" && !allowed({"run"}))
        return false;
      // --input NAME=FILE: the value itself contains '='.
      if (!inlineValue.empty())
        value = arg.drop_front(flag.size() + 1).str();
      else if (!needValue(i, flag, "", value))
        return false;
      auto [name, rhs] = llvm::StringRef(value).split('=');
      if (name.empty() || rhs.empty() || !llvm::StringRef(value).contains('=')) {
        fail(flag + " expects NAME=" + (flag == "--input" ? "FILE.npy" : "INT") +
             ", found '" + value + "'");
        return false;
      }
      if (flag == "--input") {
        opts.inputs.emplace_back(name.str(), rhs.str());
      } else {
        int64_t v;
        if (!parseInt(rhs, v)) {
          fail("--set " + name + " expects an integer, found '" + rhs + "'");
          return false;
        }
        opts.overrides.emplace_back(name.str(), v);
      }
    } else {
      fail("unknown option '" + arg + "' for 'kiln " + opts.command + "' (see kiln --help)");
      return false;
    }
  }
  if (opts.model.empty()) {
    fail("'kiln " + opts.command + "' expects a model file");
    return false;
  }
  if (opts.command == "compile") {
    bool fusedOutputs = !opts.reportFile.empty() || !opts.svgFile.empty();
    const bool artifact = llvm::StringRef(opts.outputFile).ends_with(".kart");
    if (artifact && !opts.emit.empty()) {
      fail("-o " + opts.outputFile + " writes the artifact: it takes no --emit");
      return false;
    }
    if (artifact && !opts.svgFile.empty()) {
      fail("--memory-plan-svg goes with --emit=fused-mlir or alone, not with -o X.kart");
      return false;
    }
    if (artifact)
      fusedOutputs = false;
    else if (opts.emit.empty() && !fusedOutputs) {
      fail("'kiln compile' expects --emit=mlir, --emit=fused-mlir, --report or "
           "--memory-plan-svg");
      return false;
    }
    if (!opts.emit.empty() && opts.emit != "mlir" && opts.emit != "fused-mlir") {
      fail("unknown --emit kind '" + opts.emit + "' (expected mlir or fused-mlir)");
      return false;
    }
    if (opts.emit == "mlir" && fusedOutputs) {
      fail("--report and --memory-plan-svg describe the fused step: use them with "
           "--emit=fused-mlir or alone, not with --emit=mlir");
      return false;
    }
  }
  if (opts.command == "run" && opts.outputDir.empty()) {
    fail("'kiln run' expects --output-dir DIR");
    return false;
  }
  if (opts.command == "train" && opts.dataDir.empty()) {
    fail("'kiln train' expects --data DIR");
    return false;
  }
  if (opts.command == "train" && opts.resume && opts.checkpointDir.empty()) {
    fail("--resume needs --checkpoint DIR (the checkpoint to continue from)");
    return false;
  }
  // A .kiln model is compiled with the batch size (its argument `batch`); a
  // .mlir model's is fixed, and runTrain checks that they agree.
  if (opts.command == "train" && opts.batchSize &&
      !llvm::StringRef(opts.model).ends_with(".mlir")) {
    for (auto &[name, value] : opts.overrides)
      if (name == "batch" && value != opts.batchSize) {
        fail("--batch-size " + llvm::Twine(opts.batchSize) + " and --set batch=" +
             llvm::Twine(value) + " disagree");
        return false;
      }
    opts.overrides.emplace_back("batch", opts.batchSize);
  }
  if (opts.command == "run" || opts.command == "train" || opts.command == "difftest") {
    if (opts.device != "reference" && opts.device != "host" && opts.device != "cuda" &&
        opts.device != "auto") {
      fail("unknown device '" + opts.device + "' (expected auto, cuda, host or reference)");
      return false;
    }
    if (opts.precision != "native" && opts.precision != "f64") {
      fail("unknown precision '" + opts.precision + "' (expected native or f64)");
      return false;
    }
  }
  return true;
}

int runCheck(const Options &opts, ModuleOp module) {
  func::FuncOp fn = module.lookupSymbol<func::FuncOp>("forward");
  if (!fn)
    return fail("'" + opts.model + "' has no func.func @forward");
  if (llvm::Error err = checkSignature(fn))
    return fail(opts.model + ": " + llvm::toString(std::move(err)));
  // A .kiln model was checked against the contract while loading; a .mlir
  // module is a valid model only if it meets it too.
  if (llvm::StringRef(opts.model).ends_with(".mlir")) {
    PassManager pm(module.getContext());
    pm.addPass(createKilnVerifyModel());
    if (failed(pm.run(module)))
      return 1;
  }
  unsigned inputs = 0, params = 0, buffers = 0;
  std::optional<int64_t> paramValues = 0;
  for (unsigned i = 0; i < fn.getNumArguments(); ++i) {
    switch (roleOf(fn, i)) {
    case ArgRole::param:
      ++params;
      if (paramValues) {
        std::optional<int64_t> n = checkedNumElements(
            cast<RankedTensorType>(fn.getArgumentTypes()[i]).getShape());
        paramValues = n ? llvm::checkedAdd(*paramValues, *n) : std::nullopt;
      }
      break;
    case ArgRole::buffer:
      ++buffers;
      break;
    case ArgRole::input:
      ++inputs;
      break;
    case ArgRole::opt_state: // Only @train_step has these.
    case ArgRole::step:
      break;
    }
  }
  unsigned ops = 0;
  fn.walk([&](Operation *op) { ops += isa<KilnDialect>(op->getDialect()); });
  llvm::outs() << opts.model << ": ok: " << inputs << " inputs, " << params
               << " parameters (";
  if (paramValues)
    llvm::outs() << *paramValues;
  else
    llvm::outs() << "more than 2^63";
  llvm::outs() << " values), ";
  if (buffers)
    llvm::outs() << buffers << " buffers, ";
  llvm::outs() << ops << " ops, " << fn.getNumResults() << " results\n";
  return 0;
}

int runCompile(const Options &opts, ModuleOp module) {
  std::string error;
  auto output = openOutputFile(opts.outputFile, &error);
  if (!output)
    return fail(error);
  module.print(output->os());
  output->keep();
  return 0;
}

int runForward(const Options &opts, ModuleOp module) {
  func::FuncOp fn = entryFunction(module);
  if (!fn)
    return fail("'" + opts.model +
                "' has no func.func @forward (nor exactly one function)");
  if (llvm::Error err = checkSignature(fn))
    return fail(opts.model + ": " + llvm::toString(std::move(err)));
  std::vector<ref::Tensor> args;
  auto results = runOnce(fn, opts, precisionOf(opts), args);
  if (!results)
    return 1;

  if (std::error_code ec = llvm::sys::fs::create_directories(opts.outputDir))
    return fail("cannot create output directory '" + opts.outputDir + "': " + ec.message());
  for (unsigned i = 0; i < results->size(); ++i) {
    std::string name = resultName(fn, i);
    llvm::SmallString<256> path(opts.outputDir);
    llvm::sys::path::append(path, name + ".npy");
    std::string error;
    if (!writeOutput(path.str().str(), (*results)[i], error))
      return fail(error);
    llvm::outs() << "wrote " << path << " (" << describe((*results)[i].type(), (*results)[i].shape())
                 << ")\n";
  }
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  Options opts;
  int exitCode;
  if (!parseOptions(argc, argv, opts, exitCode))
    return exitCode;

  // What needs only an artifact runs without MLIR.
  const bool kart = llvm::StringRef(opts.model).ends_with(".kart");
  if (opts.command == "inspect") {
    if (!kart)
      return fail("'kiln inspect' reads a .kart artifact (kiln compile MODEL -o MODEL.kart)");
    return runInspect(opts);
  }
  if (kart && opts.command == "run" && !opts.gradients)
    return runArtifactForward(opts);
  if (kart && opts.command == "train")
    return runTrainArtifact(opts);
  if (kart)
    return fail("'kiln " + opts.command + "' needs the model file, not a .kart artifact");

  MLIRContext ctx;
  ctx.loadDialect<KilnDialect, func::FuncDialect>();
  // Users read messages, not generic-form op dumps.
  ctx.printOpOnDiagnostic(false);
  llvm::SourceMgr sourceMgr;
  SourceMgrDiagnosticHandler handler(sourceMgr, &ctx);
  OwningOpRef<ModuleOp> module = loadModel(opts, ctx, sourceMgr);
  if (!module)
    return 1;
  if (opts.command == "check")
    return runCheck(opts, *module);
  if (opts.command == "compile")
    return llvm::StringRef(opts.outputFile).ends_with(".kart") ? runCompileArtifact(opts, *module)
           : opts.emit == "mlir"                                 ? runCompile(opts, *module)
                                                                 : runCompileFused(opts, *module);
  if (opts.command == "difftest")
    return runDifftest(opts, *module);
  if (opts.command == "train")
    return runTrain(opts, *module);
  if (opts.command == "gradcheck")
    return runGradcheck(opts, *module);
  if (opts.gradients)
    return runGradients(opts, *module);
  return runForward(opts, *module);
}
