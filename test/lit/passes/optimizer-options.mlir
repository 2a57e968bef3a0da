// RUN: kiln-opt %s --split-input-file --kiln-optimizer="total-steps=100" --verify-diagnostics | FileCheck %s

// Tests that total-steps gives the cosine schedule the run's length when
// the model leaves it out: the decay spans 100 - 10 steps.
// CHECK-LABEL: func.func @train_step
// CHECK: %[[SPAN:.*]] = kiln.constant dense<9.000000e+01> : tensor<f64>
// CHECK: %[[WARM:.*]] = kiln.constant dense<1.000000e+01> : tensor<f64>
// CHECK: %[[SINCE:.*]] = kiln.sub %{{.*}}, %[[WARM]] : tensor<f64>
// CHECK: kiln.div %[[SINCE]], %[[SPAN]] : tensor<f64>
func.func @train_step(%w: tensor<2xf64> {kiln.name = "w", kiln.role = #kiln<role param>, kiln.init = #kiln<init zeros>},
                      %step: tensor<i64> {kiln.name = "step", kiln.role = #kiln<role step>})
    -> (tensor<f64> {kiln.loss, kiln.name = "loss"},
        tensor<2xf64> {kiln.grad_of = "w", kiln.name = "w.grad"})
    attributes {kiln.optimizer = #kiln.optimizer<sgd, schedule = cosine, warmup_steps = 10>} {
  %0 = kiln.reduce sum %w, dims = [0] : tensor<2xf64>
  return %0, %w : tensor<f64>, tensor<2xf64>
}

// -----

// Tests that total-steps replaces the model's total_steps.
// CHECK-LABEL: func.func @train_step
// CHECK: %[[SPAN:.*]] = kiln.constant dense<1.000000e+02> : tensor<f64>
// CHECK: kiln.div %{{.*}}, %[[SPAN]] : tensor<f64>
func.func @train_step(%w: tensor<2xf64> {kiln.name = "w", kiln.role = #kiln<role param>, kiln.init = #kiln<init zeros>},
                      %step: tensor<i64> {kiln.name = "step", kiln.role = #kiln<role step>})
    -> (tensor<f64> {kiln.loss, kiln.name = "loss"},
        tensor<2xf64> {kiln.grad_of = "w", kiln.name = "w.grad"})
    attributes {kiln.optimizer = #kiln.optimizer<sgd, schedule = cosine, total_steps = 7>} {
  %0 = kiln.reduce sum %w, dims = [0] : tensor<2xf64>
  return %0, %w : tensor<f64>, tensor<2xf64>
}

// -----

// Tests that the constant schedule ignores total-steps (no step-dependent
// learning rate).
// CHECK-LABEL: func.func @train_step
// CHECK-NOT: kiln.cast
// CHECK: %[[LR:.*]] = kiln.constant dense<1.000000e-02> : tensor<f64>
// CHECK-NEXT: kiln.broadcast %[[LR]]
func.func @train_step(%w: tensor<2xf64> {kiln.name = "w", kiln.role = #kiln<role param>, kiln.init = #kiln<init zeros>},
                      %step: tensor<i64> {kiln.name = "step", kiln.role = #kiln<role step>})
    -> (tensor<f64> {kiln.loss, kiln.name = "loss"},
        tensor<2xf64> {kiln.grad_of = "w", kiln.name = "w.grad"})
    attributes {kiln.optimizer = #kiln.optimizer<sgd>} {
  %0 = kiln.reduce sum %w, dims = [0] : tensor<2xf64>
  return %0, %w : tensor<f64>, tensor<2xf64>
}

// -----

// Tests that a total-steps within the warmup is rejected.
// expected-error @+1 {{kiln-optimizer: with total-steps = 100: the cosine schedule needs total_steps > warmup_steps, found total_steps = 100 and warmup_steps = 200}}
func.func @train_step(%w: tensor<2xf64> {kiln.name = "w", kiln.role = #kiln<role param>, kiln.init = #kiln<init zeros>},
                      %step: tensor<i64> {kiln.name = "step", kiln.role = #kiln<role step>})
    -> (tensor<f64> {kiln.loss, kiln.name = "loss"},
        tensor<2xf64> {kiln.grad_of = "w", kiln.name = "w.grad"})
    attributes {kiln.optimizer = #kiln.optimizer<sgd, schedule = cosine, warmup_steps = 200>} {
  %0 = kiln.reduce sum %w, dims = [0] : tensor<2xf64>
  return %0, %w : tensor<f64>, tensor<2xf64>
}
