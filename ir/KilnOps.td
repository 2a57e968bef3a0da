//===- KilnOps.td - The kiln operations -------------------*- tablegen -*-===//
//
// Every op: operands/attributes/results, a verifier or a result-type rule
// (InferTypeOpAdaptor) that says what was expected and what was found, its
// fusion class, and (for elementwise ops) the scalar formula in
// ir/Scalar.h that the interpreter and the CUDA emitter share.

#ifndef KILN_OPS_TD
#define KILN_OPS_TD

include "ir/KilnBase.td"
include "ir/KilnInterfaces.td"
include "mlir/IR/OpBase.td"
include "mlir/IR/BuiltinAttributeInterfaces.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/Interfaces/InferTypeOpInterface.td"

/// Attaches the op's fusion class as a static property (see Dialect.h).
class Kiln_HasFusionClass<string cls>
    : ParamNativeOpTrait<"HasFusionClass", "::kiln::FusionClass::" # cls> {
  let cppNamespace = "::kiln";
}

/// The op has a reverse-mode rule (ir/Gradients.cpp).
def Kiln_Differentiable : DeclareOpInterfaceMethods<Kiln_GradientOpInterface>;

class Kiln_Op<string mnemonic, string fusionClass, list<Trait> traits = []>
    : Op<Kiln_Dialect, mnemonic, !listconcat(traits, [
        Pure, Kiln_FusionOpInterface, Kiln_HasFusionClass<fusionClass>,
        // Reference semantics: elementwise ops get evaluate() from their ODS
        // class (ir/ReferenceElementwise.h), the others in ReferenceOps.cpp.
        DeclareOpInterfaceMethods<Kiln_ReferenceOpInterface>
      ])>;

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

/// `fn` names the scalar function in ir/Scalar.h (namespace kiln::scalar).
class Kiln_UnaryOp<string mnemonic, string fn, string summaryText,
                   Type tensorType = Kiln_FloatTensor>
    : Kiln_Op<mnemonic, "elementwise", [SameOperandsAndResultType, Elementwise,
                                        Kiln_Differentiable,
                                        Kiln_ScalarFormulaOpInterface]> {
  let summary = summaryText;
  let description = "Elementwise `" # fn # "(x)`.\n\n```mlir\n%r = kiln."
      # mnemonic # " %x : tensor<4x8xf32>\n```";
  let arguments = (ins tensorType:$x);
  let results = (outs tensorType:$result);
  let assemblyFormat = "$x attr-dict `:` type($x)";
  let extraClassDeclaration = [{
    /// Name of the scalar function in ir/Scalar.h.
    static constexpr ::llvm::StringLiteral kScalarFn = "}] # fn # [{";
    template <typename T> static T apply(T x) {
      return ::kiln::scalar::}] # fn # [{(x);
    }
  }];
  // Reference semantics come from `apply`: nothing to write per op.
  let extraClassDefinition = [{
    ::llvm::LogicalResult $cppClass::evaluate(::kiln::ref::EvalContext &ctx,
        ::llvm::ArrayRef<const ::kiln::ref::Tensor *> operands,
        ::llvm::SmallVectorImpl<::kiln::ref::Tensor> &results) {
      return ::kiln::ref::evaluateUnary<$cppClass>(ctx, operands, results);
    }
  }];
}

def Kiln_NegOp : Kiln_UnaryOp<"neg", "neg", "negation", Kiln_NumericTensor>;
def Kiln_AbsOp : Kiln_UnaryOp<"abs", "abs", "absolute value", Kiln_NumericTensor>;
def Kiln_SignOp : Kiln_UnaryOp<"sign", "sign", "sign (-1, 0, 1)", Kiln_NumericTensor>;
def Kiln_ExpOp : Kiln_UnaryOp<"exp", "exp", "exponential">;
def Kiln_LogOp : Kiln_UnaryOp<"log", "log", "natural logarithm">;
def Kiln_SqrtOp : Kiln_UnaryOp<"sqrt", "sqrt", "square root">;
def Kiln_RsqrtOp : Kiln_UnaryOp<"rsqrt", "rsqrt", "reciprocal square root">;
def Kiln_TanhOp : Kiln_UnaryOp<"tanh", "tanh", "hyperbolic tangent">;
def Kiln_SigmoidOp : Kiln_UnaryOp<"sigmoid", "sigmoid", "logistic sigmoid">;
def Kiln_ReluOp : Kiln_UnaryOp<"relu", "relu", "rectified linear unit", Kiln_NumericTensor>;
def Kiln_SinOp : Kiln_UnaryOp<"sin", "sin", "sine">;
def Kiln_CosOp : Kiln_UnaryOp<"cos", "cos", "cosine">;
def Kiln_ErfOp : Kiln_UnaryOp<"erf", "erf", "error function">;
def Kiln_FloorOp : Kiln_UnaryOp<"floor", "floor", "round toward -inf">;
def Kiln_CeilOp : Kiln_UnaryOp<"ceil", "ceil", "round toward +inf">;
def Kiln_NotOp : Kiln_UnaryOp<"not", "logical_not", "logical not", Kiln_LogicalTensor>;

