// Tests that a tensor too large for the interpreter is an error naming the
// op and its type, given before anything is allocated.
// RUN: not kiln run %s --output-dir %t 2>&1 | FileCheck %s
// CHECK: kiln-run-limits.mlir:[[@LINE+2]]:8: error: result #0 of 'kiln.broadcast' of type tensor<4611686018427387904x2xf32> has more than 268435456 elements, the reference interpreter's limit
func.func @forward(%x: tensor<2xf32>) -> tensor<4611686018427387904x4xf32> {
  %0 = kiln.broadcast %x, dims = [1] : tensor<2xf32> -> tensor<4611686018427387904x2xf32>
  %1 = kiln.concat %0, %0 dim = 1 : tensor<4611686018427387904x2xf32>, tensor<4611686018427387904x2xf32>
  return %1 : tensor<4611686018427387904x4xf32>
}

// Tests that a run-time error of an op (an index out of range) names its
// source position, the op and the offending value.
// RUN: not kiln run %S/Inputs/bad-gather.mlir --output-dir %t 2>&1 | FileCheck %s --check-prefix=GATHER
// GATHER: bad-gather.mlir:4:8: error: 'kiln.gather' op gather index 7 out of range [0, 3) at indices position [1]
