// RUN: kiln-opt %s --split-input-file | kiln-opt --split-input-file | FileCheck %s
// RUN: kiln-opt %s --split-input-file --mlir-print-op-generic | kiln-opt --split-input-file | FileCheck %s

// Tests that kiln.broadcast of a bias vector along a new leading dimension
// round-trips.
// CHECK-LABEL: func.func @broadcast_new_dim
// CHECK: %[[R:.*]] = kiln.broadcast %{{.*}}, dims = [1] : tensor<10xf32> -> tensor<8x10xf32>
// CHECK: return %[[R]] : tensor<8x10xf32>
func.func @broadcast_new_dim(%b: tensor<10xf32>) -> tensor<8x10xf32> {
  %0 = kiln.broadcast %b, dims = [1] : tensor<10xf32> -> tensor<8x10xf32>
  return %0 : tensor<8x10xf32>
}

// -----

// Tests that kiln.broadcast expands size-1 dimensions in place.
// CHECK-LABEL: func.func @broadcast_size_one
// CHECK: kiln.broadcast %{{.*}}, dims = [0, 1, 2] : tensor<4x1x1xf32> -> tensor<4x6x6xf32>
func.func @broadcast_size_one(%x: tensor<4x1x1xf32>) -> tensor<4x6x6xf32> {
  %0 = kiln.broadcast %x, dims = [0, 1, 2] : tensor<4x1x1xf32> -> tensor<4x6x6xf32>
  return %0 : tensor<4x6x6xf32>
}

// -----

// Tests that kiln.broadcast of a 0-d tensor (empty dims) round-trips.
// CHECK-LABEL: func.func @broadcast_scalar
// CHECK: kiln.broadcast %{{.*}}, dims = [] : tensor<i64> -> tensor<2x3xi64>
func.func @broadcast_scalar(%x: tensor<i64>) -> tensor<2x3xi64> {
  %0 = kiln.broadcast %x, dims = [] : tensor<i64> -> tensor<2x3xi64>
  return %0 : tensor<2x3xi64>
}

// -----

// Tests that kiln.reduce round-trips with every kind and drops the reduced
// dimension without keep_dims.
// CHECK-LABEL: func.func @reduce_kinds
// CHECK: %[[S:.*]] = kiln.reduce sum %{{.*}}, dims = [1] : tensor<8x10xf32>
// CHECK: %[[M:.*]] = kiln.reduce mean %{{.*}}, dims = [1] : tensor<8x10xf32>
// CHECK: %[[X:.*]] = kiln.reduce max %{{.*}}, dims = [1] : tensor<8x10xf32>
// CHECK: %[[N:.*]] = kiln.reduce min %{{.*}}, dims = [1] : tensor<8x10xf32>
// CHECK: %[[P:.*]] = kiln.reduce prod %{{.*}}, dims = [1] : tensor<8x10xf32>
// CHECK: return %[[S]], %[[M]], %[[X]], %[[N]], %[[P]] : tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>
func.func @reduce_kinds(%x: tensor<8x10xf32>) -> (tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) {
  %0 = kiln.reduce sum %x, dims = [1] : tensor<8x10xf32>
  %1 = kiln.reduce mean %x, dims = [1] : tensor<8x10xf32>
  %2 = kiln.reduce max %x, dims = [1] : tensor<8x10xf32>
  %3 = kiln.reduce min %x, dims = [1] : tensor<8x10xf32>
  %4 = kiln.reduce prod %x, dims = [1] : tensor<8x10xf32>
  return %0, %1, %2, %3, %4 : tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>
}

// -----

// Tests that kiln.reduce with keep_dims infers size-1 reduced dimensions.
// CHECK-LABEL: func.func @reduce_keep_dims
// CHECK: %[[R:.*]] = kiln.reduce sum %{{.*}}, dims = [1] keep_dims : tensor<8x10xf32>
// CHECK: return %[[R]] : tensor<8x1xf32>
func.func @reduce_keep_dims(%x: tensor<8x10xf32>) -> tensor<8x1xf32> {
  %0 = kiln.reduce sum %x, dims = [1] keep_dims : tensor<8x10xf32>
  return %0 : tensor<8x1xf32>
}

// -----

// Tests that kiln.reduce over every dimension infers a 0-d result, and a
// tensor of ones with keep_dims.
// CHECK-LABEL: func.func @reduce_all
// CHECK: %[[A:.*]] = kiln.reduce mean %{{.*}}, dims = [0, 1] : tensor<8x10xf32>
// CHECK: %[[B:.*]] = kiln.reduce mean %{{.*}}, dims = [0, 1] keep_dims : tensor<8x10xf32>
// CHECK: return %[[A]], %[[B]] : tensor<f32>, tensor<1x1xf32>
func.func @reduce_all(%x: tensor<8x10xf32>) -> (tensor<f32>, tensor<1x1xf32>) {
  %0 = kiln.reduce mean %x, dims = [0, 1] : tensor<8x10xf32>
  %1 = kiln.reduce mean %x, dims = [0, 1] keep_dims : tensor<8x10xf32>
  return %0, %1 : tensor<f32>, tensor<1x1xf32>
}

// -----

// Tests that kiln.reduce over non-adjacent dimensions of an integer tensor
// keeps the others in order.
// CHECK-LABEL: func.func @reduce_int
// CHECK: %[[R:.*]] = kiln.reduce max %{{.*}}, dims = [0, 2] : tensor<2x3x4x5xi32>
// CHECK: %[[K:.*]] = kiln.reduce sum %{{.*}}, dims = [0, 2] keep_dims : tensor<2x3x4x5xi32>
// CHECK: return %[[R]], %[[K]] : tensor<3x5xi32>, tensor<1x3x1x5xi32>
func.func @reduce_int(%x: tensor<2x3x4x5xi32>) -> (tensor<3x5xi32>, tensor<1x3x1x5xi32>) {
  %0 = kiln.reduce max %x, dims = [0, 2] : tensor<2x3x4x5xi32>
  %1 = kiln.reduce sum %x, dims = [0, 2] keep_dims : tensor<2x3x4x5xi32>
  return %0, %1 : tensor<3x5xi32>, tensor<1x3x1x5xi32>
}

// -----

// Tests that kiln.argmax round-trips and infers an i64 result without `dim`.
// CHECK-LABEL: func.func @argmax
// CHECK: %[[R:.*]] = kiln.argmax %{{.*}}, dim = 1 : tensor<8x10xf32>
// CHECK: %[[S:.*]] = kiln.argmax %{{.*}}, dim = 0 : tensor<8x10xf32>
// CHECK: return %[[R]], %[[S]] : tensor<8xi64>, tensor<10xi64>
func.func @argmax(%x: tensor<8x10xf32>) -> (tensor<8xi64>, tensor<10xi64>) {
  %0 = kiln.argmax %x, dim = 1 : tensor<8x10xf32>
  %1 = kiln.argmax %x, dim = 0 : tensor<8x10xf32>
  return %0, %1 : tensor<8xi64>, tensor<10xi64>
}

// -----

// Tests that kiln.argmax of a vector of integers infers a 0-d i64 result.
// CHECK-LABEL: func.func @argmax_vector
// CHECK: %[[R:.*]] = kiln.argmax %{{.*}}, dim = 0 : tensor<7xi32>
// CHECK: return %[[R]] : tensor<i64>
func.func @argmax_vector(%x: tensor<7xi32>) -> tensor<i64> {
  %0 = kiln.argmax %x, dim = 0 : tensor<7xi32>
  return %0 : tensor<i64>
}

