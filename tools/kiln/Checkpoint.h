//===- Checkpoint.h - kiln train checkpoints --------------------*- C++ -*-===//
//
// DIR/checkpoint.safetensors (docs/training.md): every param, buffer and
// opt_state argument of the final @train_step by kiln.name, in its declared
// dtype (F64 under --precision f64), and string metadata:
//
//   kiln.format          "1"
//   kiln.model           the module's kiln.model
//   kiln.signature       FNV-1a (16 hex digits) of kiln.arguments
//   kiln.arguments       one line per @train_step argument: name, role, type
//   kiln.step            steps completed
//   kiln.epoch           the epoch the next step belongs to (0-based)
//   kiln.batch_in_epoch  batches of that epoch already done
//   kiln.seed            --seed (parameters and shuffling)
//   kiln.precision       native or f64
//   kiln.optimizer       the model's #kiln.optimizer<...>
//   kiln.run_steps       the run length the learning-rate schedule used
//   kiln.samples         training samples per epoch
//   kiln.digest          safetensors::contentDigest of everything else
//
//===----------------------------------------------------------------------===//
#ifndef KILN_TOOLS_KILN_CHECKPOINT_H
#define KILN_TOOLS_KILN_CHECKPOINT_H

#include "ir/ReferenceTensor.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <string>
#include <vector>

namespace kiln::tool {

/// Where a run stands and what it was started with.
struct CheckpointInfo {
  std::string model;
  std::string precision = "native";
  std::string optimizer;
  int64_t seed = 0;
  int64_t step = 0;
  int64_t epoch = 0;
  int64_t batchInEpoch = 0;
  int64_t runSteps = 0;
  int64_t samples = 0;
};

/// One line per argument of `step`: "name role type".
std::string signatureText(mlir::func::FuncOp step);

/// Writes the state arguments of `step` (`args` in argument order) and
/// `info` to `path` atomically (temporary file, fsync, rename).
llvm::Error writeCheckpoint(const std::string &path, mlir::func::FuncOp step,
                            llvm::ArrayRef<ref::Tensor> args, const CheckpointInfo &info);

/// Reads `path`, checks it against `step` (format, model, signature,
/// precision, digest, every state tensor present with its dtype and shape,
/// nothing else) and replaces the state arguments in `args`. Returns the
/// recorded position and settings; messages name what differs.
llvm::Expected<CheckpointInfo> readCheckpoint(const std::string &path,
                                              mlir::func::FuncOp step,
                                              llvm::StringRef model,
                                              llvm::StringRef precision,
                                              std::vector<ref::Tensor> &args);

} // namespace kiln::tool

#endif // KILN_TOOLS_KILN_CHECKPOINT_H
