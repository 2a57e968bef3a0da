//===- kiln.cpp - The Kiln command-line tool ------------------------------===//
//
//   kiln check MODEL
//   kiln compile MODEL --emit=mlir [-o FILE]
//   kiln run MODEL --device reference [--input NAME=FILE.npy ...] [--seed N]
//            --output-dir DIR
//
// MODEL is a .kiln file (or, for compiler developers, a .mlir module with a
// func.func @forward). Every error says where and what, and exits non-zero.
//
//===----------------------------------------------------------------------===//
#include "frontend/Frontend.h"
#include "ir/Dialect.h"
#include "ir/Philox.h"
#include "ir/Reference.h"
#include "kiln/Npy.h"
#include "passes/Passes.h"
#include "tools/kiln/Initializers.h"

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

namespace {

constexpr const char *kUsage = R"(usage: kiln <command> [options]

commands:
  check MODEL                      parse and check a model; exit 0 if it is valid
  compile MODEL --emit=mlir        print the model's kiln IR
          [-o FILE]                  (to FILE instead of stdout)
  run MODEL --output-dir DIR       run the forward pass and write every output
          [--device reference]       as DIR/NAME.npy
          [--input NAME=FILE.npy]    (repeatable; missing inputs are random)
          [--seed N]                 seed of random inputs and parameters (0)
          [--precision native|f64]   interpreter precision (native)

common options:
  --set NAME=INT     override a model argument, e.g. --set batch=4
  -h, --help         show this help
)";

/// Prints `kiln: error: ...` and returns the exit code 1.
int fail(const llvm::Twine &message) {
  llvm::errs() << "kiln: error: " << message << "\n";
  return 1;
}

struct Options {
  std::string command;
  std::string model;
  std::string emit;
  std::string outputFile = "-";
  std::string outputDir;
  std::string device = "reference";
  std::string precision = "native";
  int64_t seed = 0;
  std::vector<std::pair<std::string, std::string>> inputs;
  std::vector<std::pair<std::string, int64_t>> overrides;
};

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
  if (cmd != "check" && cmd != "compile" && cmd != "run") {
    fail("unknown command '" + cmd + "' (expected check, compile or run; see kiln --help)");
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
    } else if (flag == "-o") {
      if (!allowed({"compile"}) || !needValue(i, flag, inlineValue, opts.outputFile))
        return false;
    } else if (flag == "--output-dir") {
      if (!allowed({"run"}) || !needValue(i, flag, inlineValue, opts.outputDir))
        return false;
    } else if (flag == "--device") {
      if (!allowed({"run"}) || !needValue(i, flag, inlineValue, opts.device))
        return false;
    } else if (flag == "--precision") {
      if (!allowed({"run"}) || !needValue(i, flag, inlineValue, opts.precision))
        return false;
    } else if (flag == "--seed") {
      if (!allowed({"run"}) || !needValue(i, flag, inlineValue, value))
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
  if (opts.command == "compile" && opts.emit != "mlir") {
    fail(opts.emit.empty() ? llvm::Twine("'kiln compile' expects --emit=mlir")
                           : "unknown --emit kind '" + opts.emit + "' (expected mlir)");
    return false;
  }
  if (opts.command == "run") {
    if (opts.outputDir.empty()) {
      fail("'kiln run' expects --output-dir DIR");
      return false;
    }
    if (opts.device != "reference") {
      fail("unknown device '" + opts.device +
           "': this build runs models on the reference interpreter "
           "(--device reference)");
      return false;
    }
    if (opts.precision != "native" && opts.precision != "f64") {
      fail("unknown precision '" + opts.precision + "' (expected native or f64)");
      return false;
    }
  }
  return true;
}

