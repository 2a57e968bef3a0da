// RUN: kiln-opt %s --split-input-file | kiln-opt --split-input-file | FileCheck %s
// RUN: kiln-opt %s --split-input-file --mlir-print-op-generic | kiln-opt --split-input-file | FileCheck %s

// Tests that a plain 2-D kiln.matmul round-trips and infers [M, N].
// CHECK-LABEL: func.func @matmul
// CHECK: %[[R:.*]] = kiln.matmul %{{.*}}, %{{.*}} : tensor<8x64xf32>, tensor<64x10xf32>
// CHECK: return %[[R]] : tensor<8x10xf32>
func.func @matmul(%a: tensor<8x64xf32>, %b: tensor<64x10xf32>) -> tensor<8x10xf32> {
  %0 = kiln.matmul %a, %b : tensor<8x64xf32>, tensor<64x10xf32>
  return %0 : tensor<8x10xf32>
}

// -----

// Tests that kiln.matmul with transpose_a contracts the lhs's leading dim.
// CHECK-LABEL: func.func @matmul_transpose_a
// CHECK: %[[R:.*]] = kiln.matmul %{{.*}}, %{{.*}} transpose_a : tensor<64x8xf32>, tensor<64x10xf32>
// CHECK: return %[[R]] : tensor<8x10xf32>
func.func @matmul_transpose_a(%a: tensor<64x8xf32>, %b: tensor<64x10xf32>) -> tensor<8x10xf32> {
  %0 = kiln.matmul %a, %b transpose_a : tensor<64x8xf32>, tensor<64x10xf32>
  return %0 : tensor<8x10xf32>
}

// -----

// Tests that kiln.matmul with transpose_b contracts the rhs's trailing dim.
// CHECK-LABEL: func.func @matmul_transpose_b
// CHECK: %[[R:.*]] = kiln.matmul %{{.*}}, %{{.*}} transpose_b : tensor<8x64xf32>, tensor<10x64xf32>
// CHECK: return %[[R]] : tensor<8x10xf32>
func.func @matmul_transpose_b(%a: tensor<8x64xf32>, %b: tensor<10x64xf32>) -> tensor<8x10xf32> {
  %0 = kiln.matmul %a, %b transpose_b : tensor<8x64xf32>, tensor<10x64xf32>
  return %0 : tensor<8x10xf32>
}

// -----

// Tests that kiln.matmul with both transposes prints them in order.
// CHECK-LABEL: func.func @matmul_transpose_both
// CHECK: %[[R:.*]] = kiln.matmul %{{.*}}, %{{.*}} transpose_a transpose_b : tensor<64x8xf64>, tensor<10x64xf64>
// CHECK: return %[[R]] : tensor<8x10xf64>
func.func @matmul_transpose_both(%a: tensor<64x8xf64>, %b: tensor<10x64xf64>) -> tensor<8x10xf64> {
  %0 = kiln.matmul %a, %b transpose_a transpose_b : tensor<64x8xf64>, tensor<10x64xf64>
  return %0 : tensor<8x10xf64>
}

// -----

// Tests that a batched kiln.matmul keeps the batch dimensions.
// CHECK-LABEL: func.func @matmul_batched
// CHECK: %[[R:.*]] = kiln.matmul %{{.*}}, %{{.*}} : tensor<2x4x8x16xbf16>, tensor<2x4x16x32xbf16>
// CHECK: return %[[R]] : tensor<2x4x8x32xbf16>
func.func @matmul_batched(%a: tensor<2x4x8x16xbf16>, %b: tensor<2x4x16x32xbf16>) -> tensor<2x4x8x32xbf16> {
  %0 = kiln.matmul %a, %b : tensor<2x4x8x16xbf16>, tensor<2x4x16x32xbf16>
  return %0 : tensor<2x4x8x32xbf16>
}

// -----

// Tests that a batched kiln.matmul with transpose_b (attention scores)
// round-trips.
// CHECK-LABEL: func.func @matmul_batched_transpose_b
// CHECK: %[[R:.*]] = kiln.matmul %{{.*}}, %{{.*}} transpose_b : tensor<4x8x16xf32>, tensor<4x32x16xf32>
// CHECK: return %[[R]] : tensor<4x8x32xf32>
func.func @matmul_batched_transpose_b(%a: tensor<4x8x16xf32>, %b: tensor<4x32x16xf32>) -> tensor<4x8x32xf32> {
  %0 = kiln.matmul %a, %b transpose_b : tensor<4x8x16xf32>, tensor<4x32x16xf32>
  return %0 : tensor<4x8x32xf32>
}

// -----

