//===- Passes.td - Kiln passes ---------------------------------*- tablegen -*-===//
#ifndef KILN_PASSES_TD
#define KILN_PASSES_TD

include "mlir/Pass/PassBase.td"

def KilnVerifyModel : Pass<"kiln-verify-model", "::mlir::ModuleOp"> {
  let summary = "Checks the model contract of @forward that later passes rely on";
  let description = [{
    The frontend (and the ONNX importer) promise the rest of the compiler a
    module with one `func.func @forward` whose arguments carry `kiln.name`
    and `kiln.role`, whose parameters and buffers carry `kiln.init`, whose
    buffer updates (`kiln.updates`) name a buffer of their type, and whose loss (the
    result marked `kiln.loss`, if any) is a 0-d float tensor. This pass
    checks that promise and names the argument or result that breaks it, so
    a hand-written or imported module fails here rather than deep inside
    autodiff.

    ```mlir
    func.func @forward(%x: tensor<4x8xf32> {kiln.name = "x", kiln.role = #kiln<role input>},
                       %w: tensor<8x2xf32> {kiln.name = "w", kiln.role = #kiln<role param>,
                                            kiln.init = #kiln<init zeros>})
        -> (tensor<f32> {kiln.loss, kiln.name = "loss"})
    ```
  }];
  let dependentDialects = ["::kiln::KilnDialect"];
}

#endif // KILN_PASSES_TD
