// RUN: kiln-opt %s --split-input-file --kiln-fuse | FileCheck %s
// RUN: kiln-opt %s --split-input-file --kiln-fuse="epilogues=false" | FileCheck %s --check-prefix=NOEPI

// Tests that an elementwise and broadcast chain becomes one loop fusion
// that reads the two inputs and writes only the final value, and that the
// splat constant is cloned into the body instead of being read.
// CHECK-LABEL: func.func @chain
// CHECK: %[[F:.*]] = kiln.fusion loop(%arg1, %arg0) : (tensor<10xf32>, tensor<8x10xf32>) -> tensor<8x10xf32> {
// CHECK: kiln.constant dense<2.000000e+00>
// CHECK: kiln.broadcast
// CHECK: kiln.add
// CHECK: kiln.mul
// CHECK: kiln.tanh
// CHECK: kiln.yield
// CHECK-NEXT: }
// CHECK-NEXT: return %[[F]]
func.func @chain(%a: tensor<8x10xf32>, %b: tensor<10xf32>) -> tensor<8x10xf32> {
  %c = kiln.constant dense<2.0> : tensor<8x10xf32>
  %0 = kiln.broadcast %b, dims = [1] : tensor<10xf32> -> tensor<8x10xf32>
  %1 = kiln.add %a, %0 : tensor<8x10xf32>
  %2 = kiln.mul %1, %c : tensor<8x10xf32>
  %3 = kiln.tanh %2 : tensor<8x10xf32>
  return %3 : tensor<8x10xf32>
}

// -----

// Tests that a dense layer's bias and relu become the matmul's cuBLASLt
// epilogue (one library call), and stay separate without epilogues.
// CHECK-LABEL: func.func @dense
// CHECK: kiln.fusion library epilogue = bias_relu(%arg0, %arg1, %arg2)
// CHECK: kiln.matmul
// CHECK: kiln.broadcast
// CHECK: kiln.add
// CHECK: kiln.relu
// CHECK-NOT: kiln.fusion
// CHECK: return
// NOEPI-LABEL: func.func @dense
// NOEPI: kiln.fusion library(%arg0, %arg1)
// NOEPI: kiln.fusion loop
// NOEPI: return
func.func @dense(%x: tensor<4x8xf32>, %w: tensor<8x3xf32>, %b: tensor<3xf32>) -> tensor<4x3xf32> {
  %0 = kiln.matmul %x, %w : tensor<4x8xf32>, tensor<8x3xf32>
  %1 = kiln.broadcast %b, dims = [1] : tensor<3xf32> -> tensor<4x3xf32>
  %2 = kiln.add %0, %1 : tensor<4x3xf32>
  %3 = kiln.relu %2 : tensor<4x3xf32>
  return %3 : tensor<4x3xf32>
}

// -----

// Tests the backward of a relu layer: select(y > 0, dY·Wᵀ, 0) and its bias
// gradient become a drelu_bgrad epilogue (two results), and the weight
// gradient Xᵀ·dZ of the next layer's input takes no epilogue because the
// bias gradient already belongs to the first call.
// CHECK-LABEL: func.func @dense_backward
// CHECK: %[[D:.*]]:2 = kiln.fusion library epilogue = drelu_bgrad
// CHECK: kiln.matmul {{.*}} transpose_b
// CHECK: kiln.compare gt
// CHECK: kiln.select
// CHECK: kiln.reduce sum
// CHECK: kiln.yield
// CHECK: kiln.fusion library(%arg3, %[[D]]#0)
// CHECK-NOT: epilogue
// CHECK: return
func.func @dense_backward(%dy: tensor<4x3xf32>, %w: tensor<8x3xf32>, %y: tensor<4x8xf32>,
                          %x: tensor<4x8xf32>) -> (tensor<8xf32>, tensor<8x8xf32>) {
  %z = kiln.constant dense<0.0> : tensor<4x8xf32>
  %0 = kiln.matmul %dy, %w transpose_b : tensor<4x3xf32>, tensor<8x3xf32>
  %1 = kiln.compare gt, %y, %z : tensor<4x8xf32>
  %2 = kiln.select %1, %0, %z : tensor<4x8xi1>, tensor<4x8xf32>
  %3 = kiln.reduce sum %2, dims = [0] : tensor<4x8xf32>
  %4 = kiln.matmul %x, %2 transpose_a : tensor<4x8xf32>, tensor<4x8xf32>
  return %3, %4 : tensor<8xf32>, tensor<8x8xf32>
}

// -----

// Tests bgradb: the weight gradient Xᵀ·dZ takes the bias gradient
// sum(dZ, rows) of its B operand into its epilogue.
// CHECK-LABEL: func.func @bgradb
// CHECK: %[[G:.*]]:2 = kiln.fusion library epilogue = bgradb(%arg0, %arg1)
// CHECK: kiln.matmul {{.*}} transpose_a
// CHECK: kiln.reduce sum
// CHECK: return %[[G]]#0, %[[G]]#1
func.func @bgradb(%x: tensor<4x8xf32>, %dz: tensor<4x3xf32>) -> (tensor<8x3xf32>, tensor<3xf32>) {
  %0 = kiln.matmul %x, %dz transpose_a : tensor<4x8xf32>, tensor<4x3xf32>
  %1 = kiln.reduce sum %dz, dims = [0] : tensor<4x3xf32>
  return %0, %1 : tensor<8x3xf32>, tensor<3xf32>
}

// -----

