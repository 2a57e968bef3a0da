//===- ReferenceRun.cpp - Running a func.func on the reference interpreter -===//
//
// 1. Check the arguments against the function type and apply the precision.
// 2. Walk the single block in order; every op must implement
//    ReferenceOpInterface. Its diagnostics are captured and become the
//    returned llvm::Error.
// 3. Check every op's results against its declared types (an interpreter
//    bug would otherwise surface far from its cause), and free each value
//    after its last use.
// 4. func.return yields the results.
//
//===----------------------------------------------------------------------===//
#include "ir/Dialect.h"
#include "ir/Reference.h"
#include "ir/ReferenceRunSupport.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "llvm/ADT/DenseMap.h"

#include <optional>

using namespace mlir;
using namespace kiln;
using namespace kiln::ref::detail;

namespace {

/// The element count of a static tensor type, or nullopt past `limit`
/// (computed without overflow, however large the dimensions).
std::optional<int64_t> boundedElements(Type type, int64_t limit) {
  auto tt = dyn_cast<RankedTensorType>(type);
  if (!tt)
    return 0;
  std::optional<int64_t> n = checkedNumElements(tt.getShape());
  if (!n || *n > limit)
    return std::nullopt;
  return n;
}

} // namespace

llvm::Error ref::checkSizes(func::FuncOp fn, const RunOptions &opts) {
  auto tooLarge = [&](Location loc, const llvm::Twine &what, Type type) {
    return errorAt(loc, what + " of type " + typeString(type) +
                            " has more than " + std::to_string(opts.maxElements) +
                            " elements, the reference interpreter's limit");
  };
  // The last op that reads each value (runFunction frees it there).
  llvm::DenseMap<Value, Operation *> lastUse;
  fn.walk([&](Operation *op) {
    for (Value v : op->getOperands())
      lastUse[v] = op;
  });
  // Element counts are <= maxElements (2^28 by default) from here on, so
  // byte sums of a few thousand values cannot overflow.
  int64_t live = 0, peak = 0;
  for (auto [i, type] : llvm::enumerate(fn.getArgumentTypes())) {
    std::optional<int64_t> n = boundedElements(type, opts.maxElements);
    if (!n)
      return tooLarge(fn.getLoc(), "argument #" + llvm::Twine(i), type);
    live += 2 * 8 * *n;
  }
  peak = live;
  llvm::Error err = llvm::Error::success();
  fn.walk([&](Operation *op) {
    for (auto [i, r] : llvm::enumerate(op->getResults())) {
      std::optional<int64_t> n = boundedElements(r.getType(), opts.maxElements);
      if (!n) {
        err = tooLarge(op->getLoc(),
                       "result #" + llvm::Twine(i) + " of '" +
                           op->getName().getStringRef() + "'",
                       r.getType());
        return WalkResult::interrupt();
      }
      live += 8 * *n;
    }
    peak = std::max(peak, live);
    if (peak > opts.maxLiveBytes) {
      err = errorAt(op->getLoc(),
                    "running '" + op->getName().getStringRef() + "' needs " +
                        std::to_string(peak >> 20) +
                        " MiB of live values, over the reference interpreter's "
                        "limit of " + std::to_string(opts.maxLiveBytes >> 20) + " MiB");
      return WalkResult::interrupt();
    }
    // Values whose last use is this op are freed after it.
    for (Value v : op->getOperands())
      if (lastUse.lookup(v) == op)
        if (std::optional<int64_t> n = boundedElements(v.getType(), opts.maxElements))
          live -= 8 * *n;
    return WalkResult::advance();
  });
  return err;
}

