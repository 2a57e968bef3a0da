// RUN: kiln-opt %s --split-input-file --allow-unregistered-dialect --kiln-fuse --verify-diagnostics

// Tests that an op without a fusion class is rejected, naming the op and
// the pass, instead of being left unfused.
func.func @foreign(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{kiln-fuse: cannot fuse 'test.op': it is not a kiln op with a fusion class}}
  %0 = "test.op"(%x) : (tensor<4xf32>) -> tensor<4xf32>
  %1 = kiln.exp %0 : tensor<4xf32>
  return %1 : tensor<4xf32>
}

// -----

// Tests that a function with several blocks is rejected.
// expected-error @+1 {{kiln-fuse: @blocks must have a single block}}
func.func @blocks(%x: tensor<4xf32>) -> tensor<4xf32> {
 "test.br"()[^bb1] : () -> ()
^bb1:
  return %x : tensor<4xf32>
}
