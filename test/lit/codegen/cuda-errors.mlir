// RUN: not kiln-translate --kiln-to-cuda %s 2>&1 | FileCheck %s

// A reduction result read at an index other than its own is no elemental
// value: codegen names the op and fails instead of printing a wrong kernel.
// CHECK: error: CUDA codegen: 'kiln.reduce' cannot be computed per element here
func.func @f(%a: tensor<8x10xf32>) -> tensor<8x10xf32> {
  %0 = kiln.fusion reduction (%a) : (tensor<8x10xf32>) -> tensor<8x10xf32> {
  ^bb0(%x: tensor<8x10xf32>):
    %1 = kiln.reduce sum %x, dims = [1] : tensor<8x10xf32>
    %2 = kiln.broadcast %1, dims = [0] : tensor<8xf32> -> tensor<8x10xf32>
    kiln.yield %2 : tensor<8x10xf32>
  }
  return %0 : tensor<8x10xf32>
}