/// Loads a .kiln model (frontend) or a .mlir module; null after printing errors.
/// `sourceMgr` receives a .mlir model's buffer; it outlives the module so
/// that later diagnostics (verify-model in `check`) print file:line:col.
OwningOpRef<ModuleOp> loadModel(const Options &opts, MLIRContext &ctx,
                                llvm::SourceMgr &sourceMgr) {
  std::string error;
  std::unique_ptr<llvm::MemoryBuffer> buffer = openInputFile(opts.model, &error);
  if (!buffer) {
    fail(error);
    return nullptr;
  }
  OwningOpRef<ModuleOp> module;
  if (llvm::StringRef(opts.model).ends_with(".mlir")) {
    if (!opts.overrides.empty()) {
      fail("--set applies to .kiln models, not to '" + opts.model + "'");
      return nullptr;
    }
    sourceMgr.AddNewSourceBuffer(std::move(buffer), llvm::SMLoc());
    module = parseSourceFile<ModuleOp>(sourceMgr, &ctx);
    return module;
  }
  module = frontend::importModel(buffer->getBuffer(), opts.model, ctx,
                                 llvm::errs(), opts.overrides);
  if (!module)
    return nullptr;
  // The frontend's output must satisfy the dialect and the model contract;
  // a failure here is a compiler bug, reported as such.
  if (failed(verify(*module))) {
    fail("internal error: the frontend produced invalid IR for '" + opts.model + "'");
    return nullptr;
  }
  PassManager pm(&ctx);
  pm.addPass(createKilnVerifyModel());
  if (failed(pm.run(*module))) {
    fail("internal error: the frontend broke the model contract for '" + opts.model + "'");
    return nullptr;
  }
  return module;
}

/// The function `run` executes: @forward, or the only function of a module.
func::FuncOp entryFunction(ModuleOp module) {
  if (auto fn = module.lookupSymbol<func::FuncOp>("forward"))
    return fn;
  auto fns = llvm::to_vector(module.getOps<func::FuncOp>());
  return fns.size() == 1 ? fns.front() : func::FuncOp();
}

std::string mlirString(Type type) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << type;
  return s;
}

std::string argName(func::FuncOp fn, unsigned i) {
  if (auto name = fn.getArgAttrOfType<StringAttr>(i, "kiln.name"))
    return name.str();
  return "arg" + std::to_string(i);
}

std::string resultName(func::FuncOp fn, unsigned i) {
  if (auto name = fn.getResultAttrOfType<StringAttr>(i, "kiln.name"))
    return name.str();
  return "result" + std::to_string(i);
}

ArgRole roleOf(func::FuncOp fn, unsigned i) {
  auto role = fn.getArgAttrOfType<ArgRoleAttr>(i, "kiln.role");
  return role ? role.getValue() : ArgRole::input;
}

/// The entry function's signature must be what the CLI can bind and write:
/// statically shaped tensors of Kiln's element types, unique names, and
/// result names that are plain file names (no directories, no "..").
llvm::Error checkSignature(func::FuncOp fn) {
  auto typeError = [&](const std::string &what, Type type) {
    return llvm::createStringError(
        "%s of @%s has type %s: expected a statically shaped tensor of f16, "
        "bf16, f32, f64, i1, i32 or i64",
        what.c_str(), fn.getSymName().str().c_str(), mlirString(type).c_str());
  };
  auto valid = [](Type type) {
    auto t = dyn_cast<RankedTensorType>(type);
    return t && t.hasStaticShape() && succeeded(ref::elemTypeOf(t.getElementType()));
  };
  llvm::StringSet<> argNames, resultNames;
  for (unsigned i = 0; i < fn.getNumArguments(); ++i) {
    std::string name = argName(fn, i);
    if (!valid(fn.getArgumentTypes()[i]))
      return typeError("argument '" + name + "'", fn.getArgumentTypes()[i]);
    if (!argNames.insert(name).second)
      return llvm::createStringError("two arguments of @%s are named '%s'",
                                     fn.getSymName().str().c_str(), name.c_str());
  }
  for (unsigned i = 0; i < fn.getNumResults(); ++i) {
    std::string name = resultName(fn, i);
    if (!valid(fn.getResultTypes()[i]))
      return typeError("result '" + name + "'", fn.getResultTypes()[i]);
    if (name.empty() || name == "." || name == ".." ||
        name.find_first_of(std::string("/\0", 2)) != std::string::npos)
      return llvm::createStringError(
          "result '%s' of @%s cannot name an output file: expected a name "
          "without '/' that is not '.' or '..'",
          name.c_str(), fn.getSymName().str().c_str());
    if (!resultNames.insert(name).second)
      return llvm::createStringError("two results of @%s are named '%s'",
                                     fn.getSymName().str().c_str(), name.c_str());
  }
  return llvm::Error::success();
}

