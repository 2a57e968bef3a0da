//===- DeviceRun.h - Running planned functions on a runtime device -*- C++ -*-===//
//
// The bridge between the tool (which holds values as ref::Tensor, the
// interpreter's form) and the runtime: a fused, planned copy of a module is
// built into a kiln::rt::Program (codegen/ArtifactBuilder.h) and prepared
// on a device (host, cuda, or auto = cuda when a GPU is there, else host,
// saying which). `run` writes every argument into its planned bytes (input
// and persistent regions), runs the function's steps on the device, and
// reads every result back.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_TOOLS_KILN_DEVICERUN_H
#define KILN_TOOLS_KILN_DEVICERUN_H

#include "ir/ReferenceTensor.h"
#include "kiln/Device.h"
#include "kiln/Program.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/Error.h"

#include <memory>
#include <string>

namespace kiln::tool {

struct DeviceRunOptions {
  std::string device = "host"; ///< host, cuda or auto
  rt::DeviceOptions runtime;
};

class DeviceRunner {
public:
  /// Fuses and plans a copy of `module` (whose functions are ready for
  /// --kiln-fuse), builds the program and prepares it on the device.
  static llvm::Expected<std::unique_ptr<DeviceRunner>> create(mlir::ModuleOp module,
                                                              const DeviceRunOptions &options);
  /// Prepares an already built program (a loaded .kart).
  static llvm::Expected<std::unique_ptr<DeviceRunner>> create(rt::Program program,
                                                              const DeviceRunOptions &options);

  /// Runs @function with `args` (in argument order) and returns its results.
  llvm::Expected<std::vector<ref::Tensor>> run(llvm::StringRef function, llvm::ArrayRef<ref::Tensor> args);

  /// Writes the program's initial persistent bytes (parameters, zero
  /// optimizer state and step counter) to the device.
  llvm::Error uploadInitialState();
  /// Writes only the given input tensors (tensor index in the function,
  /// value), runs @function and returns its results: parameters stay
  /// where the previous call left them.
  llvm::Expected<std::vector<ref::Tensor>>
  runWithInputs(llvm::StringRef function, llvm::ArrayRef<std::pair<uint32_t, ref::Tensor>> inputs);

  /// "host" or "cuda".
  const char *deviceName() const { return device->name(); }
  /// Why auto chose what it chose ("" otherwise).
  const std::string &note() const { return why; }
  const rt::Program &program() const { return prog; }
  /// Seconds the device spent in prepare (kernel compilation, allocation).
  double prepareSeconds() const { return prepareTime; }

private:
  llvm::Expected<uint32_t> functionIndex(llvm::StringRef function) const;
  /// Writes `value` into tensor `tensor` of `fd` (type and shape checked).
  llvm::Error write(const rt::FunctionDesc &fd, uint32_t tensor, const ref::Tensor &value);
  /// Runs function `index` and reads its results.
  llvm::Expected<std::vector<ref::Tensor>> runAndRead(uint32_t index);
  void findNonFinite(uint32_t function);
  rt::Program prog;
  std::vector<uint8_t> bytes; ///< staging buffer of write/read
  bool findNonFiniteSteps = false; ///< KILN_FIND_NONFINITE is set
  std::unique_ptr<rt::Device> device;
  std::string why;
  double prepareTime = 0;
};

/// rt::DType <-> the interpreter's element type.
ref::ElemType toElemType(rt::DType t);

} // namespace kiln::tool

#endif // KILN_TOOLS_KILN_DEVICERUN_H
