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

def KilnAutodiff : Pass<"kiln-autodiff", "::mlir::ModuleOp"> {
  let summary = "Derives @train_step (loss and parameter gradients) from @forward";
  let description = [{
    Reverse-mode automatic differentiation of @forward's loss with respect
    to every parameter (`#kiln<role param>`), through each op's
    `GradientOpInterface` rule. The result is the gradient form of
    `@train_step` described in docs/training.md: @forward's arguments plus a
    step counter, returning the loss, one gradient per parameter (in
    parameter order, `kiln.grad_of`) and @forward's buffer updates.
    `--kiln-optimizer` then turns the gradients into the parameter update.

    1. Clone @forward's body into @train_step; add the `step` argument.
    2. Rekey every random op (`RandomOpInterface`) by the step: offset +
       step * 2^32.
    3. Mark active values: float values that depend on a parameter.
    4. Sweep the ops in reverse from d(loss) = 1, calling each op's rule for
       its active operands and summing adjoints of values used more than
       once; an active op without a rule is an error naming it.
    5. Return the loss, the gradients (a zero gradient, `kiln.no_gradient`
       and a warning for a parameter the loss does not depend on) and the
       buffer updates; erase what the step does not need.

    ```mlir
    func.func @train_step(%x: tensor<4x8xf32> {kiln.name = "x", ...},
                          %w: tensor<8x2xf32> {kiln.name = "w", kiln.role = #kiln<role param>, ...},
                          %step: tensor<i64> {kiln.name = "step", kiln.role = #kiln<role step>})
        -> (tensor<f32> {kiln.loss, kiln.name = "loss"},
            tensor<8x2xf32> {kiln.grad_of = "w", kiln.name = "w.grad"})
    ```
  }];
  let dependentDialects = ["::kiln::KilnDialect"];
}

