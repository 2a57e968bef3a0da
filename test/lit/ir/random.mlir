// RUN: kiln-opt %s --split-input-file | kiln-opt --split-input-file | FileCheck %s
// RUN: kiln-opt %s --split-input-file --mlir-print-op-generic | kiln-opt --split-input-file | FileCheck %s

// Tests that a uniform kiln.rng round-trips with its bounds.
// CHECK-LABEL: func.func @rng_uniform
// CHECK: %[[R:.*]] = kiln.rng uniform %{{.*}}, %{{.*}}, a = -1.000000e+00, b = 1.000000e+00 : tensor<4x8xf32>
// CHECK: return %[[R]] : tensor<4x8xf32>
func.func @rng_uniform(%seed: tensor<i64>, %offset: tensor<i64>) -> tensor<4x8xf32> {
  %0 = kiln.rng uniform %seed, %offset, a = -1.0, b = 1.0 : tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

// Tests that a normal kiln.rng round-trips with its mean and standard
// deviation, also with a zero standard deviation.
// CHECK-LABEL: func.func @rng_normal
// CHECK: %[[N:.*]] = kiln.rng normal %{{.*}}, %{{.*}}, a = 0.000000e+00, b = 1.000000e+00 : tensor<4x8xf32>
// CHECK: %[[Z:.*]] = kiln.rng normal %{{.*}}, %{{.*}}, a = 2.500000e+00, b = 0.000000e+00 : tensor<16xf64>
// CHECK: return %[[N]], %[[Z]] : tensor<4x8xf32>, tensor<16xf64>
func.func @rng_normal(%seed: tensor<i64>, %offset: tensor<i64>) -> (tensor<4x8xf32>, tensor<16xf64>) {
  %0 = kiln.rng normal %seed, %offset, a = 0.0, b = 1.0 : tensor<4x8xf32>
  %1 = kiln.rng normal %seed, %offset, a = 2.5, b = 0.0 : tensor<16xf64>
  return %0, %1 : tensor<4x8xf32>, tensor<16xf64>
}

// -----

// Tests that a bernoulli kiln.rng round-trips for i1 and float results,
// including the probabilities 0 and 1.
// CHECK-LABEL: func.func @rng_bernoulli
// CHECK: %[[M:.*]] = kiln.rng bernoulli %{{.*}}, %{{.*}}, a = 2.500000e-01, b = 0.000000e+00 : tensor<4x8xi1>
// CHECK: %[[F:.*]] = kiln.rng bernoulli %{{.*}}, %{{.*}}, a = 1.000000e+00, b = 0.000000e+00 : tensor<4x8xbf16>
// CHECK: %[[Z:.*]] = kiln.rng bernoulli %{{.*}}, %{{.*}}, a = 0.000000e+00, b = 0.000000e+00 : tensor<4xf16>
// CHECK: return %[[M]], %[[F]], %[[Z]] : tensor<4x8xi1>, tensor<4x8xbf16>, tensor<4xf16>
func.func @rng_bernoulli(%seed: tensor<i64>, %offset: tensor<i64>) -> (tensor<4x8xi1>, tensor<4x8xbf16>, tensor<4xf16>) {
  %0 = kiln.rng bernoulli %seed, %offset, a = 0.25, b = 0.0 : tensor<4x8xi1>
  %1 = kiln.rng bernoulli %seed, %offset, a = 1.0, b = 0.0 : tensor<4x8xbf16>
  %2 = kiln.rng bernoulli %seed, %offset, a = 0.0, b = 0.0 : tensor<4xf16>
  return %0, %1, %2 : tensor<4x8xi1>, tensor<4x8xbf16>, tensor<4xf16>
}

// -----

// Tests that kiln.dropout round-trips and keeps its operand type.
// CHECK-LABEL: func.func @dropout
// CHECK: %[[Y:.*]] = kiln.dropout %{{.*}}, %{{.*}}, %{{.*}}, ratio = 1.000000e-01 : tensor<8x16xf32>
// CHECK: return %[[Y]] : tensor<8x16xf32>
func.func @dropout(%x: tensor<8x16xf32>, %seed: tensor<i64>, %offset: tensor<i64>) -> tensor<8x16xf32> {
  %0 = kiln.dropout %x, %seed, %offset, ratio = 0.1 : tensor<8x16xf32>
  return %0 : tensor<8x16xf32>
}

// -----

// Tests that kiln.dropout with ratio 0 (the identity) round-trips.
// CHECK-LABEL: func.func @dropout_zero
// CHECK: %[[Y:.*]] = kiln.dropout %{{.*}}, %{{.*}}, %{{.*}}, ratio = 0.000000e+00 : tensor<8xf16>
// CHECK: return %[[Y]] : tensor<8xf16>
func.func @dropout_zero(%x: tensor<8xf16>, %seed: tensor<i64>, %offset: tensor<i64>) -> tensor<8xf16> {
  %0 = kiln.dropout %x, %seed, %offset, ratio = 0.0 : tensor<8xf16>
  return %0 : tensor<8xf16>
}
