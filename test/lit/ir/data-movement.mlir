// RUN: kiln-opt %s --split-input-file | kiln-opt --split-input-file | FileCheck %s
// RUN: kiln-opt %s --split-input-file --mlir-print-op-generic | kiln-opt --split-input-file | FileCheck %s

// Tests that kiln.reshape round-trips, flattening and unflattening.
// CHECK-LABEL: func.func @reshape
// CHECK: %[[F:.*]] = kiln.reshape %{{.*}} : tensor<8x10xf32> -> tensor<80xf32>
// CHECK: %[[U:.*]] = kiln.reshape %[[F]] : tensor<80xf32> -> tensor<2x4x10xf32>
// CHECK: return %[[U]] : tensor<2x4x10xf32>
func.func @reshape(%x: tensor<8x10xf32>) -> tensor<2x4x10xf32> {
  %0 = kiln.reshape %x : tensor<8x10xf32> -> tensor<80xf32>
  %1 = kiln.reshape %0 : tensor<80xf32> -> tensor<2x4x10xf32>
  return %1 : tensor<2x4x10xf32>
}

// -----

// Tests that kiln.reshape to and from a 0-d tensor round-trips.
// CHECK-LABEL: func.func @reshape_scalar
// CHECK: %[[S:.*]] = kiln.reshape %{{.*}} : tensor<1x1xi64> -> tensor<i64>
// CHECK: return %[[S]] : tensor<i64>
func.func @reshape_scalar(%x: tensor<1x1xi64>) -> tensor<i64> {
  %0 = kiln.reshape %x : tensor<1x1xi64> -> tensor<i64>
  return %0 : tensor<i64>
}

// -----

// Tests that kiln.transpose infers result dim i = operand dim perm[i].
// CHECK-LABEL: func.func @transpose
// CHECK: %[[T:.*]] = kiln.transpose %{{.*}}, perm = [1, 0] : tensor<8x10xf32>
// CHECK: %[[U:.*]] = kiln.transpose %{{.*}}, perm = [0, 2, 3, 1] : tensor<2x3x4x5xi1>
// CHECK: return %[[T]], %[[U]] : tensor<10x8xf32>, tensor<2x4x5x3xi1>
func.func @transpose(%x: tensor<8x10xf32>, %y: tensor<2x3x4x5xi1>) -> (tensor<10x8xf32>, tensor<2x4x5x3xi1>) {
  %0 = kiln.transpose %x, perm = [1, 0] : tensor<8x10xf32>
  %1 = kiln.transpose %y, perm = [0, 2, 3, 1] : tensor<2x3x4x5xi1>
  return %0, %1 : tensor<10x8xf32>, tensor<2x4x5x3xi1>
}

// -----

// Tests that kiln.slice infers ceil((limit - start) / step) per dimension.
// CHECK-LABEL: func.func @slice
// CHECK: %[[S:.*]] = kiln.slice %{{.*}}, start = [0, 2], limit = [8, 10], step = [1, 2] : tensor<8x10xf32>
// CHECK: %[[T:.*]] = kiln.slice %{{.*}}, start = [1, 0], limit = [8, 10], step = [3, 4] : tensor<8x10xf32>
// CHECK: return %[[S]], %[[T]] : tensor<8x4xf32>, tensor<3x3xf32>
func.func @slice(%x: tensor<8x10xf32>) -> (tensor<8x4xf32>, tensor<3x3xf32>) {
  %0 = kiln.slice %x, start = [0, 2], limit = [8, 10], step = [1, 2] : tensor<8x10xf32>
  %1 = kiln.slice %x, start = [1, 0], limit = [8, 10], step = [3, 4] : tensor<8x10xf32>
  return %0, %1 : tensor<8x4xf32>, tensor<3x3xf32>
}

// -----

// Tests that an empty kiln.slice (start = limit) infers a zero-size dimension.
// CHECK-LABEL: func.func @slice_empty
// CHECK: %[[S:.*]] = kiln.slice %{{.*}}, start = [4], limit = [4], step = [1] : tensor<8xi32>
// CHECK: return %[[S]] : tensor<0xi32>
func.func @slice_empty(%x: tensor<8xi32>) -> tensor<0xi32> {
  %0 = kiln.slice %x, start = [4], limit = [4], step = [1] : tensor<8xi32>
  return %0 : tensor<0xi32>
}

// -----

// Tests that kiln.concat infers the sum of the sizes along `dim`.
// CHECK-LABEL: func.func @concat
// CHECK: %[[C:.*]] = kiln.concat %{{.*}}, %{{.*}} dim = 1 : tensor<8x3xf32>, tensor<8x5xf32>
// CHECK: return %[[C]] : tensor<8x8xf32>
func.func @concat(%a: tensor<8x3xf32>, %b: tensor<8x5xf32>) -> tensor<8x8xf32> {
  %0 = kiln.concat %a, %b dim = 1 : tensor<8x3xf32>, tensor<8x5xf32>
  return %0 : tensor<8x8xf32>
}

