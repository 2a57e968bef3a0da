// RUN: kiln-opt %s --split-input-file --verify-diagnostics

// Tests that softmax_grad rejects a dim outside the rank.
func.func @softmax_grad_dim(%y: tensor<8x10xf32>) {
  // expected-error @+1 {{softmax_grad dim 2 is out of range: expected a dimension in [0, 2)}}
  %0 = kiln.softmax_grad %y, %y, dim = 2 : tensor<8x10xf32>
  return
}

// -----

// Tests that softmax_grad rejects an adjoint of another type than y.
func.func @softmax_grad_types(%y: tensor<8x10xf32>, %dy: tensor<8x10xf16>) {
  // expected-error @+1 {{requires the same type for all operands and results}}
  %0 = "kiln.softmax_grad"(%y, %dy) {dim = 1 : i64} : (tensor<8x10xf32>, tensor<8x10xf16>) -> tensor<8x10xf32>
  return
}

// -----

// Tests that log_softmax_grad rejects a negative dim.
func.func @log_softmax_grad_dim(%y: tensor<8x10xf32>) {
  // expected-error @+1 {{log_softmax_grad dim -1 is out of range: expected a dimension in [0, 2)}}
  %0 = kiln.log_softmax_grad %y, %y, dim = -1 : tensor<8x10xf32>
  return
}

// -----

// Tests that cross_entropy_grad with the mean reduction rejects a [N] dloss.
func.func @cross_entropy_grad_mean_dloss(%l: tensor<8x10xf32>, %y: tensor<8xi64>, %d: tensor<8xf32>) {
  // expected-error @+1 {{expected dloss of type 'tensor<f32>' (the cross_entropy result), found 'tensor<8xf32>'}}
  %0 = kiln.cross_entropy_grad %l, %y, %d : tensor<8x10xf32>, tensor<8xi64>, tensor<8xf32>
  return
}

// -----

// Tests that cross_entropy_grad without reduction rejects a 0-d dloss.
func.func @cross_entropy_grad_none_dloss(%l: tensor<8x10xf32>, %y: tensor<8xi64>, %d: tensor<f32>) {
  // expected-error @+1 {{expected dloss of type 'tensor<8xf32>' (the cross_entropy result), found 'tensor<f32>'}}
  %0 = kiln.cross_entropy_grad %l, %y, %d reduction = none : tensor<8x10xf32>, tensor<8xi64>, tensor<f32>
  return
}

// -----

// Tests that cross_entropy_grad checks the labels' shape as cross_entropy does.
func.func @cross_entropy_grad_labels(%l: tensor<8x10xf32>, %y: tensor<4xi64>, %d: tensor<f32>) {
  // expected-error @+1 {{expected labels of shape [8] for logits 'tensor<8x10xf32>', found 'tensor<4xi64>'}}
  %0 = kiln.cross_entropy_grad %l, %y, %d : tensor<8x10xf32>, tensor<4xi64>, tensor<f32>
  return
}

// -----

// Tests that cross_entropy_grad rejects float labels.
func.func @cross_entropy_grad_float_labels(%l: tensor<8x10xf32>, %y: tensor<8xf32>, %d: tensor<f32>) {
  // expected-error @+1 {{operand #1 must be statically shaped tensor of 32-bit signless integer or 64-bit signless integer values, but got 'tensor<8xf32>'}}
  %0 = kiln.cross_entropy_grad %l, %y, %d : tensor<8x10xf32>, tensor<8xf32>, tensor<f32>
  return
}

// -----

// Tests that layer_norm_grad checks gamma against x.shape[axis:].
func.func @layer_norm_grad_gamma(%x: tensor<8x16xf32>, %g: tensor<8xf32>) {
  // expected-error @+1 {{expected gamma and beta of type 'tensor<16xf32>' (x.shape[axis:]), found 'tensor<8xf32>'}}
  %dx, %dg, %db = kiln.layer_norm_grad %x, %g, %x, axis = 1 : tensor<8x16xf32>, tensor<8xf32>
  return
}