/// "f32[2, 3]", as npy::Array::describe prints a file's contents.
std::string describe(ref::ElemType t, const std::vector<int64_t> &shape) {
  return ref::typeName(t) + ref::shapeToString(shape);
}

/// The exclusive upper bound of valid values of an integer input, from the
/// ops that use it as an index or label (IndexOperandOpInterface), following
/// ops that only move or replicate values (injective and broadcast fusion
/// classes). 2 when nothing bounds it.
int64_t integerInputBound(Value v) {
  int64_t bound = INT64_MAX;
  llvm::SmallVector<Value> work = {v};
  llvm::SmallPtrSet<Operation *, 16> seen;
  while (!work.empty()) {
    Value cur = work.pop_back_val();
    for (OpOperand &use : cur.getUses()) {
      Operation *user = use.getOwner();
      if (auto indexed = dyn_cast<IndexOperandOpInterface>(user))
        if (std::optional<int64_t> b = indexed.getIndexBound(use.getOperandNumber()))
          bound = std::min(bound, *b);
      auto fusion = dyn_cast<FusionOpInterface>(user);
      if (fusion && seen.insert(user).second &&
          (fusion.getFusionClass() == FusionClass::injective ||
           fusion.getFusionClass() == FusionClass::broadcast))
        llvm::append_range(work, user->getResults());
    }
  }
  return bound == INT64_MAX || bound < 1 ? 2 : bound;
}

/// Random input values: floats ~ N(0, 1), integers uniform in [0, bound).
ref::Tensor randomInput(ref::ElemType type, const std::vector<int64_t> &shape,
                        int64_t seed, llvm::StringRef name, int64_t bound) {
  int64_t n = ref::numElementsOf(shape);
  int64_t offset = tool::streamOffsetForName(("input:" + name).str());
  if (ref::isFloatType(type)) {
    std::vector<double> values(n);
    for (int64_t i = 0; i < n; ++i)
      values[i] = philox::standardNormal(seed, offset, i);
    ref::Tensor t = ref::Tensor::fromDoubles(type, shape, std::move(values));
    t.roundToDeclaredType();
    return t;
  }
  std::vector<int64_t> values(n);
  for (int64_t i = 0; i < n; ++i)
    values[i] = std::min<int64_t>(
        bound - 1, static_cast<int64_t>(philox::uniform01(seed, offset, i) * bound));
  return ref::Tensor::fromInts(type, shape, std::move(values));
}

/// Reads an input .npy and checks it against the argument's type.
llvm::Expected<ref::Tensor> readInput(const std::string &name, const std::string &path,
                                      ref::ElemType type,
                                      const std::vector<int64_t> &shape) {
  npy::Array array;
  std::string error;
  if (!npy::readFile(path, array, error))
    return llvm::createStringError("input '%s': %s", name.c_str(), error.c_str());
  static const std::pair<npy::DType, ref::ElemType> map[] = {
      {npy::DType::F16, ref::ElemType::F16}, {npy::DType::F32, ref::ElemType::F32},
      {npy::DType::F64, ref::ElemType::F64}, {npy::DType::Bool, ref::ElemType::I1},
      {npy::DType::I32, ref::ElemType::I32}, {npy::DType::I64, ref::ElemType::I64}};
  ref::ElemType fileType = ref::ElemType::F32;
  for (auto [d, e] : map)
    if (d == array.dtype)
      fileType = e;
  // NumPy has no bfloat16: a bf16 input is read from float32 and rounded.
  bool ok = fileType == type || (type == ref::ElemType::BF16 && fileType == ref::ElemType::F32);
  if (!ok || array.shape != shape)
    return llvm::createStringError("input '%s' expects %s, but %s holds %s", name.c_str(),
                                   describe(type, shape).c_str(), path.c_str(),
                                   array.describe().c_str());
  ref::Tensor t = ref::Tensor::fromRaw(fileType, shape, array.data.data());
  if (fileType != type) {
    ref::Tensor converted(type, shape);
    converted.floats() = t.floats();
    converted.roundToDeclaredType();
    return converted;
  }
  return t;
}

