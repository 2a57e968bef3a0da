//===- kiln-translate.cpp - Kiln's translations for lit tests -------------===//
//
// `kiln-translate --kiln-to-cuda F.mlir` prints, for every kernel fusion of
// every function of a fused (and optionally planned) module, the CUDA C++
// kernel codegen makes of it: a `// fusion @func #n kind -> name grid block`
// header, then the kernel and its host trampoline (the shared device
// prelude is printed once, only with --kiln-cuda-prelude).
//
//===----------------------------------------------------------------------===//

#include "codegen/CudaEmitter.h"
#include "ir/Dialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Tools/mlir-translate/MlirTranslateMain.h"
#include "mlir/Tools/mlir-translate/Translation.h"
#include "llvm/Support/CommandLine.h"

using namespace mlir;

static llvm::cl::opt<bool> printPrelude("kiln-cuda-prelude",
                                        llvm::cl::desc("also print the device prelude"),
                                        llvm::cl::init(false));

static LogicalResult kilnToCuda(ModuleOp module, llvm::raw_ostream &os) {
  if (printPrelude)
    os << kiln::codegen::cudaPrelude() << "\n";
  const std::string prelude = kiln::codegen::cudaPrelude();
  bool ok = true;
  for (auto func : module.getOps<func::FuncOp>()) {
    unsigned n = 0;
    func.walk([&](kiln::FusionOp fusion) {
      unsigned index = n++;
      if (fusion.getKind() == kiln::FusionKind::library || fusion.getKind() == kiln::FusionKind::view)
        return;
      FailureOr<kiln::codegen::EmittedKernel> k = kiln::codegen::emitFusionKernel(fusion);
      if (failed(k)) {
        ok = false;
        return;
      }
      os << "// fusion @" << func.getSymName() << " #" << index << " "
         << kiln::stringifyFusionKind(fusion.getKind()) << " -> " << k->name << " grid " << k->grid[0]
         << " block " << k->block[0] << "\n";
      os << llvm::StringRef(k->source).drop_front(prelude.size()) << "\n";
    });
  }
  return success(ok);
}

int main(int argc, char **argv) {
  TranslateFromMLIRRegistration reg(
      "kiln-to-cuda", "print the CUDA C++ kernel of every kernel fusion", kilnToCuda,
      [](DialectRegistry &registry) { registry.insert<kiln::KilnDialect, func::FuncDialect>(); });
  return failed(mlirTranslateMain(argc, argv, "Kiln translations"));
}
