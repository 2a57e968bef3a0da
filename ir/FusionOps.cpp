//===- FusionOps.cpp - kiln.fusion, kiln.yield and the plan attributes ----===//
//
// The verifier checks the contract of docs/fusion.md that codegen relies on:
// the body's signature matches the op's, and the ops in it fit the kernel
// kind. The reference semantics run the body op by op, so a fused program
// computes exactly what the unfused one does.
//
//===----------------------------------------------------------------------===//
#include "ir/Dialect.h"
#include "ir/Reference.h"

#include "mlir/IR/Diagnostics.h"
#include "llvm/ADT/DenseMap.h"

using namespace mlir;
using namespace kiln;

namespace {
std::string typeString(Type t) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << t;
  return s;
}

FusionClass classOf(Operation *op) {
  if (auto f = dyn_cast<FusionOpInterface>(op))
    return f.getFusionClass();
  return FusionClass::opaque;
}
} // namespace

bool kiln::isLoopFusible(Operation *op) {
  FusionClass c = classOf(op);
  return isa<FusionOpInterface>(op) &&
         (c == FusionClass::elementwise || c == FusionClass::broadcast ||
          c == FusionClass::injective);
}

YieldOp FusionOp::getYield() {
  return cast<YieldOp>(getBody().front().getTerminator());
}

LogicalResult FusionOp::verify() {
  Block &body = getBody().front();
  if (body.getNumArguments() != getInputs().size())
    return emitOpError("body has ") << body.getNumArguments()
           << " arguments, expected one per input (" << getInputs().size() << ")";
  for (auto [i, pair] : llvm::enumerate(llvm::zip(body.getArguments(), getInputs())))
    if (std::get<0>(pair).getType() != std::get<1>(pair).getType())
      return emitOpError("body argument #") << i << " has type "
             << typeString(std::get<0>(pair).getType()) << ", expected the input's "
             << typeString(std::get<1>(pair).getType());
  auto yield = dyn_cast<YieldOp>(body.getTerminator());
  if (!yield)
    return emitOpError("body must end with kiln.yield");
  if (yield.getValues().getTypes() != getResultTypes())
    return emitOpError("yields ") << yield.getValues().size()
           << " values whose types differ from the op's results";

  // Count the ops of each class; the kind decides which are allowed.
  int library = 0, reductions = 0, composites = 0, views = 0, others = 0;
  Operation *libraryOp = nullptr;
  for (Operation &op : body.without_terminator()) {
    if (!isa<FusionOpInterface>(op))
      return emitOpError("body holds '")
             << op.getName() << "', which is not a fusible kiln op";
    if (isa<ReshapeOp>(op))
      ++views;
    switch (classOf(&op)) {
    case FusionClass::library:
      ++library;
      libraryOp = &op;
      break;
    case FusionClass::reduction:
      ++reductions;
      break;
    case FusionClass::composite:
    case FusionClass::opaque:
      ++composites;
      break;
    default:
      ++others;
      break;
    }
  }
  auto expectNo = [&](int count, StringRef what) -> LogicalResult {
    if (count)
      return emitOpError("of kind '") << stringifyFusionKind(getKind())
             << "' holds " << count << " " << what << " op(s), expected none";
    return success();
  };
  if (getEpilogue() && getKind() != FusionKind::library)
    return emitOpError("has an epilogue but is of kind '")
           << stringifyFusionKind(getKind()) << "', expected 'library'";
  switch (getKind()) {
  case FusionKind::loop:
    if (failed(expectNo(library, "library")) || failed(expectNo(reductions, "reduction")) ||
        failed(expectNo(composites, "composite")))
      return failure();
    break;
  case FusionKind::reduction:
    if (reductions == 0)
      return emitOpError("of kind 'reduction' holds no reduction");
    if (failed(expectNo(library, "library")) || failed(expectNo(composites, "composite")))
      return failure();
    break;
  case FusionKind::composite:
    if (composites != 1)
      return emitOpError("of kind 'composite' holds ")
             << composites << " composite ops, expected exactly one";
    if (failed(expectNo(library, "library")) || failed(expectNo(reductions, "reduction")))
      return failure();
    break;
  case FusionKind::library:
    if (library != 1)
      return emitOpError("of kind 'library' holds ")
             << library << " library ops, expected exactly one";
    if (failed(expectNo(composites, "composite")))
      return failure();
    if (getEpilogue() && !isa<MatmulOp>(libraryOp))
      return emitOpError("has an epilogue, but its library op is '")
             << libraryOp->getName() << "', expected 'kiln.matmul'";
    if (!getEpilogue() && (reductions || others))
      return emitOpError("of kind 'library' without an epilogue holds ops "
                         "besides its library op");
    break;
  case FusionKind::view:
    if (views != 1 || library || reductions || composites || others != 1)
      return emitOpError("of kind 'view' must hold exactly one kiln.reshape");
    break;
  }
  if (auto buffers = getBuffers())
    if (buffers->size() != getNumResults())
      return emitOpError("has ") << buffers->size()
             << " buffers, expected one per result (" << getNumResults() << ")";
  return success();
}

LogicalResult FusionOp::evaluate(ref::EvalContext &ctx,
                                 ArrayRef<const ref::Tensor *> operands,
                                 SmallVectorImpl<ref::Tensor> &results) {
  Block &body = getBody().front();
  llvm::DenseMap<Value, ref::Tensor> env;
  auto lookup = [&](Value v) -> const ref::Tensor * {
    if (auto arg = dyn_cast<BlockArgument>(v))
      if (arg.getOwner() == &body)
        return operands[arg.getArgNumber()];
    auto it = env.find(v);
    return it == env.end() ? nullptr : &it->second;
  };
  for (Operation &op : body.without_terminator()) {
    auto iface = dyn_cast<ReferenceOpInterface>(op);
    if (!iface)
      return op.emitError("'") << op.getName() << "' has no reference semantics";
    SmallVector<const ref::Tensor *> args;
    for (Value v : op.getOperands())
      args.push_back(lookup(v));
    SmallVector<ref::Tensor> out;
    if (failed(iface.evaluate(ctx, args, out)))
      return failure();
    for (auto [r, t] : llvm::zip(op.getResults(), out))
      env[r] = std::move(t);
  }
  for (Value v : getYield().getValues())
    results.push_back(*lookup(v));
  return success();
}

LogicalResult BufferAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                 MemoryRegion, int64_t offset, int64_t size) {
  if (offset < 0 || size < 0)
    return emitError() << "buffer offset and size must be non-negative, found offset "
                       << offset << " and size " << size;
  if (offset > std::numeric_limits<int64_t>::max() - size)
    return emitError() << "buffer offset " << offset << " + size " << size
                       << " overflows";
  return success();
}
