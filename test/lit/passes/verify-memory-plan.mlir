// RUN: kiln-opt %s --split-input-file --kiln-verify-memory-plan --verify-diagnostics | FileCheck %s

// Tests that a correct hand-written plan (an in-place chain step and a
// returned value) passes unchanged.
// CHECK-LABEL: func.func @good(
func.func @good(%x: tensor<16xf32> {kiln.buffer = #kiln.buffer<input, offset = 0, size = 64>})
    -> (tensor<16xf32>, tensor<16xf32>)
    attributes {kiln.memory_plan = #kiln.memory_plan<arena = 128, lower_bound = 128, persistent = 0, input = 64, alignment = 64>} {
  %0 = kiln.fusion loop(%x) {buffers = [#kiln.buffer<arena, offset = 0, size = 64>]} : (tensor<16xf32>) -> tensor<16xf32> {
  ^bb0(%a: tensor<16xf32>):
    %1 = kiln.exp %a : tensor<16xf32>
    kiln.yield %1 : tensor<16xf32>
  }
  %2 = kiln.fusion loop(%0) {buffers = [#kiln.buffer<arena, offset = 64, size = 64>]} : (tensor<16xf32>) -> tensor<16xf32> {
  ^bb0(%a: tensor<16xf32>):
    %3 = kiln.neg %a : tensor<16xf32>
    kiln.yield %3 : tensor<16xf32>
  }
  %4 = kiln.fusion loop(%2) {buffers = [#kiln.buffer<arena, offset = 64, size = 64>]} : (tensor<16xf32>) -> tensor<16xf32> {
  ^bb0(%a: tensor<16xf32>):
    %5 = kiln.abs %a : tensor<16xf32>
    kiln.yield %5 : tensor<16xf32>
  }
  return %0, %4 : tensor<16xf32>, tensor<16xf32>
}

// -----

// Tests that two values live at the same time in overlapping bytes are
// rejected with both names, byte ranges and intervals.
func.func @overlap(%x: tensor<16xf32> {kiln.buffer = #kiln.buffer<input, offset = 0, size = 64>})
    -> tensor<16xf32>
    attributes {kiln.memory_plan = #kiln.memory_plan<arena = 128, lower_bound = 128, persistent = 0, input = 64, alignment = 64>} {
  %0 = kiln.fusion loop(%x) {buffers = [#kiln.buffer<arena, offset = 0, size = 64>]} : (tensor<16xf32>) -> tensor<16xf32> {
  ^bb0(%a: tensor<16xf32>):
    %1 = kiln.exp %a : tensor<16xf32>
    kiln.yield %1 : tensor<16xf32>
  }
  // expected-error @+1 {{memory plan of @overlap: %0 (loop#0) [offset 0, size 64] live [0, 2] and %1 (loop#0) [offset 0, size 64] live [1, 2] overlap in the arena while both are live}}
  %2 = kiln.fusion loop(%x) {buffers = [#kiln.buffer<arena, offset = 0, size = 64>]} : (tensor<16xf32>) -> tensor<16xf32> {
  ^bb0(%a: tensor<16xf32>):
    %3 = kiln.neg %a : tensor<16xf32>
    kiln.yield %3 : tensor<16xf32>
  }
  %4 = kiln.fusion loop(%0, %2) {buffers = [#kiln.buffer<arena, offset = 64, size = 64>]} : (tensor<16xf32>, tensor<16xf32>) -> tensor<16xf32> {
  ^bb0(%a: tensor<16xf32>, %b: tensor<16xf32>):
    %5 = kiln.add %a, %b : tensor<16xf32>
    kiln.yield %5 : tensor<16xf32>
  }
  return %4 : tensor<16xf32>
}

// -----

// Tests that a reduction written over its dying operand is rejected: the
// in-place exception holds only for loop fusions.
func.func @reduction_in_place(%x: tensor<16xf32> {kiln.buffer = #kiln.buffer<input, offset = 0, size = 64>})
    -> tensor<f32>
    attributes {kiln.memory_plan = #kiln.memory_plan<arena = 64, lower_bound = 64, persistent = 0, input = 64, alignment = 64>} {
  %0 = kiln.fusion loop(%x) {buffers = [#kiln.buffer<arena, offset = 0, size = 64>]} : (tensor<16xf32>) -> tensor<16xf32> {
  ^bb0(%a: tensor<16xf32>):
    %1 = kiln.exp %a : tensor<16xf32>
    kiln.yield %1 : tensor<16xf32>
  }
  // expected-error @+1 {{memory plan of @reduction_in_place: %0 (loop#0) [offset 0, size 64] live [0, 1] and %1 (reduction#0) [offset 0, size 64] live [1, 2] overlap in the arena while both are live}}
  %2 = kiln.fusion reduction(%0) {buffers = [#kiln.buffer<arena, offset = 0, size = 64>]} : (tensor<16xf32>) -> tensor<f32> {
  ^bb0(%a: tensor<16xf32>):
    %3 = kiln.reduce sum %a, dims = [0] : tensor<16xf32>
    kiln.yield %3 : tensor<f32>
  }
  return %2 : tensor<f32>
}

// -----

// Tests that a buffer ending past its region is rejected.
func.func @past_end(%x: tensor<16xf32> {kiln.buffer = #kiln.buffer<input, offset = 0, size = 64>})
    -> tensor<16xf32>
    attributes {kiln.memory_plan = #kiln.memory_plan<arena = 64, lower_bound = 64, persistent = 0, input = 64, alignment = 64>} {
  // expected-error @+1 {{memory plan of @past_end: arena buffer of %0 (loop#0) [offset 64, size 64] ends past the arena (size 64)}}
  %0 = kiln.fusion loop(%x) {buffers = [#kiln.buffer<arena, offset = 64, size = 64>]} : (tensor<16xf32>) -> tensor<16xf32> {
  ^bb0(%a: tensor<16xf32>):
    %1 = kiln.exp %a : tensor<16xf32>
    kiln.yield %1 : tensor<16xf32>
  }
  return %0 : tensor<16xf32>
}

// -----

// Tests that a persistent argument past the persistent region is rejected,
// naming the argument.
// expected-error @+1 {{memory plan of @arg_past_end: persistent buffer of %arg0 "w" [offset 64, size 64] ends past the persistent region (size 64)}}
func.func @arg_past_end(%w: tensor<16xf32> {kiln.name = "w", kiln.buffer = #kiln.buffer<persistent, offset = 64, size = 64>})
    -> tensor<16xf32>
    attributes {kiln.memory_plan = #kiln.memory_plan<arena = 64, lower_bound = 64, persistent = 64, input = 0, alignment = 64>} {
  %0 = kiln.fusion loop(%w) {buffers = [#kiln.buffer<arena, offset = 0, size = 64>]} : (tensor<16xf32>) -> tensor<16xf32> {
  ^bb0(%a: tensor<16xf32>):
    %1 = kiln.exp %a : tensor<16xf32>
    kiln.yield %1 : tensor<16xf32>
  }
  return %0 : tensor<16xf32>
}

// -----

// Tests that a fusion without buffers in a planned function is rejected.
func.func @missing(%x: tensor<16xf32> {kiln.buffer = #kiln.buffer<input, offset = 0, size = 64>})
    -> tensor<16xf32>
    attributes {kiln.memory_plan = #kiln.memory_plan<arena = 64, lower_bound = 64, persistent = 0, input = 64, alignment = 64>} {
  // expected-error @+1 {{memory plan of @missing: result %0 (loop#0) has no buffer}}
  %0 = kiln.fusion loop(%x) : (tensor<16xf32>) -> tensor<16xf32> {
  ^bb0(%a: tensor<16xf32>):
    %1 = kiln.exp %a : tensor<16xf32>
    kiln.yield %1 : tensor<16xf32>
  }
  return %0 : tensor<16xf32>
}

// -----

// Tests that an argument without kiln.buffer is rejected, naming it.
// expected-error @+1 {{memory plan of @missing_arg: argument %arg1 has no kiln.buffer}}
func.func @missing_arg(%x: tensor<16xf32> {kiln.buffer = #kiln.buffer<input, offset = 0, size = 64>}, %y: tensor<16xf32>)
    -> tensor<16xf32>
    attributes {kiln.memory_plan = #kiln.memory_plan<arena = 64, lower_bound = 64, persistent = 0, input = 64, alignment = 64>} {
  %0 = kiln.fusion loop(%x, %y) {buffers = [#kiln.buffer<arena, offset = 0, size = 64>]} : (tensor<16xf32>, tensor<16xf32>) -> tensor<16xf32> {
  ^bb0(%a: tensor<16xf32>, %b: tensor<16xf32>):
    %1 = kiln.add %a, %b : tensor<16xf32>
    kiln.yield %1 : tensor<16xf32>
  }
  return %0 : tensor<16xf32>
}

// -----

// Tests that a wrong lower_bound is rejected with the recomputed one.
// expected-error @+1 {{memory plan of @bad_lower_bound: lower_bound is 128, but the arena values live at one time need 64 bytes}}
func.func @bad_lower_bound(%x: tensor<16xf32> {kiln.buffer = #kiln.buffer<input, offset = 0, size = 64>})
    -> tensor<16xf32>
    attributes {kiln.memory_plan = #kiln.memory_plan<arena = 128, lower_bound = 128, persistent = 0, input = 64, alignment = 64>} {
  %0 = kiln.fusion loop(%x) {buffers = [#kiln.buffer<arena, offset = 0, size = 64>]} : (tensor<16xf32>) -> tensor<16xf32> {
  ^bb0(%a: tensor<16xf32>):
    %1 = kiln.exp %a : tensor<16xf32>
    kiln.yield %1 : tensor<16xf32>
  }
  return %0 : tensor<16xf32>
}

// -----

// Tests that a view must share its input's buffer.
func.func @view_moved(%x: tensor<16xf32> {kiln.buffer = #kiln.buffer<input, offset = 0, size = 64>})
    -> tensor<4x4xf32>
    attributes {kiln.memory_plan = #kiln.memory_plan<arena = 64, lower_bound = 64, persistent = 0, input = 64, alignment = 64>} {
  // expected-error @+1 {{memory plan of @view_moved: view %0 (view#0) has the arena buffer [offset 0, size 64], expected its input %arg0's input buffer [offset 0, size 64]}}
  %0 = kiln.fusion view(%x) {buffers = [#kiln.buffer<arena, offset = 0, size = 64>]} : (tensor<16xf32>) -> tensor<4x4xf32> {
  ^bb0(%a: tensor<16xf32>):
    %1 = kiln.reshape %a : tensor<16xf32> -> tensor<4x4xf32>
    kiln.yield %1 : tensor<4x4xf32>
  }
  return %0 : tensor<4x4xf32>
}