// Tests that a "same" 3x3 kiln.conv2d round-trips and keeps H and W.
// CHECK-LABEL: func.func @conv2d
// CHECK: %[[R:.*]] = kiln.conv2d %{{.*}}, %{{.*}}, strides = [1, 1], padding = [1, 1, 1, 1], dilations = [1, 1], groups = 1 : tensor<2x3x8x8xf32>, tensor<4x3x3x3xf32>
// CHECK: return %[[R]] : tensor<2x4x8x8xf32>
func.func @conv2d(%x: tensor<2x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<2x4x8x8xf32> {
  %0 = kiln.conv2d %x, %w, strides = [1, 1], padding = [1, 1, 1, 1],
         dilations = [1, 1], groups = 1 : tensor<2x3x8x8xf32>, tensor<4x3x3x3xf32>
  return %0 : tensor<2x4x8x8xf32>
}

// -----

// Tests that kiln.conv2d with no padding shrinks H and W by KH-1, KW-1.
// CHECK-LABEL: func.func @conv2d_valid
// CHECK: %[[R:.*]] = kiln.conv2d %{{.*}}, %{{.*}}, strides = [1, 1], padding = [0, 0, 0, 0], dilations = [1, 1], groups = 1 : tensor<1x1x28x28xf32>, tensor<6x1x5x5xf32>
// CHECK: return %[[R]] : tensor<1x6x24x24xf32>
func.func @conv2d_valid(%x: tensor<1x1x28x28xf32>, %w: tensor<6x1x5x5xf32>) -> tensor<1x6x24x24xf32> {
  %0 = kiln.conv2d %x, %w, strides = [1, 1], padding = [0, 0, 0, 0],
         dilations = [1, 1], groups = 1 : tensor<1x1x28x28xf32>, tensor<6x1x5x5xf32>
  return %0 : tensor<1x6x24x24xf32>
}

// -----

// Tests that kiln.conv2d infers its output size from unequal strides and
// asymmetric padding: OH = (9 + 1 + 0 - 3) / 2 + 1 = 4,
// OW = (10 + 2 + 1 - 3) / 3 + 1 = 4.
// CHECK-LABEL: func.func @conv2d_stride_padding
// CHECK: %[[R:.*]] = kiln.conv2d %{{.*}}, %{{.*}}, strides = [2, 3], padding = [1, 2, 0, 1], dilations = [1, 1], groups = 1 : tensor<2x3x9x10xf32>, tensor<8x3x3x3xf32>
// CHECK: return %[[R]] : tensor<2x8x4x4xf32>
func.func @conv2d_stride_padding(%x: tensor<2x3x9x10xf32>, %w: tensor<8x3x3x3xf32>) -> tensor<2x8x4x4xf32> {
  %0 = kiln.conv2d %x, %w, strides = [2, 3], padding = [1, 2, 0, 1],
         dilations = [1, 1], groups = 1 : tensor<2x3x9x10xf32>, tensor<8x3x3x3xf32>
  return %0 : tensor<2x8x4x4xf32>
}

// -----

// Tests that kiln.conv2d with dilation uses the effective window size
// dilation * (K - 1) + 1: OH = 16 - 2 * 2 - 1 + 1 = 12, OW = 16 - 3 * 2 = 10.
// CHECK-LABEL: func.func @conv2d_dilation
// CHECK: %[[R:.*]] = kiln.conv2d %{{.*}}, %{{.*}}, strides = [1, 1], padding = [0, 0, 0, 0], dilations = [2, 3], groups = 1 : tensor<1x4x16x16xf16>, tensor<4x4x3x3xf16>
// CHECK: return %[[R]] : tensor<1x4x12x10xf16>
func.func @conv2d_dilation(%x: tensor<1x4x16x16xf16>, %w: tensor<4x4x3x3xf16>) -> tensor<1x4x12x10xf16> {
  %0 = kiln.conv2d %x, %w, strides = [1, 1], padding = [0, 0, 0, 0],
         dilations = [2, 3], groups = 1 : tensor<1x4x16x16xf16>, tensor<4x4x3x3xf16>
  return %0 : tensor<1x4x12x10xf16>
}

// -----

// Tests that a grouped kiln.conv2d takes C/groups filter input channels.
// CHECK-LABEL: func.func @conv2d_groups
// CHECK: %[[R:.*]] = kiln.conv2d %{{.*}}, %{{.*}}, strides = [1, 1], padding = [1, 1, 1, 1], dilations = [1, 1], groups = 2 : tensor<2x8x8x8xf32>, tensor<6x4x3x3xf32>
// CHECK: return %[[R]] : tensor<2x6x8x8xf32>
func.func @conv2d_groups(%x: tensor<2x8x8x8xf32>, %w: tensor<6x4x3x3xf32>) -> tensor<2x6x8x8xf32> {
  %0 = kiln.conv2d %x, %w, strides = [1, 1], padding = [1, 1, 1, 1],
         dilations = [1, 1], groups = 2 : tensor<2x8x8x8xf32>, tensor<6x4x3x3xf32>
  return %0 : tensor<2x6x8x8xf32>
}

// -----

// Tests that a depthwise kiln.conv2d (groups = C) round-trips.
// CHECK-LABEL: func.func @conv2d_depthwise
// CHECK: %[[R:.*]] = kiln.conv2d %{{.*}}, %{{.*}}, strides = [2, 2], padding = [1, 1, 1, 1], dilations = [1, 1], groups = 8 : tensor<1x8x8x8xf32>, tensor<8x1x3x3xf32>
// CHECK: return %[[R]] : tensor<1x8x4x4xf32>
func.func @conv2d_depthwise(%x: tensor<1x8x8x8xf32>, %w: tensor<8x1x3x3xf32>) -> tensor<1x8x4x4xf32> {
  %0 = kiln.conv2d %x, %w, strides = [2, 2], padding = [1, 1, 1, 1],
         dilations = [1, 1], groups = 8 : tensor<1x8x8x8xf32>, tensor<8x1x3x3xf32>
  return %0 : tensor<1x8x4x4xf32>
}

// -----

// Tests that max kiln.pool2d round-trips and infers the pooled shape.
// CHECK-LABEL: func.func @pool2d_max
// CHECK: %[[R:.*]] = kiln.pool2d max %{{.*}}, window = [2, 2], strides = [2, 2], padding = [0, 0, 0, 0] : tensor<2x4x8x8xf32>
// CHECK: return %[[R]] : tensor<2x4x4x4xf32>
func.func @pool2d_max(%x: tensor<2x4x8x8xf32>) -> tensor<2x4x4x4xf32> {
  %0 = kiln.pool2d max %x, window = [2, 2], strides = [2, 2],
         padding = [0, 0, 0, 0] : tensor<2x4x8x8xf32>
  return %0 : tensor<2x4x4x4xf32>
}

// -----

// Tests that padded, overlapping max kiln.pool2d infers
// OH = (9 + 1 + 1 - 3) / 2 + 1 = 5 and OW = (8 + 0 + 1 - 3) / 1 + 1 = 7.
// CHECK-LABEL: func.func @pool2d_max_padded
// CHECK: %[[R:.*]] = kiln.pool2d max %{{.*}}, window = [3, 3], strides = [2, 1], padding = [1, 0, 1, 1] : tensor<1x2x9x8xf64>
// CHECK: return %[[R]] : tensor<1x2x5x7xf64>
func.func @pool2d_max_padded(%x: tensor<1x2x9x8xf64>) -> tensor<1x2x5x7xf64> {
  %0 = kiln.pool2d max %x, window = [3, 3], strides = [2, 1],
         padding = [1, 0, 1, 1] : tensor<1x2x9x8xf64>
  return %0 : tensor<1x2x5x7xf64>
}

// -----

// Tests that average kiln.pool2d round-trips without count_include_pad.
// CHECK-LABEL: func.func @pool2d_avg
// CHECK: %[[R:.*]] = kiln.pool2d avg %{{.*}}, window = [3, 3], strides = [1, 1], padding = [1, 1, 1, 1] : tensor<2x4x8x8xf32>
// CHECK-NOT: count_include_pad
// CHECK: return %[[R]] : tensor<2x4x8x8xf32>
func.func @pool2d_avg(%x: tensor<2x4x8x8xf32>) -> tensor<2x4x8x8xf32> {
  %0 = kiln.pool2d avg %x, window = [3, 3], strides = [1, 1],
         padding = [1, 1, 1, 1] : tensor<2x4x8x8xf32>
  return %0 : tensor<2x4x8x8xf32>
}

// -----

// Tests that average kiln.pool2d keeps count_include_pad in its attributes.
// CHECK-LABEL: func.func @pool2d_avg_count_include_pad
// CHECK: %[[R:.*]] = kiln.pool2d avg %{{.*}}, window = [3, 3], strides = [2, 2], padding = [1, 1, 1, 1] {count_include_pad} : tensor<2x4x8x8xf32>
// CHECK: return %[[R]] : tensor<2x4x4x4xf32>
func.func @pool2d_avg_count_include_pad(%x: tensor<2x4x8x8xf32>) -> tensor<2x4x4x4xf32> {
  %0 = kiln.pool2d avg %x, window = [3, 3], strides = [2, 2],
         padding = [1, 1, 1, 1] {count_include_pad} : tensor<2x4x8x8xf32>
  return %0 : tensor<2x4x4x4xf32>
}