// Tests a reduction with its elementwise prologue (on the operand shape)
// and epilogue (on the result shape) in one fusion.
// CHECK-LABEL: func.func @reduction
// CHECK: %[[R:.*]] = kiln.fusion reduction(%arg0, %arg1) : (tensor<8x16xf32>, tensor<8x16xf32>) -> tensor<8xf32>
// CHECK: kiln.sub
// CHECK: kiln.mul
// CHECK: kiln.reduce sum
// CHECK: kiln.sqrt
// CHECK-NOT: kiln.fusion
// CHECK: return %[[R]]
func.func @reduction(%a: tensor<8x16xf32>, %b: tensor<8x16xf32>) -> tensor<8xf32> {
  %0 = kiln.sub %a, %b : tensor<8x16xf32>
  %1 = kiln.mul %0, %0 : tensor<8x16xf32>
  %2 = kiln.reduce sum %1, dims = [1] : tensor<8x16xf32>
  %3 = kiln.sqrt %2 : tensor<8xf32>
  return %3 : tensor<8xf32>
}

// -----

// Tests what must not fuse: a reduction's result broadcast back to the
// operand shape needs a second pass over the data (two kernels), and the
// prologue value that the second kernel reads again is written once.
// CHECK-LABEL: func.func @no_fuse_broadcast_back
// CHECK: %[[R:.*]]:2 = kiln.fusion reduction(%arg0)
// CHECK: kiln.exp
// CHECK: kiln.reduce sum
// CHECK: kiln.yield
// CHECK: %[[L:.*]] = kiln.fusion loop(%[[R]]#{{[01]}}, %[[R]]#{{[01]}})
// CHECK: kiln.broadcast
// CHECK: kiln.div
// CHECK: return %[[L]]
func.func @no_fuse_broadcast_back(%x: tensor<8x16xf32>) -> tensor<8x16xf32> {
  %0 = kiln.exp %x : tensor<8x16xf32>
  %1 = kiln.reduce sum %0, dims = [1] : tensor<8x16xf32>
  %2 = kiln.broadcast %1, dims = [0] : tensor<8xf32> -> tensor<8x16xf32>
  %3 = kiln.div %0, %2 : tensor<8x16xf32>
  return %3 : tensor<8x16xf32>
}

// -----

// Tests that two matrix products never share a fusion, that an
// elementwise producer of a matmul operand stays its own kernel (cuBLASLt
// reads operands from memory), and that the two elementwise ops on either
// side of the product are not merged (that would form a cycle through the
// library call).
// CHECK-LABEL: func.func @no_fuse_library
// CHECK: %[[A:.*]] = kiln.fusion loop(%arg0)
// CHECK: kiln.exp
// CHECK: %[[M:.*]] = kiln.fusion library(%[[A]], %arg1)
// CHECK: %[[N:.*]] = kiln.fusion library(%[[M]], %arg1)
// CHECK: kiln.fusion loop(%[[A]], %[[N]])
// CHECK: kiln.add
func.func @no_fuse_library(%x: tensor<4x4xf32>, %w: tensor<4x4xf32>) -> tensor<4x4xf32> {
  %0 = kiln.exp %x : tensor<4x4xf32>
  %1 = kiln.matmul %0, %w : tensor<4x4xf32>, tensor<4x4xf32>
  %2 = kiln.matmul %1, %w : tensor<4x4xf32>, tensor<4x4xf32>
  %3 = kiln.add %0, %2 : tensor<4x4xf32>
  return %3 : tensor<4x4xf32>
}

// -----

// Tests that a composite keeps its own kernel with an elementwise
// prologue, that a reshape between library calls becomes a view, and that
// the composite's epilogue on a different shape is not fused.
// CHECK-LABEL: func.func @composite
// CHECK: %[[S:.*]] = kiln.fusion composite(%arg0)
// CHECK: kiln.mul
// CHECK: kiln.softmax
// CHECK: %[[V:.*]] = kiln.fusion view(%[[S]])
// CHECK: kiln.reshape
// CHECK: kiln.fusion library(%[[V]], %arg1)
func.func @composite(%x: tensor<2x4x4xf32>, %w: tensor<4x3xf32>) -> tensor<8x3xf32> {
  %0 = kiln.mul %x, %x : tensor<2x4x4xf32>
  %1 = kiln.softmax %0, dim = 2 : tensor<2x4x4xf32>
  %2 = kiln.reshape %1 : tensor<2x4x4xf32> -> tensor<8x4xf32>
  %3 = kiln.matmul %2, %w : tensor<8x4xf32>, tensor<4x3xf32>
  return %3 : tensor<8x3xf32>
}

// -----

// Tests that independent elementwise updates of different shapes that
// share scalar inputs become one horizontal loop fusion (the optimizer
// update of all parameters in one kernel).
// CHECK-LABEL: func.func @horizontal
// CHECK: %[[U:.*]]:2 = kiln.fusion loop(%arg0, %arg2, %arg1, %arg4, %arg3)
// CHECK-NOT: kiln.fusion
// CHECK: return %[[U]]#0, %[[U]]#1
func.func @horizontal(%lr: tensor<f32>, %w: tensor<4x3xf32>, %g: tensor<4x3xf32>,
                      %b: tensor<3xf32>, %gb: tensor<3xf32>) -> (tensor<4x3xf32>, tensor<3xf32>) {
  %0 = kiln.neg %lr : tensor<f32>
  %1 = kiln.broadcast %0, dims = [] : tensor<f32> -> tensor<4x3xf32>
  %2 = kiln.mul %1, %g : tensor<4x3xf32>
  %3 = kiln.add %w, %2 : tensor<4x3xf32>
  %4 = kiln.broadcast %0, dims = [] : tensor<f32> -> tensor<3xf32>
  %5 = kiln.mul %4, %gb : tensor<3xf32>
  %6 = kiln.add %b, %5 : tensor<3xf32>
  return %3, %6 : tensor<4x3xf32>, tensor<3xf32>
}
