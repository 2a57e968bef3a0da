//===- KilnBase.td - The kiln dialect, its enums and attributes -*- tablegen -*-===//

#ifndef KILN_BASE_TD
#define KILN_BASE_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"
include "mlir/IR/CommonTypeConstraints.td"

def Kiln_Dialect : Dialect {
  let name = "kiln";
  let cppNamespace = "::kiln";
  let summary = "Tensor operations of a neural-network training step";
  let description = [{
    The `kiln` dialect describes the forward computation of a model, and
    later its backward graph, optimizer update and fused kernels, over
    statically shaped ranked tensors. There is no implicit broadcasting:
    every broadcast is an explicit `kiln.broadcast`.

    ```mlir
    %0 = kiln.matmul %x, %w : tensor<8x64xf32>, tensor<64x10xf32>
    %1 = kiln.broadcast %b, dims = [1] : tensor<10xf32> -> tensor<8x10xf32>
    %2 = kiln.add %0, %1 : tensor<8x10xf32>
    ```
  }];
  let useDefaultAttributePrinterParser = 1;
  let hasConstantMaterializer = 1;
}

//===----------------------------------------------------------------------===//
// Type constraints
//===----------------------------------------------------------------------===//

def Kiln_FloatElement : AnyTypeOf<[F16, BF16, F32, F64]>;
def Kiln_IntElement : AnyTypeOf<[I32, I64]>;
def Kiln_Tensor : StaticShapeTensorOf<[F16, BF16, F32, F64, I1, I32, I64]>;
def Kiln_FloatTensor : StaticShapeTensorOf<[F16, BF16, F32, F64]>;
def Kiln_IntTensor : StaticShapeTensorOf<[I32, I64]>;
def Kiln_NumericTensor : StaticShapeTensorOf<[F16, BF16, F32, F64, I32, I64]>;
def Kiln_LogicalTensor : StaticShapeTensorOf<[I1, I32, I64]>;
def Kiln_BoolTensor : StaticShapeTensorOf<[I1]>;
def Kiln_I64Scalar : 0DTensorOf<[I64]> {
  let builderCall =
      "::mlir::RankedTensorType::get({}, $_builder.getIntegerType(64))";
}

//===----------------------------------------------------------------------===//
// Enums
//===----------------------------------------------------------------------===//

class Kiln_I32Enum<string name, string summary, list<I32EnumAttrCase> cases>
    : I32EnumAttr<name, summary, cases> {
  let cppNamespace = "::kiln";
  let genSpecializedAttr = 0;
}

class Kiln_EnumAttr<EnumAttrInfo info, string mnemonic>
    : EnumAttr<Kiln_Dialect, info, mnemonic> {
  let assemblyFormat = "$value";
}

def Kiln_CompareDirection : Kiln_I32Enum<"CompareDirection",
    "comparison direction", [
      I32EnumAttrCase<"eq", 0>, I32EnumAttrCase<"ne", 1>,
      I32EnumAttrCase<"lt", 2>, I32EnumAttrCase<"le", 3>,
      I32EnumAttrCase<"gt", 4>, I32EnumAttrCase<"ge", 5>]>;
def Kiln_CompareDirectionAttr : Kiln_EnumAttr<Kiln_CompareDirection, "cmp">;

def Kiln_ReduceKind : Kiln_I32Enum<"ReduceKind", "reduction kind", [
      I32EnumAttrCase<"sum", 0>, I32EnumAttrCase<"mean", 1>,
      I32EnumAttrCase<"max", 2>, I32EnumAttrCase<"min", 3>,
      I32EnumAttrCase<"prod", 4>]>;
def Kiln_ReduceKindAttr : Kiln_EnumAttr<Kiln_ReduceKind, "reduce">;

def Kiln_PoolKind : Kiln_I32Enum<"PoolKind", "pooling kind", [
      I32EnumAttrCase<"max", 0>, I32EnumAttrCase<"avg", 1>]>;