def KilnOptimizer : Pass<"kiln-optimizer", "::mlir::ModuleOp"> {
  let summary = "Turns the gradients of @train_step into the optimizer update";
  let description = [{
    Rewrites the gradient form of `@train_step` (from `--kiln-autodiff`)
    into the full training step of docs/training.md, following the
    function's `#kiln.optimizer<...>` with PyTorch's semantics
    (`torch.optim` SGD/Adam/AdamW, `clip_grad_norm_`):

    1. Add the optimizer state arguments before `step` (`<param>.momentum`
       for momentum/nesterov, `<param>.m` and `<param>.v` for adam/adamw;
       role `opt_state`, zero-initialized, the parameter's type).
    2. Clip all gradients together by their global L2 norm (`clip_norm`).
    3. Compute the learning rate of this step from the step counter
       (linear warmup, then constant or cosine) on 0-d f64 tensors.
    4. Update every parameter and its state with kiln ops in the
       parameter's element type; scalars reach a parameter's shape through
       `kiln.broadcast`. A parameter marked `kiln.no_gradient` and its
       state are returned unchanged.
    5. Return the loss, the updated parameters, the buffer updates and the
       updated state, each marked `kiln.updates = "<argument>"`.

    ```mlir
    // before (sgd, lr = 0.1)
    func.func @train_step(%w: tensor<3xf32> {kiln.name = "w", kiln.role = #kiln<role param>, ...},
                          %step: tensor<i64> {kiln.name = "step", kiln.role = #kiln<role step>})
        -> (tensor<f32> {kiln.loss, kiln.name = "loss"},
            tensor<3xf32> {kiln.grad_of = "w", kiln.name = "w.grad"})
    // after
    func.func @train_step(%w: tensor<3xf32> {...}, %step: tensor<i64> {...})
        -> (tensor<f32> {kiln.loss, kiln.name = "loss"},
            tensor<3xf32> {kiln.name = "w.updated", kiln.updates = "w"}) {
      ...
      %lr = kiln.constant dense<1.000000e-01> : tensor<f64>
      %0 = kiln.cast %lr : tensor<f64> -> tensor<f32>
      %1 = kiln.broadcast %0, dims = [] : tensor<f32> -> tensor<3xf32>
      %2 = kiln.mul %1, %grad : tensor<3xf32>
      %3 = kiln.sub %w, %2 : tensor<3xf32>
      return %loss, %3 : tensor<f32>, tensor<3xf32>
    }
    ```
  }];
  let options = [
    Option<"totalSteps", "total-steps", "int64_t", /*default=*/"0",
           "Length of the run in steps: the cosine schedule's total_steps "
           "(replaces the attribute's; 0 keeps it; other schedules ignore it)">
  ];
  let dependentDialects = ["::kiln::KilnDialect"];
}

def KilnEvalFunction : Pass<"kiln-eval-function", "::mlir::ModuleOp"> {
  let summary = "Derives @eval (inference mode) from @forward";
  let description = [{
    Clones `@forward` into `@eval`, the function `kiln train` evaluates
    held-out data with (docs/training.md):

    1. `kiln.batch_norm` loses `training`: it normalizes by the running
       statistics, and uses of its running-statistic results are replaced
       by its running-statistic operands (it returns them unchanged).
    2. `kiln.dropout` is replaced by its input.
    3. Buffer-update results (`kiln.updates`) are dropped; the results are
       the loss (if any) and the outputs, with their attributes.
    4. Ops that only fed the dropped results are erased.

    `@eval` has `@forward`'s arguments and attributes except
    `kiln.optimizer` (it does not train).

    ```mlir
    // @forward
    %y, %m1, %v1 = kiln.batch_norm %x, %g, %b, %m, %v {training} : tensor<8x4xf32>, tensor<4xf32>
    %d = kiln.dropout %y, %seed, %off, ratio = 5.000000e-01 : tensor<8x4xf32>
    return %loss, %d, %m1, %v1 : ...   // loss, output, two buffer updates
    // @eval
    %y, %m1, %v1 = kiln.batch_norm %x, %g, %b, %m, %v : tensor<8x4xf32>, tensor<4xf32>
    return %loss, %y : tensor<f32>, tensor<8x4xf32>
    ```
  }];
  let dependentDialects = ["::kiln::KilnDialect"];
}

def KilnFuse : Pass<"kiln-fuse", "::mlir::ModuleOp"> {
  let summary = "Groups the ops of every function into kiln.fusion kernels";
  let description = [{
    Partitions the top level of every function into `kiln.fusion` regions
    (docs/fusion.md), so that codegen emits one kernel or one library call
    per region:

    1. Matrix products take their epilogues (bias, relu, gelu, and backward
       drelu/dgelu, bias gradients) where cuBLASLt can compute them.
    2. Every other op starts in a group of its own; splat constants are
       cloned into each group that reads them instead.
    3. Producer-consumer edges are merged greedily, largest bytes saved
       first (a value that no longer goes through memory saves its write
       and its reads), when the kinds fit (loop into loop; loop as prologue
       of a reduction or composite on its operand shape; loop as epilogue on
       the result shape) and the merge creates no cycle between groups.
       Nothing is ever duplicated except splat constants, so no matmul,
       convolution or reduction is recomputed.
    4. Each group becomes a `kiln.fusion` (inputs: what it reads; results:
       what others read), emitted in a topological order that keeps the
       original order where it can.

    ```mlir
    // before
    %0 = kiln.matmul %x, %w : tensor<8x4xf32>, tensor<4x3xf32>
    %1 = kiln.broadcast %b, dims = [1] : tensor<3xf32> -> tensor<8x3xf32>
    %2 = kiln.add %0, %1 : tensor<8x3xf32>
    %3 = kiln.relu %2 : tensor<8x3xf32>
    // after
    %3 = kiln.fusion library epilogue = bias_relu(%x, %w, %b) : (...) -> tensor<8x3xf32> {
    ^bb0(%a: tensor<8x4xf32>, %c: tensor<4x3xf32>, %d: tensor<3xf32>):
      ... the four ops ...
      kiln.yield %r : tensor<8x3xf32>
    }
    ```

    An op that is not a fusible kiln op (no FusionOpInterface, or with
    regions) is an error naming it.
  }];
  let options = [
    Option<"epilogues", "epilogues", "bool", /*default=*/"true",
           "Fold bias, activation and bias-gradient consumers of matrix "
           "products into cuBLASLt epilogues">
  ];
  let dependentDialects = ["::kiln::KilnDialect"];
}

#endif // KILN_PASSES_TD