// -----

// Tests that kiln.concat of three inputs along dim 0, and of one input,
// round-trip.
// CHECK-LABEL: func.func @concat_variadic
// CHECK: %[[C:.*]] = kiln.concat %{{.*}}, %{{.*}}, %{{.*}} dim = 0 : tensor<1x4xi64>, tensor<2x4xi64>, tensor<3x4xi64>
// CHECK: %[[D:.*]] = kiln.concat %{{.*}} dim = 1 : tensor<1x4xi64>
// CHECK: return %[[C]], %[[D]] : tensor<6x4xi64>, tensor<1x4xi64>
func.func @concat_variadic(%a: tensor<1x4xi64>, %b: tensor<2x4xi64>, %c: tensor<3x4xi64>) -> (tensor<6x4xi64>, tensor<1x4xi64>) {
  %0 = kiln.concat %a, %b, %c dim = 0 : tensor<1x4xi64>, tensor<2x4xi64>, tensor<3x4xi64>
  %1 = kiln.concat %a dim = 1 : tensor<1x4xi64>
  return %0, %1 : tensor<6x4xi64>, tensor<1x4xi64>
}

// -----

// Tests that kiln.pad infers size + low + high and keeps the pad value.
// CHECK-LABEL: func.func @pad
// CHECK: %[[P:.*]] = kiln.pad %{{.*}}, low = [0, 1], high = [0, 2], value = 0.000000e+00 : tensor<8x10xf32>
// CHECK: %[[Q:.*]] = kiln.pad %{{.*}}, low = [2, 0], high = [1, 0], value = -1.500000e+00 : tensor<8x10xf32>
// CHECK: return %[[P]], %[[Q]] : tensor<8x13xf32>, tensor<11x10xf32>
func.func @pad(%x: tensor<8x10xf32>) -> (tensor<8x13xf32>, tensor<11x10xf32>) {
  %0 = kiln.pad %x, low = [0, 1], high = [0, 2], value = 0.0 : tensor<8x10xf32>
  %1 = kiln.pad %x, low = [2, 0], high = [1, 0], value = -1.5 : tensor<8x10xf32>
  return %0, %1 : tensor<8x13xf32>, tensor<11x10xf32>
}

// -----

// Tests that kiln.gather along axis 0 (embedding lookup) infers
// indices.shape ++ table.shape[1:].
// CHECK-LABEL: func.func @gather
// CHECK: %[[E:.*]] = kiln.gather %{{.*}}, %{{.*}}, axis = 0 : tensor<50x16xf32>, tensor<2x8xi64>
// CHECK: return %[[E]] : tensor<2x8x16xf32>
func.func @gather(%table: tensor<50x16xf32>, %ids: tensor<2x8xi64>) -> tensor<2x8x16xf32> {
  %0 = kiln.gather %table, %ids, axis = 0 : tensor<50x16xf32>, tensor<2x8xi64>
  return %0 : tensor<2x8x16xf32>
}

// -----

// Tests that kiln.gather along an inner axis with i32 and 0-d indices infers
// table.shape[:axis] ++ indices.shape ++ table.shape[axis+1:].
// CHECK-LABEL: func.func @gather_inner_axis
// CHECK: %[[G:.*]] = kiln.gather %{{.*}}, %{{.*}}, axis = 1 : tensor<3x5x7xf32>, tensor<4xi32>
// CHECK: %[[H:.*]] = kiln.gather %{{.*}}, %{{.*}}, axis = 2 : tensor<3x5x7xf32>, tensor<i64>
// CHECK: return %[[G]], %[[H]] : tensor<3x4x7xf32>, tensor<3x5xf32>
func.func @gather_inner_axis(%t: tensor<3x5x7xf32>, %i: tensor<4xi32>, %j: tensor<i64>) -> (tensor<3x4x7xf32>, tensor<3x5xf32>) {
  %0 = kiln.gather %t, %i, axis = 1 : tensor<3x5x7xf32>, tensor<4xi32>
  %1 = kiln.gather %t, %j, axis = 2 : tensor<3x5x7xf32>, tensor<i64>
  return %0, %1 : tensor<3x4x7xf32>, tensor<3x5xf32>
}

// -----