def Kiln_PoolKindAttr : Kiln_EnumAttr<Kiln_PoolKind, "pool">;

def Kiln_Distribution : Kiln_I32Enum<"Distribution",
    "random distribution", [
      I32EnumAttrCase<"uniform", 0>, I32EnumAttrCase<"normal", 1>,
      I32EnumAttrCase<"bernoulli", 2>]>;
def Kiln_DistributionAttr : Kiln_EnumAttr<Kiln_Distribution, "dist">;

def Kiln_GeluApproximation : Kiln_I32Enum<"GeluApproximation",
    "gelu approximation", [
      I32EnumAttrCase<"none", 0>, I32EnumAttrCase<"tanh", 1>]>;
def Kiln_GeluApproximationAttr
    : Kiln_EnumAttr<Kiln_GeluApproximation, "gelu_approx">;

def Kiln_LossReduction : Kiln_I32Enum<"LossReduction", "loss reduction", [
      I32EnumAttrCase<"mean", 0>, I32EnumAttrCase<"sum", 1>,
      I32EnumAttrCase<"none", 2>]>;
def Kiln_LossReductionAttr : Kiln_EnumAttr<Kiln_LossReduction, "loss_reduction">;

/// How the fusion pass may treat an op (queried through FusionOpInterface).
def Kiln_FusionClass : Kiln_I32Enum<"FusionClass", "fusion class", [
      I32EnumAttrCase<"elementwise", 0>, I32EnumAttrCase<"broadcast", 1>,
      I32EnumAttrCase<"reduction", 2>, I32EnumAttrCase<"injective", 3>,
      I32EnumAttrCase<"composite", 4>, I32EnumAttrCase<"library", 5>,
      I32EnumAttrCase<"opaque", 6>]>;
def Kiln_FusionClassAttr : Kiln_EnumAttr<Kiln_FusionClass, "fusion_class">;

/// Role of a @forward argument: a model input, a trained parameter, or a
/// buffer (persistent state that the optimizer never updates, such as
/// batch-norm running statistics; a result with `kiln.updates` replaces it).
def Kiln_ArgRole : Kiln_I32Enum<"ArgRole", "argument role", [
      I32EnumAttrCase<"input", 0>, I32EnumAttrCase<"param", 1>,
      I32EnumAttrCase<"buffer", 2>, I32EnumAttrCase<"opt_state", 3>,
      I32EnumAttrCase<"step", 4>]>;
def Kiln_ArgRoleAttr : Kiln_EnumAttr<Kiln_ArgRole, "role">;

/// Parameter initializers; numeric arguments live in `kiln.init_args`.
def Kiln_InitKind : Kiln_I32Enum<"InitKind", "parameter initializer", [
      I32EnumAttrCase<"zeros", 0>, I32EnumAttrCase<"ones", 1>,
      I32EnumAttrCase<"constant", 2>, I32EnumAttrCase<"uniform", 3>,
      I32EnumAttrCase<"normal", 4>, I32EnumAttrCase<"xavier_uniform", 5>,
      I32EnumAttrCase<"xavier_normal", 6>,
      I32EnumAttrCase<"kaiming_uniform", 7>,
      I32EnumAttrCase<"kaiming_normal", 8>]>;
def Kiln_InitKindAttr : Kiln_EnumAttr<Kiln_InitKind, "init">;

def Kiln_OptimizerKind : Kiln_I32Enum<"OptimizerKind", "optimizer", [
      I32EnumAttrCase<"sgd", 0>, I32EnumAttrCase<"momentum", 1>,
      I32EnumAttrCase<"nesterov", 2>, I32EnumAttrCase<"adam", 3>,
      I32EnumAttrCase<"adamw", 4>]>;

/// How the learning rate decays after the (optional) linear warmup.
def Kiln_LrSchedule : Kiln_I32Enum<"LrSchedule", "learning-rate schedule", [
      I32EnumAttrCase<"constant", 0>, I32EnumAttrCase<"cosine", 1>]>;


