// RUN: kiln-opt %s --split-input-file --kiln-plan-memory --verify-diagnostics
// RUN: not kiln-opt %s --split-input-file --kiln-plan-memory=alignment=48 2>&1 | FileCheck %s --check-prefix=ALIGN

// Tests that an op left outside a kiln.fusion is rejected, naming the op
// and the pass that should have run first.
func.func @unfused(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'kiln.add' is not inside a kiln.fusion: run --kiln-fuse before --kiln-plan-memory}}
  %0 = kiln.add %x, %x : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// Tests that the precondition holds after fusions too: a stray op after a
// planned-looking prefix fails the pass rather than being skipped.
func.func @unfused_later(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = kiln.fusion loop(%x) : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%a: tensor<4xf32>):
    %1 = kiln.exp %a : tensor<4xf32>
    kiln.yield %1 : tensor<4xf32>
  }
  // expected-error @+1 {{'kiln.neg' is not inside a kiln.fusion: run --kiln-fuse before --kiln-plan-memory}}
  %2 = kiln.neg %0 : tensor<4xf32>
  return %2 : tensor<4xf32>
}

// Tests that an alignment that is not a power of two is rejected.
// ALIGN: error: kiln-plan-memory: alignment 48 is not a power of two