llvm::Expected<std::vector<ref::Tensor>>
ref::runFunction(func::FuncOp fn, ArrayRef<Tensor> args, const RunOptions &opts) {
  const std::string name = "@" + fn.getSymName().str();
  if (fn.isExternal())
    return errorAt(fn.getLoc(), "cannot run " + name + ": it has no body");
  if (!fn.getBody().hasOneBlock())
    return errorAt(fn.getLoc(), "cannot run " + name + ": expected one block");
  if (llvm::Error err = checkSizes(fn, opts))
    return std::move(err);
  Block &body = fn.getBody().front();
  if (args.size() != body.getNumArguments())
    return errorAt(fn.getLoc(), name + " expects " +
                                    std::to_string(body.getNumArguments()) +
                                    " arguments, got " + std::to_string(args.size()));

  llvm::DenseMap<Value, Tensor> env;
  for (auto [i, arg] : llvm::enumerate(body.getArguments())) {
    if (!matches(args[i], arg.getType()))
      return errorAt(fn.getLoc(), "argument #" + std::to_string(i) + " of " + name +
                                      ": expected " + typeString(arg.getType()) +
                                      ", got " + tensorTypeString(args[i]));
    Tensor t = args[i];
    t.applyPrecision(opts.precision);
    env[arg] = std::move(t);
  }

  // The last op (by position) that reads each value, so it can be freed.
  llvm::DenseMap<Value, Operation *> lastUse;
  for (Operation &op : body)
    for (Value v : op.getOperands())
      lastUse[v] = &op;

  EvalContext ctx(opts.precision);
  for (Operation &op : body) {
    if (auto ret = dyn_cast<func::ReturnOp>(op)) {
      std::vector<Tensor> out;
      for (Value v : ret.getOperands())
        out.push_back(env.lookup(v));
      return out;
    }
    SmallVector<const Tensor *> operands;
    for (Value v : op.getOperands()) {
      auto it = env.find(v);
      if (it == env.end())
        return errorAt(op.getLoc(), "'" + op.getName().getStringRef() +
                                        "' reads a value defined outside " + name);
      operands.push_back(&it->second);
    }
    SmallVector<Tensor> results;
    if (llvm::Error err = evaluateOp(op, ctx, operands, results))
      return std::move(err);
    for (auto [i, r] : llvm::enumerate(op.getResults()))
      env[r] = std::move(results[i]);
    for (Value v : op.getOperands())
      if (lastUse.lookup(v) == &op)
        env.erase(v);
  }
  return errorAt(fn.getLoc(), name + " has no func.return");
}

//===----------------------------------------------------------------------===//
// Shared with ReferencePlanned.cpp (ir/ReferenceRunSupport.h)
//===----------------------------------------------------------------------===//

std::string ref::detail::typeString(Type t) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << t;
  return s;
}

std::string ref::detail::tensorTypeString(const ref::Tensor &t) {
  std::string s = "tensor<";
  for (int64_t d : t.shape())
    s += std::to_string(d) + "x";
  return s + ref::typeName(t.type()) + ">";
}

bool ref::detail::matches(const ref::Tensor &t, Type type) {
  auto tt = dyn_cast<RankedTensorType>(type);
  if (!tt)
    return false;
  FailureOr<ref::ElemType> et = ref::elemTypeOf(tt.getElementType());
  return succeeded(et) && *et == t.type() && llvm::equal(tt.getShape(), t.shape());
}

void ref::detail::printLocation(llvm::raw_ostream &os, Location loc) {
  FileLineColLoc flc;
  loc->walk([&](Location l) {
    if (auto f = dyn_cast<FileLineColLoc>(l)) {
      flc = f;
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  if (flc)
    os << flc.getFilename().getValue() << ":" << flc.getLine() << ":"
       << flc.getColumn();
  else
    os << loc;
}

llvm::Error ref::detail::errorAt(Location loc, const llvm::Twine &message) {
  std::string s;
  llvm::raw_string_ostream os(s);
  printLocation(os, loc);
  os << ": error: " << message;
  return llvm::createStringError(llvm::inconvertibleErrorCode(), s);
}

llvm::Error ref::detail::evaluateOp(Operation &op, EvalContext &ctx,
                                    ArrayRef<const Tensor *> operands,
                                    SmallVectorImpl<Tensor> &results) {
  auto iface = dyn_cast<ReferenceOpInterface>(op);
  if (!iface)
    return errorAt(op.getLoc(), "'" + op.getName().getStringRef() +
                                    "' has no reference semantics");
  // Captures the diagnostics of a failing evaluate() call.
  std::string diagnostics;
  ScopedDiagnosticHandler handler(op.getContext(), [&](Diagnostic &d) {
    if (d.getSeverity() != DiagnosticSeverity::Error)
      return success();
    llvm::raw_string_ostream os(diagnostics);
    if (!diagnostics.empty())
      os << "\n";
    printLocation(os, d.getLocation());
    os << ": error: " << d;
    for (Diagnostic &note : d.getNotes()) {
      os << "\n";
      printLocation(os, note.getLocation());
      os << ": note: " << note;
    }
    return success();
  });
  if (failed(iface.evaluate(ctx, operands, results))) {
    if (diagnostics.empty())
      return errorAt(op.getLoc(),
                     "evaluating '" + op.getName().getStringRef() + "' failed");
    return llvm::createStringError(llvm::inconvertibleErrorCode(), diagnostics);
  }
  if (results.size() != op.getNumResults())
    return errorAt(op.getLoc(), "reference of '" + op.getName().getStringRef() +
                                    "' produced " + std::to_string(results.size()) +
                                    " results, expected " +
                                    std::to_string(op.getNumResults()));
  for (auto [i, r] : llvm::enumerate(op.getResults()))
    if (!matches(results[i], r.getType()))
      return errorAt(op.getLoc(), "reference of '" + op.getName().getStringRef() +
                                      "' produced " + tensorTypeString(results[i]) +
                                      " for result #" + std::to_string(i) +
                                      ", expected " + typeString(r.getType()));
  return llvm::Error::success();
}
