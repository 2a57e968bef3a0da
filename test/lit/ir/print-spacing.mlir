// RUN: kiln-opt %s | FileCheck %s --strict-whitespace

// Tests that enum keywords follow the op name after exactly one space
// (custom<KilnEnum>), with whitespace checked strictly.
// CHECK-LABEL: func.func @enums
// CHECK: = kiln.reduce max %{{.*}}, dims = [1] : tensor<4x4xf32>
// CHECK: = kiln.compare ge, %
// CHECK: = kiln.pool2d avg %
// CHECK: = kiln.rng bernoulli %
// CHECK: = kiln.cross_entropy %{{.*}}, %{{.*}} reduction = sum : tensor<4x4xf32>, tensor<4xi64>
func.func @enums(%x: tensor<4x4xf32>, %img: tensor<1x1x4x4xf32>, %s: tensor<i64>, %y: tensor<4xi64>) {
  %0 = kiln.reduce max %x, dims = [1] : tensor<4x4xf32>
  %1 = kiln.compare ge, %x, %x : tensor<4x4xf32>
  %2 = kiln.pool2d avg %img, window = [2, 2], strides = [2, 2], padding = [0, 0, 0, 0] : tensor<1x1x4x4xf32>
  %3 = kiln.rng bernoulli %s, %s, a = 5.0e-01, b = 0.0 : tensor<4xi1>
  %4 = kiln.cross_entropy %x, %y reduction = sum : tensor<4x4xf32>, tensor<4xi64>
  return
}
