// RUN: kiln-opt %s --split-input-file --allow-unregistered-dialect --kiln-autodiff --verify-diagnostics

// Tests that a module without @forward is rejected.
// expected-error @+1 {{kiln-autodiff: expected a func.func @forward to differentiate}}
module {
  func.func @main(%x: tensor<4xf32>) -> tensor<4xf32> {
    return %x : tensor<4xf32>
  }
}

// -----

// Tests that a @forward without a loss result is rejected.
// expected-error @+1 {{kiln-autodiff: @forward has no loss result (a result marked kiln.loss): there is nothing to differentiate}}
func.func @forward(%w: tensor<4xf32> {kiln.name = "w", kiln.role = #kiln<role param>, kiln.init = #kiln<init zeros>})
    -> (tensor<4xf32> {kiln.name = "y"}) {
  return %w : tensor<4xf32>
}

// -----

// Tests that two results marked as the loss are rejected.
// expected-error @+1 {{kiln-autodiff: results #0 and #1 of @forward are both marked kiln.loss: expected one loss}}
func.func @forward(%w: tensor<f32> {kiln.name = "w", kiln.role = #kiln<role param>, kiln.init = #kiln<init zeros>})
    -> (tensor<f32> {kiln.name = "loss", kiln.loss}, tensor<f32> {kiln.name = "loss2", kiln.loss}) {
  return %w, %w : tensor<f32>, tensor<f32>
}

// -----

// Tests that a loss that is not a 0-d float tensor is rejected.
// expected-error @+1 {{kiln-autodiff: the loss must be a 0-d float tensor, found 'tensor<4xf32>'}}
func.func @forward(%w: tensor<4xf32> {kiln.name = "w", kiln.role = #kiln<role param>, kiln.init = #kiln<init zeros>})
    -> (tensor<4xf32> {kiln.name = "loss", kiln.loss}) {
  return %w : tensor<4xf32>
}

// -----

// Tests that a module that already has a @train_step is rejected.
// expected-error @+1 {{kiln-autodiff: the module already has a @train_step}}
module {
  func.func @forward(%w: tensor<f32> {kiln.name = "w", kiln.role = #kiln<role param>, kiln.init = #kiln<init zeros>})
      -> (tensor<f32> {kiln.name = "loss", kiln.loss}) {
    return %w : tensor<f32>
  }
  func.func @train_step() {
    return
  }
}

// -----

// Tests that an op without a gradient rule on the path from a parameter to
// the loss is an error naming the op and the parameter.
func.func @forward(%w: tensor<4xf32> {kiln.name = "enc.w", kiln.role = #kiln<role param>, kiln.init = #kiln<init zeros>})
    -> (tensor<f32> {kiln.name = "loss", kiln.loss}) {
  // expected-error @+1 {{kiln-autodiff: 'test.opaque' has no gradient rule; it is on the path from parameter 'enc.w' to the loss}}
  %0 = "test.opaque"(%w) : (tensor<4xf32>) -> tensor<4xf32>
  %1 = kiln.reduce sum %0, dims = [0] : tensor<4xf32>
  return %1 : tensor<f32>
}

// -----

// Tests that a @forward argument cannot take the step counter's name.
// expected-error @+1 {{kiln-autodiff: argument #0 of @forward is named 'step', the name of @train_step's step counter; rename it}}
func.func @forward(%s: tensor<f32> {kiln.name = "step", kiln.role = #kiln<role input>},
                   %w: tensor<f32> {kiln.name = "w", kiln.role = #kiln<role param>, kiln.init = #kiln<init zeros>})
    -> (tensor<f32> {kiln.name = "loss", kiln.loss}) {
  %0 = kiln.mul %s, %w : tensor<f32>
  return %0 : tensor<f32>
}

// -----

// Tests that a buffer update named like a gradient ('<param>.grad') is an
// error naming the result, not two results of one name.
// expected-error @+1 {{kiln-autodiff: @train_step would have two results named 'w.grad' (a gradient is named '<param>.grad'); rename the @forward result}}
func.func @forward(%w: tensor<f32> {kiln.name = "w", kiln.role = #kiln<role param>, kiln.init = #kiln<init zeros>},
                   %c: tensor<f32> {kiln.name = "c", kiln.role = #kiln<role buffer>, kiln.init = #kiln<init zeros>})
    -> (tensor<f32> {kiln.name = "loss", kiln.loss},
        tensor<f32> {kiln.name = "w.grad", kiln.updates = "c"}) {
  %0 = kiln.mul %w, %w : tensor<f32>
  return %0, %c : tensor<f32>, tensor<f32>
}
