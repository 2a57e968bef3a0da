// RUN: kiln-opt %s --split-input-file --kiln-verify-memory-plan --verify-diagnostics

// Tests that two values live at the same time in one arena range are
// rejected (a hand-made plan where the second product overwrites the first
// while the third still reads it).
func.func @overlap(%x: tensor<4x4xf32> {kiln.buffer = #kiln.buffer<input, offset = 0, size = 64>, kiln.name = "x", kiln.role = #kiln<role input>})
    -> (tensor<4x4xf32> {kiln.name = "y"})
    attributes {kiln.memory_plan = #kiln.memory_plan<arena = 64, lower_bound = 128, persistent = 0, input = 64, alignment = 64>} {
  %0 = kiln.fusion library(%x) {buffers = [#kiln.buffer<arena, offset = 0, size = 64>]} : (tensor<4x4xf32>) -> tensor<4x4xf32> {
  ^bb0(%a: tensor<4x4xf32>):
    %m = kiln.matmul %a, %a : tensor<4x4xf32>, tensor<4x4xf32>
    kiln.yield %m : tensor<4x4xf32>
  }
  // expected-error @+1 {{memory plan of @overlap: %0 (library#0) [offset 0, size 64] live [0, 2] and %1 (library#0) [offset 0, size 64] live [1, 2] overlap in the arena while both are live}}
  %1 = kiln.fusion library(%x) {buffers = [#kiln.buffer<arena, offset = 0, size = 64>]} : (tensor<4x4xf32>) -> tensor<4x4xf32> {
  ^bb0(%a: tensor<4x4xf32>):
    %m = kiln.matmul %a, %a : tensor<4x4xf32>, tensor<4x4xf32>
    kiln.yield %m : tensor<4x4xf32>
  }
  %2 = kiln.fusion library(%0, %1) {buffers = [#kiln.buffer<arena, offset = 0, size = 64>]} : (tensor<4x4xf32>, tensor<4x4xf32>) -> tensor<4x4xf32> {
  ^bb0(%a: tensor<4x4xf32>, %b: tensor<4x4xf32>):
    %m = kiln.matmul %a, %b : tensor<4x4xf32>, tensor<4x4xf32>
    kiln.yield %m : tensor<4x4xf32>
  }
  return %2 : tensor<4x4xf32>
}