/// What kind of kernel a `kiln.fusion` becomes (docs/fusion.md).
def Kiln_FusionKind : Kiln_I32Enum<"FusionKind", "fusion kind", [
      I32EnumAttrCase<"loop", 0>, I32EnumAttrCase<"reduction", 1>,
      I32EnumAttrCase<"composite", 2>, I32EnumAttrCase<"library", 3>,
      I32EnumAttrCase<"view", 4>]>;
def Kiln_FusionKindAttr : Kiln_EnumAttr<Kiln_FusionKind, "fusion_kind">;

/// The cuBLASLt epilogue a library fusion's body spells out after its
/// matrix product (CUBLASLT_EPILOGUE_*).
def Kiln_Epilogue : Kiln_I32Enum<"Epilogue", "matmul epilogue", [
      I32EnumAttrCase<"bias", 0>, I32EnumAttrCase<"relu", 1>,
      I32EnumAttrCase<"bias_relu", 2>, I32EnumAttrCase<"gelu", 3>,
      I32EnumAttrCase<"bias_gelu", 4>, I32EnumAttrCase<"drelu", 5>,
      I32EnumAttrCase<"drelu_bgrad", 6>, I32EnumAttrCase<"bgradb", 7>,
      I32EnumAttrCase<"dgelu", 8>, I32EnumAttrCase<"dgelu_bgrad", 9>]>;
def Kiln_EpilogueAttr : Kiln_EnumAttr<Kiln_Epilogue, "epilogue">;

/// Where a planned buffer lives: parameters, optimizer state, buffers and
/// the step counter persist across steps; inputs are bound per step; the
/// arena holds every temporary and output of one step.
def Kiln_MemoryRegion : Kiln_I32Enum<"MemoryRegion", "memory region", [
      I32EnumAttrCase<"persistent", 0>, I32EnumAttrCase<"input", 1>,
      I32EnumAttrCase<"arena", 2>]>;
def Kiln_MemoryRegionAttr : Kiln_EnumAttr<Kiln_MemoryRegion, "region">;

//===----------------------------------------------------------------------===//
// Attributes
//===----------------------------------------------------------------------===//

