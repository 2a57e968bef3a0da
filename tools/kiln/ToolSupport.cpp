//===- ToolSupport.cpp - Shared pieces of the kiln subcommands ------------===//
#include "tools/kiln/ToolSupport.h"
#include "tools/kiln/DeviceRun.h"

#include "frontend/Frontend.h"
#include "ir/Philox.h"
#include "ir/Reference.h"
#include "kiln/Npy.h"
#include "passes/Passes.h"
#include "tools/kiln/Initializers.h"

#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;

namespace kiln::tool {

/// Prints `kiln: error: ...` and returns the exit code 1.
int fail(const llvm::Twine &message) {
  llvm::errs() << "kiln: error: " << message << "\n";
  return 1;
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
    if (!isPlainFileName(name))
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

bool isPlainFileName(llvm::StringRef name) {
  return !name.empty() && name != "." && name != ".." &&
         name.find_first_of(llvm::StringRef("/\0", 2)) == llvm::StringRef::npos;
}

/// "f32[2, 3]", as npy::Array::describe prints a file's contents.
std::string describe(ref::ElemType t, const std::vector<int64_t> &shape) {
  return ref::typeName(t) + ref::shapeToString(shape);
}

/// The exclusive upper bound of valid values of an integer input, from the
/// ops that use it as an index or label (IndexOperandOpInterface), following
/// ops that only move or replicate values (injective and broadcast fusion
/// classes) and into and out of kiln.fusion bodies. nullopt when nothing
/// bounds it.
std::optional<int64_t> integerIndexBound(Value v) {
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
      // Into a fused kernel's body, and out of it through kiln.yield.
      if (auto fused = dyn_cast<FusionOp>(user)) {
        work.push_back(fused.getBody().getArgument(use.getOperandNumber()));
        continue;
      }
      if (isa<YieldOp>(user)) {
        work.push_back(user->getParentOp()->getResult(use.getOperandNumber()));
        continue;
      }
      auto fusion = dyn_cast<FusionOpInterface>(user);
      if (fusion && seen.insert(user).second &&
          (fusion.getFusionClass() == FusionClass::injective ||
           fusion.getFusionClass() == FusionClass::broadcast))
        llvm::append_range(work, user->getResults());
    }
  }
  if (bound == INT64_MAX)
    return std::nullopt;
  return bound;
}

int64_t integerInputBound(Value v) {
  std::optional<int64_t> bound = integerIndexBound(v);
  return !bound || *bound < 1 ? 2 : *bound;
}

/// Random input values: floats ~ N(0, 1), integers uniform in [0, bound).
ref::Tensor randomInput(ref::ElemType type, const std::vector<int64_t> &shape,
                        int64_t seed, llvm::StringRef name, int64_t bound) {
  int64_t n = ref::numElementsOf(shape);
  int64_t offset = streamOffsetForName(("input:" + name).str());
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


ref::ElemType elemTypeOfArg(Type type) {
  return *ref::elemTypeOf(cast<RankedTensorType>(type).getElementType());
}

std::vector<int64_t> shapeOfArg(Type type) {
  auto shape = cast<RankedTensorType>(type).getShape();
  return std::vector<int64_t>(shape.begin(), shape.end());
}

llvm::Expected<std::vector<ref::Tensor>>
buildArguments(func::FuncOp fn, const llvm::StringMap<std::string> &given,
               int64_t seed, llvm::StringRef modelName) {
  std::vector<ref::Tensor> args;
  llvm::StringSet<> known;
  for (unsigned i = 0; i < fn.getNumArguments(); ++i) {
    std::string name = argName(fn, i);
    known.insert(name);
    // checkSignature made sure of the element type.
    ref::ElemType elem = elemTypeOfArg(fn.getArgumentTypes()[i]);
    std::vector<int64_t> shape = shapeOfArg(fn.getArgumentTypes()[i]);
    if (auto it = given.find(name); it != given.end()) {
      auto t = readInput(name, it->second, elem, shape);
      if (!t)
        return t.takeError();
      args.push_back(std::move(*t));
      continue;
    }
    ArgRole role = roleOf(fn, i);
    if (role == ArgRole::step) {
      args.push_back(ref::Tensor::fromInts(elem, shape, {0}));
      continue;
    }
    if (role != ArgRole::input) {
      auto init = fn.getArgAttrOfType<InitKindAttr>(i, "kiln.init");
      llvm::SmallVector<double> initArgs;
      if (auto a = fn.getArgAttrOfType<DenseF64ArrayAttr>(i, "kiln.init_args"))
        initArgs.assign(a.asArrayRef().begin(), a.asArrayRef().end());
      auto t = initializeParameter(init ? init.getValue() : InitKind::zeros, initArgs,
                                   elem, shape, seed, name);
      if (!t)
        return t.takeError();
      t->roundToDeclaredType();
      args.push_back(std::move(*t));
      continue;
    }
    int64_t bound = ref::isFloatType(elem) ? 0 : integerInputBound(fn.getArgument(i));
    args.push_back(randomInput(elem, shape, seed, name, bound));
  }
  for (const auto &entry : given)
    if (!known.contains(entry.getKey()))
      return llvm::createStringError("--input names '%s', which is not an input of '%s'",
                                     entry.getKey().str().c_str(), modelName.str().c_str());
  return args;
}

int reportError(llvm::Error err) {
  llvm::errs() << llvm::toString(std::move(err)) << "\n";
  return 1;
}

std::optional<std::vector<ref::Tensor>> runOnce(func::FuncOp fn, const Options &opts,
                                                ref::Precision precision,
                                                std::vector<ref::Tensor> &args) {
  ref::RunOptions run;
  run.precision = precision;
  if (llvm::Error err = ref::checkSizes(fn, run)) {
    reportError(std::move(err));
    return std::nullopt;
  }
  llvm::StringMap<std::string> given;
  for (auto &[name, path] : opts.inputs)
    if (!given.try_emplace(name, path).second) {
      fail("input '" + name + "' is given twice");
      return std::nullopt;
    }
  auto built = buildArguments(fn, given, opts.seed, opts.model);
  if (!built) {
    fail(llvm::toString(built.takeError()));
    return std::nullopt;
  }
  args = std::move(*built);
  if (opts.device != "reference") {
    DeviceRunOptions o;
    o.device = opts.device;
    auto runner = DeviceRunner::create(fn->getParentOfType<ModuleOp>(), o);
    if (!runner) {
      reportError(runner.takeError());
      return std::nullopt;
    }
    if (!(*runner)->note().empty())
      llvm::errs() << "device: " << (*runner)->note() << "\n";
    auto results = (*runner)->run(fn.getSymName(), args);
    if (!results) {
      reportError(results.takeError());
      return std::nullopt;
    }
    return std::move(*results);
  }
  auto results = ref::runFunction(fn, args, run);
  if (!results) {
    reportError(results.takeError());
    return std::nullopt;
  }
  return std::move(*results);
}

bool writeFile(const std::string &path, llvm::function_ref<void(llvm::raw_ostream &)> write) {
  std::string error;
  auto out = openOutputFile(path, &error);
  if (!out) {
    fail(error);
    return false;
  }
  write(out->os());
  out->keep();
  return true;
}

} // namespace kiln::tool
