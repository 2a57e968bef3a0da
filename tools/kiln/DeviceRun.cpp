//===- DeviceRun.cpp - Running planned functions on a runtime device ------===//
#include "tools/kiln/DeviceRun.h"
#include "tools/kiln/Commands.h"

#include "codegen/ArtifactBuilder.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include <chrono>

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
  runner->prepareTime = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return std::move(runner);
}

llvm::Expected<std::vector<ref::Tensor>> DeviceRunner::run(llvm::StringRef function,
                                                           llvm::ArrayRef<ref::Tensor> args) {
  uint32_t index = 0;
  const rt::FunctionDesc *fd = nullptr;
  for (; index < prog.functions.size(); ++index)
    if (prog.functions[index].name == function) {
      fd = &prog.functions[index];
      break;
    }
  if (!fd)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "the program has no function @" + function.str());
  if (args.size() != fd->args.size())
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "@" + function.str() + " takes " + std::to_string(fd->args.size()) +
                                       " arguments, got " + std::to_string(args.size()));
  std::vector<uint8_t> bytes;
  for (size_t i = 0; i < args.size(); ++i) {
    const rt::TensorDesc &t = fd->tensors[fd->args[i]];
    if (args[i].type() != toElemType(t.dtype) || args[i].shape() != t.shape)
      return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                     "argument '" + t.name + "' of @" + function.str() +
                                         " does not have the planned type");
    bytes.resize(static_cast<size_t>(t.numElements()) * rt::dtypeBytes(t.dtype));
    args[i].toRaw(bytes.data());
    rt::Status s = device->write(t.region, t.offset, bytes.data(), bytes.size());
    if (!s.isOk())
      return statusError(s, "writing argument '" + t.name + "'");
  }
  rt::Status s = device->run(index);
  if (!s.isOk())
    return statusError(s, "running @" + function.str() + " on the " + device->name() + " device");
  std::vector<ref::Tensor> results;
  for (uint32_t r : fd->results) {
    const rt::TensorDesc &t = fd->tensors[r];
    bytes.resize(static_cast<size_t>(t.numElements()) * rt::dtypeBytes(t.dtype));
    rt::Status rs = device->read(t.region, t.offset, bytes.data(), bytes.size());
    if (!rs.isOk())
      return statusError(rs, "reading result '" + t.name + "'");
    results.push_back(ref::Tensor::fromRaw(toElemType(t.dtype), t.shape, bytes.data()));
  }
  return results;
}

} // namespace kiln::tool
