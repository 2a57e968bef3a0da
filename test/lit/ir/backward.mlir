// RUN: kiln-opt %s --split-input-file | kiln-opt --split-input-file | FileCheck %s
// RUN: kiln-opt %s --split-input-file --mlir-print-op-generic | kiln-opt --split-input-file | FileCheck %s

// Tests that kiln.softmax_grad and kiln.log_softmax_grad round-trip along
// any dim with the softmax result's type.
// CHECK-LABEL: func.func @softmax_grad
// CHECK: %[[A:.*]] = kiln.softmax_grad %{{.*}}, %{{.*}}, dim = 1 : tensor<8x10xf32>
// CHECK: %[[B:.*]] = kiln.log_softmax_grad %{{.*}}, %{{.*}}, dim = 0 : tensor<8x10xf32>
// CHECK: %[[C:.*]] = kiln.softmax_grad %{{.*}}, %{{.*}}, dim = 2 : tensor<2x3x4xbf16>
// CHECK: return %[[A]], %[[B]], %[[C]]
func.func @softmax_grad(%y: tensor<8x10xf32>, %dy: tensor<8x10xf32>, %z: tensor<2x3x4xbf16>)
    -> (tensor<8x10xf32>, tensor<8x10xf32>, tensor<2x3x4xbf16>) {
  %0 = kiln.softmax_grad %y, %dy, dim = 1 : tensor<8x10xf32>
  %1 = kiln.log_softmax_grad %y, %dy, dim = 0 : tensor<8x10xf32>
  %2 = kiln.softmax_grad %z, %z, dim = 2 : tensor<2x3x4xbf16>
  return %0, %1, %2 : tensor<8x10xf32>, tensor<8x10xf32>, tensor<2x3x4xbf16>
}

// -----

// Tests that kiln.cross_entropy_grad takes a 0-d dloss for mean (the default,
// not printed) and sum, a [N] dloss for none, and i32 or i64 labels.
// CHECK-LABEL: func.func @cross_entropy_grad
// CHECK: %[[M:.*]] = kiln.cross_entropy_grad %{{.*}}, %{{.*}}, %{{.*}} : tensor<8x10xf32>, tensor<8xi64>, tensor<f32>
// CHECK: %[[S:.*]] = kiln.cross_entropy_grad %{{.*}}, %{{.*}}, %{{.*}} reduction = sum : tensor<8x10xf32>, tensor<8xi32>, tensor<f32>
// CHECK: %[[N:.*]] = kiln.cross_entropy_grad %{{.*}}, %{{.*}}, %{{.*}} reduction = none : tensor<8x10xf32>, tensor<8xi64>, tensor<8xf32>
// CHECK: return %[[M]], %[[S]], %[[N]]
func.func @cross_entropy_grad(%logits: tensor<8x10xf32>, %y: tensor<8xi64>, %y32: tensor<8xi32>,
                              %d: tensor<f32>, %dv: tensor<8xf32>)
    -> (tensor<8x10xf32>, tensor<8x10xf32>, tensor<8x10xf32>) {
  %0 = kiln.cross_entropy_grad %logits, %y, %d : tensor<8x10xf32>, tensor<8xi64>, tensor<f32>
  %1 = kiln.cross_entropy_grad %logits, %y32, %d reduction = sum : tensor<8x10xf32>, tensor<8xi32>, tensor<f32>
  %2 = kiln.cross_entropy_grad %logits, %y, %dv reduction = none : tensor<8x10xf32>, tensor<8xi64>, tensor<8xf32>
  return %0, %1, %2 : tensor<8x10xf32>, tensor<8x10xf32>, tensor<8x10xf32>
}

// -----

// Tests that kiln.layer_norm_grad infers (dx, dgamma, dbeta) with x's and
// gamma's types and keeps a non-default epsilon.
// CHECK-LABEL: func.func @layer_norm_grad
// CHECK: %[[DX:.*]], %[[DG:.*]], %[[DB:.*]] = kiln.layer_norm_grad %{{.*}}, %{{.*}}, %{{.*}}, axis = 1 {epsilon = 1.000000e-03 : f64} : tensor<2x8x16xf32>, tensor<8x16xf32>
// CHECK: return %[[DX]], %[[DG]], %[[DB]] : tensor<2x8x16xf32>, tensor<8x16xf32>, tensor<8x16xf32>
func.func @layer_norm_grad(%x: tensor<2x8x16xf32>, %g: tensor<8x16xf32>, %dy: tensor<2x8x16xf32>)
    -> (tensor<2x8x16xf32>, tensor<8x16xf32>, tensor<8x16xf32>) {
  %dx, %dg, %db = kiln.layer_norm_grad %x, %g, %dy, axis = 1 {epsilon = 1.0e-3 : f64}
      : tensor<2x8x16xf32>, tensor<8x16xf32>
  return %dx, %dg, %db : tensor<2x8x16xf32>, tensor<8x16xf32>, tensor<8x16xf32>
}

