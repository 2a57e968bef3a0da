//===- ToolSupport.h - Shared pieces of the kiln subcommands ----*- C++ -*-===//
//
// Options, model loading, argument naming and the .npy <-> interpreter
// tensor conversions that `kiln run`, `kiln train` and `kiln gradcheck`
// share. Every function reports errors as values or prints them and
// returns a failure; nothing exits.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_TOOLS_KILN_TOOLSUPPORT_H
#define KILN_TOOLS_KILN_TOOLSUPPORT_H

#include "ir/Dialect.h"
#include "ir/ReferenceTensor.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/Error.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace llvm {
class SourceMgr;
} // namespace llvm

namespace kiln::tool {

/// Everything the command line can say; each command reads its own part.
struct Options {
  std::string command;
  std::string model;
  std::string emit;
  std::string outputFile = "-";
  std::string outputDir;
  std::string device = "reference";
  std::string precision = "native";
  int64_t seed = 0;
  std::vector<std::pair<std::string, std::string>> inputs;
  std::vector<std::pair<std::string, int64_t>> overrides;
  // kiln run
  bool gradients = false;
  // kiln train
  std::string dataDir;
  std::string evalDataDir;
  int64_t epochs = 0; ///< 0: one epoch, or as many as --steps needs.
  int64_t steps = 0; ///< 0: as many as the epochs give.
  int64_t batchSize = 0; ///< 0: the model's own.
  std::string checkpointDir;
  bool resume = false;
  std::string metricsFile;
  // kiln compile
  std::string reportFile;
  std::string svgFile;
  // kiln gradcheck, kiln difftest
  double tolerance = 1e-6;
  bool toleranceGiven = false;
  // kiln difftest
  bool perturbPlan = false;
  /// --shuffle-threads: the host device resumes threads in a random order
  /// after each barrier.
  bool shuffleThreads = false;
  /// kiln inspect --dot
  bool dot = false;
  // kiln compile -o X.kart
  std::string archs = "sm_80,sm_90";
  int64_t maxElements = 16;
};

/// Prints `kiln: error: ...` and returns the exit code 1.
int fail(const llvm::Twine &message);
/// Prints an error that already says where (the interpreter's read
/// `file:line:col: error: ...`) and returns the exit code 1.
int reportError(llvm::Error err);

/// Writes what `write` prints to `path` ("-": stdout); false after
/// printing the error.
bool writeFile(const std::string &path, llvm::function_ref<void(llvm::raw_ostream &)> write);

/// Loads a .kiln model (frontend) or a .mlir module; null after printing
/// errors. `sourceMgr` receives a .mlir model's buffer; it must outlive the
/// module so that later diagnostics print file:line:col.
mlir::OwningOpRef<mlir::ModuleOp> loadModel(const Options &opts, mlir::MLIRContext &ctx,
                                            llvm::SourceMgr &sourceMgr);

/// The function `run` executes: @forward, or the only function of a module.
mlir::func::FuncOp entryFunction(mlir::ModuleOp module);

std::string mlirString(mlir::Type type);
/// `kiln.name` of an argument/result, or argN/resultN.
std::string argName(mlir::func::FuncOp fn, unsigned i);
std::string resultName(mlir::func::FuncOp fn, unsigned i);
/// `kiln.role` of an argument (input when absent).
ArgRole roleOf(mlir::func::FuncOp fn, unsigned i);

/// The signature must be what the CLI can bind and write: statically shaped
/// tensors of Kiln's element types, unique names, and result names that are
/// plain file names.
llvm::Error checkSignature(mlir::func::FuncOp fn);
/// Whether `name` can be used as is in DIR/NAME.npy without leaving DIR:
/// not empty, not "." or "..", no '/' and no NUL.
bool isPlainFileName(llvm::StringRef name);

/// "f32[2, 3]".
std::string describe(ref::ElemType t, const std::vector<int64_t> &shape);

/// The exclusive upper bound of valid values of an integer input, from the
/// ops that use it as an index or label; nullopt when nothing bounds it.
std::optional<int64_t> integerIndexBound(mlir::Value v);
/// integerIndexBound, or 2 when nothing bounds the value.
int64_t integerInputBound(mlir::Value v);

/// Random input values: floats ~ N(0, 1), integers uniform in [0, bound).
ref::Tensor randomInput(ref::ElemType type, const std::vector<int64_t> &shape,
                        int64_t seed, llvm::StringRef name, int64_t bound);

/// Reads an input .npy and checks it against the argument's type.
llvm::Expected<ref::Tensor> readInput(const std::string &name, const std::string &path,
                                      ref::ElemType type,
                                      const std::vector<int64_t> &shape);

/// Writes a tensor as .npy (bf16 widened to f32).
bool writeOutput(const std::string &path, const ref::Tensor &t, std::string &error);

/// Interpreter element type and shape of a (checked) signature type.
ref::ElemType elemTypeOfArg(mlir::Type type);
std::vector<int64_t> shapeOfArg(mlir::Type type);

/// Arguments for `fn`: inputs read from `given` (name -> .npy path) or
/// random, parameters/buffers/optimizer state from their initializers, the
/// step counter 0. Names in `given` that are not arguments are an error.
llvm::Expected<std::vector<ref::Tensor>>
buildArguments(mlir::func::FuncOp fn, const llvm::StringMap<std::string> &given,
               int64_t seed, llvm::StringRef modelName);

/// The interpreter precision --precision asks for (parseOptions checked it).
inline ref::Precision precisionOf(const Options &opts) {
  return opts.precision == "f64" ? ref::Precision::F64 : ref::Precision::Native;
}

/// Runs `fn` once on the interpreter, as `kiln run` does: checks its sizes
/// before any allocation, builds its arguments (--input files, else random
/// inputs; parameters from their initializers and --seed; step 0) into
/// `args`, and returns the results; nullopt after printing the error.
std::optional<std::vector<ref::Tensor>> runOnce(mlir::func::FuncOp fn, const Options &opts,
                                                ref::Precision precision,
                                                std::vector<ref::Tensor> &args);

} // namespace kiln::tool

#endif // KILN_TOOLS_KILN_TOOLSUPPORT_H
