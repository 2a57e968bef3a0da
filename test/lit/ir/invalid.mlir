// RUN: kiln-opt %s --split-input-file --verify-diagnostics

// Tests that exp rejects an integer tensor (exp is float-only).
func.func @exp_int(%x: tensor<4xi32>) {
  // expected-error @+1 {{operand #0 must be statically shaped tensor of 16-bit float or bfloat16 type or 32-bit float or 64-bit float values, but got 'tensor<4xi32>'}}
  %0 = kiln.exp %x : tensor<4xi32>
  return
}

// -----

// Tests that not rejects a float tensor (logical ops take i1 or integers).
func.func @not_float(%x: tensor<4xf32>) {
  // expected-error @+1 {{operand #0 must be statically shaped tensor of 1-bit signless integer or 32-bit signless integer or 64-bit signless integer values, but got 'tensor<4xf32>'}}
  %0 = kiln.not %x : tensor<4xf32>
  return
}

// -----

// Tests that add rejects operands of different types (broadcasting is explicit).
func.func @add_mismatch(%a: tensor<4xf32>, %b: tensor<8xf32>) {
  // expected-error @+1 {{requires the same type for all operands and results}}
  %0 = "kiln.add"(%a, %b) : (tensor<4xf32>, tensor<8xf32>) -> tensor<4xf32>
  return
}

// -----

// Tests that add rejects a result type that differs from its operands'.
func.func @add_result_mismatch(%a: tensor<4xf32>) {
  // expected-error @+1 {{requires the same type for all operands and results}}
  %0 = "kiln.add"(%a, %a) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf16>
  return
}

// -----

// Tests that add rejects i1 tensors (arithmetic is on numbers).
func.func @add_i1(%a: tensor<4xi1>) {
  // expected-error @+1 {{operand #0 must be statically shaped tensor of 16-bit float or bfloat16 type or 32-bit float or 64-bit float or 32-bit signless integer or 64-bit signless integer values, but got 'tensor<4xi1>'}}
  %0 = kiln.add %a, %a : tensor<4xi1>
  return
}

// -----

// Tests that and rejects float tensors.
func.func @and_float(%a: tensor<4xf32>) {
  // expected-error @+1 {{operand #0 must be statically shaped tensor of 1-bit signless integer or 32-bit signless integer or 64-bit signless integer values, but got 'tensor<4xf32>'}}
  %0 = kiln.and %a, %a : tensor<4xf32>
  return
}

// -----

// Tests that a dynamically shaped tensor is rejected.
func.func @dynamic_shape(%x: tensor<?x4xf32>) {
  // expected-error @+1 {{operand #0 must be statically shaped tensor of 16-bit float or bfloat16 type or 32-bit float or 64-bit float values, but got 'tensor<?x4xf32>'}}
  %0 = kiln.tanh %x : tensor<?x4xf32>
  return
}

// -----

// Tests that a dynamically shaped tensor is rejected by an op with an inferred result.
func.func @dynamic_shape_reduce(%x: tensor<?x4xf32>) {
  // expected-error @+1 {{operand #0 must be statically shaped tensor of 16-bit float or bfloat16 type or 32-bit float or 64-bit float or 32-bit signless integer or 64-bit signless integer values, but got 'tensor<?x4xf32>'}}
  %0 = kiln.reduce sum %x, dims = [1] : tensor<?x4xf32>
  return
}

// -----

// Tests that an unsupported element type (i8) is rejected.
func.func @i8_tensor(%x: tensor<4xi8>) {
  // expected-error @+1 {{operand #0 must be statically shaped tensor of 16-bit float or bfloat16 type or 32-bit float or 64-bit float or 32-bit signless integer or 64-bit signless integer values, but got 'tensor<4xi8>'}}
  %0 = kiln.neg %x : tensor<4xi8>
  return
}

// -----

