//===- DeviceRun.cpp - Running planned functions on a runtime device ------===//
#include "tools/kiln/DeviceRun.h"
#include "tools/kiln/Commands.h"

#include "codegen/ArtifactBuilder.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include <chrono>
#include <cmath>
#include <cstdlib>

#include "llvm/Support/raw_ostream.h"

using namespace mlir;

namespace kiln::tool {

ref::ElemType toElemType(rt::DType t) {
  switch (t) {
  case rt::DType::f32: return ref::ElemType::F32;
  case rt::DType::f64: return ref::ElemType::F64;
  case rt::DType::f16: return ref::ElemType::F16;
  case rt::DType::bf16: return ref::ElemType::BF16;
  case rt::DType::i32: return ref::ElemType::I32;
  case rt::DType::i64: return ref::ElemType::I64;
  case rt::DType::i1: return ref::ElemType::I1;
  }
  return ref::ElemType::F32;
}

static llvm::Error statusError(const rt::Status &s, const llvm::Twine &context) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), (context + ": " + s.message()).str());
}

llvm::Expected<std::unique_ptr<DeviceRunner>> DeviceRunner::create(ModuleOp module,
                                                                   const DeviceRunOptions &options) {
  OwningOpRef<ModuleOp> copy = module.clone();
  if (!runFuseAndPlan(*copy))
    return llvm::createStringError(llvm::inconvertibleErrorCode(), "fusion or memory planning failed");
  FailureOr<rt::Program> program = codegen::buildProgram(*copy);
  if (failed(program))
    return llvm::createStringError(llvm::inconvertibleErrorCode(), "CUDA codegen failed");
  return create(std::move(*program), options);
}

llvm::Expected<std::unique_ptr<DeviceRunner>> DeviceRunner::create(rt::Program program,
                                                                   const DeviceRunOptions &options) {
  auto runner = std::make_unique<DeviceRunner>();
  runner->prog = std::move(program);
  if (options.device == "host") {
    runner->device = rt::createHostDevice(options.runtime);
  } else if (options.device == "cuda" || options.device == "auto") {
    rt::Status s = rt::createCudaDevice(options.runtime, runner->device);
    if (!s.isOk()) {
      if (options.device == "cuda")
        return statusError(s, "--device cuda");
      runner->why = "no CUDA device (" + s.message() + "); running on the host device";
      runner->device = rt::createHostDevice(options.runtime);
    } else {
      runner->why = "CUDA device found; running on it";
    }
  } else {
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "unknown device '" + options.device + "' (expected auto, cuda or host)");
  }
  auto t0 = std::chrono::steady_clock::now();
  rt::Status s = runner->device->prepare(runner->prog);
  if (!s.isOk())
    return statusError(s, std::string("preparing the program on the ") + runner->device->name() + " device");
  runner->findNonFiniteSteps = std::getenv("KILN_FIND_NONFINITE") != nullptr;
  runner->prepareTime = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return std::move(runner);
}

llvm::Error DeviceRunner::uploadInitialState() {
  rt::Status s = device->write(rt::Region::persistent, 0, prog.initialPersistent.data(), prog.initialPersistent.size());
  return s.isOk() ? llvm::Error::success() : statusError(s, "writing the initial parameters");
}

