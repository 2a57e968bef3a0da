//===- ArtifactBuilder.cpp - A fused, planned module -> kiln::rt::Program -===//
//
// See ArtifactBuilder.h. Library fusions map onto kiln::rt::LibraryStep by
// the roles of the body's block arguments (matmul lhs = A, rhs = B, the
// broadcast operand = bias, the compared operand = aux), so the order of a
// fusion's inputs does not matter; results map by shape (dbias is the rank-1
// result).
//
//===----------------------------------------------------------------------===//

#include "codegen/ArtifactBuilder.h"
#include "codegen/CudaEmitter.h"

#include "ir/Dialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/StringMap.h"

#include <optional>

using namespace mlir;

namespace kiln::codegen {
namespace {

rt::Region toRegion(MemoryRegion r) {
  switch (r) {
  case MemoryRegion::persistent:
    return rt::Region::persistent;
  case MemoryRegion::input:
    return rt::Region::input;
  case MemoryRegion::arena:
    return rt::Region::arena;
  }
  return rt::Region::arena;
}

rt::TensorRole toRole(ArgRole r) {
  switch (r) {
  case ArgRole::input:
    return rt::TensorRole::input;
  case ArgRole::param:
    return rt::TensorRole::param;
  case ArgRole::buffer:
    return rt::TensorRole::buffer;
  case ArgRole::opt_state:
    return rt::TensorRole::optimizer_state;
  case ArgRole::step:
    return rt::TensorRole::step;
  }
  return rt::TensorRole::temporary;
}

class Builder {
public:
  explicit Builder(ModuleOp module) : module(module) {}
  FailureOr<rt::Program> build();

private:
  LogicalResult function(func::FuncOp fn);
  FailureOr<uint32_t> tensor(Value v, BufferAttr buffer, StringRef name, rt::TensorRole role, Location loc);
  LogicalResult library(FusionOp fusion, rt::Step &step, std::optional<rt::Step> &activation);
  uint32_t kernelIndex(EmittedKernel k);