// -----

// Tests that layer_norm_grad rejects an axis outside the rank.
func.func @layer_norm_grad_axis(%x: tensor<8x16xf32>, %g: tensor<16xf32>) {
  // expected-error @+1 {{layer_norm axis 2 is out of range: expected a dimension in [0, 2)}}
  %dx, %dg, %db = kiln.layer_norm_grad %x, %g, %x, axis = 2 : tensor<8x16xf32>, tensor<16xf32>
  return
}

// -----

// Tests that layer_norm_grad rejects an adjoint of another type than x.
func.func @layer_norm_grad_dy(%x: tensor<8x16xf32>, %g: tensor<16xf32>, %dy: tensor<8x16xf64>) {
  // expected-error @+1 {{all of {x, dy} have same type}}
  %dx, %dg, %db = "kiln.layer_norm_grad"(%x, %g, %dy) {axis = 1 : i64, epsilon = 1.0e-5 : f64}
      : (tensor<8x16xf32>, tensor<16xf32>, tensor<8x16xf64>) -> (tensor<8x16xf32>, tensor<16xf32>, tensor<16xf32>)
  return
}

// -----

// Tests that layer_norm_grad rejects a negative epsilon (checked when the
// verifier re-infers the result types, which it also reports).
func.func @layer_norm_grad_epsilon(%x: tensor<8x16xf32>, %g: tensor<16xf32>) {
  // expected-error @+2 {{expected epsilon >= 0, found -1}}
  // expected-error @+1 {{'kiln.layer_norm_grad' op failed to infer returned types}}
  %dx, %dg, %db = kiln.layer_norm_grad %x, %g, %x, axis = 1 {epsilon = -1.0 : f64} : tensor<8x16xf32>, tensor<16xf32>
  return
}

// -----

// Tests that batch_norm_grad checks gamma against the channel dim.
func.func @batch_norm_grad_gamma(%x: tensor<8x4x6x6xf32>, %g: tensor<6xf32>) {
  // expected-error @+1 {{expected per-channel operands of type 'tensor<4xf32>', found 'tensor<6xf32>'}}
  %dx, %dg, %db = kiln.batch_norm_grad %x, %g, %x : tensor<8x4x6x6xf32>, tensor<6xf32>
  return
}

// -----

// Tests that batch_norm_grad rejects a rank-1 input.
func.func @batch_norm_grad_rank(%x: tensor<8xf32>, %g: tensor<8xf32>) {
  // expected-error @+1 {{expected an input [N, C, ...] of rank >= 2, found 'tensor<8xf32>'}}
  %dx, %dg, %db = kiln.batch_norm_grad %x, %g, %x : tensor<8xf32>, tensor<8xf32>
  return
}

// -----

// Tests that gelu_grad rejects an adjoint of another type than x.
func.func @gelu_grad_types(%x: tensor<8xf32>, %dy: tensor<4xf32>) {
  // expected-error @+1 {{requires the same type for all operands and results}}
  %0 = "kiln.gelu_grad"(%x, %dy) : (tensor<8xf32>, tensor<4xf32>) -> tensor<8xf32>
  return
}

// -----

// Tests that conv2d_grad_input rejects an input type that the forward conv2d
// would not map to dy's type.
func.func @conv2d_grad_input_dy(%dy: tensor<2x4x4x4xf32>, %w: tensor<4x3x3x3xf32>) {
  // expected-error @+1 {{expected dy of type 'tensor<2x4x5x5xf32>' (the conv2d result), found 'tensor<2x4x4x4xf32>'}}
  %0 = kiln.conv2d_grad_input %dy, %w, strides = [2, 2], padding = [1, 1, 1, 1],
         dilations = [1, 1], groups = 1 : tensor<2x4x4x4xf32>, tensor<4x3x3x3xf32> -> tensor<2x3x9x9xf32>
  return
}