bool writeOutput(const std::string &path, const ref::Tensor &t, std::string &error) {
  npy::Array array;
  array.shape = t.shape();
  ref::Tensor out = t;
  switch (t.type()) {
  case ref::ElemType::F16: array.dtype = npy::DType::F16; break;
  case ref::ElemType::BF16: // NumPy has no bfloat16: widen exactly to f32.
    out.roundToDeclaredType();
    out = [&] {
      ref::Tensor f(ref::ElemType::F32, t.shape());
      f.floats() = out.floats();
      return f;
    }();
    array.dtype = npy::DType::F32;
    break;
  case ref::ElemType::F32: array.dtype = npy::DType::F32; break;
  case ref::ElemType::F64: array.dtype = npy::DType::F64; break;
  case ref::ElemType::I1: array.dtype = npy::DType::Bool; break;
  case ref::ElemType::I32: array.dtype = npy::DType::I32; break;
  case ref::ElemType::I64: array.dtype = npy::DType::I64; break;
  }
  array.data.resize(out.numElements() * ref::byteWidth(out.type()));
  out.toRaw(array.data.data());
  return npy::writeFile(path, array, error);
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
  ref::RunOptions runOptions;
  runOptions.precision =
      opts.precision == "f64" ? ref::Precision::F64 : ref::Precision::Native;
  // Before any allocation: inputs and parameters are built from the types.
  // Interpreter errors already read `file:line:col: error: ...`.
  auto report = [](llvm::Error err) {
    llvm::errs() << llvm::toString(std::move(err)) << "\n";
    return 1;
  };
  if (llvm::Error err = ref::checkSizes(fn, runOptions))
    return report(std::move(err));
  llvm::StringMap<std::string> given;
  for (auto &[name, path] : opts.inputs) {
    if (!given.try_emplace(name, path).second)
      return fail("input '" + name + "' is given twice");
  }
  std::vector<ref::Tensor> args;
  llvm::StringMap<bool> known;
  for (unsigned i = 0; i < fn.getNumArguments(); ++i) {
    std::string name = argName(fn, i);
    known[name] = true;
    auto type = cast<RankedTensorType>(fn.getArgumentTypes()[i]);
    // checkSignature made sure of the element type.
    FailureOr<ref::ElemType> elem = ref::elemTypeOf(type.getElementType());
    std::vector<int64_t> shape(type.getShape().begin(), type.getShape().end());
    if (auto it = given.find(name); it != given.end()) {
      auto t = readInput(name, it->second, *elem, shape);
      if (!t)
        return fail(llvm::toString(t.takeError()));
      args.push_back(std::move(*t));
      continue;
    }
    if (roleOf(fn, i) != ArgRole::input) {
      auto init = fn.getArgAttrOfType<InitKindAttr>(i, "kiln.init");
      llvm::SmallVector<double> initArgs;
      if (auto a = fn.getArgAttrOfType<DenseF64ArrayAttr>(i, "kiln.init_args"))
        initArgs.assign(a.asArrayRef().begin(), a.asArrayRef().end());
      auto t = tool::initializeParameter(init ? init.getValue() : InitKind::zeros,
                                         initArgs, *elem, shape, opts.seed, name);
      if (!t)
        return fail(llvm::toString(t.takeError()));
      t->roundToDeclaredType();
      args.push_back(std::move(*t));
      continue;
    }
    int64_t bound = ref::isFloatType(*elem) ? 0 : integerInputBound(fn.getArgument(i));
    args.push_back(randomInput(*elem, shape, opts.seed, name, bound));
  }
  for (auto &[name, path] : opts.inputs)
    if (!known.count(name))
      return fail("--input names '" + name + "', which is not an input of '" +
                  opts.model + "'");

  auto results = ref::runFunction(fn, args, runOptions);
  if (!results)
    return report(results.takeError());

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
    return runCompile(opts, *module);
  return runForward(opts, *module);
}
