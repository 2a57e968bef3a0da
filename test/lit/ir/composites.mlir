// RUN: kiln-opt %s --split-input-file | kiln-opt --split-input-file | FileCheck %s
// RUN: kiln-opt %s --split-input-file --mlir-print-op-generic | kiln-opt --split-input-file | FileCheck %s

// Tests that kiln.softmax round-trips along the last and the first dim.
// CHECK-LABEL: func.func @softmax
// CHECK: %[[P:.*]] = kiln.softmax %{{.*}}, dim = 1 : tensor<8x10xf32>
// CHECK: %[[Q:.*]] = kiln.softmax %{{.*}}, dim = 0 : tensor<8x10xf32>
// CHECK: return %[[P]], %[[Q]] : tensor<8x10xf32>, tensor<8x10xf32>
func.func @softmax(%x: tensor<8x10xf32>) -> (tensor<8x10xf32>, tensor<8x10xf32>) {
  %0 = kiln.softmax %x, dim = 1 : tensor<8x10xf32>
  %1 = kiln.softmax %x, dim = 0 : tensor<8x10xf32>
  return %0, %1 : tensor<8x10xf32>, tensor<8x10xf32>
}

// -----

// Tests that kiln.log_softmax round-trips.
// CHECK-LABEL: func.func @log_softmax
// CHECK: %[[P:.*]] = kiln.log_softmax %{{.*}}, dim = 2 : tensor<2x8x10xbf16>
// CHECK: return %[[P]] : tensor<2x8x10xbf16>
func.func @log_softmax(%x: tensor<2x8x10xbf16>) -> tensor<2x8x10xbf16> {
  %0 = kiln.log_softmax %x, dim = 2 : tensor<2x8x10xbf16>
  return %0 : tensor<2x8x10xbf16>
}

// -----

// Tests that kiln.cross_entropy without a reduction (mean by default)
// infers a 0-d loss and prints no reduction.
// CHECK-LABEL: func.func @cross_entropy_default
// CHECK: %[[L:.*]] = kiln.cross_entropy %{{.*}}, %{{.*}} : tensor<8x10xf32>, tensor<8xi64>
// CHECK: return %[[L]] : tensor<f32>
func.func @cross_entropy_default(%logits: tensor<8x10xf32>, %y: tensor<8xi64>) -> tensor<f32> {
  %0 = kiln.cross_entropy %logits, %y : tensor<8x10xf32>, tensor<8xi64>
  return %0 : tensor<f32>
}

// -----

// Tests that kiln.cross_entropy with an explicit mean reduction infers a
// 0-d loss.
// CHECK-LABEL: func.func @cross_entropy_mean
// CHECK: %[[L:.*]] = kiln.cross_entropy %{{.*}}, %{{.*}} {{(reduction = mean )?}}: tensor<8x10xf32>, tensor<8xi64>
// CHECK: return %[[L]] : tensor<f32>
func.func @cross_entropy_mean(%logits: tensor<8x10xf32>, %y: tensor<8xi64>) -> tensor<f32> {
  %0 = kiln.cross_entropy %logits, %y reduction = mean : tensor<8x10xf32>, tensor<8xi64>
  return %0 : tensor<f32>
}

// -----

// Tests that kiln.cross_entropy with a sum reduction infers a 0-d loss.
// CHECK-LABEL: func.func @cross_entropy_sum
// CHECK: %[[L:.*]] = kiln.cross_entropy %{{.*}}, %{{.*}} reduction = sum : tensor<8x10xf32>, tensor<8xi32>
// CHECK: return %[[L]] : tensor<f32>
func.func @cross_entropy_sum(%logits: tensor<8x10xf32>, %y: tensor<8xi32>) -> tensor<f32> {
  %0 = kiln.cross_entropy %logits, %y reduction = sum : tensor<8x10xf32>, tensor<8xi32>
  return %0 : tensor<f32>
}

// -----

// Tests that kiln.cross_entropy without reduction infers the per-row loss [N].
// CHECK-LABEL: func.func @cross_entropy_none
// CHECK: %[[L:.*]] = kiln.cross_entropy %{{.*}}, %{{.*}} reduction = none : tensor<8x10xf64>, tensor<8xi64>
// CHECK: return %[[L]] : tensor<8xf64>
func.func @cross_entropy_none(%logits: tensor<8x10xf64>, %y: tensor<8xi64>) -> tensor<8xf64> {
  %0 = kiln.cross_entropy %logits, %y reduction = none : tensor<8x10xf64>, tensor<8xi64>
  return %0 : tensor<8xf64>
}

// -----

