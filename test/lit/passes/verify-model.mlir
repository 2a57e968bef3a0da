// RUN: kiln-opt %s --split-input-file --kiln-verify-model --verify-diagnostics | FileCheck %s

// Tests that a valid model (an input, parameters with and without
// init_args, a named loss and a second named output) passes unchanged.
// CHECK-LABEL: func.func @forward
// CHECK-SAME: %{{.*}}: tensor<8x64xf32> {kiln.name = "x", kiln.role = #kiln<role input>}
// CHECK-SAME: %{{.*}}: tensor<8xi64> {kiln.name = "y", kiln.role = #kiln<role input>}
// CHECK-SAME: %{{.*}}: tensor<64x10xf32> {kiln.init = #kiln<init kaiming_uniform>, kiln.name = "fc.w", kiln.role = #kiln<role param>}
// CHECK-SAME: %{{.*}}: tensor<10xf32> {kiln.init = #kiln<init uniform>, kiln.init_args = array<f64: -1.000000e-01, 1.000000e-01>, kiln.name = "fc.b", kiln.role = #kiln<role param>}
// CHECK-SAME: -> (tensor<f32> {kiln.loss, kiln.name = "loss"}, tensor<8x10xf32> {kiln.name = "logits"})
// CHECK: %[[MM:.*]] = kiln.matmul
// CHECK: %[[B:.*]] = kiln.broadcast
// CHECK: %[[L:.*]] = kiln.add %[[MM]], %[[B]] : tensor<8x10xf32>
// CHECK: %[[CE:.*]] = kiln.cross_entropy %[[L]], %{{.*}} : tensor<8x10xf32>, tensor<8xi64>
// CHECK: return %[[CE]], %[[L]] : tensor<f32>, tensor<8x10xf32>
// CHECK-LABEL: func.func @helper
func.func @forward(%x: tensor<8x64xf32> {kiln.name = "x", kiln.role = #kiln<role input>},
                   %y: tensor<8xi64> {kiln.name = "y", kiln.role = #kiln<role input>},
                   %w: tensor<64x10xf32> {kiln.name = "fc.w", kiln.role = #kiln<role param>,
                                          kiln.init = #kiln<init kaiming_uniform>},
                   %b: tensor<10xf32> {kiln.name = "fc.b", kiln.role = #kiln<role param>,
                                       kiln.init = #kiln<init uniform>,
                                       kiln.init_args = array<f64: -0.1, 0.1>})
    -> (tensor<f32> {kiln.name = "loss", kiln.loss}, tensor<8x10xf32> {kiln.name = "logits"}) {
  %0 = kiln.matmul %x, %w : tensor<8x64xf32>, tensor<64x10xf32>
  %1 = kiln.broadcast %b, dims = [1] : tensor<10xf32> -> tensor<8x10xf32>
  %2 = kiln.add %0, %1 : tensor<8x10xf32>
  %3 = kiln.cross_entropy %2, %y : tensor<8x10xf32>, tensor<8xi64>
  return %3, %2 : tensor<f32>, tensor<8x10xf32>
}
func.func @helper(%x: tensor<4xf32>) -> tensor<4xf32> {
  return %x : tensor<4xf32>
}

// -----

// Tests that a @forward without arguments or a loss (an inference-only
// model with one named output) passes.
// CHECK-LABEL: func.func @forward
// CHECK-SAME: -> (tensor<4xi64> {kiln.name = "ids"})
// CHECK: kiln.iota dim = 0 : tensor<4xi64>
func.func @forward() -> (tensor<4xi64> {kiln.name = "ids"}) {
  %0 = kiln.iota dim = 0 : tensor<4xi64>
  return %0 : tensor<4xi64>
}

// -----

// Tests that a module without @forward is rejected.
// expected-error @+1 {{expected a func.func @forward in the model module}}
module {
  func.func @main(%x: tensor<4xf32> {kiln.name = "x", kiln.role = #kiln<role input>}) -> (tensor<4xf32> {kiln.name = "y"}) {
    return %x : tensor<4xf32>
  }
}

// -----

// Tests that an argument without kiln.name is rejected.
// expected-error @+1 {{argument #1 has no kiln.name}}
func.func @forward(%x: tensor<4xf32> {kiln.name = "x", kiln.role = #kiln<role input>},
                   %w: tensor<4xf32> {kiln.role = #kiln<role param>, kiln.init = #kiln<init zeros>})
    -> (tensor<4xf32> {kiln.name = "y"}) {
  return %x : tensor<4xf32>
}

// -----

// Tests that an argument with an empty kiln.name is rejected.
// expected-error @+1 {{argument #0 has no kiln.name}}
func.func @forward(%x: tensor<4xf32> {kiln.name = "", kiln.role = #kiln<role input>})
    -> (tensor<4xf32> {kiln.name = "y"}) {
  return %x : tensor<4xf32>
}

// -----

// Tests that two arguments with one kiln.name are rejected.
// expected-error @+1 {{argument #1 reuses the name 'w'}}
func.func @forward(%w0: tensor<4xf32> {kiln.name = "w", kiln.role = #kiln<role param>, kiln.init = #kiln<init zeros>},
                   %w1: tensor<4xf32> {kiln.name = "w", kiln.role = #kiln<role param>, kiln.init = #kiln<init ones>})
    -> (tensor<4xf32> {kiln.name = "y"}) {
  return %w0 : tensor<4xf32>
}

// -----

// Tests that an argument without kiln.role is rejected.
// expected-error @+1 {{argument 'x' has no kiln.role (expected #kiln<role input>, #kiln<role param> or #kiln<role buffer>)}}
func.func @forward(%x: tensor<4xf32> {kiln.name = "x"}) -> (tensor<4xf32> {kiln.name = "y"}) {
  return %x : tensor<4xf32>
}

// -----

// Tests that a kiln.role that is not a role attribute is rejected.
// expected-error @+1 {{argument 'x' has no kiln.role}}
func.func @forward(%x: tensor<4xf32> {kiln.name = "x", kiln.role = "input"}) -> (tensor<4xf32> {kiln.name = "y"}) {
  return %x : tensor<4xf32>
}

// -----

// Tests that a parameter without kiln.init is rejected.
// expected-error @+1 {{parameter 'w' has no kiln.init}}
func.func @forward(%w: tensor<4xf32> {kiln.name = "w", kiln.role = #kiln<role param>})
    -> (tensor<4xf32> {kiln.name = "y"}) {
  return %w : tensor<4xf32>
}

// -----

// Tests that an input with a kiln.init is rejected.
// expected-error @+1 {{input 'x' has a kiln.init; only parameters and buffers do}}
func.func @forward(%x: tensor<4xf32> {kiln.name = "x", kiln.role = #kiln<role input>, kiln.init = #kiln<init zeros>})
    -> (tensor<4xf32> {kiln.name = "y"}) {
  return %x : tensor<4xf32>
}

// -----

// Tests that kiln.init_args that are not an f64 array are rejected.
// expected-error @+1 {{parameter 'w' has kiln.init_args [1.000000e-01, 2.000000e-01], expected an array<f64: ...>}}
func.func @forward(%w: tensor<4xf32> {kiln.name = "w", kiln.role = #kiln<role param>,
                                      kiln.init = #kiln<init uniform>, kiln.init_args = [0.1, 0.2]})
    -> (tensor<4xf32> {kiln.name = "y"}) {
  return %w : tensor<4xf32>
}

// -----

// Tests that kiln.init_args as an f32 array are rejected.
// expected-error @+1 {{parameter 'w' has kiln.init_args array<f32: 1.000000e-01>, expected an array<f64: ...>}}
func.func @forward(%w: tensor<4xf32> {kiln.name = "w", kiln.role = #kiln<role param>,
                                      kiln.init = #kiln<init constant>, kiln.init_args = array<f32: 0.1>})
    -> (tensor<4xf32> {kiln.name = "y"}) {
  return %w : tensor<4xf32>
}

// -----

// Tests that a loss that is not a 0-d tensor is rejected.
// expected-error @+1 {{the loss 'loss' must be a 0-d float tensor, found 'tensor<8xf32>'}}
func.func @forward(%x: tensor<8xf32> {kiln.name = "x", kiln.role = #kiln<role input>})
    -> (tensor<8xf32> {kiln.name = "loss", kiln.loss}) {
  return %x : tensor<8xf32>
}

// -----

// Tests that an integer loss is rejected.
// expected-error @+1 {{the loss 'loss' must be a 0-d float tensor, found 'tensor<i64>'}}
func.func @forward(%x: tensor<i64> {kiln.name = "x", kiln.role = #kiln<role input>})
    -> (tensor<i64> {kiln.name = "loss", kiln.loss}) {
  return %x : tensor<i64>
}

// -----

// Tests that a loss that is not a tensor at all is rejected with a message,
// not a crash.
// expected-error @+1 {{the loss 'loss' must be a 0-d float tensor, found 'f32'}}
func.func @forward(%x: f32 {kiln.name = "x", kiln.role = #kiln<role input>})
    -> (f32 {kiln.name = "loss", kiln.loss}) {
  return %x : f32
}

// -----

// Tests that two results marked kiln.loss are rejected.
// expected-error @+1 {{more than one result is marked kiln.loss}}
func.func @forward(%x: tensor<f32> {kiln.name = "x", kiln.role = #kiln<role input>})
    -> (tensor<f32> {kiln.name = "a", kiln.loss}, tensor<f32> {kiln.name = "b", kiln.loss}) {
  return %x, %x : tensor<f32>, tensor<f32>
}

// -----

// Tests that a result without kiln.name is rejected.
// expected-error @+1 {{result #1 has no kiln.name}}
func.func @forward(%x: tensor<f32> {kiln.name = "x", kiln.role = #kiln<role input>})
    -> (tensor<f32> {kiln.name = "loss", kiln.loss}, tensor<f32>) {
  return %x, %x : tensor<f32>, tensor<f32>
}

// -----

// Tests that two results with one kiln.name are rejected.
// expected-error @+1 {{result #1 reuses the name 'out'}}
func.func @forward(%x: tensor<f32> {kiln.name = "x", kiln.role = #kiln<role input>})
    -> (tensor<f32> {kiln.name = "out"}, tensor<f32> {kiln.name = "out"}) {
  return %x, %x : tensor<f32>, tensor<f32>
}

// -----

// Tests that a buffer and a result that updates it pass unchanged.
// CHECK-LABEL: func.func @forward
// CHECK-SAME: kiln.role = #kiln<role buffer>
// CHECK-SAME: kiln.updates = "rm"
func.func @forward(%x: tensor<4xf32> {kiln.name = "x", kiln.role = #kiln<role input>},
                   %rm: tensor<4xf32> {kiln.name = "rm", kiln.role = #kiln<role buffer>, kiln.init = #kiln<init zeros>})
    -> (tensor<4xf32> {kiln.name = "rm.updated", kiln.updates = "rm"}) {
  %0 = kiln.add %x, %rm : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// Tests that a buffer needs an initializer.
// expected-error @+1 {{buffer 'rm' has no kiln.init}}
func.func @forward(%rm: tensor<4xf32> {kiln.name = "rm", kiln.role = #kiln<role buffer>}) {
  return
}

// -----

// Tests that kiln.updates must name a buffer argument.
// expected-error @+1 {{result 'y' has kiln.updates = "x", expected the name of a buffer argument}}
func.func @forward(%x: tensor<4xf32> {kiln.name = "x", kiln.role = #kiln<role input>})
    -> (tensor<4xf32> {kiln.name = "y", kiln.updates = "x"}) {
  return %x : tensor<4xf32>
}

// -----

// Tests that a buffer update must have the buffer's type.
// expected-error @+1 {{result 'rm.updated' updates buffer 'rm' of type 'tensor<4xf32>' with a value of type 'tensor<2xf32>'}}
func.func @forward(%rm: tensor<4xf32> {kiln.name = "rm", kiln.role = #kiln<role buffer>, kiln.init = #kiln<init zeros>},
                   %y: tensor<2xf32> {kiln.name = "y", kiln.role = #kiln<role input>})
    -> (tensor<2xf32> {kiln.name = "rm.updated", kiln.updates = "rm"}) {
  return %y : tensor<2xf32>
}

// -----

// Tests that a model with a loss keeps its typed optimizer.
// CHECK-LABEL: func.func @forward
// CHECK-SAME: attributes {kiln.optimizer = #kiln.optimizer<sgd, lr = 1.000000e-01, weight_decay = 0.000000e+00>}
func.func @forward(%x: tensor<4xf32> {kiln.name = "x", kiln.role = #kiln<role input>})
    -> (tensor<f32> {kiln.loss, kiln.name = "loss"})
    attributes {kiln.optimizer = #kiln.optimizer<sgd, lr = 0.1>} {
  %0 = kiln.reduce sum %x, dims = [0] : tensor<4xf32>
  return %0 : tensor<f32>
}

// -----

// Tests that kiln.optimizer must be the typed attribute, not a loose one.
// expected-error @+1 {{kiln.optimizer is "adam", expected a #kiln.optimizer<...>}}
func.func @forward(%x: tensor<4xf32> {kiln.name = "x", kiln.role = #kiln<role input>})
    -> (tensor<f32> {kiln.loss, kiln.name = "loss"}) attributes {kiln.optimizer = "adam"} {
  %0 = kiln.reduce sum %x, dims = [0] : tensor<4xf32>
  return %0 : tensor<f32>
}

// -----

// Tests that an optimizer needs a loss.
// expected-error @+1 {{@forward has a kiln.optimizer but no result marked kiln.loss to minimize}}
func.func @forward(%x: tensor<4xf32> {kiln.name = "x", kiln.role = #kiln<role input>})
    -> (tensor<4xf32> {kiln.name = "y"}) attributes {kiln.optimizer = #kiln.optimizer<adam>} {
  return %x : tensor<4xf32>
}

// -----

// Tests that the train step's own roles (step counter, optimizer state)
// are rejected in @forward.
// expected-error @+1 {{argument 'step' has the role #kiln<role step>, which only @train_step has; @forward's arguments are inputs, parameters and buffers}}
func.func @forward(%s: tensor<i64> {kiln.name = "step", kiln.role = #kiln<role step>})
    -> (tensor<i64> {kiln.name = "s"}) {
  return %s : tensor<i64>
}
