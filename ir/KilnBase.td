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
def Kiln_OptimizerKindAttr : Kiln_EnumAttr<Kiln_OptimizerKind, "optimizer">;

#endif // KILN_BASE_TD
