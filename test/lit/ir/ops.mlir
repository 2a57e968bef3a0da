// RUN: kiln-opt %s --split-input-file | kiln-opt --split-input-file | FileCheck %s

// Tests that matmul with a transpose round-trips.
// CHECK-LABEL: func.func @matmul
// CHECK: kiln.matmul %{{.*}}, %{{.*}} transpose_b : tensor<4x8x16xf32>, tensor<4x32x16xf32>
func.func @matmul(%a: tensor<4x8x16xf32>, %b: tensor<4x32x16xf32>) -> tensor<4x8x32xf32> {
  %0 = kiln.matmul %a, %b transpose_b : tensor<4x8x16xf32>, tensor<4x32x16xf32>
  return %0 : tensor<4x8x32xf32>
}