def Kiln_BufferAttr : AttrDef<Kiln_Dialect, "Buffer"> {
  let mnemonic = "buffer";
  let summary = "where a value lives in the planned memory of a step";
  let description = [{
    Set by `--kiln-plan-memory` on every function argument (`kiln.buffer`)
    and every result of a top-level op (`buffers` of `kiln.fusion`): the
    region, the byte offset in it and the byte size (the value's bytes,
    rounded up to the plan's alignment).

    ```mlir
    #kiln.buffer<arena, offset = 256, size = 4096>
    ```
  }];
  let parameters = (ins "::kiln::MemoryRegion":$region, "int64_t":$offset,
                        "int64_t":$size);
  let assemblyFormat =
      "`<` $region `,` `offset` `=` $offset `,` `size` `=` $size `>`";
  let genVerifyDecl = 1;
}

def Kiln_BufferArrayAttr : TypedArrayAttrBase<Kiln_BufferAttr,
                                              "array of #kiln.buffer">;

def Kiln_MemoryPlanAttr : AttrDef<Kiln_Dialect, "MemoryPlan"> {
  let mnemonic = "memory_plan";
  let summary = "sizes of the planned regions of a function";
  let description = [{
    Set by `--kiln-plan-memory` on a function (`kiln.memory_plan`): the
    bytes of each region, the alignment of every offset and size, and the
    arena's lower bound: the largest total of simultaneously live arena
    values (aligned sizes), which no plan of this op order can beat.

    ```mlir
    #kiln.memory_plan<arena = 8192, lower_bound = 8192, persistent = 1024,
                      input = 512, alignment = 64>
    ```
  }];
  let parameters = (ins "int64_t":$arena, "int64_t":$lower_bound,
                        "int64_t":$persistent, "int64_t":$input,
                        "int64_t":$alignment);
  let assemblyFormat = [{
    `<` `arena` `=` $arena `,` `lower_bound` `=` $lower_bound `,`
    `persistent` `=` $persistent `,` `input` `=` $input `,`
    `alignment` `=` $alignment `>`
  }];
}

def Kiln_OptimizerAttr : AttrDef<Kiln_Dialect, "Optimizer"> {
  let mnemonic = "optimizer";
  let summary = "the optimizer of a training step and its hyperparameters";
  let description = [{
    What `--kiln-optimizer` turns the gradients of `@train_step` into: the
    update rule (`kind`), its hyperparameters, gradient clipping and the
    learning-rate schedule. The frontend puts it on `@forward` from the
    model's `train` clause; semantics (PyTorch's) are in docs/training.md.

    ```mlir
    #kiln.optimizer<sgd, lr = 1.000000e-01, weight_decay = 0.000000e+00>
    #kiln.optimizer<adamw, lr = 1.000000e-03, beta1 = 9.000000e-01,
                    beta2 = 9.990000e-01, eps = 1.000000e-08,
                    weight_decay = 1.000000e-02, clip_norm = 1.000000e+00,
                    schedule = cosine, warmup_steps = 100, total_steps = 1000>
    ```

    The kind comes first; the fields follow as `name = value` in any order,
    each at most once, and fields left out take the kind's defaults
    (`OptimizerConfig::defaults`, ir/Dialect.h): lr 1e-2 (sgd, momentum, nesterov)
    or 1e-3 (adam, adamw), momentum 0.9, beta1 0.9, beta2 0.999, eps 1e-8,
    weight_decay 0.01 for adamw and 0 otherwise; clipping, warmup and the
    cosine schedule off. The printer always spells out the update rule's
    fields (lr, momentum or beta1/beta2/eps, weight_decay) and the rest only
    where they differ from the default.

    Fields that the kind does not use are 0 (`momentum` belongs to momentum
    and nesterov; `beta1`, `beta2`, `eps` to adam and adamw), and
    `total_steps`/`min_lr` belong to the cosine schedule. `total_steps = 0`
    with `schedule = cosine` means "the length of the run", which the driver
    supplies through `--kiln-optimizer="total-steps=N"`.
  }];
  let parameters = (ins
    "::kiln::OptimizerKind":$kind,
    APFloatParameter<"learning rate (> 0)">:$lr,
    APFloatParameter<"momentum factor (momentum, nesterov)">:$momentum,
    APFloatParameter<"first-moment decay (adam, adamw)">:$beta1,
    APFloatParameter<"second-moment decay (adam, adamw)">:$beta2,
    APFloatParameter<"denominator term (adam, adamw)">:$eps,
    APFloatParameter<"L2 (sgd family, adam) or decoupled (adamw) decay">:$weight_decay,
    APFloatParameter<"global gradient-norm bound, 0 = no clipping">:$clip_norm,
    "::kiln::LrSchedule":$schedule,
    "int64_t":$warmup_steps,
    "int64_t":$total_steps,
    APFloatParameter<"final learning rate of the cosine schedule">:$min_lr
  );
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let skipDefaultBuilders = 1;
  // `+ 0.0` stores -0.0 as +0.0, which is how it prints and reads back.
  let builders = [AttrBuilder<(ins "const ::kiln::OptimizerConfig &":$c), [{
    using ::llvm::APFloat;
    return $_get($_ctxt, c.kind, APFloat(c.lr + 0.0), APFloat(c.momentum + 0.0),
                 APFloat(c.beta1 + 0.0), APFloat(c.beta2 + 0.0),
                 APFloat(c.eps + 0.0), APFloat(c.weightDecay + 0.0),
                 APFloat(c.clipNorm + 0.0), c.schedule, c.warmupSteps,
                 c.totalSteps, APFloat(c.minLr + 0.0));
  }]>];
  let extraClassDeclaration = [{
    /// The fields as plain numbers (how --kiln-optimizer reads them).
    ::kiln::OptimizerConfig getConfig() const;
  }];
}

#endif // KILN_BASE_TD
