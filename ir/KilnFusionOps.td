//===- KilnFusionOps.td - Fused kernels of a planned step -*- tablegen -*-===//
//
// `--kiln-fuse` groups the ops of a step into `kiln.fusion` regions, one per
// kernel or library call; `--kiln-plan-memory` then gives every value a
// buffer. See docs/fusion.md.

#ifndef KILN_FUSION_OPS_TD
#define KILN_FUSION_OPS_TD

include "ir/KilnBase.td"
include "ir/KilnInterfaces.td"
include "mlir/IR/OpBase.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def Kiln_FusionOp : Op<Kiln_Dialect, "fusion", [
    IsolatedFromAbove, Pure, SingleBlock,
    DeclareOpInterfaceMethods<Kiln_ReferenceOpInterface>]> {
  let summary = "one kernel (or one library call) of a fused step";
  let description = [{
    The body computes the results from the block arguments (one per input)
    with ordinary kiln ops and returns them with `kiln.yield`; it is
    isolated from above, so a fusion's inputs are exactly what its kernel
    reads from memory and its results what it writes. The reference
    semantics are the body's.

    `kind` says what the kernel is:
    - `loop`: elementwise, broadcast and injective ops (and the
      elementwise composites gelu, gelu_grad, dropout) in one grid-stride
      loop per distinct result shape;
    - `reduction`: one or more `kiln.reduce`/`kiln.argmax` over the same
      operand shape and dims, with an elementwise prologue (on the operand
      shape) and epilogue (on the result shape);
    - `composite`: one row-wise composite (softmax, log_softmax,
      cross_entropy, layer_norm, batch_norm and their gradients) with an
      elementwise prologue and epilogue;
    - `library`: one matmul/conv2d/pool2d (or adjoint) for cuBLASLt/cuDNN,
      and, for a matmul, the ops `epilogue` names (bias add, relu, gelu,
      their derivatives and the bias gradient);
    - `view`: a single `kiln.reshape`, which moves no data (its result
      shares its input's buffer).

    `buffers` is set by `--kiln-plan-memory`: one `#kiln.buffer` per
    result.

    ```mlir
    %r = kiln.fusion loop (%a, %b) : (tensor<8x10xf32>, tensor<10xf32>) -> tensor<8x10xf32> {
    ^bb0(%x: tensor<8x10xf32>, %y: tensor<10xf32>):
      %0 = kiln.broadcast %y, dims = [1] : tensor<10xf32> -> tensor<8x10xf32>
      %1 = kiln.add %x, %0 : tensor<8x10xf32>
      %2 = kiln.relu %1 : tensor<8x10xf32>
      kiln.yield %2 : tensor<8x10xf32>
    }
    ```
  }];
  let arguments = (ins Variadic<Kiln_Tensor>:$inputs, Kiln_FusionKindAttr:$kind,
                       OptionalAttr<Kiln_EpilogueAttr>:$epilogue,
                       OptionalAttr<Kiln_BufferArrayAttr>:$buffers);
  let results = (outs Variadic<Kiln_Tensor>:$results);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = [{
    custom<KilnEnum>($kind) (`epilogue` `=` custom<KilnEnum>($epilogue)^)?
    `(` $inputs `)` attr-dict `:` functional-type($inputs, results) $body
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// The body's terminator.
    ::kiln::YieldOp getYield();
  }];
}

def Kiln_YieldOp : Op<Kiln_Dialect, "yield", [
    Pure, Terminator, HasParent<"::kiln::FusionOp">]> {
  let summary = "the results of a kiln.fusion body";
  let description = [{
    ```mlir
    kiln.yield %0, %1 : tensor<8x10xf32>, tensor<10xf32>
    ```
  }];
  let arguments = (ins Variadic<Kiln_Tensor>:$values);
  let assemblyFormat = "($values^ `:` type($values))? attr-dict";
}

#endif // KILN_FUSION_OPS_TD