/// Debugging aid (KILN_FIND_NONFINITE=1): runs growing prefixes of the
/// function on a fresh device (the arguments already written are copied
/// over) and reports the first step that writes a NaN/inf, with its label.
void DeviceRunner::findNonFinite(uint32_t index) {
  const rt::FunctionDesc &fd = prog.functions[index];
  std::vector<uint8_t> persistent(prog.persistentBytes), input(fd.inputBytes);
  if (!device->read(rt::Region::persistent, 0, persistent.data(), persistent.size()).isOk() ||
      !device->read(rt::Region::input, 0, input.data(), input.size()).isOk())
    return;
  for (size_t k = 0; k < fd.steps.size(); ++k) {
    rt::Program p = prog;
    p.functions[index].steps.resize(k + 1);
    auto d = rt::createHostDevice(rt::DeviceOptions());
    if (!d->prepare(p).isOk())
      return;
    d->write(rt::Region::persistent, 0, persistent.data(), persistent.size());
    d->write(rt::Region::input, 0, input.data(), input.size());
    if (!d->run(index).isOk())
      return;
    const rt::Step &st = fd.steps[k];
    std::vector<uint32_t> args = st.kind == rt::StepKind::launch ? st.launch.args
                                 : st.kind == rt::StepKind::library ? st.library.args
                                                                    : std::vector<uint32_t>{st.dst};
    bool bad = false;
    std::string report;
    for (size_t ai = 0; ai < args.size(); ++ai) {
      const rt::TensorDesc &t = fd.tensors[args[ai]];
      if (t.dtype != rt::DType::f32)
        continue;
      std::vector<float> v(static_cast<size_t>(t.numElements()));
      d->read(t.region, t.offset, v.data(), v.size() * 4);
      size_t n = 0;
      for (float x : v)
        n += !std::isfinite(x);
      bad |= n > 0;
      report += "  arg " + std::to_string(ai) + " '" + t.name + "' " + rt::regionName(t.region) + "@" +
                std::to_string(t.offset) + "+" + std::to_string(t.size) + ": " + std::to_string(n) + " of " +
                std::to_string(v.size()) + " non-finite\n";
    }
    if (bad) {
      llvm::errs() << "first non-finite value: step " << k << " (" << st.label << ")\n" << report;
      return;
    }
  }
}

llvm::Expected<uint32_t> DeviceRunner::functionIndex(llvm::StringRef function) const {
  for (uint32_t i = 0; i < prog.functions.size(); ++i)
    if (prog.functions[i].name == function)
      return i;
  return llvm::createStringError(llvm::inconvertibleErrorCode(), "the program has no function @" + function.str());
}

llvm::Error DeviceRunner::write(const rt::FunctionDesc &fd, uint32_t tensor, const ref::Tensor &value) {
  const rt::TensorDesc &t = fd.tensors[tensor];
  if (value.type() != toElemType(t.dtype) || value.shape() != t.shape)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "'" + t.name + "' of @" + fd.name + " does not have the planned type");
  bytes.resize(static_cast<size_t>(t.numElements()) * rt::dtypeBytes(t.dtype));
  value.toRaw(bytes.data());
  rt::Status s = device->write(t.region, t.offset, bytes.data(), bytes.size());
  return s.isOk() ? llvm::Error::success() : statusError(s, "writing '" + t.name + "'");
}

llvm::Expected<std::vector<ref::Tensor>> DeviceRunner::runAndRead(uint32_t index) {
  const rt::FunctionDesc &fd = prog.functions[index];
  if (findNonFiniteSteps)
    findNonFinite(index);
  if (rt::Status s = device->run(index); !s.isOk())
    return statusError(s, "running @" + fd.name + " on the " + device->name() + " device");
  std::vector<ref::Tensor> results;
  for (uint32_t r : fd.results) {
    const rt::TensorDesc &t = fd.tensors[r];
    bytes.resize(static_cast<size_t>(t.numElements()) * rt::dtypeBytes(t.dtype));
    if (rt::Status s = device->read(t.region, t.offset, bytes.data(), bytes.size()); !s.isOk())
      return statusError(s, "reading result '" + t.name + "'");
    results.push_back(ref::Tensor::fromRaw(toElemType(t.dtype), t.shape, bytes.data()));
  }
  return results;
}

llvm::Expected<std::vector<ref::Tensor>> DeviceRunner::run(llvm::StringRef function,
                                                           llvm::ArrayRef<ref::Tensor> args) {
  llvm::Expected<uint32_t> index = functionIndex(function);
  if (!index)
    return index.takeError();
  const rt::FunctionDesc &fd = prog.functions[*index];
  if (args.size() != fd.args.size())
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "@" + function.str() + " takes " + std::to_string(fd.args.size()) +
                                       " arguments, got " + std::to_string(args.size()));
  for (size_t i = 0; i < args.size(); ++i)
    if (llvm::Error e = write(fd, fd.args[i], args[i]))
      return std::move(e);
  return runAndRead(*index);
}

llvm::Expected<std::vector<ref::Tensor>>
DeviceRunner::runWithInputs(llvm::StringRef function, llvm::ArrayRef<std::pair<uint32_t, ref::Tensor>> inputs) {
  llvm::Expected<uint32_t> index = functionIndex(function);
  if (!index)
    return index.takeError();
  for (const auto &[tensor, value] : inputs)
    if (llvm::Error e = write(prog.functions[*index], tensor, value))
      return std::move(e);
  return runAndRead(*index);
}

} // namespace kiln::tool
