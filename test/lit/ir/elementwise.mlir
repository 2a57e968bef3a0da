// RUN: kiln-opt %s --split-input-file | kiln-opt --split-input-file | FileCheck %s
// RUN: kiln-opt %s --split-input-file --mlir-print-op-generic | kiln-opt --split-input-file | FileCheck %s

// Tests that kiln.neg round-trips and keeps its operand type.
// CHECK-LABEL: func.func @neg
// CHECK: %[[R:.*]] = kiln.neg %{{.*}} : tensor<4x8xf32>
// CHECK: return %[[R]] : tensor<4x8xf32>
func.func @neg(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %0 = kiln.neg %x : tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

// Tests that kiln.abs round-trips and keeps its operand type.
// CHECK-LABEL: func.func @abs
// CHECK: %[[R:.*]] = kiln.abs %{{.*}} : tensor<4x8xf32>
// CHECK: return %[[R]] : tensor<4x8xf32>
func.func @abs(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %0 = kiln.abs %x : tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

// Tests that kiln.sign round-trips and keeps its operand type.
// CHECK-LABEL: func.func @sign
// CHECK: %[[R:.*]] = kiln.sign %{{.*}} : tensor<4x8xf32>
// CHECK: return %[[R]] : tensor<4x8xf32>
func.func @sign(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %0 = kiln.sign %x : tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

// Tests that kiln.exp round-trips and keeps its operand type.
// CHECK-LABEL: func.func @exp
// CHECK: %[[R:.*]] = kiln.exp %{{.*}} : tensor<4x8xf32>
// CHECK: return %[[R]] : tensor<4x8xf32>
func.func @exp(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %0 = kiln.exp %x : tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

// Tests that kiln.log round-trips and keeps its operand type.
// CHECK-LABEL: func.func @log
// CHECK: %[[R:.*]] = kiln.log %{{.*}} : tensor<4x8xf32>
// CHECK: return %[[R]] : tensor<4x8xf32>
func.func @log(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %0 = kiln.log %x : tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

// Tests that kiln.sqrt round-trips and keeps its operand type.
// CHECK-LABEL: func.func @sqrt
// CHECK: %[[R:.*]] = kiln.sqrt %{{.*}} : tensor<4x8xf32>
// CHECK: return %[[R]] : tensor<4x8xf32>
func.func @sqrt(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %0 = kiln.sqrt %x : tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

// Tests that kiln.rsqrt round-trips and keeps its operand type.
// CHECK-LABEL: func.func @rsqrt
// CHECK: %[[R:.*]] = kiln.rsqrt %{{.*}} : tensor<4x8xf32>
// CHECK: return %[[R]] : tensor<4x8xf32>
func.func @rsqrt(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %0 = kiln.rsqrt %x : tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

// Tests that kiln.tanh round-trips and keeps its operand type.
// CHECK-LABEL: func.func @tanh
// CHECK: %[[R:.*]] = kiln.tanh %{{.*}} : tensor<4x8xf32>
// CHECK: return %[[R]] : tensor<4x8xf32>
func.func @tanh(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %0 = kiln.tanh %x : tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

// Tests that kiln.sigmoid round-trips and keeps its operand type.
// CHECK-LABEL: func.func @sigmoid
// CHECK: %[[R:.*]] = kiln.sigmoid %{{.*}} : tensor<4x8xf32>
// CHECK: return %[[R]] : tensor<4x8xf32>
func.func @sigmoid(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %0 = kiln.sigmoid %x : tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

// Tests that kiln.relu round-trips and keeps its operand type.
// CHECK-LABEL: func.func @relu
// CHECK: %[[R:.*]] = kiln.relu %{{.*}} : tensor<4x8xf32>
// CHECK: return %[[R]] : tensor<4x8xf32>
func.func @relu(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %0 = kiln.relu %x : tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

// Tests that kiln.sin round-trips and keeps its operand type.
// CHECK-LABEL: func.func @sin
// CHECK: %[[R:.*]] = kiln.sin %{{.*}} : tensor<4x8xf32>
// CHECK: return %[[R]] : tensor<4x8xf32>
func.func @sin(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %0 = kiln.sin %x : tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

// Tests that kiln.cos round-trips and keeps its operand type.
// CHECK-LABEL: func.func @cos
// CHECK: %[[R:.*]] = kiln.cos %{{.*}} : tensor<4x8xf32>
// CHECK: return %[[R]] : tensor<4x8xf32>
func.func @cos(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %0 = kiln.cos %x : tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

// Tests that kiln.erf round-trips and keeps its operand type.
// CHECK-LABEL: func.func @erf
// CHECK: %[[R:.*]] = kiln.erf %{{.*}} : tensor<4x8xf32>
// CHECK: return %[[R]] : tensor<4x8xf32>
func.func @erf(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %0 = kiln.erf %x : tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

// Tests that kiln.floor round-trips and keeps its operand type.
// CHECK-LABEL: func.func @floor
// CHECK: %[[R:.*]] = kiln.floor %{{.*}} : tensor<4x8xf32>
// CHECK: return %[[R]] : tensor<4x8xf32>
func.func @floor(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %0 = kiln.floor %x : tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

// Tests that kiln.ceil round-trips and keeps its operand type.
// CHECK-LABEL: func.func @ceil
// CHECK: %[[R:.*]] = kiln.ceil %{{.*}} : tensor<4x8xf32>
// CHECK: return %[[R]] : tensor<4x8xf32>
func.func @ceil(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %0 = kiln.ceil %x : tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

// Tests that kiln.not round-trips and keeps its operand type.
// CHECK-LABEL: func.func @not
// CHECK: %[[R:.*]] = kiln.not %{{.*}} : tensor<4x8xi1>
// CHECK: return %[[R]] : tensor<4x8xi1>
func.func @not(%x: tensor<4x8xi1>) -> tensor<4x8xi1> {
  %0 = kiln.not %x : tensor<4x8xi1>
  return %0 : tensor<4x8xi1>
}

// -----

// Tests that the numeric unary ops (neg, abs, sign, relu) accept integer tensors.
// CHECK-LABEL: func.func @unary_int
// CHECK: kiln.neg %{{.*}} : tensor<4xi32>
// CHECK: kiln.abs %{{.*}} : tensor<4xi32>
// CHECK: kiln.sign %{{.*}} : tensor<4xi64>
// CHECK: kiln.relu %{{.*}} : tensor<4xi64>
func.func @unary_int(%a: tensor<4xi32>, %b: tensor<4xi64>) -> (tensor<4xi32>, tensor<4xi64>) {
  %0 = kiln.neg %a : tensor<4xi32>
  %1 = kiln.abs %0 : tensor<4xi32>
  %2 = kiln.sign %b : tensor<4xi64>
  %3 = kiln.relu %2 : tensor<4xi64>
  return %1, %3 : tensor<4xi32>, tensor<4xi64>
}

// -----

// Tests that the float unary ops accept f16, bf16 and f64 as well as f32.
// CHECK-LABEL: func.func @unary_float_types
// CHECK: kiln.exp %{{.*}} : tensor<4xf16>
// CHECK: kiln.tanh %{{.*}} : tensor<4xbf16>
// CHECK: kiln.sqrt %{{.*}} : tensor<4xf64>
func.func @unary_float_types(%a: tensor<4xf16>, %b: tensor<4xbf16>, %c: tensor<4xf64>) -> (tensor<4xf16>, tensor<4xbf16>, tensor<4xf64>) {
  %0 = kiln.exp %a : tensor<4xf16>
  %1 = kiln.tanh %b : tensor<4xbf16>
  %2 = kiln.sqrt %c : tensor<4xf64>
  return %0, %1, %2 : tensor<4xf16>, tensor<4xbf16>, tensor<4xf64>
}

// -----

// Tests that kiln.not accepts integer tensors (bitwise not).
// CHECK-LABEL: func.func @not_int
// CHECK: kiln.not %{{.*}} : tensor<4xi32>
func.func @not_int(%x: tensor<4xi32>) -> tensor<4xi32> {
  %0 = kiln.not %x : tensor<4xi32>
  return %0 : tensor<4xi32>
}

// -----

// Tests that a unary op on a 0-d tensor round-trips.
// CHECK-LABEL: func.func @unary_scalar
// CHECK: kiln.log %{{.*}} : tensor<f32>
func.func @unary_scalar(%x: tensor<f32>) -> tensor<f32> {
  %0 = kiln.log %x : tensor<f32>
  return %0 : tensor<f32>
}

// -----

// Tests that kiln.add round-trips and keeps its operands' type.
// CHECK-LABEL: func.func @add
// CHECK: %[[R:.*]] = kiln.add %{{.*}}, %{{.*}} : tensor<4x8xf32>
// CHECK: return %[[R]] : tensor<4x8xf32>
func.func @add(%a: tensor<4x8xf32>, %b: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %0 = kiln.add %a, %b : tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

// Tests that kiln.sub round-trips and keeps its operands' type.
// CHECK-LABEL: func.func @sub
// CHECK: %[[R:.*]] = kiln.sub %{{.*}}, %{{.*}} : tensor<4x8xf32>
// CHECK: return %[[R]] : tensor<4x8xf32>
func.func @sub(%a: tensor<4x8xf32>, %b: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %0 = kiln.sub %a, %b : tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

// Tests that kiln.mul round-trips and keeps its operands' type.
// CHECK-LABEL: func.func @mul
// CHECK: %[[R:.*]] = kiln.mul %{{.*}}, %{{.*}} : tensor<4x8xf32>
// CHECK: return %[[R]] : tensor<4x8xf32>
func.func @mul(%a: tensor<4x8xf32>, %b: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %0 = kiln.mul %a, %b : tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

// Tests that kiln.div round-trips and keeps its operands' type.
// CHECK-LABEL: func.func @div
// CHECK: %[[R:.*]] = kiln.div %{{.*}}, %{{.*}} : tensor<4x8xf32>
// CHECK: return %[[R]] : tensor<4x8xf32>
func.func @div(%a: tensor<4x8xf32>, %b: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %0 = kiln.div %a, %b : tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

// Tests that kiln.pow round-trips and keeps its operands' type.
// CHECK-LABEL: func.func @pow
// CHECK: %[[R:.*]] = kiln.pow %{{.*}}, %{{.*}} : tensor<4x8xf32>
// CHECK: return %[[R]] : tensor<4x8xf32>
func.func @pow(%a: tensor<4x8xf32>, %b: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %0 = kiln.pow %a, %b : tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

// Tests that kiln.maximum round-trips and keeps its operands' type.
// CHECK-LABEL: func.func @maximum
// CHECK: %[[R:.*]] = kiln.maximum %{{.*}}, %{{.*}} : tensor<4x8xf32>
// CHECK: return %[[R]] : tensor<4x8xf32>
func.func @maximum(%a: tensor<4x8xf32>, %b: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %0 = kiln.maximum %a, %b : tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

// Tests that kiln.minimum round-trips and keeps its operands' type.
// CHECK-LABEL: func.func @minimum
// CHECK: %[[R:.*]] = kiln.minimum %{{.*}}, %{{.*}} : tensor<4x8xf32>
// CHECK: return %[[R]] : tensor<4x8xf32>
func.func @minimum(%a: tensor<4x8xf32>, %b: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %0 = kiln.minimum %a, %b : tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

// Tests that kiln.and round-trips and keeps its operands' type.
// CHECK-LABEL: func.func @and
// CHECK: %[[R:.*]] = kiln.and %{{.*}}, %{{.*}} : tensor<4x8xi1>
// CHECK: return %[[R]] : tensor<4x8xi1>
func.func @and(%a: tensor<4x8xi1>, %b: tensor<4x8xi1>) -> tensor<4x8xi1> {
  %0 = kiln.and %a, %b : tensor<4x8xi1>
  return %0 : tensor<4x8xi1>
}

// -----

// Tests that kiln.or round-trips and keeps its operands' type.
// CHECK-LABEL: func.func @or
// CHECK: %[[R:.*]] = kiln.or %{{.*}}, %{{.*}} : tensor<4x8xi1>
// CHECK: return %[[R]] : tensor<4x8xi1>
func.func @or(%a: tensor<4x8xi1>, %b: tensor<4x8xi1>) -> tensor<4x8xi1> {
  %0 = kiln.or %a, %b : tensor<4x8xi1>
  return %0 : tensor<4x8xi1>
}

// -----

// Tests that the arithmetic binary ops accept integer tensors.
// CHECK-LABEL: func.func @binary_int
// CHECK: kiln.add %{{.*}}, %{{.*}} : tensor<4xi32>
// CHECK: kiln.div %{{.*}}, %{{.*}} : tensor<4xi32>
// CHECK: kiln.maximum %{{.*}}, %{{.*}} : tensor<4xi32>
// CHECK: kiln.and %{{.*}}, %{{.*}} : tensor<4xi32>
// CHECK: kiln.or %{{.*}}, %{{.*}} : tensor<4xi64>
func.func @binary_int(%a: tensor<4xi32>, %b: tensor<4xi32>, %c: tensor<4xi64>) -> (tensor<4xi32>, tensor<4xi64>) {
  %0 = kiln.add %a, %b : tensor<4xi32>
  %1 = kiln.div %0, %b : tensor<4xi32>
  %2 = kiln.maximum %1, %a : tensor<4xi32>
  %3 = kiln.and %2, %a : tensor<4xi32>
  %4 = kiln.or %c, %c : tensor<4xi64>
  return %3, %4 : tensor<4xi32>, tensor<4xi64>
}

// -----

// Tests that kiln.compare round-trips with every direction and infers an i1
// result of the operands' shape.
// CHECK-LABEL: func.func @compare
// CHECK: %[[R0:.*]] = kiln.compare eq, %{{.*}}, %{{.*}} : tensor<4x8xf32>
// CHECK: %[[R1:.*]] = kiln.compare ne, %{{.*}}, %{{.*}} : tensor<4x8xf32>
// CHECK: %[[R2:.*]] = kiln.compare lt, %{{.*}}, %{{.*}} : tensor<4x8xf32>
// CHECK: %[[R3:.*]] = kiln.compare le, %{{.*}}, %{{.*}} : tensor<4x8xf32>
// CHECK: %[[R4:.*]] = kiln.compare gt, %{{.*}}, %{{.*}} : tensor<4x8xf32>
// CHECK: %[[R5:.*]] = kiln.compare ge, %{{.*}}, %{{.*}} : tensor<4x8xf32>
// CHECK: return %[[R0]], %[[R1]], %[[R2]], %[[R3]], %[[R4]], %[[R5]] : tensor<4x8xi1>, tensor<4x8xi1>, tensor<4x8xi1>, tensor<4x8xi1>, tensor<4x8xi1>, tensor<4x8xi1>
func.func @compare(%a: tensor<4x8xf32>, %b: tensor<4x8xf32>) -> (tensor<4x8xi1>, tensor<4x8xi1>, tensor<4x8xi1>, tensor<4x8xi1>, tensor<4x8xi1>, tensor<4x8xi1>) {
  %0 = kiln.compare eq, %a, %b : tensor<4x8xf32>
  %1 = kiln.compare ne, %a, %b : tensor<4x8xf32>
  %2 = kiln.compare lt, %a, %b : tensor<4x8xf32>
  %3 = kiln.compare le, %a, %b : tensor<4x8xf32>
  %4 = kiln.compare gt, %a, %b : tensor<4x8xf32>
  %5 = kiln.compare ge, %a, %b : tensor<4x8xf32>
  return %0, %1, %2, %3, %4, %5 : tensor<4x8xi1>, tensor<4x8xi1>, tensor<4x8xi1>, tensor<4x8xi1>, tensor<4x8xi1>, tensor<4x8xi1>
}

// -----

// Tests that kiln.compare on integer and i1 operands infers an i1 result.
// CHECK-LABEL: func.func @compare_int
// CHECK: %[[R:.*]] = kiln.compare ge, %{{.*}}, %{{.*}} : tensor<3xi64>
// CHECK: %[[S:.*]] = kiln.compare ne, %{{.*}}, %{{.*}} : tensor<3xi1>
// CHECK: return %[[R]], %[[S]] : tensor<3xi1>, tensor<3xi1>
func.func @compare_int(%a: tensor<3xi64>, %b: tensor<3xi64>, %c: tensor<3xi1>) -> (tensor<3xi1>, tensor<3xi1>) {
  %0 = kiln.compare ge, %a, %b : tensor<3xi64>
  %1 = kiln.compare ne, %c, %0 : tensor<3xi1>
  return %0, %1 : tensor<3xi1>, tensor<3xi1>
}

// -----

// Tests that kiln.select round-trips and infers the branches' type.
// CHECK-LABEL: func.func @select
// CHECK: %[[R:.*]] = kiln.select %{{.*}}, %{{.*}}, %{{.*}} : tensor<4x8xi1>, tensor<4x8xf32>
// CHECK: return %[[R]] : tensor<4x8xf32>
func.func @select(%c: tensor<4x8xi1>, %a: tensor<4x8xf32>, %b: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %0 = kiln.select %c, %a, %b : tensor<4x8xi1>, tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

// Tests that kiln.select on integer branches infers an integer result.
// CHECK-LABEL: func.func @select_int
// CHECK: %[[R:.*]] = kiln.select %{{.*}}, %{{.*}}, %{{.*}} : tensor<5xi1>, tensor<5xi64>
// CHECK: return %[[R]] : tensor<5xi64>
func.func @select_int(%c: tensor<5xi1>, %a: tensor<5xi64>, %b: tensor<5xi64>) -> tensor<5xi64> {
  %0 = kiln.select %c, %a, %b : tensor<5xi1>, tensor<5xi64>
  return %0 : tensor<5xi64>
}

// -----

// Tests that kiln.cast round-trips between float, integer and i1 types.
// CHECK-LABEL: func.func @cast
// CHECK: %[[I:.*]] = kiln.cast %{{.*}} : tensor<4xf32> -> tensor<4xi32>
// CHECK: %[[B:.*]] = kiln.cast %[[I]] : tensor<4xi32> -> tensor<4xi1>
// CHECK: %[[H:.*]] = kiln.cast %[[B]] : tensor<4xi1> -> tensor<4xf16>
// CHECK: %[[D:.*]] = kiln.cast %[[H]] : tensor<4xf16> -> tensor<4xbf16>
// CHECK: return %[[D]] : tensor<4xbf16>
func.func @cast(%x: tensor<4xf32>) -> tensor<4xbf16> {
  %0 = kiln.cast %x : tensor<4xf32> -> tensor<4xi32>
  %1 = kiln.cast %0 : tensor<4xi32> -> tensor<4xi1>
  %2 = kiln.cast %1 : tensor<4xi1> -> tensor<4xf16>
  %3 = kiln.cast %2 : tensor<4xf16> -> tensor<4xbf16>
  return %3 : tensor<4xbf16>
}

// -----

// Tests that kiln.stop_gradient round-trips on float and integer tensors
// and is not folded away (autodiff needs it).
// CHECK-LABEL: func.func @stop_gradient
// CHECK: %[[S:.*]] = kiln.stop_gradient %{{.*}} : tensor<4x8xf32>
// CHECK: %[[I:.*]] = kiln.stop_gradient %{{.*}} : tensor<4xi64>
// CHECK: return %[[S]], %[[I]] : tensor<4x8xf32>, tensor<4xi64>
func.func @stop_gradient(%x: tensor<4x8xf32>, %i: tensor<4xi64>) -> (tensor<4x8xf32>, tensor<4xi64>) {
  %0 = kiln.stop_gradient %x : tensor<4x8xf32>
  %1 = kiln.stop_gradient %i : tensor<4xi64>
  return %0, %1 : tensor<4x8xf32>, tensor<4xi64>
}