// -----

// Tests that kiln.batch_norm_grad infers (dx, dgamma, dbeta) for an NCHW
// input and for a rank-2 [N, C] input.
// CHECK-LABEL: func.func @batch_norm_grad
// CHECK: %[[DX:.*]], %[[DG:.*]], %[[DB:.*]] = kiln.batch_norm_grad %{{.*}}, %{{.*}}, %{{.*}} : tensor<8x4x6x6xf32>, tensor<4xf32>
// CHECK: %[[EX:.*]], %[[EG:.*]], %[[EB:.*]] = kiln.batch_norm_grad %{{.*}}, %{{.*}}, %{{.*}} {epsilon = 1.000000e-01 : f64} : tensor<5x3xf64>, tensor<3xf64>
// CHECK: return %[[DX]], %[[DG]], %[[DB]], %[[EX]]
func.func @batch_norm_grad(%x: tensor<8x4x6x6xf32>, %g: tensor<4xf32>, %dy: tensor<8x4x6x6xf32>,
                           %v: tensor<5x3xf64>, %h: tensor<3xf64>)
    -> (tensor<8x4x6x6xf32>, tensor<4xf32>, tensor<4xf32>, tensor<5x3xf64>) {
  %dx, %dg, %db = kiln.batch_norm_grad %x, %g, %dy : tensor<8x4x6x6xf32>, tensor<4xf32>
  %ex, %eg, %eb = kiln.batch_norm_grad %v, %h, %v {epsilon = 0.1 : f64} : tensor<5x3xf64>, tensor<3xf64>
  return %dx, %dg, %db, %ex : tensor<8x4x6x6xf32>, tensor<4xf32>, tensor<4xf32>, tensor<5x3xf64>
}

// -----