  ModuleOp module;
  rt::Program program;
  rt::FunctionDesc *fd = nullptr;
  llvm::DenseMap<Value, uint32_t> tensors;
  llvm::StringMap<uint32_t> kernelByName;
  llvm::StringMap<rt::TensorDesc> persistentByName;
};

FailureOr<uint32_t> Builder::tensor(Value v, BufferAttr buffer, StringRef name, rt::TensorRole role,
                                    Location loc) {
  auto it = tensors.find(v);
  if (it != tensors.end())
    return it->second;
  auto type = cast<RankedTensorType>(v.getType());
  FailureOr<rt::DType> dt = toDType(type.getElementType(), loc);
  if (failed(dt))
    return failure();
  if (!buffer)
    return emitError(loc) << "value '" << name << "' has no #kiln.buffer: run --kiln-plan-memory first";
  rt::TensorDesc t;
  t.name = name.str();
  t.dtype = *dt;
  t.shape.assign(type.getShape().begin(), type.getShape().end());
  t.role = role;
  t.region = toRegion(buffer.getRegion());
  t.offset = static_cast<uint64_t>(buffer.getOffset());
  t.size = static_cast<uint64_t>(buffer.getSize());
  if (t.region == rt::Region::persistent && (role == rt::TensorRole::param || role == rt::TensorRole::buffer ||
                                             role == rt::TensorRole::optimizer_state || role == rt::TensorRole::step)) {
    auto [pit, inserted] = persistentByName.try_emplace(t.name, t);
    if (!inserted && (pit->second.offset != t.offset || pit->second.size != t.size))
      return emitError(loc) << "persistent tensor '" << t.name << "' is at offset " << t.offset << " (" << t.size
                            << " bytes) here but at " << pit->second.offset << " (" << pit->second.size
                            << " bytes) in another function";
  }
  uint32_t index = static_cast<uint32_t>(fd->tensors.size());
  fd->tensors.push_back(std::move(t));
  tensors[v] = index;
  return index;
}

uint32_t Builder::kernelIndex(EmittedKernel k) {
  auto it = kernelByName.find(k.name);
  if (it != kernelByName.end())
    return it->second;
  rt::KernelDesc d;
  d.name = k.name;
  d.source = std::move(k.source);
  d.argDTypes = k.argDTypes;
  uint32_t index = static_cast<uint32_t>(program.kernels.size());
  program.kernels.push_back(std::move(d));
  kernelByName[k.name] = index;
  return index;
}

LogicalResult Builder::library(FusionOp fusion, rt::Step &step, std::optional<rt::Step> &activation) {
  rt::LibraryStep &lib = step.library;
  Block &body = fusion.getBody().front();
  Operation *main = nullptr;
  for (Operation &op : body)
    if (isa<MatmulOp, Conv2dOp, Conv2dGradInputOp, Conv2dGradFilterOp, Pool2dOp, Pool2dGradOp>(op))
      main = main ? main : &op;
  if (!main)
    return fusion.emitError() << "library fusion without a matmul, conv2d or pool2d";
  Type et = cast<RankedTensorType>(main->getResult(0).getType()).getElementType();
  FailureOr<rt::DType> dt = toDType(et, fusion.getLoc());
  if (failed(dt))
    return failure();
  if (*dt != rt::DType::f32 && *dt != rt::DType::f64)
    return fusion.emitError() << "library steps run in f32 or f64, not " << et;
  lib.dtype = *dt;
  auto inputTensor = [&](Value blockArg) -> FailureOr<uint32_t> {
    auto arg = dyn_cast<BlockArgument>(blockArg);
    if (!arg || arg.getOwner() != &body)
      return fusion.emitError() << "library operand that is not a fusion input";
    return tensors.lookup(fusion.getInputs()[arg.getArgNumber()]);
  };
  auto results = fusion.getResults();
  auto addArg = [&](FailureOr<uint32_t> t) -> LogicalResult {
    if (failed(t))
      return failure();
    lib.args.push_back(*t);
    return success();
  };
  auto shape = [](Value v) { return cast<RankedTensorType>(v.getType()).getShape(); };

  if (auto mm = dyn_cast<MatmulOp>(main)) {
    lib.op = rt::LibraryOp::matmul;
    ArrayRef<int64_t> a = shape(mm.getLhs()), b = shape(mm.getRhs()), d = shape(mm.getResult());
    const size_t r = d.size();
    int64_t batch = 1;
    for (size_t i = 0; i + 2 < r; ++i)
      batch *= d[i];
    const bool ta = mm.getTransposeA(), tb = mm.getTransposeB();
    const int64_t m = d[r - 2], n = d[r - 1], k = ta ? a[a.size() - 2] : a[a.size() - 1];
    (void)b;
    lib.params = {batch, m, n, k, ta ? 1 : 0, tb ? 1 : 0};
    static const rt::Epilogue map[] = {rt::Epilogue::bias,  rt::Epilogue::relu,        rt::Epilogue::bias_relu,
                                       rt::Epilogue::gelu,  rt::Epilogue::bias_gelu,   rt::Epilogue::drelu,
                                       rt::Epilogue::drelu_bgrad, rt::Epilogue::bgradb, rt::Epilogue::dgelu,
                                       rt::Epilogue::dgelu_bgrad};
    lib.epilogue = rt::Epilogue::none;
    if (auto e = fusion.getEpilogue()) {
      unsigned i = static_cast<unsigned>(*e);
      if (i >= std::size(map))
        return fusion.emitError() << "unknown matmul epilogue";
      lib.epilogue = map[i];
    }
    if (failed(addArg(inputTensor(mm.getLhs()))) || failed(addArg(inputTensor(mm.getRhs()))))
      return failure();
    // The third input (bias or aux): the block argument the matmul does not read.
    Value extra;
    for (BlockArgument arg : body.getArguments())
      if (arg != mm.getLhs() && arg != mm.getRhs())
        extra = arg;
    using E = rt::Epilogue;
    const E ep = lib.epilogue;
    const bool needsExtra = ep == E::bias || ep == E::bias_relu || ep == E::bias_gelu || ep == E::drelu ||
                            ep == E::dgelu || ep == E::drelu_bgrad || ep == E::dgelu_bgrad;
    if (needsExtra) {
      if (!extra)
        return fusion.emitError() << "matmul epilogue " << rt::epilogueName(ep) << " without its bias/aux input";
      if (failed(addArg(inputTensor(extra))))
        return failure();
    }
    // A forward epilogue whose fusion also returns the pre-activation (kept
    // for the backward pass): the library step writes the pre-activation
    // (bias epilogue, or none) and a kernel of ours applies the activation.
    if ((ep == E::bias_gelu || ep == E::bias_relu || ep == E::gelu || ep == E::relu) && results.size() == 2) {
      Value act, pre;
      for (Value res : results) {
        Operation *def = fusion.getYield().getOperand(cast<OpResult>(res).getResultNumber()).getDefiningOp();
        (def && isa<GeluOp, ReluOp>(def) ? act : pre) = res;
      }
      if (!act || !pre)
        return fusion.emitError() << "matmul epilogue " << rt::epilogueName(ep)
                                  << " with two results: expected the activation and its input";
      bool tanhApprox = true;
      if (auto g = fusion.getYield().getOperand(cast<OpResult>(act).getResultNumber()).getDefiningOp<GeluOp>())
        tanhApprox = g.getApproximate() == GeluApproximation::tanh;
      lib.epilogue = ep == E::bias_gelu || ep == E::bias_relu ? E::bias : E::none;
      lib.args.push_back(tensors.lookup(pre));
      const rt::TensorDesc &preT = fd->tensors[tensors.lookup(pre)];
      EmittedKernel k = emitActivationKernel(ep == E::bias_gelu || ep == E::gelu, tanhApprox, preT.numElements(),
                                             lib.dtype);
      rt::Step a;
      a.kind = rt::StepKind::launch;
      a.launch.grid[0] = k.grid[0];
      a.launch.block[0] = k.block[0];
      a.label = step.label + " activation " + k.name;
      a.launch.kernel = kernelIndex(std::move(k));
      a.launch.args = {tensors.lookup(pre), tensors.lookup(act)};
      activation = std::move(a);
      return success();
    }
    // Results: D, then dbias (the rank-1 result) where the epilogue makes one.
    Value dres, dbias;
    for (Value res : results)
      (cast<RankedTensorType>(res.getType()).getRank() == 1 && results.size() > 1 ? dbias : dres) = res;
    if (!dres)
      return fusion.emitError() << "matmul fusion without its product result";
    lib.args.push_back(tensors.lookup(dres));
    if (ep == E::drelu_bgrad || ep == E::dgelu_bgrad || ep == E::bgradb) {
      if (!dbias)
        return fusion.emitError() << "matmul epilogue " << rt::epilogueName(ep) << " without its dbias result";
      lib.args.push_back(tensors.lookup(dbias));
    }
    if (batch > 1 && ep != E::none)
      return fusion.emitError() << "a batched matmul with epilogue " << rt::epilogueName(ep);
    return success();
  }
  auto convParams = [&](ArrayRef<int64_t> x, ArrayRef<int64_t> w, ArrayRef<int64_t> y, ArrayRef<int64_t> s,
                        ArrayRef<int64_t> p, ArrayRef<int64_t> dl, int64_t groups) {
    lib.params = {x[0], x[1], x[2], x[3], w[0], w[2], w[3], y[2], y[3], s[0], s[1],
                  p[0], p[1], p[2], p[3], dl[0], dl[1], groups};
  };
  auto poolParams = [&](ArrayRef<int64_t> x, ArrayRef<int64_t> y, ArrayRef<int64_t> w, ArrayRef<int64_t> s,
                        ArrayRef<int64_t> pd, PoolKind kind, bool countIncludePad) {
    lib.params = {x[0], x[1], x[2], x[3], y[2], y[3], w[0], w[1], s[0], s[1], pd[0], pd[1], pd[2], pd[3],
                  kind == PoolKind::max ? 1 : 0, countIncludePad ? 1 : 0};
  };
  if (auto c = dyn_cast<Conv2dOp>(main)) {
    lib.op = rt::LibraryOp::conv2d;
    convParams(shape(c.getInput()), shape(c.getFilter()), shape(c.getResult()), c.getStrides(), c.getPadding(),
               c.getDilations(), static_cast<int64_t>(c.getGroups()));
    if (failed(addArg(inputTensor(c.getInput()))) || failed(addArg(inputTensor(c.getFilter()))))
      return failure();
  } else if (auto c = dyn_cast<Conv2dGradInputOp>(main)) {
    lib.op = rt::LibraryOp::conv2d_grad_input;
    convParams(shape(c.getResult()), shape(c.getFilter()), shape(c.getDy()), c.getStrides(), c.getPadding(),
               c.getDilations(), static_cast<int64_t>(c.getGroups()));
    if (failed(addArg(inputTensor(c.getDy()))) || failed(addArg(inputTensor(c.getFilter()))))
      return failure();
  } else if (auto c = dyn_cast<Conv2dGradFilterOp>(main)) {
    lib.op = rt::LibraryOp::conv2d_grad_filter;
    convParams(shape(c.getInput()), shape(c.getResult()), shape(c.getDy()), c.getStrides(), c.getPadding(),
               c.getDilations(), static_cast<int64_t>(c.getGroups()));
    if (failed(addArg(inputTensor(c.getInput()))) || failed(addArg(inputTensor(c.getDy()))))
      return failure();
  } else if (auto p = dyn_cast<Pool2dOp>(main)) {
    lib.op = rt::LibraryOp::pool2d;
    poolParams(shape(p.getInput()), shape(p.getResult()), p.getWindow(), p.getStrides(), p.getPadding(),
               p.getKind(), p.getCountIncludePad());
    if (failed(addArg(inputTensor(p.getInput()))))
      return failure();
  } else if (auto p = dyn_cast<Pool2dGradOp>(main)) {
    lib.op = rt::LibraryOp::pool2d_grad;
    poolParams(shape(p.getInput()), shape(p.getDy()), p.getWindow(), p.getStrides(), p.getPadding(),
               p.getKind(), p.getCountIncludePad());
    if (failed(addArg(inputTensor(p.getInput()))) || failed(addArg(inputTensor(p.getDy()))))
      return failure();
  }
  // Convolutions and pooling: the body must be the op alone.
  if (fusion.getYield().getNumOperands() != 1 || fusion.getYield().getOperand(0) != main->getResult(0))
    return fusion.emitError() << "a " << main->getName() << " library fusion with an epilogue";
  lib.args.push_back(tensors.lookup(results[0]));
  return success();
}

LogicalResult Builder::function(func::FuncOp fn) {
  auto plan = fn->getAttrOfType<MemoryPlanAttr>("kiln.memory_plan");
  if (!plan)
    return fn.emitError() << "@" << fn.getSymName() << " has no kiln.memory_plan: run --kiln-plan-memory first";
  program.functions.emplace_back();
  fd = &program.functions.back();
  fd->name = fn.getSymName().str();
  fd->inputBytes = static_cast<uint64_t>(plan.getInput());
  fd->arenaBytes = static_cast<uint64_t>(plan.getArena());
  program.persistentBytes = std::max<uint64_t>(program.persistentBytes, plan.getPersistent());
  program.alignment = static_cast<uint64_t>(plan.getAlignment());
  tensors.clear();
  Block &body = fn.getBody().front();
  llvm::StringMap<uint32_t> argByName;
  int stepArg = -1;
  for (BlockArgument arg : body.getArguments()) {
    unsigned i = arg.getArgNumber();
    auto name = fn.getArgAttrOfType<StringAttr>(i, "kiln.name");
    auto role = fn.getArgAttrOfType<ArgRoleAttr>(i, "kiln.role");
    std::string n = name ? name.getValue().str() : "%arg" + std::to_string(i);
    FailureOr<uint32_t> t = tensor(arg, fn.getArgAttrOfType<BufferAttr>(i, "kiln.buffer"), n,
                                   role ? toRole(role.getValue()) : rt::TensorRole::input, fn.getLoc());
    if (failed(t))
      return failure();
    fd->args.push_back(*t);
    argByName[n] = *t;
    if (role && role.getValue() == ArgRole::step)
      stepArg = static_cast<int>(*t);
  }
  // Result names, so that a returned value's tensor carries its name.
  auto ret = cast<func::ReturnOp>(body.getTerminator());
  llvm::DenseMap<Value, std::string> resultName;
  for (auto [i, v] : llvm::enumerate(ret.getOperands()))
    if (auto name = fn.getResultAttrOfType<StringAttr>(i, "kiln.name"))
      resultName.try_emplace(v, name.getValue().str());
  unsigned index = 0;
  for (Operation &op : body) {
    if (isa<func::ReturnOp>(op))
      continue;
    auto fusion = dyn_cast<FusionOp>(op);
    if (!fusion)
      return op.emitError() << "codegen expects only kiln.fusion ops at the top level of a planned function";
    const unsigned fi = index++;
    auto buffers = fusion.getBuffersAttr();
    if (!buffers || buffers.size() != fusion.getNumResults())
      return fusion.emitError() << "fusion has no buffers for its results: run --kiln-plan-memory first";
    for (auto [r, res] : llvm::enumerate(fusion.getResults())) {
      auto it = resultName.find(res);
      std::string n = it != resultName.end() ? it->second : "%" + std::to_string(fi) + "." + std::to_string(r);
      if (failed(tensor(res, dyn_cast<BufferAttr>(buffers[r]), n,
                        it != resultName.end() ? rt::TensorRole::output : rt::TensorRole::temporary,
                        fusion.getLoc())))
        return failure();
    }
    rt::Step step;
    std::optional<rt::Step> activation;
    step.label = "fusion#" + std::to_string(fi) + " " + stringifyFusionKind(fusion.getKind()).str();
    switch (fusion.getKind()) {
    case FusionKind::view: {
      const rt::TensorDesc &in = fd->tensors[tensors.lookup(fusion.getInputs()[0])];
      const rt::TensorDesc &out = fd->tensors[tensors.lookup(fusion.getResult(0))];
      if (in.region == out.region && in.offset == out.offset)
        continue; // moves no data
      step.kind = rt::StepKind::copy;
      step.src = tensors.lookup(fusion.getInputs()[0]);
      step.dst = tensors.lookup(fusion.getResult(0));
      break;
    }
    case FusionKind::library:
      step.kind = rt::StepKind::library;
      if (failed(library(fusion, step, activation)))
        return failure();
      step.label = "fusion#" + std::to_string(fi) + " library " + rt::libraryOpName(step.library.op);
      break;
    default: {
      FailureOr<EmittedKernel> k = emitFusionKernel(fusion);
      if (failed(k))
        return failure();
      step.kind = rt::StepKind::launch;
      for (int d = 0; d < 3; ++d) {
        step.launch.grid[d] = k->grid[d];
        step.launch.block[d] = k->block[d];
      }
      step.launch.kernel = kernelIndex(std::move(*k));
      for (Value in : fusion.getInputs())
        step.launch.args.push_back(tensors.lookup(in));
      for (Value res : fusion.getResults())
        step.launch.args.push_back(tensors.lookup(res));
      // float4 accesses need 16-byte aligned tensors (the plan aligns to 64).
      if (program.kernels[step.launch.kernel].source.find("float4") != std::string::npos)
        for (uint32_t a : step.launch.args)
          if (fd->tensors[a].offset % 16 != 0)
            return fusion.emitError() << "tensor '" << fd->tensors[a].name << "' at offset "
                                      << fd->tensors[a].offset
                                      << " is not 16-byte aligned, which the kernel's float4 accesses need";
      step.label += " " + program.kernels[step.launch.kernel].name;
      break;
    }
    }
    fd->steps.push_back(std::move(step));
    if (activation)
      fd->steps.push_back(std::move(*activation));
  }
  for (auto [i, v] : llvm::enumerate(ret.getOperands())) {
    auto it = tensors.find(v);
    if (it == tensors.end())
      return fn.emitError() << "result #" << i << " is not a value of the function";
    fd->results.push_back(it->second);
    // A kiln.updates result not planned in place is copied into its target.
    if (auto target = fn.getResultAttrOfType<StringAttr>(i, "kiln.updates")) {
      auto a = argByName.find(target.getValue());
      if (a == argByName.end())
        return fn.emitError() << "result #" << i << " updates '" << target.getValue() << "', which is no argument";
      const rt::TensorDesc &src = fd->tensors[it->second], &dst = fd->tensors[a->second];
      if (src.region != dst.region || src.offset != dst.offset) {
        rt::Step copy;
        copy.kind = rt::StepKind::copy;
        copy.label = "update " + dst.name;
        copy.src = it->second;
        copy.dst = a->second;
        fd->steps.push_back(std::move(copy));
      }
    }
  }
  if (fd->name == "train_step" && stepArg >= 0) {
    rt::Step inc;
    inc.kind = rt::StepKind::launch;
    inc.label = "step counter + 1";
    inc.launch.kernel = kernelIndex(emitStepIncrementKernel());
    inc.launch.block[0] = 32;
    inc.launch.args = {static_cast<uint32_t>(stepArg)};
    fd->steps.push_back(std::move(inc));
  }
  return success();
}

FailureOr<rt::Program> Builder::build() {
  if (auto name = module->getAttrOfType<StringAttr>("kiln.model"))
    program.model = name.getValue().str();
  for (auto fn : module.getOps<func::FuncOp>())
    if (failed(function(fn)))
      return failure();
  for (auto &entry : persistentByName) {
    rt::StateDesc s;
    s.tensor = entry.second;
    program.state.push_back(std::move(s));
  }
  llvm::sort(program.state, [](const rt::StateDesc &a, const rt::StateDesc &b) {
    return a.tensor.offset < b.tensor.offset;
  });
  program.initialPersistent.assign(program.persistentBytes, 0);
  return std::move(program);
}

} // namespace

FailureOr<rt::Program> buildProgram(ModuleOp module) { return Builder(module).build(); }

} // namespace kiln::codegen