class Kiln_BinaryOp<string mnemonic, string fn, string summaryText,
                    Type tensorType = Kiln_NumericTensor>
    : Kiln_Op<mnemonic, "elementwise", [SameOperandsAndResultType, Elementwise,
                                        Kiln_Differentiable,
                                        Kiln_ScalarFormulaOpInterface]> {
  let summary = summaryText;
  let description = "Elementwise `" # fn # "(lhs, rhs)` on operands of one "
      # "type; broadcasting is explicit (`kiln.broadcast`).\n\n```mlir\n"
      # "%r = kiln." # mnemonic # " %a, %b : tensor<4x8xf32>\n```";
  let arguments = (ins tensorType:$lhs, tensorType:$rhs);
  let results = (outs tensorType:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` type($result)";
  let extraClassDeclaration = [{
    /// Name of the scalar function in ir/Scalar.h.
    static constexpr ::llvm::StringLiteral kScalarFn = "}] # fn # [{";
    template <typename T> static T apply(T a, T b) {
      return ::kiln::scalar::}] # fn # [{(a, b);
    }
  }];
  // Reference semantics come from `apply`: nothing to write per op.
  let extraClassDefinition = [{
    ::llvm::LogicalResult $cppClass::evaluate(::kiln::ref::EvalContext &ctx,
        ::llvm::ArrayRef<const ::kiln::ref::Tensor *> operands,
        ::llvm::SmallVectorImpl<::kiln::ref::Tensor> &results) {
      return ::kiln::ref::evaluateBinary<$cppClass>(ctx, operands, results);
    }
  }];
}

def Kiln_AddOp : Kiln_BinaryOp<"add", "add", "addition">;
def Kiln_SubOp : Kiln_BinaryOp<"sub", "sub", "subtraction">;
def Kiln_MulOp : Kiln_BinaryOp<"mul", "mul", "multiplication">;
def Kiln_DivOp : Kiln_BinaryOp<"div", "div", "division (integers truncate; x/0 = 0)">;
def Kiln_PowOp : Kiln_BinaryOp<"pow", "pow", "power">;
def Kiln_MaximumOp : Kiln_BinaryOp<"maximum", "maximum", "NaN-propagating maximum">;
def Kiln_MinimumOp : Kiln_BinaryOp<"minimum", "minimum", "NaN-propagating minimum">;
def Kiln_AndOp : Kiln_BinaryOp<"and", "logical_and", "logical/bitwise and", Kiln_LogicalTensor>;
def Kiln_OrOp : Kiln_BinaryOp<"or", "logical_or", "logical/bitwise or", Kiln_LogicalTensor>;

def Kiln_CompareOp : Kiln_Op<"compare", "elementwise", [
    Elementwise, SameTypeOperands, InferTypeOpAdaptor]> {
  let summary = "elementwise comparison producing i1";
  let description = [{
    ```mlir
    %m = kiln.compare lt, %a, %b : tensor<4xf32>
    ```
    The result has the operands' shape and element type `i1`. Comparisons
    with NaN are false except `ne`.
  }];
  let arguments = (ins Kiln_CompareDirectionAttr:$direction,
                       Kiln_Tensor:$lhs, Kiln_Tensor:$rhs);
  let results = (outs Kiln_BoolTensor:$result);
  let assemblyFormat =
      "custom<KilnEnum>($direction) `,` $lhs `,` $rhs attr-dict `:` type($lhs)";
}

def Kiln_SelectOp : Kiln_Op<"select", "elementwise", [
    Elementwise, InferTypeOpAdaptor, AllTypesMatch<["on_true", "on_false"]>,
    Kiln_Differentiable]> {
  let summary = "elementwise choice: cond ? on_true : on_false";
  let description = [{
    ```mlir
    %r = kiln.select %c, %a, %b : tensor<4xi1>, tensor<4xf32>
    ```
  }];
  let arguments = (ins Kiln_BoolTensor:$cond, Kiln_Tensor:$on_true,
                       Kiln_Tensor:$on_false);
  let results = (outs Kiln_Tensor:$result);
  let assemblyFormat =
      "$cond `,` $on_true `,` $on_false attr-dict `:` type($cond) `,` type($on_true)";
}

def Kiln_CastOp : Kiln_Op<"cast", "elementwise", [
    Elementwise, SameOperandsAndResultShape, Kiln_Differentiable]> {
  let summary = "element type conversion";
  let description = [{
    Float to integer truncates toward zero and saturates (NaN becomes 0);
    anything to `i1` is `x != 0`; `i1` to anything is 0 or 1.

    ```mlir
    %r = kiln.cast %x : tensor<4xf32> -> tensor<4xi32>
    ```
  }];
  let arguments = (ins Kiln_Tensor:$x);
  let results = (outs Kiln_Tensor:$result);
  let assemblyFormat = "$x attr-dict `:` type($x) `->` type($result)";
  let hasFolder = 1;
}

def Kiln_StopGradientOp : Kiln_Op<"stop_gradient", "elementwise", [
    SameOperandsAndResultType, Elementwise, Kiln_Differentiable]> {
  let summary = "identity that blocks gradients";
  let description = [{
    Returns its operand; `--kiln-autodiff` propagates no adjoint through it
    (its gradient rule returns null), as `torch.Tensor.detach`. It has no
    folder, so that it survives canonicalization before autodiff.

    ```mlir
    %t = kiln.stop_gradient %x : tensor<8x10xf32>
    ```
  }];
  let arguments = (ins Kiln_Tensor:$x);
  let results = (outs Kiln_Tensor:$result);
  let assemblyFormat = "$x attr-dict `:` type($x)";
}

//===----------------------------------------------------------------------===//
// Broadcast and reductions
//===----------------------------------------------------------------------===//

def Kiln_BroadcastOp : Kiln_Op<"broadcast", "broadcast", [Kiln_Differentiable]> {
  let summary = "broadcast_in_dim";
  let description = [{
    Operand dimension `i` becomes result dimension `dims[i]` (strictly
    increasing); its size must be 1 (broadcast) or equal to the result's.
    Result dimensions not named in `dims` are new.

    ```mlir
    %r = kiln.broadcast %b, dims = [1] : tensor<10xf32> -> tensor<8x10xf32>
    ```
  }];
  let arguments = (ins Kiln_Tensor:$x, DenseI64ArrayAttr:$dims);
  let results = (outs Kiln_Tensor:$result);
  let assemblyFormat =
      "$x `,` `dims` `=` $dims attr-dict `:` type($x) `->` type($result)";
  let hasVerifier = 1;
  let hasFolder = 1;
}

def Kiln_ReduceOp : Kiln_Op<"reduce", "reduction", [InferTypeOpAdaptor,
                                                   Kiln_Differentiable]> {
  let summary = "reduction over a set of dimensions";
  let description = [{
    Reduces `dims` (strictly increasing, in range) with `kind`; `keep_dims`
    keeps them as size 1. `mean` requires a float type.

    ```mlir
    %r = kiln.reduce sum %x, dims = [1] : tensor<8x10xf32>
    %m = kiln.reduce mean %x, dims = [0, 1] keep_dims : tensor<8x10xf32>
    ```
  }];
  let arguments = (ins Kiln_ReduceKindAttr:$kind, Kiln_NumericTensor:$x,
                       DenseI64ArrayAttr:$dims, UnitAttr:$keep_dims);
  let results = (outs Kiln_NumericTensor:$result);
  let assemblyFormat = [{
    custom<KilnEnum>($kind) $x `,` `dims` `=` $dims (`keep_dims` $keep_dims^)?
    attr-dict `:` type($x)
  }];
}

def Kiln_ArgmaxOp : Kiln_Op<"argmax", "reduction", [InferTypeOpAdaptor]> {
  let summary = "index of the maximum along one dimension (first wins)";
  let description = [{
    ```mlir
    %i = kiln.argmax %logits, dim = 1 : tensor<8x10xf32>
    ```
    The result drops `dim` and has element type `i64`.
  }];
  let arguments = (ins Kiln_NumericTensor:$x, I64Attr:$dim);
  let results = (outs StaticShapeTensorOf<[I64]>:$result);
  let assemblyFormat = "$x `,` `dim` `=` $dim attr-dict `:` type($x)";
}

//===----------------------------------------------------------------------===//
// Library ops: matmul, convolution, pooling
//===----------------------------------------------------------------------===//

def Kiln_MatmulOp : Kiln_Op<"matmul", "library", [
    InferTypeOpAdaptor, Kiln_Differentiable]> {
  let summary = "batched matrix product with optional transposes";
  let description = [{
    Operands of equal rank >= 2 and one float element type; the leading
    (batch) dimensions must be identical. `transpose_a`/`transpose_b`
    swap the last two dimensions of an operand before the product.

    ```mlir
    %c = kiln.matmul %a, %b : tensor<8x64xf32>, tensor<64x10xf32>
    %d = kiln.matmul %a, %w transpose_b : tensor<4x8x16xf32>, tensor<4x32x16xf32>
    ```
  }];
  let arguments = (ins Kiln_FloatTensor:$lhs, Kiln_FloatTensor:$rhs,
                       UnitAttr:$transpose_a, UnitAttr:$transpose_b);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = [{
    $lhs `,` $rhs (`transpose_a` $transpose_a^)? (`transpose_b` $transpose_b^)?
    attr-dict `:` type($lhs) `,` type($rhs)
  }];
}

def Kiln_Conv2dOp : Kiln_Op<"conv2d", "library", [
    InferTypeOpAdaptor, Kiln_Differentiable]> {
  let summary = "2-D convolution, NCHW input and OIHW filter";
  let description = [{
    `input` is [N, C, H, W], `filter` [O, C / groups, KH, KW]; `padding` is
    [top, left, bottom, right]. The result is [N, O, OH, OW] with
    OH = (H + top + bottom - dilation_h * (KH - 1) - 1) / stride_h + 1.
    There is no bias: a bias is a broadcast add.

    ```mlir
    %y = kiln.conv2d %x, %w, strides = [1, 1], padding = [1, 1, 1, 1],
           dilations = [1, 1], groups = 1 : tensor<2x3x8x8xf32>, tensor<4x3x3x3xf32>
    ```
  }];
  let arguments = (ins Kiln_FloatTensor:$input, Kiln_FloatTensor:$filter,
                       DenseI64ArrayAttr:$strides, DenseI64ArrayAttr:$padding,
                       DenseI64ArrayAttr:$dilations, I64Attr:$groups);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $filter `,` `strides` `=` $strides `,` `padding` `=` $padding `,`
    `dilations` `=` $dilations `,` `groups` `=` $groups attr-dict `:`
    type($input) `,` type($filter)
  }];
}

def Kiln_Pool2dOp : Kiln_Op<"pool2d", "library", [
    InferTypeOpAdaptor, Kiln_Differentiable]> {
  let summary = "2-D max or average pooling over NCHW";
  let description = [{
    `padding` is [top, left, bottom, right]; max pooling pads with -inf,
    average pooling divides by the window size when `count_include_pad` is
    set and by the number of in-bounds elements otherwise.

    ```mlir
    %y = kiln.pool2d max %x, window = [2, 2], strides = [2, 2],
           padding = [0, 0, 0, 0] : tensor<2x4x8x8xf32>
    ```
  }];
  let arguments = (ins Kiln_PoolKindAttr:$kind, Kiln_FloatTensor:$input,
                       DenseI64ArrayAttr:$window, DenseI64ArrayAttr:$strides,
                       DenseI64ArrayAttr:$padding, UnitAttr:$count_include_pad);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = [{
    custom<KilnEnum>($kind) $input `,` `window` `=` $window `,` `strides` `=` $strides `,`
    `padding` `=` $padding attr-dict `:` type($input)
  }];
}

//===----------------------------------------------------------------------===//
// Data movement
//===----------------------------------------------------------------------===//

def Kiln_ReshapeOp : Kiln_Op<"reshape", "injective", [Kiln_Differentiable]> {
  let summary = "same elements (row-major order), new shape";
  let description = [{
    ```mlir
    %r = kiln.reshape %x : tensor<8x10xf32> -> tensor<80xf32>
    ```
  }];
  let arguments = (ins Kiln_Tensor:$x);
  let results = (outs Kiln_Tensor:$result);
  let assemblyFormat = "$x attr-dict `:` type($x) `->` type($result)";
  let hasVerifier = 1;
  let hasFolder = 1;
}

def Kiln_TransposeOp : Kiln_Op<"transpose", "injective", [
    InferTypeOpAdaptor, Kiln_Differentiable]> {
  let summary = "dimension permutation: result dim i is operand dim perm[i]";
  let description = [{
    ```mlir
    %r = kiln.transpose %x, perm = [1, 0] : tensor<8x10xf32>
    ```
  }];
  let arguments = (ins Kiln_Tensor:$x, DenseI64ArrayAttr:$perm);
  let results = (outs Kiln_Tensor:$result);
  let assemblyFormat = "$x `,` `perm` `=` $perm attr-dict `:` type($x)";
}

def Kiln_SliceOp : Kiln_Op<"slice", "injective", [
    InferTypeOpAdaptor, Kiln_Differentiable]> {
  let summary = "strided slice [start, limit) with step per dimension";
  let description = [{
    Result dim i has ceil((limit[i] - start[i]) / step[i]) elements;
    0 <= start <= limit <= size and step >= 1.

    ```mlir
    %r = kiln.slice %x, start = [0, 2], limit = [8, 10], step = [1, 2] : tensor<8x10xf32>
    ```
  }];
  let arguments = (ins Kiln_Tensor:$x, DenseI64ArrayAttr:$start,
                       DenseI64ArrayAttr:$limit, DenseI64ArrayAttr:$step);
  let results = (outs Kiln_Tensor:$result);
  let assemblyFormat = [{
    $x `,` `start` `=` $start `,` `limit` `=` $limit `,` `step` `=` $step
    attr-dict `:` type($x)
  }];
}

def Kiln_ConcatOp : Kiln_Op<"concat", "injective", [
    InferTypeOpAdaptor, Kiln_Differentiable]> {
  let summary = "concatenation along one dimension";
  let description = [{
    ```mlir
    %r = kiln.concat %a, %b dim = 1 : tensor<8x3xf32>, tensor<8x5xf32>
    ```
    There is no comma before `dim`: the operand list would take it for the
    start of another operand.
  }];
  let arguments = (ins Variadic<Kiln_Tensor>:$inputs, I64Attr:$dim);
  let results = (outs Kiln_Tensor:$result);
  let assemblyFormat = "$inputs `dim` `=` $dim attr-dict `:` type($inputs)";
}

def Kiln_PadOp : Kiln_Op<"pad", "injective", [
    InferTypeOpAdaptor, Kiln_Differentiable]> {
  let summary = "constant padding before (low) and after (high) each dim";
  let description = [{
    ```mlir
    %r = kiln.pad %x, low = [0, 1], high = [0, 2], value = 0.0 : tensor<8x10xf32>
    ```
  }];
  let arguments = (ins Kiln_Tensor:$x, DenseI64ArrayAttr:$low,
                       DenseI64ArrayAttr:$high, F64Attr:$value);
  let results = (outs Kiln_Tensor:$result);
  let assemblyFormat = [{
    $x `,` `low` `=` $low `,` `high` `=` $high `,` `value` `=` $value
    attr-dict `:` type($x)
  }];
}

def Kiln_GatherOp : Kiln_Op<"gather", "injective", [InferTypeOpAdaptor,
    DeclareOpInterfaceMethods<Kiln_IndexOperandOpInterface>, Kiln_Differentiable]> {
  let summary = "gather slices along `axis` (embedding lookup; ONNX Gather)";
  let description = [{
    result.shape = table.shape[:axis] ++ indices.shape ++ table.shape[axis+1:].
    Indices out of range are a run-time error of the interpreter (and are
    clamped on devices).

    ```mlir
    %e = kiln.gather %table, %ids, axis = 0 : tensor<50x16xf32>, tensor<2x8xi64>
    ```
  }];
  let arguments = (ins Kiln_Tensor:$table, Kiln_IntTensor:$indices, I64Attr:$axis);
  let results = (outs Kiln_Tensor:$result);
  let assemblyFormat =
      "$table `,` $indices `,` `axis` `=` $axis attr-dict `:` type($table) `,` type($indices)";
}

def Kiln_ScatterAddOp : Kiln_Op<"scatter_add", "opaque", [
    DeclareOpInterfaceMethods<Kiln_IndexOperandOpInterface>, Kiln_Differentiable]> {
  let summary = "adjoint of gather: zeros, then result[idx] += updates";
  let description = [{
    `updates.shape` must be result.shape[:axis] ++ indices.shape ++
    result.shape[axis+1:].

    ```mlir
    %g = kiln.scatter_add %upd, %ids, axis = 0 : tensor<2x8x16xf32>, tensor<2x8xi64> -> tensor<50x16xf32>
    ```
  }];
  let arguments = (ins Kiln_NumericTensor:$updates, Kiln_IntTensor:$indices,
                       I64Attr:$axis);
  let results = (outs Kiln_NumericTensor:$result);
  let assemblyFormat = [{
    $updates `,` $indices `,` `axis` `=` $axis attr-dict `:` type($updates) `,`
    type($indices) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Kiln_IotaOp : Kiln_Op<"iota", "elementwise"> {
  let summary = "index along one dimension: result[..., i_dim, ...] = i_dim";
  let description = [{
    ```mlir
    %i = kiln.iota dim = 1 : tensor<4x8xi64>
    ```
  }];
  let arguments = (ins I64Attr:$dim);
  let results = (outs Kiln_NumericTensor:$result);
  let assemblyFormat = "`dim` `=` $dim attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def Kiln_ConstantOp : Kiln_Op<"constant", "elementwise", [
    ConstantLike, AllTypesMatch<["value", "result"]>]> {
  let summary = "a constant tensor";
  let description = [{
    ```mlir
    %c = kiln.constant dense<1.0> : tensor<4x8xf32>
    ```
  }];
  let arguments = (ins ElementsAttr:$value);
  let results = (outs Kiln_Tensor:$result);
  let assemblyFormat = "attr-dict $value";
  let hasVerifier = 1;
  let hasFolder = 1;
  let builders = [OpBuilder<(ins "::mlir::ElementsAttr":$value), [{
    build($_builder, $_state, value.getType(), value);
  }]>];
}

def Kiln_RngOp : Kiln_Op<"rng", "elementwise", [Kiln_RandomOpInterface]> {
  let summary = "counter-based random numbers (Philox4x32-10)";
  let description = [{
    Element `i` is drawn from Philox4x32-10 with key (seed) and counter
    (i, offset), so a value depends only on (seed, offset, i): a step is
    reproducible and parallel generation needs no state. `uniform` draws
    from [a, b) (a value that rounds up to `b` in the result type becomes
    the largest value of the type below `b`); `normal` has mean `a` and standard deviation `b`
    (Box-Muller); `bernoulli` is 1 with probability `a`.

    ```mlir
    %r = kiln.rng normal %seed, %offset, a = 0.0, b = 1.0 : tensor<4x8xf32>
    ```
  }];
  let arguments = (ins Kiln_DistributionAttr:$distribution,
                       Kiln_I64Scalar:$seed, Kiln_I64Scalar:$offset,
                       F64Attr:$a, F64Attr:$b);
  let results = (outs StaticShapeTensorOf<[F16, BF16, F32, F64, I1]>:$result);
  let assemblyFormat = [{
    custom<KilnEnum>($distribution) $seed `,` $offset `,` `a` `=` $a `,` `b` `=` $b attr-dict
    `:` type($result)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Composites: they keep their own kernels and gradient rules.
//===----------------------------------------------------------------------===//

def Kiln_SoftmaxOp : Kiln_Op<"softmax", "composite", [SameOperandsAndResultType,
                                                     Kiln_Differentiable]> {
  let summary = "softmax along one dimension (max-subtracted)";
  let description = [{
    ```mlir
    %p = kiln.softmax %x, dim = 1 : tensor<8x10xf32>
    ```
  }];
  let arguments = (ins Kiln_FloatTensor:$x, I64Attr:$dim);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = "$x `,` `dim` `=` $dim attr-dict `:` type($x)";
  let hasVerifier = 1;
}

def Kiln_LogSoftmaxOp : Kiln_Op<"log_softmax", "composite", [
    SameOperandsAndResultType, Kiln_Differentiable]> {
  let summary = "log of softmax along one dimension (max-subtracted)";
  let description = [{
    ```mlir
    %p = kiln.log_softmax %x, dim = 1 : tensor<8x10xf32>
    ```
  }];
  let arguments = (ins Kiln_FloatTensor:$x, I64Attr:$dim);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = "$x `,` `dim` `=` $dim attr-dict `:` type($x)";
  let hasVerifier = 1;
}

def Kiln_CrossEntropyOp : Kiln_Op<"cross_entropy", "composite", [InferTypeOpAdaptor,
    DeclareOpInterfaceMethods<Kiln_IndexOperandOpInterface>, Kiln_Differentiable]> {
  let summary = "softmax cross-entropy of logits [N, C] against labels [N]";
  let description = [{
    loss_n = logsumexp(logits[n, :]) - logits[n, labels[n]]; `mean`
    (default) and `sum` give a 0-d result, `none` the vector [N].

    ```mlir
    %l = kiln.cross_entropy %logits, %y : tensor<8x10xf32>, tensor<8xi64>
    %v = kiln.cross_entropy %logits, %y reduction = none : tensor<8x10xf32>, tensor<8xi64>
    ```
  }];
  let arguments = (ins Kiln_FloatTensor:$logits, Kiln_IntTensor:$labels,
      DefaultValuedAttr<Kiln_LossReductionAttr, "::kiln::LossReduction::mean">:$reduction);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = [{
    $logits `,` $labels (`reduction` `=` custom<KilnEnum>($reduction)^)? attr-dict `:`
    type($logits) `,` type($labels)
  }];
}

def Kiln_LayerNormOp : Kiln_Op<"layer_norm", "composite", [
    InferTypeOpAdaptor, AllTypesMatch<["gamma", "beta"]>, Kiln_Differentiable]> {
  let summary = "layer normalization over dims [axis, rank)";
  let description = [{
    y = (x - mean) / sqrt(var + epsilon) * gamma + beta with the biased
    variance over dims [axis, rank); gamma and beta have shape
    x.shape[axis:].

    ```mlir
    %y = kiln.layer_norm %x, %g, %b, axis = 1 : tensor<8x16xf32>, tensor<16xf32>
    ```
  }];
  let arguments = (ins Kiln_FloatTensor:$x, Kiln_FloatTensor:$gamma,
                       Kiln_FloatTensor:$beta, I64Attr:$axis,
                       DefaultValuedAttr<F64Attr, "1.0e-5">:$epsilon);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = [{
    $x `,` $gamma `,` $beta `,` `axis` `=` $axis attr-dict `:` type($x) `,`
    type($gamma)
  }];
}

def Kiln_BatchNormOp : Kiln_Op<"batch_norm", "composite", [
    InferTypeOpAdaptor,
    AllTypesMatch<["gamma", "beta", "running_mean", "running_var"]>,
    Kiln_Differentiable]> {
  let summary = "batch normalization over N and the spatial dims of [N, C, ...]";
  let description = [{
    With `training`, normalizes by the batch mean and biased batch variance
    and returns updated running statistics
    new = (1 - momentum) * running + momentum * batch (unbiased variance),
    as PyTorch does. Without it, normalizes by the running statistics and
    returns them unchanged.

    ```mlir
    %y, %rm, %rv = kiln.batch_norm %x, %g, %b, %m, %v {training}
        : tensor<8x4x6x6xf32>, tensor<4xf32>
    ```
  }];
  let arguments = (ins Kiln_FloatTensor:$x, Kiln_FloatTensor:$gamma,
                       Kiln_FloatTensor:$beta, Kiln_FloatTensor:$running_mean,
                       Kiln_FloatTensor:$running_var,
                       DefaultValuedAttr<F64Attr, "1.0e-5">:$epsilon,
                       DefaultValuedAttr<F64Attr, "0.1">:$momentum,
                       UnitAttr:$training);
  let results = (outs Kiln_FloatTensor:$result, Kiln_FloatTensor:$new_running_mean,
                      Kiln_FloatTensor:$new_running_var);
  let assemblyFormat = [{
    $x `,` $gamma `,` $beta `,` $running_mean `,` $running_var attr-dict `:`
    type($x) `,` type($gamma)
  }];
}

def Kiln_GeluOp : Kiln_Op<"gelu", "elementwise", [SameOperandsAndResultType, Elementwise,
                                               Kiln_Differentiable]> {
  let summary = "Gaussian error linear unit";
  let description = [{
    `none`: x * 0.5 * (1 + erf(x / sqrt(2))); `tanh`:
    0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 x^3))).

    ```mlir
    %y = kiln.gelu %x : tensor<8x16xf32>
    %z = kiln.gelu %x {approximate = #kiln<gelu_approx tanh>} : tensor<8x16xf32>
    ```
  }];
  let arguments = (ins Kiln_FloatTensor:$x,
      DefaultValuedAttr<Kiln_GeluApproximationAttr,
                        "::kiln::GeluApproximation::none">:$approximate);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = "$x attr-dict `:` type($x)";
}

def Kiln_DropoutOp : Kiln_Op<"dropout", "elementwise", [
    AllTypesMatch<["x", "result"]>, Kiln_RandomOpInterface, Kiln_Differentiable]> {
  let summary = "inverted dropout with a Philox mask";
  let description = [{
    Keeps element i when u_i >= ratio, with u_i the `kiln.rng uniform`
    draw for (seed, offset, i), and scales kept elements by 1 / (1 - ratio).

    ```mlir
    %y = kiln.dropout %x, %seed, %offset, ratio = 0.1 : tensor<8x16xf32>
    ```
  }];
  let arguments = (ins Kiln_FloatTensor:$x, Kiln_I64Scalar:$seed,
                       Kiln_I64Scalar:$offset, F64Attr:$ratio);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = [{
    $x `,` $seed `,` $offset `,` `ratio` `=` $ratio attr-dict `:` type($x)
  }];
  let hasVerifier = 1;
  let builders = [OpBuilder<(ins "::mlir::Value":$x, "::mlir::Value":$seed,
      "::mlir::Value":$offset, "double":$ratio), [{
    build($_builder, $_state, x.getType(), x, seed, offset,
          $_builder.getF64FloatAttr(ratio));
  }]>];
}

//===----------------------------------------------------------------------===//
// Backward ops: the parts of gradient rules (ir/Gradients.cpp) that
// primitives would express poorly for fusion (normalizations, softmax) or
// not at all (convolution and pooling adjoints). They have no gradient
// rules themselves (no second derivatives).
//===----------------------------------------------------------------------===//

def Kiln_SoftmaxGradOp : Kiln_Op<"softmax_grad", "composite", [SameOperandsAndResultType]> {
  let summary = "adjoint of softmax: y * (dy - sum(dy * y, dim))";
  let description = [{
    `y` is the result of `kiln.softmax` along `dim` and `dy` its adjoint;
    the result is the adjoint of the softmax input.

    ```mlir
    %dx = kiln.softmax_grad %y, %dy, dim = 1 : tensor<8x10xf32>
    ```
  }];
  let arguments = (ins Kiln_FloatTensor:$y, Kiln_FloatTensor:$dy, I64Attr:$dim);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = "$y `,` $dy `,` `dim` `=` $dim attr-dict `:` type($y)";
  let hasVerifier = 1;
}

def Kiln_LogSoftmaxGradOp : Kiln_Op<"log_softmax_grad", "composite", [
    SameOperandsAndResultType]> {
  let summary = "adjoint of log_softmax: dy - exp(y) * sum(dy, dim)";
  let description = [{
    `y` is the result of `kiln.log_softmax` along `dim` and `dy` its
    adjoint; the result is the adjoint of the log_softmax input.

    ```mlir
    %dx = kiln.log_softmax_grad %y, %dy, dim = 1 : tensor<8x10xf32>
    ```
  }];
  let arguments = (ins Kiln_FloatTensor:$y, Kiln_FloatTensor:$dy, I64Attr:$dim);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = "$y `,` $dy `,` `dim` `=` $dim attr-dict `:` type($y)";
  let hasVerifier = 1;
}

def Kiln_CrossEntropyGradOp : Kiln_Op<"cross_entropy_grad", "composite", [
    InferTypeOpAdaptor, DeclareOpInterfaceMethods<Kiln_IndexOperandOpInterface>]> {
  let summary = "adjoint of cross_entropy with respect to the logits";
  let description = [{
    dlogits[n, c] = s_n * (softmax(logits[n, :])[c] - (c == labels[n])) with
    s_n = dloss / N (`mean`), dloss (`sum`) or dloss[n] (`none`). `dloss` has
    the type of the cross_entropy result (0-d, or [N] for `none`); the
    result has the logits' type. A label outside [0, C) is an error, as in
    the forward op.

    ```mlir
    %dl = kiln.cross_entropy_grad %logits, %y, %dloss
        : tensor<8x10xf32>, tensor<8xi64>, tensor<f32>
    %dv = kiln.cross_entropy_grad %logits, %y, %dv reduction = none
        : tensor<8x10xf32>, tensor<8xi64>, tensor<8xf32>
    ```
  }];
  let arguments = (ins Kiln_FloatTensor:$logits, Kiln_IntTensor:$labels,
      Kiln_FloatTensor:$dloss,
      DefaultValuedAttr<Kiln_LossReductionAttr, "::kiln::LossReduction::mean">:$reduction);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = [{
    $logits `,` $labels `,` $dloss (`reduction` `=` custom<KilnEnum>($reduction)^)?
    attr-dict `:` type($logits) `,` type($labels) `,` type($dloss)
  }];
}

def Kiln_LayerNormGradOp : Kiln_Op<"layer_norm_grad", "composite", [
    InferTypeOpAdaptor, AllTypesMatch<["x", "dy"]>]> {
  let summary = "adjoint of layer_norm: (dx, dgamma, dbeta)";
  let description = [{
    Recomputes the statistics of `x` over dims [axis, rank) (as
    `kiln.layer_norm` with the same `axis` and `epsilon`) and, with
    xhat = (x - mean) * inv, inv = 1 / sqrt(var + epsilon), g = dy * gamma:
    dx = inv * (g - mean(g) - xhat * mean(g * xhat)),
    dgamma = sum(dy * xhat), dbeta = sum(dy) over dims [0, axis).

    ```mlir
    %dx, %dg, %db = kiln.layer_norm_grad %x, %g, %dy, axis = 1
        : tensor<8x16xf32>, tensor<16xf32>
    ```
  }];
  let arguments = (ins Kiln_FloatTensor:$x, Kiln_FloatTensor:$gamma,
                       Kiln_FloatTensor:$dy, I64Attr:$axis,
                       DefaultValuedAttr<F64Attr, "1.0e-5">:$epsilon);
  let results = (outs Kiln_FloatTensor:$dx, Kiln_FloatTensor:$dgamma,
                      Kiln_FloatTensor:$dbeta);
  let assemblyFormat = [{
    $x `,` $gamma `,` $dy `,` `axis` `=` $axis attr-dict `:` type($x) `,`
    type($gamma)
  }];
}

def Kiln_BatchNormGradOp : Kiln_Op<"batch_norm_grad", "composite", [
    InferTypeOpAdaptor, AllTypesMatch<["x", "dy"]>]> {
  let summary = "adjoint of training-mode batch_norm: (dx, dgamma, dbeta)";
  let description = [{
    The adjoint of `kiln.batch_norm {training}`'s normalized result through
    the batch statistics: per channel c, over the N * S values of x [N, C,
    ...], with the biased batch variance, xhat = (x - mean) * inv,
    inv = 1 / sqrt(var + epsilon) and g = dy * gamma[c]:
    dx = inv * (g - mean(g) - xhat * mean(g * xhat)),
    dgamma[c] = sum(dy * xhat), dbeta[c] = sum(dy). (Inference mode is
    affine in x and its rule uses primitives.)

    ```mlir
    %dx, %dg, %db = kiln.batch_norm_grad %x, %g, %dy
        : tensor<8x4x6x6xf32>, tensor<4xf32>
    ```
  }];
  let arguments = (ins Kiln_FloatTensor:$x, Kiln_FloatTensor:$gamma,
                       Kiln_FloatTensor:$dy,
                       DefaultValuedAttr<F64Attr, "1.0e-5">:$epsilon);
  let results = (outs Kiln_FloatTensor:$dx, Kiln_FloatTensor:$dgamma,
                      Kiln_FloatTensor:$dbeta);
  let assemblyFormat = [{
    $x `,` $gamma `,` $dy attr-dict `:` type($x) `,` type($gamma)
  }];
}

def Kiln_GeluGradOp : Kiln_Op<"gelu_grad", "elementwise", [
    SameOperandsAndResultType, Elementwise]> {
  let summary = "adjoint of gelu: dy * gelu'(x)";
  let description = [{
    `none`: gelu'(x) = 0.5 * (1 + erf(x / sqrt(2))) + x * exp(-x^2 / 2) / sqrt(2 pi);
    `tanh`: with k = sqrt(2 / pi), t = tanh(k * (x + 0.044715 x^3)),
    gelu'(x) = 0.5 * (1 + t) + 0.5 * x * (1 - t^2) * k * (1 + 3 * 0.044715 x^2).

    ```mlir
    %dx = kiln.gelu_grad %x, %dy : tensor<8x16xf32>
    %dz = kiln.gelu_grad %x, %dy {approximate = #kiln<gelu_approx tanh>} : tensor<8x16xf32>
    ```
  }];
  let arguments = (ins Kiln_FloatTensor:$x, Kiln_FloatTensor:$dy,
      DefaultValuedAttr<Kiln_GeluApproximationAttr,
                        "::kiln::GeluApproximation::none">:$approximate);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = "$x `,` $dy attr-dict `:` type($x)";
}

def Kiln_Conv2dGradInputOp : Kiln_Op<"conv2d_grad_input", "library"> {
  let summary = "adjoint of conv2d with respect to its input";
  let description = [{
    `dy` is the adjoint of a `kiln.conv2d` result [N, O, OH, OW], `filter`
    its OIHW filter; the attributes are the forward op's. The result is the
    adjoint of the input, whose type is stated (several input sizes give
    the same OH with strides > 1): conv2d of the result type with `filter`
    and these attributes must give `dy`'s type. Input positions that no
    window reads get 0.

    ```mlir
    %dx = kiln.conv2d_grad_input %dy, %w, strides = [2, 2], padding = [1, 1, 1, 1],
            dilations = [1, 1], groups = 1
            : tensor<2x4x4x4xf32>, tensor<4x3x3x3xf32> -> tensor<2x3x8x8xf32>
    ```
  }];
  let arguments = (ins Kiln_FloatTensor:$dy, Kiln_FloatTensor:$filter,
                       DenseI64ArrayAttr:$strides, DenseI64ArrayAttr:$padding,
                       DenseI64ArrayAttr:$dilations, I64Attr:$groups);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = [{
    $dy `,` $filter `,` `strides` `=` $strides `,` `padding` `=` $padding `,`
    `dilations` `=` $dilations `,` `groups` `=` $groups attr-dict `:`
    type($dy) `,` type($filter) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Kiln_Conv2dGradFilterOp : Kiln_Op<"conv2d_grad_filter", "library"> {
  let summary = "adjoint of conv2d with respect to its filter";
  let description = [{
    `input` is the forward op's NCHW input and `dy` the adjoint of its
    result [N, O, OH, OW]; the attributes are the forward op's. The result
    is the adjoint of the OIHW filter, whose type is stated: conv2d of
    `input` with a filter of the result type and these attributes must give
    `dy`'s type.

    ```mlir
    %dw = kiln.conv2d_grad_filter %x, %dy, strides = [1, 1], padding = [1, 1, 1, 1],
            dilations = [1, 1], groups = 1
            : tensor<2x3x8x8xf32>, tensor<2x4x8x8xf32> -> tensor<4x3x3x3xf32>
    ```
  }];
  let arguments = (ins Kiln_FloatTensor:$input, Kiln_FloatTensor:$dy,
                       DenseI64ArrayAttr:$strides, DenseI64ArrayAttr:$padding,
                       DenseI64ArrayAttr:$dilations, I64Attr:$groups);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $dy `,` `strides` `=` $strides `,` `padding` `=` $padding `,`
    `dilations` `=` $dilations `,` `groups` `=` $groups attr-dict `:`
    type($input) `,` type($dy) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Kiln_Pool2dGradOp : Kiln_Op<"pool2d_grad", "library", [InferTypeOpAdaptor]> {
  let summary = "adjoint of pool2d with respect to its input";
  let description = [{
    `input` is the forward op's NCHW input and `dy` the adjoint of its
    result; the attributes are the forward op's. `max` routes each window's
    adjoint to the window's first maximum in row-major order (a NaN counts
    as the maximum), as PyTorch's max_pool2d does; `avg` spreads it evenly
    over the window's in-bounds elements, divided by the forward op's
    divisor (the window size with `count_include_pad`, else the in-bounds
    count). The result has the input's type.

    ```mlir
    %dx = kiln.pool2d_grad max %x, %dy, window = [2, 2], strides = [2, 2],
            padding = [0, 0, 0, 0] : tensor<2x4x8x8xf32>, tensor<2x4x4x4xf32>
    ```
  }];
  let arguments = (ins Kiln_PoolKindAttr:$kind, Kiln_FloatTensor:$input,
                       Kiln_FloatTensor:$dy, DenseI64ArrayAttr:$window,
                       DenseI64ArrayAttr:$strides, DenseI64ArrayAttr:$padding,
                       UnitAttr:$count_include_pad);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = [{
    custom<KilnEnum>($kind) $input `,` $dy `,` `window` `=` $window `,`
    `strides` `=` $strides `,` `padding` `=` $padding attr-dict `:`
    type($input) `,` type($dy)
  }];
}

include "ir/KilnFusionOps.td"

#endif // KILN_OPS_TD