// Tests that kiln.gelu_grad round-trips with both approximations (none, the
// default, is not printed).
// CHECK-LABEL: func.func @gelu_grad
// CHECK: %[[A:.*]] = kiln.gelu_grad %{{.*}}, %{{.*}} : tensor<8x16xf32>
// CHECK: %[[B:.*]] = kiln.gelu_grad %{{.*}}, %{{.*}} {approximate = #kiln<gelu_approx tanh>} : tensor<8x16xf32>
// CHECK: return %[[A]], %[[B]]
func.func @gelu_grad(%x: tensor<8x16xf32>, %dy: tensor<8x16xf32>) -> (tensor<8x16xf32>, tensor<8x16xf32>) {
  %0 = kiln.gelu_grad %x, %dy : tensor<8x16xf32>
  %1 = kiln.gelu_grad %x, %dy {approximate = #kiln<gelu_approx tanh>} : tensor<8x16xf32>
  return %0, %1 : tensor<8x16xf32>, tensor<8x16xf32>
}

// -----

// Tests that kiln.conv2d_grad_input states the input type that a strided
// conv2d maps to dy's type (8x8 and 7x7 inputs both give 4x4 with stride 2).
// CHECK-LABEL: func.func @conv2d_grad_input
// CHECK: %[[A:.*]] = kiln.conv2d_grad_input %{{.*}}, %{{.*}}, strides = [2, 2], padding = [1, 1, 1, 1], dilations = [1, 1], groups = 1 : tensor<2x4x4x4xf32>, tensor<4x3x3x3xf32> -> tensor<2x3x8x8xf32>
// CHECK: %[[B:.*]] = kiln.conv2d_grad_input %{{.*}}, %{{.*}}, strides = [2, 2], padding = [1, 1, 1, 1], dilations = [1, 1], groups = 1 : tensor<2x4x4x4xf32>, tensor<4x3x3x3xf32> -> tensor<2x3x7x7xf32>
// CHECK: %[[C:.*]] = kiln.conv2d_grad_input %{{.*}}, %{{.*}}, strides = [1, 1], padding = [0, 2, 1, 0], dilations = [2, 1], groups = 2 : tensor<1x6x4x6xf64>, tensor<6x2x2x3xf64> -> tensor<1x4x5x6xf64>
// CHECK: return %[[A]], %[[B]], %[[C]]
func.func @conv2d_grad_input(%dy: tensor<2x4x4x4xf32>, %w: tensor<4x3x3x3xf32>,
                             %dz: tensor<1x6x4x6xf64>, %v: tensor<6x2x2x3xf64>)
    -> (tensor<2x3x8x8xf32>, tensor<2x3x7x7xf32>, tensor<1x4x5x6xf64>) {
  %0 = kiln.conv2d_grad_input %dy, %w, strides = [2, 2], padding = [1, 1, 1, 1],
         dilations = [1, 1], groups = 1 : tensor<2x4x4x4xf32>, tensor<4x3x3x3xf32> -> tensor<2x3x8x8xf32>
  %1 = kiln.conv2d_grad_input %dy, %w, strides = [2, 2], padding = [1, 1, 1, 1],
         dilations = [1, 1], groups = 1 : tensor<2x4x4x4xf32>, tensor<4x3x3x3xf32> -> tensor<2x3x7x7xf32>
  %2 = kiln.conv2d_grad_input %dz, %v, strides = [1, 1], padding = [0, 2, 1, 0],
         dilations = [2, 1], groups = 2 : tensor<1x6x4x6xf64>, tensor<6x2x2x3xf64> -> tensor<1x4x5x6xf64>
  return %0, %1, %2 : tensor<2x3x8x8xf32>, tensor<2x3x7x7xf32>, tensor<1x4x5x6xf64>
}

// -----

// Tests that kiln.conv2d_grad_filter states the filter type, here with
// groups and dilation.
// CHECK-LABEL: func.func @conv2d_grad_filter
// CHECK: %[[A:.*]] = kiln.conv2d_grad_filter %{{.*}}, %{{.*}}, strides = [2, 2], padding = [1, 1, 1, 1], dilations = [1, 1], groups = 1 : tensor<2x3x8x8xf32>, tensor<2x4x4x4xf32> -> tensor<4x3x3x3xf32>
// CHECK: %[[B:.*]] = kiln.conv2d_grad_filter %{{.*}}, %{{.*}}, strides = [1, 1], padding = [0, 2, 1, 0], dilations = [2, 1], groups = 2 : tensor<1x4x5x6xf64>, tensor<1x6x4x6xf64> -> tensor<6x2x2x3xf64>
// CHECK: return %[[A]], %[[B]]
func.func @conv2d_grad_filter(%x: tensor<2x3x8x8xf32>, %dy: tensor<2x4x4x4xf32>,
                              %z: tensor<1x4x5x6xf64>, %dz: tensor<1x6x4x6xf64>)
    -> (tensor<4x3x3x3xf32>, tensor<6x2x2x3xf64>) {
  %0 = kiln.conv2d_grad_filter %x, %dy, strides = [2, 2], padding = [1, 1, 1, 1],
         dilations = [1, 1], groups = 1 : tensor<2x3x8x8xf32>, tensor<2x4x4x4xf32> -> tensor<4x3x3x3xf32>
  %1 = kiln.conv2d_grad_filter %z, %dz, strides = [1, 1], padding = [0, 2, 1, 0],
         dilations = [2, 1], groups = 2 : tensor<1x4x5x6xf64>, tensor<1x6x4x6xf64> -> tensor<6x2x2x3xf64>
  return %0, %1 : tensor<4x3x3x3xf32>, tensor<6x2x2x3xf64>
}

// -----

// Tests that kiln.pool2d_grad infers the input's type for max and avg
// pooling, with padding and count_include_pad.
// CHECK-LABEL: func.func @pool2d_grad
// CHECK: %[[A:.*]] = kiln.pool2d_grad max %{{.*}}, %{{.*}}, window = [2, 2], strides = [2, 2], padding = [0, 0, 0, 0] : tensor<2x4x8x8xf32>, tensor<2x4x4x4xf32>
// CHECK: %[[B:.*]] = kiln.pool2d_grad avg %{{.*}}, %{{.*}}, window = [3, 3], strides = [2, 2], padding = [1, 1, 1, 1] {count_include_pad} : tensor<2x4x8x8xf32>, tensor<2x4x4x4xf32>
// CHECK: %[[C:.*]] = kiln.pool2d_grad avg %{{.*}}, %{{.*}}, window = [3, 3], strides = [2, 2], padding = [1, 1, 1, 1] : tensor<2x4x8x8xf32>, tensor<2x4x4x4xf32>
// CHECK: return %[[A]], %[[B]], %[[C]] : tensor<2x4x8x8xf32>, tensor<2x4x8x8xf32>, tensor<2x4x8x8xf32>
func.func @pool2d_grad(%x: tensor<2x4x8x8xf32>, %dy: tensor<2x4x4x4xf32>)
    -> (tensor<2x4x8x8xf32>, tensor<2x4x8x8xf32>, tensor<2x4x8x8xf32>) {
  %0 = kiln.pool2d_grad max %x, %dy, window = [2, 2], strides = [2, 2],
         padding = [0, 0, 0, 0] : tensor<2x4x8x8xf32>, tensor<2x4x4x4xf32>
  %1 = kiln.pool2d_grad avg %x, %dy, window = [3, 3], strides = [2, 2],
         padding = [1, 1, 1, 1] {count_include_pad} : tensor<2x4x8x8xf32>, tensor<2x4x4x4xf32>
  %2 = kiln.pool2d_grad avg %x, %dy, window = [3, 3], strides = [2, 2],
         padding = [1, 1, 1, 1] : tensor<2x4x8x8xf32>, tensor<2x4x4x4xf32>
  return %0, %1, %2 : tensor<2x4x8x8xf32>, tensor<2x4x8x8xf32>, tensor<2x4x8x8xf32>
}