// Tests that kiln.scatter_add (the adjoint of an embedding gather)
// round-trips.
// CHECK-LABEL: func.func @scatter_add
// CHECK: %[[G:.*]] = kiln.scatter_add %{{.*}}, %{{.*}}, axis = 0 : tensor<2x8x16xf32>, tensor<2x8xi64> -> tensor<50x16xf32>
// CHECK: return %[[G]] : tensor<50x16xf32>
func.func @scatter_add(%upd: tensor<2x8x16xf32>, %ids: tensor<2x8xi64>) -> tensor<50x16xf32> {
  %0 = kiln.scatter_add %upd, %ids, axis = 0 : tensor<2x8x16xf32>, tensor<2x8xi64> -> tensor<50x16xf32>
  return %0 : tensor<50x16xf32>
}

// -----

// Tests that kiln.scatter_add along an inner axis of an integer tensor
// round-trips.
// CHECK-LABEL: func.func @scatter_add_inner_axis
// CHECK: kiln.scatter_add %{{.*}}, %{{.*}}, axis = 1 : tensor<3x4x7xi32>, tensor<4xi32> -> tensor<3x5x7xi32>
func.func @scatter_add_inner_axis(%upd: tensor<3x4x7xi32>, %ids: tensor<4xi32>) -> tensor<3x5x7xi32> {
  %0 = kiln.scatter_add %upd, %ids, axis = 1 : tensor<3x4x7xi32>, tensor<4xi32> -> tensor<3x5x7xi32>
  return %0 : tensor<3x5x7xi32>
}

// -----

// Tests that kiln.iota round-trips for integer and float results.
// CHECK-LABEL: func.func @iota
// CHECK: %[[I:.*]] = kiln.iota dim = 1 : tensor<4x8xi64>
// CHECK: %[[F:.*]] = kiln.iota dim = 0 : tensor<4x8xf32>
// CHECK: return %[[I]], %[[F]] : tensor<4x8xi64>, tensor<4x8xf32>
func.func @iota() -> (tensor<4x8xi64>, tensor<4x8xf32>) {
  %0 = kiln.iota dim = 1 : tensor<4x8xi64>
  %1 = kiln.iota dim = 0 : tensor<4x8xf32>
  return %0, %1 : tensor<4x8xi64>, tensor<4x8xf32>
}

// -----

// Tests that a splat float kiln.constant round-trips.
// CHECK-LABEL: func.func @constant_splat
// CHECK: %[[C:.*]] = kiln.constant dense<1.000000e+00> : tensor<4x8xf32>
// CHECK: return %[[C]] : tensor<4x8xf32>
func.func @constant_splat() -> tensor<4x8xf32> {
  %0 = kiln.constant dense<1.0> : tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

// Tests that a non-splat float kiln.constant keeps every element.
// CHECK-LABEL: func.func @constant_dense
// CHECK: %[[C:.*]] = kiln.constant dense<{{\[}}[1.000000e+00, 2.000000e+00, 3.000000e+00], [-4.000000e+00, 5.000000e-01, 0.000000e+00]]> : tensor<2x3xf32>
// CHECK: return %[[C]] : tensor<2x3xf32>
func.func @constant_dense() -> tensor<2x3xf32> {
  %0 = kiln.constant dense<[[1.0, 2.0, 3.0], [-4.0, 0.5, 0.0]]> : tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

// Tests that i1, i32 and i64 kiln.constant values round-trip, including a
// 0-d seed.
// CHECK-LABEL: func.func @constant_int
// CHECK: %[[B:.*]] = kiln.constant dense<[true, false, true]> : tensor<3xi1>
// CHECK: %[[I:.*]] = kiln.constant dense<[1, -2, 3]> : tensor<3xi32>
// CHECK: %[[L:.*]] = kiln.constant dense<42> : tensor<i64>
// CHECK: %[[Z:.*]] = kiln.constant dense<0> : tensor<2x2xi64>
// CHECK: return %[[B]], %[[I]], %[[L]], %[[Z]] : tensor<3xi1>, tensor<3xi32>, tensor<i64>, tensor<2x2xi64>
func.func @constant_int() -> (tensor<3xi1>, tensor<3xi32>, tensor<i64>, tensor<2x2xi64>) {
  %0 = kiln.constant dense<[true, false, true]> : tensor<3xi1>
  %1 = kiln.constant dense<[1, -2, 3]> : tensor<3xi32>
  %2 = kiln.constant dense<42> : tensor<i64>
  %3 = kiln.constant dense<0> : tensor<2x2xi64>
  return %0, %1, %2, %3 : tensor<3xi1>, tensor<3xi32>, tensor<i64>, tensor<2x2xi64>
}

// -----

// Tests that a kiln.constant keeps a discardable attribute in front of its
// value.
// CHECK-LABEL: func.func @constant_attr
// CHECK: kiln.constant {kiln.name = "w"} dense<5.000000e-01> : tensor<2xf16>
func.func @constant_attr() -> tensor<2xf16> {
  %0 = kiln.constant {kiln.name = "w"} dense<0.5> : tensor<2xf16>
  return %0 : tensor<2xf16>
}
