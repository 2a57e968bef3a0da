//===- TrainStep.h - Shared checks of the @train_step contract --*- C++ -*-===//
//
// docs/training.md: every argument and result of @train_step has a unique
// `kiln.name`, because the driver binds and writes them by name. The passes
// that build @train_step check that here before they commit to a signature.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_PASSES_TRAINSTEP_H
#define KILN_PASSES_TRAINSTEP_H

#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/ADT/StringSet.h"

#include <optional>

namespace kiln {

/// The first `kiln.name` that two of `attrs` share, if any.
inline std::optional<llvm::StringRef>
repeatedName(llvm::ArrayRef<mlir::DictionaryAttr> attrs) {
  llvm::StringSet<> seen;
  for (mlir::DictionaryAttr dict : attrs)
    if (auto name = dict.getAs<mlir::StringAttr>("kiln.name");
        name && !seen.insert(name.getValue()).second)
      return name.getValue();
  return std::nullopt;
}

} // namespace kiln

#endif // KILN_PASSES_TRAINSTEP_H
