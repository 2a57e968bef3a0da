// RUN: kiln-opt %s --split-input-file --kiln-fuse --kiln-plan-memory | FileCheck %s

// Tests that a parameter update in a loop fusion is written in place into
// the parameter's persistent buffer, that inputs get the input region, and
// that sizes are rounded up to the 64-byte alignment.
// CHECK-LABEL: func.func @update
// CHECK-SAME: kiln.buffer = #kiln.buffer<persistent, offset = 0, size = 64>, kiln.name = "w"
// CHECK-SAME: kiln.buffer = #kiln.buffer<input, offset = 0, size = 64>, kiln.name = "g"
// CHECK-SAME: kiln.memory_plan = #kiln.memory_plan<arena = 0, lower_bound = 0, persistent = 64, input = 64, alignment = 64>
// CHECK: kiln.fusion loop(%arg0, %arg1) {buffers = [#kiln.buffer<persistent, offset = 0, size = 64>]}
func.func @update(%w: tensor<16xf32> {kiln.name = "w", kiln.role = #kiln<role param>},
                  %g: tensor<16xf32> {kiln.name = "g", kiln.role = #kiln<role input>})
    -> (tensor<16xf32> {kiln.name = "w.updated", kiln.updates = "w"}) {
  %0 = kiln.sub %w, %g : tensor<16xf32>
  return %0 : tensor<16xf32>
}

// -----

// Tests that a chain of products reuses the buffers of values that died
// (two buffers for four values), and that the plan meets its lower bound.
// CHECK-LABEL: func.func @matmuls
// CHECK-SAME: kiln.memory_plan = #kiln.memory_plan<arena = 128, lower_bound = 128, persistent = 64, input = 64, alignment = 64>
// CHECK: library(%arg0, %arg1) {buffers = [#kiln.buffer<arena, offset = [[A:[0-9]+]], size = 64>]}
// CHECK: library(%0, %arg1) {buffers = [#kiln.buffer<arena, offset = [[B:[0-9]+]], size = 64>]}
// CHECK: library(%1, %arg1) {buffers = [#kiln.buffer<arena, offset = [[A]], size = 64>]}
// CHECK: library(%2, %arg1) {buffers = [#kiln.buffer<arena, offset = [[B]], size = 64>]}
func.func @matmuls(%x: tensor<4x4xf32> {kiln.name = "x", kiln.role = #kiln<role input>},
                   %w: tensor<4x4xf32> {kiln.name = "w", kiln.role = #kiln<role param>})
    -> (tensor<4x4xf32> {kiln.name = "y"}) {
  %0 = kiln.matmul %x, %w : tensor<4x4xf32>, tensor<4x4xf32>
  %1 = kiln.matmul %0, %w : tensor<4x4xf32>, tensor<4x4xf32>
  %2 = kiln.matmul %1, %w : tensor<4x4xf32>, tensor<4x4xf32>
  %3 = kiln.matmul %2, %w : tensor<4x4xf32>, tensor<4x4xf32>
  return %3 : tensor<4x4xf32>
}

// -----

// Tests that a view shares its input's buffer, and that a reduction kernel
// does not write its result over its own operand.
// CHECK-LABEL: func.func @view
// CHECK: library(%arg0) {buffers = [#kiln.buffer<arena, offset = [[V:[0-9]+]], size = 64>]}
// CHECK: view(%0) {buffers = [#kiln.buffer<arena, offset = [[V]], size = 64>]}
// CHECK-NOT: offset = [[V]]
// CHECK: return
func.func @view(%x: tensor<4x4xf32> {kiln.name = "x", kiln.role = #kiln<role input>},
                %w: tensor<16x2xf32> {kiln.name = "w", kiln.role = #kiln<role param>})
    -> (tensor<1x2xf32> {kiln.name = "y"}) {
  %0 = kiln.matmul %x, %x : tensor<4x4xf32>, tensor<4x4xf32>
  %1 = kiln.reshape %0 : tensor<4x4xf32> -> tensor<1x16xf32>
  %2 = kiln.matmul %1, %w : tensor<1x16xf32>, tensor<16x2xf32>
  return %2 : tensor<1x2xf32>
}

// -----

// Tests that an update whose kernel is a reduction (which reads the
// parameter across elements) is not written in place: it stays an arena
// value live to the end.
// CHECK-LABEL: func.func @chain
// CHECK: kiln.fusion reduction(%arg0, %arg1) {buffers = [#kiln.buffer<arena, offset = {{[0-9]+}}, size = 64>, #kiln.buffer<arena, offset = {{[0-9]+}}, size = 64>]}
func.func @chain(%x: tensor<16xf32> {kiln.name = "x", kiln.role = #kiln<role input>},
                 %w: tensor<16xf32> {kiln.name = "w", kiln.role = #kiln<role param>})
    -> (tensor<f32> {kiln.name = "loss", kiln.loss}, tensor<16xf32> {kiln.name = "w.updated", kiln.updates = "w"}) {
  %0 = kiln.exp %x : tensor<16xf32>
  %1 = kiln.mul %0, %w : tensor<16xf32>
  %2 = kiln.reduce sum %1, dims = [0] : tensor<16xf32>
  %3 = kiln.sub %w, %0 : tensor<16xf32>
  return %2, %3 : tensor<f32>, tensor<16xf32>
}