// -----

// Tests that conv2d_grad_input checks the groups as conv2d does.
func.func @conv2d_grad_input_groups(%dy: tensor<2x4x8x8xf32>, %w: tensor<4x3x3x3xf32>) {
  // expected-error @+1 {{groups 2 must divide the input channels (3) and the output channels (4)}}
  %0 = kiln.conv2d_grad_input %dy, %w, strides = [1, 1], padding = [1, 1, 1, 1],
         dilations = [1, 1], groups = 2 : tensor<2x4x8x8xf32>, tensor<4x3x3x3xf32> -> tensor<2x3x8x8xf32>
  return
}

// -----

// Tests that conv2d_grad_input checks the strides' length as conv2d does.
func.func @conv2d_grad_input_strides(%dy: tensor<2x4x8x8xf32>, %w: tensor<4x3x3x3xf32>) {
  // expected-error @+1 {{strides must have 2 entries, found 1 ([1])}}
  %0 = kiln.conv2d_grad_input %dy, %w, strides = [1], padding = [1, 1, 1, 1],
         dilations = [1, 1], groups = 1 : tensor<2x4x8x8xf32>, tensor<4x3x3x3xf32> -> tensor<2x3x8x8xf32>
  return
}

// -----

// Tests that conv2d_grad_filter rejects a filter type that the forward conv2d
// would not map to dy's type.
func.func @conv2d_grad_filter_dy(%x: tensor<2x3x8x8xf32>, %dy: tensor<2x4x8x8xf32>) {
  // expected-error @+1 {{expected dy of type 'tensor<2x4x6x6xf32>' (the conv2d result), found 'tensor<2x4x8x8xf32>'}}
  %0 = kiln.conv2d_grad_filter %x, %dy, strides = [1, 1], padding = [0, 0, 0, 0],
         dilations = [1, 1], groups = 1 : tensor<2x3x8x8xf32>, tensor<2x4x8x8xf32> -> tensor<4x3x3x3xf32>
  return
}

// -----

// Tests that conv2d_grad_filter checks the filter's input channels.
func.func @conv2d_grad_filter_channels(%x: tensor<2x3x8x8xf32>, %dy: tensor<2x4x8x8xf32>) {
  // expected-error @+1 {{expected filter input channels C/groups = 3, found 2 in 'tensor<4x2x3x3xf32>'}}
  %0 = kiln.conv2d_grad_filter %x, %dy, strides = [1, 1], padding = [1, 1, 1, 1],
         dilations = [1, 1], groups = 1 : tensor<2x3x8x8xf32>, tensor<2x4x8x8xf32> -> tensor<4x2x3x3xf32>
  return
}

// -----

// Tests that pool2d_grad rejects an adjoint of another shape than the
// forward pool2d's result.
func.func @pool2d_grad_dy(%x: tensor<2x4x8x8xf32>, %dy: tensor<2x4x8x8xf32>) {
  // expected-error @+1 {{expected dy of type 'tensor<2x4x4x4xf32>' (the pool2d result), found 'tensor<2x4x8x8xf32>'}}
  %0 = kiln.pool2d_grad max %x, %dy, window = [2, 2], strides = [2, 2],
         padding = [0, 0, 0, 0] : tensor<2x4x8x8xf32>, tensor<2x4x8x8xf32>
  return
}

// -----

// Tests that pool2d_grad checks the padding against the window as pool2d does.
func.func @pool2d_grad_padding(%x: tensor<2x4x8x8xf32>, %dy: tensor<2x4x5x5xf32>) {
  // expected-error @+1 {{padding [2, 2, 2, 2] must be smaller than the window [2, 2]}}
  %0 = kiln.pool2d_grad avg %x, %dy, window = [2, 2], strides = [2, 2],
         padding = [2, 2, 2, 2] : tensor<2x4x8x8xf32>, tensor<2x4x5x5xf32>
  return
}
