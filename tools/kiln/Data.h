//===- Data.h - Training data for kiln train --------------------*- C++ -*-===//
//
// A data directory holds one NAME.npy per model input (role input): the
// first axis counts samples, the remaining axes are the input's per-sample
// shape (the model's type without its leading batch dimension), and the
// dtype is the input's (float32 also feeds a bf16 input). All files hold the
// same number of samples. Everything is checked when the directory is
// loaded, before training writes anything.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_TOOLS_KILN_DATA_H
#define KILN_TOOLS_KILN_DATA_H

#include "ir/ReferenceTensor.h"
#include "kiln/Npy.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <string>
#include <vector>

namespace kiln::tool {

/// The samples of one model input.
struct InputData {
  std::string name;                 ///< the argument's kiln.name
  std::string path;                 ///< DIR/NAME.npy
  ref::ElemType type;               ///< the argument's element type
  std::vector<int64_t> sampleShape; ///< the argument's shape without dim 0
  npy::Array array;                 ///< the file's contents
  int64_t sampleBytes = 0;          ///< bytes of one sample in `array`
};

class Dataset {
public:
  /// Reads DIR/NAME.npy for every input of `fn` and checks it: dtype,
  /// per-sample shape, equal sample counts, and integer inputs that index
  /// something (class labels, token ids) within their bound. `flag`
  /// ("--data", "--eval-data") starts every message.
  static llvm::Expected<Dataset> load(mlir::func::FuncOp fn, const std::string &dir,
                                      llvm::StringRef flag);

  int64_t numSamples() const { return numSamples_; }
  const std::vector<InputData> &inputs() const { return inputs_; }

  /// The batch of input `k` made of samples `indices`, as a tensor of the
  /// argument's type [indices.size(), sampleShape...].
  ref::Tensor batch(size_t k, llvm::ArrayRef<int64_t> indices) const;

private:
  std::vector<InputData> inputs_;
  int64_t numSamples_ = 0;
};

/// The order of the samples in epoch `epoch`: a Fisher-Yates shuffle of
/// 0..n-1 whose draws come from the Philox stream (seed, FNV-1a of
/// "kiln-train-shuffle" + epoch), a pure function of (n, seed, epoch) on
/// every platform. Draw i (for i = n-1 down to 1) is a uniform integer in
/// [0, i] by rejection sampling of 64-bit words (exactly uniform).
std::vector<int64_t> shuffledOrder(int64_t n, int64_t seed, int64_t epoch);

} // namespace kiln::tool

#endif // KILN_TOOLS_KILN_DATA_H
