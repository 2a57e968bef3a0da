// RUN: kiln-opt %s --split-input-file --kiln-plan-memory --verify-diagnostics

// Tests that an op outside a kiln.fusion is rejected, naming the op and
// the pass that must run first.
func.func @unfused(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'kiln.exp' is not inside a kiln.fusion}}
  %0 = kiln.exp %x : tensor<4xf32>
  return %0 : tensor<4xf32>
}