// Tests that compare rejects operands of different types.
func.func @compare_mismatch(%a: tensor<4xf32>, %b: tensor<4xf16>) {
  // expected-error @+1 {{requires all operands to have the same type}}
  %0 = "kiln.compare"(%a, %b) {direction = #kiln<cmp lt>} : (tensor<4xf32>, tensor<4xf16>) -> tensor<4xi1>
  return
}

// -----

// Tests that compare rejects a result whose shape is not the operands'.
func.func @compare_result(%a: tensor<4xf32>) {
  // expected-error @+1 {{'kiln.compare' op all non-scalar operands/results must have the same shape and base type}}
  %0 = "kiln.compare"(%a, %a) {direction = #kiln<cmp lt>} : (tensor<4xf32>, tensor<4xf32>) -> tensor<8xi1>
  return
}

// -----

// Tests that select rejects a condition whose shape differs from the branches'.
func.func @select_shape(%c: tensor<5xi1>, %a: tensor<4xf32>) {
  // expected-error @+1 {{'kiln.select' op all non-scalar operands/results must have the same shape and base type}}
  %0 = kiln.select %c, %a, %a : tensor<5xi1>, tensor<4xf32>
  return
}

// -----

// Tests that select rejects branches of different types.
func.func @select_branches(%c: tensor<4xi1>, %a: tensor<4xf32>, %b: tensor<4xf16>) {
  // expected-error @+1 {{failed to verify that all of {on_true, on_false} have same type}}
  %0 = "kiln.select"(%c, %a, %b) : (tensor<4xi1>, tensor<4xf32>, tensor<4xf16>) -> tensor<4xf32>
  return
}

// -----

// Tests that select rejects a condition that is not i1.
func.func @select_cond_type(%c: tensor<4xi32>, %a: tensor<4xf32>) {
  // expected-error @+1 {{operand #0 must be statically shaped tensor of 1-bit signless integer values, but got 'tensor<4xi32>'}}
  %0 = kiln.select %c, %a, %a : tensor<4xi32>, tensor<4xf32>
  return
}

// -----

// Tests that cast rejects a change of shape.
func.func @cast_shape(%x: tensor<4xf32>) {
  // expected-error @+1 {{'kiln.cast' op all non-scalar operands/results must have the same shape and base type}}
  %0 = kiln.cast %x : tensor<4xf32> -> tensor<8xi32>
  return
}

// -----

// Tests that broadcast rejects a change of element type.
func.func @broadcast_elem(%x: tensor<10xf32>) {
  // expected-error @+1 {{'kiln.broadcast' op expected the result element type to be 'f32', found 'f16'}}
  %0 = kiln.broadcast %x, dims = [1] : tensor<10xf32> -> tensor<8x10xf16>
  return
}

// -----

// Tests that broadcast rejects a dims list whose length is not the operand rank.
func.func @broadcast_dims_count(%x: tensor<10xf32>) {
  // expected-error @+1 {{'kiln.broadcast' op expected one entry in dims per operand dimension (1), found 2}}
  %0 = kiln.broadcast %x, dims = [0, 1] : tensor<10xf32> -> tensor<8x10xf32>
  return
}

// -----

// Tests that broadcast rejects a dims entry outside the result rank.
func.func @broadcast_dims_range(%x: tensor<10xf32>) {
  // expected-error @+1 {{dims entry 2 at position 0 is out of range: expected a dimension in [0, 2)}}
  %0 = kiln.broadcast %x, dims = [2] : tensor<10xf32> -> tensor<8x10xf32>
  return
}

// -----

// Tests that broadcast rejects dims that are not strictly increasing.
func.func @broadcast_dims_order(%x: tensor<4x5xf32>) {
  // expected-error @+1 {{dims must be strictly increasing, found [1, 0]}}
  %0 = kiln.broadcast %x, dims = [1, 0] : tensor<4x5xf32> -> tensor<5x4xf32>
  return
}

// -----

// Tests that broadcast rejects an operand dimension that is neither 1 nor the result's size.
func.func @broadcast_size(%x: tensor<3xf32>) {
  // expected-error @+1 {{'kiln.broadcast' op cannot broadcast operand dimension 0 of size 3 to result dimension 1 of size 10: expected size 1 or 10}}
  %0 = kiln.broadcast %x, dims = [1] : tensor<3xf32> -> tensor<8x10xf32>
  return
}

// -----

// Tests that reduce rejects a dimension outside the operand rank.
func.func @reduce_range(%x: tensor<8x10xf32>) {
  // expected-error @+1 {{reduction dims entry 2 at position 0 is out of range: expected a dimension in [0, 2)}}
  %0 = kiln.reduce sum %x, dims = [2] : tensor<8x10xf32>
  return
}

// -----

// Tests that reduce rejects a negative dimension.
func.func @reduce_negative(%x: tensor<8x10xf32>) {
  // expected-error @+1 {{reduction dims entry -1 at position 0 is out of range: expected a dimension in [0, 2)}}
  %0 = kiln.reduce max %x, dims = [-1] : tensor<8x10xf32>
  return
}

// -----

// Tests that reduce rejects dims that are not strictly increasing.
func.func @reduce_order(%x: tensor<8x10xf32>) {
  // expected-error @+1 {{reduction dims must be strictly increasing, found [1, 0]}}
  %0 = kiln.reduce sum %x, dims = [1, 0] : tensor<8x10xf32>
  return
}

// -----

// Tests that reduce rejects a repeated dimension.
func.func @reduce_repeated(%x: tensor<8x10xf32>) {
  // expected-error @+1 {{reduction dims must be strictly increasing, found [0, 0]}}
  %0 = kiln.reduce sum %x, dims = [0, 0] : tensor<8x10xf32>
  return
}

// -----

// Tests that a mean reduction rejects an integer tensor.
func.func @reduce_mean_int(%x: tensor<8x10xi32>) {
  // expected-error @+1 {{mean reduction expects a float tensor, found 'tensor<8x10xi32>'}}
  %0 = kiln.reduce mean %x, dims = [1] : tensor<8x10xi32>
  return
}

// -----

// Tests that the generic form of reduce reports both the rule's error and the failed
// inference.
func.func @reduce_generic(%x: tensor<8x10xf32>) {
  // expected-error @+2 {{reduction dims entry 5 at position 0 is out of range: expected a dimension in [0, 2)}}
  // expected-error @+1 {{'kiln.reduce' op failed to infer returned types}}
  %0 = "kiln.reduce"(%x) {kind = #kiln<reduce sum>, dims = array<i64: 5>} : (tensor<8x10xf32>) -> tensor<8xf32>
  return
}

// -----

// Tests that reduce with keep_dims rejects a result type that drops the dimension.
func.func @reduce_keep_dims_result(%x: tensor<8x10xf32>) {
  // expected-error @+2 {{'kiln.reduce' op inferred type(s) 'tensor<8x1xf32>' are incompatible with return type(s) of operation 'tensor<8xf32>'}}
  // expected-error @+1 {{'kiln.reduce' op failed to infer returned types}}
  %0 = "kiln.reduce"(%x) {kind = #kiln<reduce sum>, dims = array<i64: 1>, keep_dims} : (tensor<8x10xf32>) -> tensor<8xf32>
  return
}

// -----

// Tests that argmax rejects a dimension outside the operand rank.
func.func @argmax_dim(%x: tensor<8x10xf32>) {
  // expected-error @+1 {{argmax dim 2 is out of range: expected a dimension in [0, 2)}}
  %0 = kiln.argmax %x, dim = 2 : tensor<8x10xf32>
  return
}

// -----

// Tests that argmax rejects a 0-d operand.
func.func @argmax_scalar(%x: tensor<f32>) {
  // expected-error @+1 {{argmax dim 0 is out of range: expected a dimension in [0, 0)}}
  %0 = kiln.argmax %x, dim = 0 : tensor<f32>
  return
}

// -----

// Tests that matmul rejects operands whose inner dimensions differ; the generic form
// also reports the failed inference.
func.func @matmul_inner_generic(%a: tensor<8x64xf32>, %b: tensor<32x10xf32>) {
  // expected-error @+2 {{cannot multiply 'tensor<8x64xf32>' by 'tensor<32x10xf32>': inner dimensions 64 and 32 differ}}
  // expected-error @+1 {{'kiln.matmul' op failed to infer returned types}}
  %0 = "kiln.matmul"(%a, %b) : (tensor<8x64xf32>, tensor<32x10xf32>) -> tensor<8x10xf32>
  return
}

// -----

// Tests that matmul takes transpose_b into account when checking inner dimensions.
func.func @matmul_inner_transpose(%a: tensor<8x64xf32>, %b: tensor<64x10xf32>) {
  // expected-error @+1 {{cannot multiply 'tensor<8x64xf32>' by 'tensor<64x10xf32>': inner dimensions 64 and 10 differ}}
  %0 = kiln.matmul %a, %b transpose_b : tensor<8x64xf32>, tensor<64x10xf32>
  return
}

// -----

// Tests that matmul rejects different batch dimensions.
func.func @matmul_batch(%a: tensor<2x8x16xf32>, %b: tensor<3x16x4xf32>) {
  // expected-error @+1 {{expected identical batch dimensions, found [2] and [3]}}
  %0 = kiln.matmul %a, %b : tensor<2x8x16xf32>, tensor<3x16x4xf32>
  return
}

// -----

// Tests that matmul rejects a rank-1 operand.
func.func @matmul_rank1(%a: tensor<16xf32>, %b: tensor<16x4xf32>) {
  // expected-error @+1 {{expected operands of equal rank >= 2, found 'tensor<16xf32>' and 'tensor<16x4xf32>'}}
  %0 = kiln.matmul %a, %b : tensor<16xf32>, tensor<16x4xf32>
  return
}

// -----

// Tests that matmul rejects operands of different ranks (no implicit batch broadcast).
func.func @matmul_rank_mismatch(%a: tensor<2x8x16xf32>, %b: tensor<16x4xf32>) {
  // expected-error @+1 {{expected operands of equal rank >= 2, found 'tensor<2x8x16xf32>' and 'tensor<16x4xf32>'}}
  %0 = kiln.matmul %a, %b : tensor<2x8x16xf32>, tensor<16x4xf32>
  return
}

// -----

// Tests that matmul rejects operands of different element types.
func.func @matmul_elem(%a: tensor<8x16xf32>, %b: tensor<16x4xf16>) {
  // expected-error @+1 {{expected operands of one element type, found 'tensor<8x16xf32>' and 'tensor<16x4xf16>'}}
  %0 = kiln.matmul %a, %b : tensor<8x16xf32>, tensor<16x4xf16>
  return
}

// -----

// Tests that matmul rejects integer operands.
func.func @matmul_int(%a: tensor<8x16xi32>, %b: tensor<16x4xi32>) {
  // expected-error @+1 {{operand #0 must be statically shaped tensor of 16-bit float or bfloat16 type or 32-bit float or 64-bit float values, but got 'tensor<8x16xi32>'}}
  %0 = kiln.matmul %a, %b : tensor<8x16xi32>, tensor<16x4xi32>
  return
}

// -----

// Tests that matmul rejects a result type other than the inferred one.
func.func @matmul_result(%a: tensor<8x16xf32>, %b: tensor<16x4xf32>) {
  // expected-error @+2 {{'kiln.matmul' op inferred type(s) 'tensor<8x4xf32>' are incompatible with return type(s) of operation 'tensor<4x8xf32>'}}
  // expected-error @+1 {{'kiln.matmul' op failed to infer returned types}}
  %0 = "kiln.matmul"(%a, %b) : (tensor<8x16xf32>, tensor<16x4xf32>) -> tensor<4x8xf32>
  return
}

// -----

// Tests that conv2d rejects an input that is not rank 4.
func.func @conv2d_rank(%x: tensor<3x8x8xf32>, %w: tensor<4x3x3x3xf32>) {
  // expected-error @+1 {{expected a rank-4 NCHW input and OIHW filter, found 'tensor<3x8x8xf32>' and 'tensor<4x3x3x3xf32>'}}
  %0 = kiln.conv2d %x, %w, strides = [1, 1], padding = [0, 0, 0, 0], dilations = [1, 1], groups = 1 : tensor<3x8x8xf32>, tensor<4x3x3x3xf32>
  return
}

// -----

// Tests that conv2d rejects an input and filter of different element types.
func.func @conv2d_elem(%x: tensor<2x3x8x8xf32>, %w: tensor<4x3x3x3xf16>) {
  // expected-error @+1 {{expected input and filter of one element type, found 'tensor<2x3x8x8xf32>' and 'tensor<4x3x3x3xf16>'}}
  %0 = kiln.conv2d %x, %w, strides = [1, 1], padding = [0, 0, 0, 0], dilations = [1, 1], groups = 1 : tensor<2x3x8x8xf32>, tensor<4x3x3x3xf16>
  return
}

// -----

// Tests that conv2d rejects strides without two entries.
func.func @conv2d_strides_len(%x: tensor<2x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) {
  // expected-error @+1 {{strides must have 2 entries, found 1 ([1])}}
  %0 = kiln.conv2d %x, %w, strides = [1], padding = [0, 0, 0, 0], dilations = [1, 1], groups = 1 : tensor<2x3x8x8xf32>, tensor<4x3x3x3xf32>
  return
}

// -----

// Tests that conv2d rejects padding without four entries.
func.func @conv2d_padding_len(%x: tensor<2x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) {
  // expected-error @+1 {{padding must have 4 entries, found 2 ([1, 1])}}
  %0 = kiln.conv2d %x, %w, strides = [1, 1], padding = [1, 1], dilations = [1, 1], groups = 1 : tensor<2x3x8x8xf32>, tensor<4x3x3x3xf32>
  return
}

// -----

// Tests that conv2d rejects dilations without two entries.
func.func @conv2d_dilations_len(%x: tensor<2x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) {
  // expected-error @+1 {{dilations must have 2 entries, found 3 ([1, 1, 1])}}
  %0 = kiln.conv2d %x, %w, strides = [1, 1], padding = [0, 0, 0, 0], dilations = [1, 1, 1], groups = 1 : tensor<2x3x8x8xf32>, tensor<4x3x3x3xf32>
  return
}

// -----

// Tests that conv2d rejects a zero stride.
func.func @conv2d_stride_zero(%x: tensor<2x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) {
  // expected-error @+1 {{strides must be positive, found [0, 1]}}
  %0 = kiln.conv2d %x, %w, strides = [0, 1], padding = [0, 0, 0, 0], dilations = [1, 1], groups = 1 : tensor<2x3x8x8xf32>, tensor<4x3x3x3xf32>
  return
}

// -----

// Tests that conv2d rejects negative padding.
func.func @conv2d_padding_negative(%x: tensor<2x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) {
  // expected-error @+1 {{padding must be non-negative, found [0, -1, 0, 0]}}
  %0 = kiln.conv2d %x, %w, strides = [1, 1], padding = [0, -1, 0, 0], dilations = [1, 1], groups = 1 : tensor<2x3x8x8xf32>, tensor<4x3x3x3xf32>
  return
}

// -----

// Tests that conv2d rejects a zero dilation.
func.func @conv2d_dilation_zero(%x: tensor<2x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) {
  // expected-error @+1 {{dilations must be positive, found [1, 0]}}
  %0 = kiln.conv2d %x, %w, strides = [1, 1], padding = [0, 0, 0, 0], dilations = [1, 0], groups = 1 : tensor<2x3x8x8xf32>, tensor<4x3x3x3xf32>
  return
}

// -----

// Tests that conv2d rejects groups = 0.
func.func @conv2d_groups_zero(%x: tensor<2x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) {
  // expected-error @+1 {{groups 0 must divide the input channels (3) and the output channels (4)}}
  %0 = kiln.conv2d %x, %w, strides = [1, 1], padding = [0, 0, 0, 0], dilations = [1, 1], groups = 0 : tensor<2x3x8x8xf32>, tensor<4x3x3x3xf32>
  return
}

// -----

// Tests that conv2d rejects groups that do not divide the input channels.
func.func @conv2d_groups_input(%x: tensor<2x3x8x8xf32>, %w: tensor<4x1x3x3xf32>) {
  // expected-error @+1 {{groups 2 must divide the input channels (3) and the output channels (4)}}
  %0 = kiln.conv2d %x, %w, strides = [1, 1], padding = [0, 0, 0, 0], dilations = [1, 1], groups = 2 : tensor<2x3x8x8xf32>, tensor<4x1x3x3xf32>
  return
}

// -----

// Tests that conv2d rejects groups that do not divide the output channels.
func.func @conv2d_groups_output(%x: tensor<2x8x8x8xf32>, %w: tensor<6x2x3x3xf32>) {
  // expected-error @+1 {{groups 4 must divide the input channels (8) and the output channels (6)}}
  %0 = kiln.conv2d %x, %w, strides = [1, 1], padding = [0, 0, 0, 0], dilations = [1, 1], groups = 4 : tensor<2x8x8x8xf32>, tensor<6x2x3x3xf32>
  return
}

// -----

// Tests that conv2d rejects a filter whose input channels are not C/groups.
func.func @conv2d_filter_channels(%x: tensor<2x3x8x8xf32>, %w: tensor<4x2x3x3xf32>) {
  // expected-error @+1 {{expected filter input channels C/groups = 3, found 2 in 'tensor<4x2x3x3xf32>'}}
  %0 = kiln.conv2d %x, %w, strides = [1, 1], padding = [0, 0, 0, 0], dilations = [1, 1], groups = 1 : tensor<2x3x8x8xf32>, tensor<4x2x3x3xf32>
  return
}

// -----

// Tests that conv2d rejects a filter larger than the padded input.
func.func @conv2d_window(%x: tensor<2x3x4x8xf32>, %w: tensor<4x3x5x5xf32>) {
  // expected-error @+1 {{window of effective size 5 does not fit the padded height size 4}}
  %0 = kiln.conv2d %x, %w, strides = [1, 1], padding = [0, 0, 0, 0], dilations = [1, 1], groups = 1 : tensor<2x3x4x8xf32>, tensor<4x3x5x5xf32>
  return
}

// -----

// Tests that conv2d counts dilation in the window size.
func.func @conv2d_dilated_window(%x: tensor<1x1x8x6xf32>, %w: tensor<1x1x3x3xf32>) {
  // expected-error @+1 {{window of effective size 7 does not fit the padded width size 6}}
  %0 = kiln.conv2d %x, %w, strides = [1, 1], padding = [0, 0, 0, 0], dilations = [1, 3], groups = 1 : tensor<1x1x8x6xf32>, tensor<1x1x3x3xf32>
  return
}

// -----

// Tests that pool2d rejects an input that is not rank 4.
func.func @pool2d_rank(%x: tensor<4x8x8xf32>) {
  // expected-error @+1 {{expected a rank-4 NCHW input, found 'tensor<4x8x8xf32>'}}
  %0 = kiln.pool2d max %x, window = [2, 2], strides = [2, 2], padding = [0, 0, 0, 0] : tensor<4x8x8xf32>
  return
}

// -----

// Tests that pool2d rejects a window without two entries.
func.func @pool2d_window_len(%x: tensor<2x4x8x8xf32>) {
  // expected-error @+1 {{window must have 2 entries, found 1 ([2])}}
  %0 = kiln.pool2d max %x, window = [2], strides = [2, 2], padding = [0, 0, 0, 0] : tensor<2x4x8x8xf32>
  return
}

// -----

// Tests that pool2d rejects strides without two entries.
func.func @pool2d_strides_len(%x: tensor<2x4x8x8xf32>) {
  // expected-error @+1 {{strides must have 2 entries, found 3 ([2, 2, 2])}}
  %0 = kiln.pool2d max %x, window = [2, 2], strides = [2, 2, 2], padding = [0, 0, 0, 0] : tensor<2x4x8x8xf32>
  return
}

// -----

// Tests that pool2d rejects padding without four entries.
func.func @pool2d_padding_len(%x: tensor<2x4x8x8xf32>) {
  // expected-error @+1 {{padding must have 4 entries, found 2 ([0, 0])}}
  %0 = kiln.pool2d max %x, window = [2, 2], strides = [2, 2], padding = [0, 0] : tensor<2x4x8x8xf32>
  return
}

// -----

// Tests that pool2d rejects an empty window.
func.func @pool2d_window_zero(%x: tensor<2x4x8x8xf32>) {
  // expected-error @+1 {{window must be positive, found [0, 2]}}
  %0 = kiln.pool2d max %x, window = [0, 2], strides = [2, 2], padding = [0, 0, 0, 0] : tensor<2x4x8x8xf32>
  return
}

// -----

// Tests that pool2d rejects a zero stride.
func.func @pool2d_stride_zero(%x: tensor<2x4x8x8xf32>) {
  // expected-error @+1 {{strides must be positive, found [2, 0]}}
  %0 = kiln.pool2d avg %x, window = [2, 2], strides = [2, 0], padding = [0, 0, 0, 0] : tensor<2x4x8x8xf32>
  return
}

// -----

// Tests that pool2d rejects negative padding.
func.func @pool2d_padding_negative(%x: tensor<2x4x8x8xf32>) {
  // expected-error @+1 {{padding must be non-negative, found [-1, 0, 0, 0]}}
  %0 = kiln.pool2d max %x, window = [2, 2], strides = [2, 2], padding = [-1, 0, 0, 0] : tensor<2x4x8x8xf32>
  return
}

// -----

// Tests that pool2d rejects padding as large as the window (a window of only padding).
func.func @pool2d_padding_window(%x: tensor<2x4x8x8xf32>) {
  // expected-error @+1 {{padding [0, 0, 0, 2] must be smaller than the window [2, 2]}}
  %0 = kiln.pool2d max %x, window = [2, 2], strides = [2, 2], padding = [0, 0, 0, 2] : tensor<2x4x8x8xf32>
  return
}

// -----

// Tests that pool2d rejects a window larger than the padded input.
func.func @pool2d_window_too_large(%x: tensor<2x4x8x8xf32>) {
  // expected-error @+1 {{window of effective size 9 does not fit the padded height size 8}}
  %0 = kiln.pool2d max %x, window = [9, 2], strides = [2, 2], padding = [0, 0, 0, 0] : tensor<2x4x8x8xf32>
  return
}

// -----

// Tests that reshape rejects a change in the number of elements.
func.func @reshape_count(%x: tensor<8x10xf32>) {
  // expected-error @+1 {{'kiln.reshape' op cannot reshape 'tensor<8x10xf32>' (80 elements) to 'tensor<81xf32>' (81 elements)}}
  %0 = kiln.reshape %x : tensor<8x10xf32> -> tensor<81xf32>
  return
}

// -----

// Tests that reshape rejects a change of element type.
func.func @reshape_elem(%x: tensor<8x10xf32>) {
  // expected-error @+1 {{'kiln.reshape' op expected the result element type to be 'f32', found 'i32'}}
  %0 = kiln.reshape %x : tensor<8x10xf32> -> tensor<80xi32>
  return
}

// -----

// Tests that transpose rejects a perm whose length is not the rank.
func.func @transpose_len(%x: tensor<8x10xf32>) {
  // expected-error @+1 {{expected a permutation of 2 dimensions, found [0]}}
  %0 = kiln.transpose %x, perm = [0] : tensor<8x10xf32>
  return
}

// -----

// Tests that transpose rejects a repeated dimension.
func.func @transpose_repeated(%x: tensor<8x10xf32>) {
  // expected-error @+1 {{expected a permutation of [0, 2), found [1, 1]}}
  %0 = kiln.transpose %x, perm = [1, 1] : tensor<8x10xf32>
  return
}

// -----

// Tests that transpose rejects a dimension outside the rank.
func.func @transpose_range(%x: tensor<8x10xf32>) {
  // expected-error @+1 {{expected a permutation of [0, 2), found [0, 2]}}
  %0 = kiln.transpose %x, perm = [0, 2] : tensor<8x10xf32>
  return
}

// -----

// Tests that slice rejects a start list whose length is not the rank.
func.func @slice_start_len(%x: tensor<8x10xf32>) {
  // expected-error @+1 {{start must have 2 entries, found 1 ([0])}}
  %0 = kiln.slice %x, start = [0], limit = [8, 10], step = [1, 1] : tensor<8x10xf32>
  return
}

// -----

// Tests that slice rejects a limit list whose length is not the rank.
func.func @slice_limit_len(%x: tensor<8x10xf32>) {
  // expected-error @+1 {{limit must have 2 entries, found 3 ([8, 10, 1])}}
  %0 = kiln.slice %x, start = [0, 0], limit = [8, 10, 1], step = [1, 1] : tensor<8x10xf32>
  return
}

// -----

// Tests that slice rejects a step list whose length is not the rank.
func.func @slice_step_len(%x: tensor<8x10xf32>) {
  // expected-error @+1 {{step must have 2 entries, found 1 ([1])}}
  %0 = kiln.slice %x, start = [0, 0], limit = [8, 10], step = [1] : tensor<8x10xf32>
  return
}

// -----

// Tests that slice rejects a zero step.
func.func @slice_step_zero(%x: tensor<8x10xf32>) {
  // expected-error @+1 {{step must be positive, found [1, 0]}}
  %0 = kiln.slice %x, start = [0, 0], limit = [8, 10], step = [1, 0] : tensor<8x10xf32>
  return
}

// -----

// Tests that slice rejects a limit past the end of the dimension.
func.func @slice_limit_range(%x: tensor<8x10xf32>) {
  // expected-error @+1 {{slice of dimension 1 (size 10) expects 0 <= start <= limit <= 10, found start 0 and limit 11}}
  %0 = kiln.slice %x, start = [0, 0], limit = [8, 11], step = [1, 1] : tensor<8x10xf32>
  return
}

// -----

// Tests that slice rejects a start after the limit.
func.func @slice_start_limit(%x: tensor<8x10xf32>) {
  // expected-error @+1 {{slice of dimension 0 (size 8) expects 0 <= start <= limit <= 8, found start 5 and limit 4}}
  %0 = kiln.slice %x, start = [5, 0], limit = [4, 10], step = [1, 1] : tensor<8x10xf32>
  return
}

// -----

// Tests that slice rejects a negative start.
func.func @slice_start_negative(%x: tensor<8x10xf32>) {
  // expected-error @+1 {{slice of dimension 0 (size 8) expects 0 <= start <= limit <= 8, found start -1 and limit 8}}
  %0 = kiln.slice %x, start = [-1, 0], limit = [8, 10], step = [1, 1] : tensor<8x10xf32>
  return
}

// -----

// Tests that concat rejects an empty input list; the generic form also reports the
// failed inference.
func.func @concat_empty() {
  // expected-error @+2 {{expected at least one input}}
  // expected-error @+1 {{'kiln.concat' op failed to infer returned types}}
  %0 = "kiln.concat"() {dim = 0 : i64} : () -> tensor<4xf32>
  return
}

// -----

// Tests that concat rejects a dimension outside the rank.
func.func @concat_dim(%a: tensor<8x3xf32>, %b: tensor<8x5xf32>) {
  // expected-error @+1 {{concat dim 2 is out of range: expected a dimension in [0, 2)}}
  %0 = kiln.concat %a, %b dim = 2 : tensor<8x3xf32>, tensor<8x5xf32>
  return
}

// -----

// Tests that concat rejects inputs whose other dimensions differ.
func.func @concat_shape(%a: tensor<8x3xf32>, %b: tensor<4x5xf32>) {
  // expected-error @+1 {{input 1 of type 'tensor<4x5xf32>' does not match input 0 of type 'tensor<8x3xf32>' outside dimension 1}}
  %0 = kiln.concat %a, %b dim = 1 : tensor<8x3xf32>, tensor<4x5xf32>
  return
}

// -----

// Tests that concat rejects inputs of different element types.
func.func @concat_elem(%a: tensor<8x3xf32>, %b: tensor<8x5xf16>) {
  // expected-error @+1 {{input 1 of type 'tensor<8x5xf16>' does not match input 0 of type 'tensor<8x3xf32>' outside dimension 1}}
  %0 = kiln.concat %a, %b dim = 1 : tensor<8x3xf32>, tensor<8x5xf16>
  return
}

// -----

// Tests that concat rejects inputs of different ranks.
func.func @concat_rank(%a: tensor<8x3xf32>, %b: tensor<8x5x1xf32>) {
  // expected-error @+1 {{input 1 of type 'tensor<8x5x1xf32>' does not match input 0 of type 'tensor<8x3xf32>' outside dimension 1}}
  %0 = kiln.concat %a, %b dim = 1 : tensor<8x3xf32>, tensor<8x5x1xf32>
  return
}

// -----

// Tests that pad rejects negative padding.
func.func @pad_negative(%x: tensor<8x10xf32>) {
  // expected-error @+1 {{low must be non-negative, found [0, -1]}}
  %0 = kiln.pad %x, low = [0, -1], high = [0, 0], value = 0.0 : tensor<8x10xf32>
  return
}

// -----

// Tests that pad rejects a high list whose length is not the rank.
func.func @pad_len(%x: tensor<8x10xf32>) {
  // expected-error @+1 {{high must have 2 entries, found 1 ([2])}}
  %0 = kiln.pad %x, low = [0, 0], high = [2], value = 0.0 : tensor<8x10xf32>
  return
}

// -----

// Tests that gather rejects an axis outside the table's rank.
func.func @gather_axis(%t: tensor<50x16xf32>, %i: tensor<8xi64>) {
  // expected-error @+1 {{gather axis 2 is out of range: expected a dimension in [0, 2)}}
  %0 = kiln.gather %t, %i, axis = 2 : tensor<50x16xf32>, tensor<8xi64>
  return
}

// -----

// Tests that gather rejects float indices.
func.func @gather_float_indices(%t: tensor<50x16xf32>, %i: tensor<8xf32>) {
  // expected-error @+1 {{operand #1 must be statically shaped tensor of 32-bit signless integer or 64-bit signless integer values, but got 'tensor<8xf32>'}}
  %0 = kiln.gather %t, %i, axis = 0 : tensor<50x16xf32>, tensor<8xf32>
  return
}

// -----

// Tests that scatter_add rejects an axis outside the result's rank.
func.func @scatter_add_axis(%u: tensor<8x16xf32>, %i: tensor<8xi64>) {
  // expected-error @+1 {{scatter axis 2 is out of range: expected a dimension in [0, 2)}}
  %0 = kiln.scatter_add %u, %i, axis = 2 : tensor<8x16xf32>, tensor<8xi64> -> tensor<50x16xf32>
  return
}

// -----

// Tests that scatter_add rejects updates of the wrong shape.
func.func @scatter_add_shape(%u: tensor<2x8x15xf32>, %i: tensor<2x8xi64>) {
  // expected-error @+1 {{'kiln.scatter_add' op expected updates of shape [2, 8, 16], found [2, 8, 15]}}
  %0 = kiln.scatter_add %u, %i, axis = 0 : tensor<2x8x15xf32>, tensor<2x8xi64> -> tensor<50x16xf32>
  return
}

// -----

// Tests that scatter_add rejects updates of another element type.
func.func @scatter_add_elem(%u: tensor<8x16xf16>, %i: tensor<8xi64>) {
  // expected-error @+1 {{'kiln.scatter_add' op expected updates of element type 'f32', found 'f16'}}
  %0 = kiln.scatter_add %u, %i, axis = 0 : tensor<8x16xf16>, tensor<8xi64> -> tensor<50x16xf32>
  return
}

// -----

// Tests that iota rejects a dimension outside the result's rank.
func.func @iota_dim() {
  // expected-error @+1 {{iota dim 2 is out of range: expected a dimension in [0, 2)}}
  %0 = kiln.iota dim = 2 : tensor<4x8xi64>
  return
}

// -----

// Tests that iota rejects an i1 result.
func.func @iota_i1() {
  // expected-error @+1 {{result #0 must be statically shaped tensor of 16-bit float or bfloat16 type or 32-bit float or 64-bit float or 32-bit signless integer or 64-bit signless integer values, but got 'tensor<4xi1>'}}
  %0 = kiln.iota dim = 0 : tensor<4xi1>
  return
}

// -----

// Tests that constant rejects a value whose type is not the result type.
func.func @constant_type() {
  // expected-error @+1 {{failed to verify that all of {value, result} have same type}}
  %0 = "kiln.constant"() {value = dense<1.0> : tensor<4xf32>} : () -> tensor<8xf32>
  return
}

// -----

// Tests that constant rejects an unsupported element type.
func.func @constant_i8() {
  // expected-error @+1 {{result #0 must be statically shaped tensor of 16-bit float or bfloat16 type or 32-bit float or 64-bit float or 1-bit signless integer or 32-bit signless integer or 64-bit signless integer values, but got 'tensor<4xi8>'}}
  %0 = kiln.constant dense<1> : tensor<4xi8>
  return
}

// -----

// Tests that uniform rng rejects a >= b.
func.func @rng_uniform_bounds(%s: tensor<i64>) {
  // expected-error @+1 {{'kiln.rng' op uniform expects a < b, found a = 1.000000e+00, b = 1.000000e+00}}
  %0 = kiln.rng uniform %s, %s, a = 1.0, b = 1.0 : tensor<4xf32>
  return
}

// -----

// Tests that uniform rng rejects a non-float result.
func.func @rng_uniform_int(%s: tensor<i64>) {
  // expected-error @+1 {{'kiln.rng' op uniform expects a float result, found 'tensor<4xi1>'}}
  %0 = kiln.rng uniform %s, %s, a = 0.0, b = 1.0 : tensor<4xi1>
  return
}

// -----

// Tests that normal rng rejects a negative standard deviation.
func.func @rng_normal_std(%s: tensor<i64>) {
  // expected-error @+1 {{'kiln.rng' op normal expects a standard deviation b >= 0, found -1.000000e+00}}
  %0 = kiln.rng normal %s, %s, a = 0.0, b = -1.0 : tensor<4xf32>
  return
}

// -----

// Tests that normal rng rejects a non-float result.
func.func @rng_normal_int(%s: tensor<i64>) {
  // expected-error @+1 {{'kiln.rng' op normal expects a float result, found 'tensor<4xi1>'}}
  %0 = kiln.rng normal %s, %s, a = 0.0, b = 1.0 : tensor<4xi1>
  return
}

// -----

// Tests that bernoulli rng rejects a probability above 1.
func.func @rng_bernoulli_high(%s: tensor<i64>) {
  // expected-error @+1 {{'kiln.rng' op bernoulli expects a probability a in [0, 1], found 1.500000e+00}}
  %0 = kiln.rng bernoulli %s, %s, a = 1.5, b = 0.0 : tensor<4xi1>
  return
}

// -----

// Tests that bernoulli rng rejects a negative probability.
func.func @rng_bernoulli_negative(%s: tensor<i64>) {
  // expected-error @+1 {{'kiln.rng' op bernoulli expects a probability a in [0, 1], found -1.000000e-01}}
  %0 = kiln.rng bernoulli %s, %s, a = -0.1, b = 0.0 : tensor<4xi1>
  return
}

// -----

// Tests that rng rejects an integer result type.
func.func @rng_integer_result(%s: tensor<i64>) {
  // expected-error @+1 {{result #0 must be statically shaped tensor of 16-bit float or bfloat16 type or 32-bit float or 64-bit float or 1-bit signless integer values, but got 'tensor<4xi32>'}}
  %0 = kiln.rng bernoulli %s, %s, a = 0.5, b = 0.0 : tensor<4xi32>
  return
}

// -----

// Tests that rng rejects a seed that is not a 0-d i64 tensor.
func.func @rng_seed_rank(%s: tensor<1xi64>, %o: tensor<i64>) {
  // expected-error @+1 {{operand #0 must be 0D tensor of 64-bit signless integer values, but got 'tensor<1xi64>'}}
  %0 = "kiln.rng"(%s, %o) {distribution = #kiln<dist uniform>, a = 0.0 : f64, b = 1.0 : f64} : (tensor<1xi64>, tensor<i64>) -> tensor<4xf32>
  return
}

// -----

// Tests that dropout rejects a ratio of 1 (nothing kept).
func.func @dropout_one(%x: tensor<8xf32>, %s: tensor<i64>) {
  // expected-error @+1 {{'kiln.dropout' op expected a dropout ratio in [0, 1), found 1.000000e+00}}
  %0 = kiln.dropout %x, %s, %s, ratio = 1.0 : tensor<8xf32>
  return
}

// -----

// Tests that dropout rejects a negative ratio.
func.func @dropout_negative(%x: tensor<8xf32>, %s: tensor<i64>) {
  // expected-error @+1 {{'kiln.dropout' op expected a dropout ratio in [0, 1), found -5.000000e-01}}
  %0 = kiln.dropout %x, %s, %s, ratio = -0.5 : tensor<8xf32>
  return
}

// -----

// Tests that dropout rejects a result type other than the operand's.
func.func @dropout_result(%x: tensor<8xf32>, %s: tensor<i64>) {
  // expected-error @+1 {{failed to verify that all of {x, result} have same type}}
  %0 = "kiln.dropout"(%x, %s, %s) {ratio = 0.5 : f64} : (tensor<8xf32>, tensor<i64>, tensor<i64>) -> tensor<8xf16>
  return
}

// -----

// Tests that softmax rejects a dimension outside the rank.
func.func @softmax_dim(%x: tensor<8x10xf32>) {
  // expected-error @+1 {{softmax dim 2 is out of range: expected a dimension in [0, 2)}}
  %0 = kiln.softmax %x, dim = 2 : tensor<8x10xf32>
  return
}

// -----

// Tests that log_softmax rejects a negative dimension.
func.func @log_softmax_dim(%x: tensor<8x10xf32>) {
  // expected-error @+1 {{log_softmax dim -1 is out of range: expected a dimension in [0, 2)}}
  %0 = kiln.log_softmax %x, dim = -1 : tensor<8x10xf32>
  return
}

// -----

// Tests that cross_entropy rejects logits that are not rank 2.
func.func @cross_entropy_logits_rank(%l: tensor<2x8x10xf32>, %y: tensor<2xi64>) {
  // expected-error @+1 {{expected logits of rank 2 [N, C], found 'tensor<2x8x10xf32>'}}
  %0 = kiln.cross_entropy %l, %y : tensor<2x8x10xf32>, tensor<2xi64>
  return
}

// -----

// Tests that cross_entropy rejects labels whose length is not N.
func.func @cross_entropy_labels_size(%l: tensor<8x10xf32>, %y: tensor<4xi64>) {
  // expected-error @+1 {{expected labels of shape [8] for logits 'tensor<8x10xf32>', found 'tensor<4xi64>'}}
  %0 = kiln.cross_entropy %l, %y reduction = none : tensor<8x10xf32>, tensor<4xi64>
  return
}

// -----

// Tests that cross_entropy rejects labels that are not a vector (e.g. one-hot).
func.func @cross_entropy_labels_rank(%l: tensor<8x10xf32>, %y: tensor<8x10xi64>) {
  // expected-error @+1 {{expected labels of shape [8] for logits 'tensor<8x10xf32>', found 'tensor<8x10xi64>'}}
  %0 = kiln.cross_entropy %l, %y : tensor<8x10xf32>, tensor<8x10xi64>
  return
}

// -----

// Tests that cross_entropy rejects float labels.
func.func @cross_entropy_labels_float(%l: tensor<8x10xf32>, %y: tensor<8xf32>) {
  // expected-error @+1 {{operand #1 must be statically shaped tensor of 32-bit signless integer or 64-bit signless integer values, but got 'tensor<8xf32>'}}
  %0 = kiln.cross_entropy %l, %y : tensor<8x10xf32>, tensor<8xf32>
  return
}

// -----

// Tests that cross_entropy with reduction = none rejects a 0-d result.
func.func @cross_entropy_none_result(%l: tensor<8x10xf32>, %y: tensor<8xi64>) {
  // expected-error @+2 {{'kiln.cross_entropy' op inferred type(s) 'tensor<8xf32>' are incompatible with return type(s) of operation 'tensor<f32>'}}
  // expected-error @+1 {{'kiln.cross_entropy' op failed to infer returned types}}
  %0 = "kiln.cross_entropy"(%l, %y) {reduction = #kiln<loss_reduction none>} : (tensor<8x10xf32>, tensor<8xi64>) -> tensor<f32>
  return
}

// -----

// Tests that layer_norm rejects an axis outside the rank.
func.func @layer_norm_axis(%x: tensor<8x16xf32>, %g: tensor<16xf32>) {
  // expected-error @+1 {{layer_norm axis 2 is out of range: expected a dimension in [0, 2)}}
  %0 = kiln.layer_norm %x, %g, %g, axis = 2 : tensor<8x16xf32>, tensor<16xf32>
  return
}

// -----

// Tests that layer_norm rejects gamma and beta whose shape is not x.shape[axis:].
func.func @layer_norm_gamma(%x: tensor<8x16xf32>, %g: tensor<16xf32>) {
  // expected-error @+1 {{expected gamma and beta of type 'tensor<8x16xf32>' (x.shape[axis:]), found 'tensor<16xf32>'}}
  %0 = kiln.layer_norm %x, %g, %g, axis = 0 : tensor<8x16xf32>, tensor<16xf32>
  return
}

// -----

// Tests that layer_norm rejects a negative epsilon.
func.func @layer_norm_epsilon(%x: tensor<8x16xf32>, %g: tensor<16xf32>) {
  // expected-error @+2 {{expected epsilon >= 0, found -1.000000e+00}}
  // expected-error @+1 {{'kiln.layer_norm' op failed to infer returned types}}
  %0 = kiln.layer_norm %x, %g, %g, axis = 1 {epsilon = -1.0 : f64} : tensor<8x16xf32>, tensor<16xf32>
  return
}

// -----

// Tests that batch_norm rejects an input of rank < 2.
func.func @batch_norm_rank(%x: tensor<8xf32>, %g: tensor<8xf32>) {
  // expected-error @+1 {{expected an input [N, C, ...] of rank >= 2, found 'tensor<8xf32>'}}
  %0:3 = kiln.batch_norm %x, %g, %g, %g, %g : tensor<8xf32>, tensor<8xf32>
  return
}

// -----

// Tests that batch_norm rejects per-channel operands whose length is not C.
func.func @batch_norm_channels(%x: tensor<8x4x6x6xf32>, %g: tensor<6xf32>) {
  // expected-error @+1 {{expected per-channel operands of type 'tensor<4xf32>', found 'tensor<6xf32>'}}
  %0:3 = kiln.batch_norm %x, %g, %g, %g, %g {training} : tensor<8x4x6x6xf32>, tensor<6xf32>
  return
}

// -----

// Tests that batch_norm rejects per-channel operands of another element type.
func.func @batch_norm_channel_elem(%x: tensor<8x4xf32>, %g: tensor<4xf16>) {
  // expected-error @+1 {{expected per-channel operands of type 'tensor<4xf32>', found 'tensor<4xf16>'}}
  %0:3 = kiln.batch_norm %x, %g, %g, %g, %g : tensor<8x4xf32>, tensor<4xf16>
  return
}

// -----

// Tests that batch_norm rejects a momentum outside [0, 1].
func.func @batch_norm_momentum(%x: tensor<8x4xf32>, %g: tensor<4xf32>) {
  // expected-error @+2 {{expected momentum in [0, 1], found 1.500000e+00}}
  // expected-error @+1 {{'kiln.batch_norm' op failed to infer returned types}}
  %0:3 = kiln.batch_norm %x, %g, %g, %g, %g {momentum = 1.5 : f64, training} : tensor<8x4xf32>, tensor<4xf32>
  return
}

// -----

// Tests that batch_norm rejects a negative epsilon.
func.func @batch_norm_epsilon(%x: tensor<8x4xf32>, %g: tensor<4xf32>) {
  // expected-error @+2 {{expected epsilon >= 0, found -1.000000e-05}}
  // expected-error @+1 {{'kiln.batch_norm' op failed to infer returned types}}
  %0:3 = kiln.batch_norm %x, %g, %g, %g, %g {epsilon = -1.0e-5 : f64} : tensor<8x4xf32>, tensor<4xf32>
  return
}

// -----

// Tests that gelu rejects an integer tensor.
func.func @gelu_int(%x: tensor<8xi32>) {
  // expected-error @+1 {{operand #0 must be statically shaped tensor of 16-bit float or bfloat16 type or 32-bit float or 64-bit float values, but got 'tensor<8xi32>'}}
  %0 = kiln.gelu %x : tensor<8xi32>
  return
}

// -----

// Tests that padding that overflows a 64-bit size is rejected, not wrapped.
func.func @pad_overflow(%x: tensor<4xf32>) {
  // expected-error @+1 {{the padded size of dimension 0 overflows a 64-bit size}}
  %0 = kiln.pad %x, low = [9223372036854775800], high = [100], value = 0.0 : tensor<4xf32>
  return
}

// -----

// Tests that a reshape whose element count overflows is rejected.
func.func @reshape_overflow(%x: tensor<4611686018427387904x4xf32>) {
  // expected-error @+1 {{the element count overflows 64 bits}}
  %0 = kiln.reshape %x : tensor<4611686018427387904x4xf32> -> tensor<2xf32>
  return
}

// -----

// Tests that a dilation that overflows the window size is rejected.
func.func @conv2d_dilation_overflow(%x: tensor<1x1x4x4xf32>, %w: tensor<1x1x2x2xf32>) {
  // expected-error @+1 {{the dilated window overflows a 64-bit size}}
  %0 = kiln.conv2d %x, %w, strides = [1, 1], padding = [0, 0, 0, 0], dilations = [9223372036854775807, 1], groups = 1 : tensor<1x1x4x4xf32>, tensor<1x1x2x2xf32>
  return
}

// -----

// Tests that a convolution filter needs a window of at least 1x1.
func.func @conv2d_empty_window(%x: tensor<1x1x4x4xf32>, %w: tensor<1x1x0x1xf32>) {
  // expected-error @+1 {{expected a filter window of at least 1x1, found 0x1}}
  %0 = kiln.conv2d %x, %w, strides = [1, 1], padding = [0, 0, 0, 0], dilations = [1, 1], groups = 1 : tensor<1x1x4x4xf32>, tensor<1x1x0x1xf32>
  return
}

// -----

// Tests that argmax over an empty dimension is rejected (no index exists).
func.func @argmax_empty(%x: tensor<3x0xf32>) {
  // expected-error @+1 {{argmax over dimension 1 of size 0 has no maximum}}
  %0 = kiln.argmax %x, dim = 1 : tensor<3x0xf32>
  return
}

// -----

// Tests that rng bounds whose difference overflows are rejected.
func.func @rng_infinite_range(%s: tensor<i64>) {
  // expected-error @+1 {{expected finite a, b and b - a, found a = -1.000000e+308, b = 1.000000e+308}}
  %0 = kiln.rng uniform %s, %s, a = -1.0e308, b = 1.0e308 : tensor<4xf64>
  return
}

// -----

// Tests that a constant must hold dense data.
func.func @constant_sparse() {
  // expected-error @+1 {{expected dense<...> or dense_resource<...> elements}}
  %0 = kiln.constant sparse<[[0]], [1.0]> : tensor<4xf32>
  return
}

// -----

// Tests that an unknown enum keyword in the custom syntax names the enum.
func.func @reduce_unknown_kind(%x: tensor<4x4xf32>) {
  // expected-error @+1 {{unknown reduce 'bogus'}}
  %0 = kiln.reduce bogus %x, dims = [1] : tensor<4x4xf32>
  return
}