// Tests that kiln.layer_norm over the last dim round-trips with the default
// epsilon and infers the input type.
// CHECK-LABEL: func.func @layer_norm
// CHECK: %[[Y:.*]] = kiln.layer_norm %{{.*}}, %{{.*}}, %{{.*}}, axis = 1 {{(\{epsilon = 1.000000e-05 : f64\} )?}}: tensor<8x16xf32>, tensor<16xf32>
// CHECK: return %[[Y]] : tensor<8x16xf32>
func.func @layer_norm(%x: tensor<8x16xf32>, %g: tensor<16xf32>, %b: tensor<16xf32>) -> tensor<8x16xf32> {
  %0 = kiln.layer_norm %x, %g, %b, axis = 1 : tensor<8x16xf32>, tensor<16xf32>
  return %0 : tensor<8x16xf32>
}

// -----

// Tests that kiln.layer_norm over trailing dims [1, 3) keeps an explicit
// epsilon.
// CHECK-LABEL: func.func @layer_norm_multi_dim
// CHECK: %[[Y:.*]] = kiln.layer_norm %{{.*}}, %{{.*}}, %{{.*}}, axis = 1 {epsilon = 1.000000e-03 : f64} : tensor<2x4x8xf32>, tensor<4x8xf32>
// CHECK: return %[[Y]] : tensor<2x4x8xf32>
func.func @layer_norm_multi_dim(%x: tensor<2x4x8xf32>, %g: tensor<4x8xf32>, %b: tensor<4x8xf32>) -> tensor<2x4x8xf32> {
  %0 = kiln.layer_norm %x, %g, %b, axis = 1 {epsilon = 1.0e-3 : f64} : tensor<2x4x8xf32>, tensor<4x8xf32>
  return %0 : tensor<2x4x8xf32>
}

// -----

// Tests that kiln.batch_norm in training mode round-trips and infers the
// input type and two per-channel running statistics.
// CHECK-LABEL: func.func @batch_norm_training
// CHECK: %[[Y:[a-z_0-9]+]], %[[M:[a-z_0-9]+]], %[[V:[a-z_0-9]+]] = kiln.batch_norm %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} {training} : tensor<8x4x6x6xf32>, tensor<4xf32>
// CHECK: return %[[Y]], %[[M]], %[[V]] : tensor<8x4x6x6xf32>, tensor<4xf32>, tensor<4xf32>
func.func @batch_norm_training(%x: tensor<8x4x6x6xf32>, %g: tensor<4xf32>, %b: tensor<4xf32>, %m: tensor<4xf32>, %v: tensor<4xf32>) -> (tensor<8x4x6x6xf32>, tensor<4xf32>, tensor<4xf32>) {
  %y, %rm, %rv = kiln.batch_norm %x, %g, %b, %m, %v {training} : tensor<8x4x6x6xf32>, tensor<4xf32>
  return %y, %rm, %rv : tensor<8x4x6x6xf32>, tensor<4xf32>, tensor<4xf32>
}

// -----

// Tests that kiln.batch_norm in eval mode on a rank-2 input keeps explicit
// epsilon and momentum and prints no training flag.
// CHECK-LABEL: func.func @batch_norm_eval
// CHECK: %[[Y:[a-z_0-9]+]], %[[M:[a-z_0-9]+]], %[[V:[a-z_0-9]+]] = kiln.batch_norm %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} {epsilon = 1.000000e-03 : f64, momentum = 0.000000e+00 : f64} : tensor<8x4xf32>, tensor<4xf32>
// CHECK: return %[[Y]], %[[M]], %[[V]] : tensor<8x4xf32>, tensor<4xf32>, tensor<4xf32>
func.func @batch_norm_eval(%x: tensor<8x4xf32>, %g: tensor<4xf32>, %b: tensor<4xf32>, %m: tensor<4xf32>, %v: tensor<4xf32>) -> (tensor<8x4xf32>, tensor<4xf32>, tensor<4xf32>) {
  %y, %rm, %rv = kiln.batch_norm %x, %g, %b, %m, %v {epsilon = 1.0e-3 : f64, momentum = 0.0 : f64} : tensor<8x4xf32>, tensor<4xf32>
  return %y, %rm, %rv : tensor<8x4xf32>, tensor<4xf32>, tensor<4xf32>
}

// -----

// Tests that kiln.gelu round-trips with the default (erf) and the tanh
// approximation.
// CHECK-LABEL: func.func @gelu
// CHECK: %[[E:.*]] = kiln.gelu %{{.*}} {{(\{approximate = #kiln<gelu_approx none>\} )?}}: tensor<8x16xf32>
// CHECK: %[[T:.*]] = kiln.gelu %{{.*}} {approximate = #kiln<gelu_approx tanh>} : tensor<8x16xf32>
// CHECK: return %[[E]], %[[T]] : tensor<8x16xf32>, tensor<8x16xf32>
func.func @gelu(%x: tensor<8x16xf32>) -> (tensor<8x16xf32>, tensor<8x16xf32>) {
  %0 = kiln.gelu %x : tensor<8x16xf32>
  %1 = kiln.gelu %x {approximate = #kiln<gelu_approx tanh>} : tensor<8x16xf32>
  return %0, %1 : tensor<8x16xf32>, tensor<8x16xf32>
}
