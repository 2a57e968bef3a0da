//===- KilnInterfaces.td - Per-op behaviour of kiln ops -*- tablegen -*-===//
//
// Passes reach per-op behaviour only through these interfaces, never by
// switching over op names: adding an op means implementing them beside it.

#ifndef KILN_INTERFACES_TD
#define KILN_INTERFACES_TD

include "mlir/IR/OpBase.td"

def Kiln_GradientOpInterface : OpInterface<"GradientOpInterface"> {
  let cppNamespace = "::kiln";
  let description = [{
    The reverse-mode rule of a differentiable op: given the adjoints of the
    op's results (null where a result has no adjoint), build the adjoints of
    its operands at the builder's insertion point. Operands that are not
    differentiable (labels, indices, seeds) get a null value.

    Each result adjoint has its result's type, each operand adjoint its
    operand's type (there is no implicit broadcasting). A rule may read the
    op's operands and results (the forward values stay live) and must not
    create ops that have no gradient-free reference semantics. Ops that do
    not implement this interface stop `--kiln-autodiff` with an error if a
    gradient has to flow through them; piecewise-constant ops (floor, sign,
    compare, ...) and `kiln.stop_gradient` implement it and return null.
  }];
  let methods = [
    InterfaceMethod<
      "Appends one adjoint (or a null Value) per operand to `operandGrads`.",
      "::llvm::LogicalResult", "buildGradients",
      (ins "::mlir::OpBuilder &":$builder,
           "::mlir::ArrayRef<::mlir::Value>":$resultGrads,
           "::llvm::SmallVectorImpl<::mlir::Value> &":$operandGrads)>,
  ];
}

def Kiln_RandomOpInterface : OpInterface<"RandomOpInterface"> {
  let cppNamespace = "::kiln";
  let description = [{
    Ops that draw from a Philox stream (rng, dropout). `--kiln-autodiff`
    rekeys them by the step counter through the offset operand, so that
    every training step draws fresh, reproducible numbers.
  }];
  let methods = [
    InterfaceMethod<"The i64 scalar operand that offsets the Philox counter.",
      "::mlir::OpOperand &", "getOffsetOperand", (ins), [{}],
      [{ return $_op.getOffsetMutable(); }]>,
  ];
}

def Kiln_FusionOpInterface : OpInterface<"FusionOpInterface"> {
  let cppNamespace = "::kiln";
  let description = [{
    How `--kiln-fuse` may treat the op: elementwise and broadcast ops fuse
    freely, reductions take an elementwise prologue and epilogue, injective
    ops (reshape, transpose, slice, ...) fuse as index maps, composites keep
    their own kernels, library ops become cuBLASLt/cuDNN calls.
  }];
  let methods = [
    InterfaceMethod<"Returns the fusion class of this op.",
      "::kiln::FusionClass", "getFusionClass", (ins), [{}],
      [{ return ConcreteOp::getStaticFusionClass(); }]>,
  ];
}

def Kiln_ScalarFormulaOpInterface : OpInterface<"ScalarFormulaOpInterface"> {
  let cppNamespace = "::kiln";
  let description = [{
    Elementwise ops whose semantics is one function of ir/Scalar.h applied
    to their operands (unary and binary arithmetic). The reference
    interpreter instantiates that function in C++; the CUDA emitter prints
    a call of the same name against its device prelude
    (codegen/CudaPrelude.cpp), so the formula is declared once.
  }];
  let methods = [
    InterfaceMethod<"The name of the scalar function in ir/Scalar.h.",
      "::llvm::StringRef", "getScalarFn", (ins), [{}],
      [{ return ConcreteOp::kScalarFn; }]>,
  ];
}

def Kiln_IndexOperandOpInterface : OpInterface<"IndexOperandOpInterface"> {
  let cppNamespace = "::kiln";
  let description = [{
    Ops with integer operands that are indices or class labels (gather,
    scatter_add, cross_entropy) say which values are valid, so tools can
    draw valid random inputs and checks can name the valid range.
  }];
  let methods = [
    InterfaceMethod<
      "The exclusive upper bound of valid values of operand `index`, or "
      "nullopt if that operand is not an index (the lower bound is 0).",
      "std::optional<int64_t>", "getIndexBound", (ins "unsigned":$index)>,
  ];
}

def Kiln_ReferenceOpInterface : OpInterface<"ReferenceOpInterface"> {
  let cppNamespace = "::kiln";
  let description = [{
    Reference semantics: evaluates the op on host tensors. This is the
    numeric oracle of every later test (see ir/Reference.h).
  }];
  let methods = [
    InterfaceMethod<
      "Computes the results from the operands; reports errors on the op.",
      "::llvm::LogicalResult", "evaluate",
      (ins "::kiln::ref::EvalContext &":$ctx,
           "::llvm::ArrayRef<const ::kiln::ref::Tensor *>":$operands,
           "::llvm::SmallVectorImpl<::kiln::ref::Tensor> &":$results)>,
  ];
}

#endif // KILN_INTERFACES_TD
