// RUN: kiln-opt %s --split-input-file --kiln-eval-function --verify-diagnostics | FileCheck %s

// Tests batch norm in inference mode: `training` is dropped, the running-
// statistic results are replaced by the running-statistic operands, the
// buffer-update results are dropped, dropout is replaced by its input, and
// @forward itself (with its optimizer) is unchanged.
// CHECK-LABEL: func.func @forward
// CHECK: kiln.batch_norm {{.*}} {training}
// CHECK: kiln.dropout
// CHECK-LABEL: func.func @eval
// CHECK-SAME: %[[X:[a-z0-9]+]]: tensor<4x2x3x3xf32> {kiln.name = "x", kiln.role = #kiln<role input>}
// CHECK-SAME: %[[M:[a-z0-9]+]]: tensor<2xf32> {kiln.init = #kiln<init zeros>, kiln.name = "bn.mean", kiln.role = #kiln<role buffer>}
// CHECK-SAME: -> (tensor<f32> {kiln.loss, kiln.name = "loss"}, tensor<4x2x3x3xf32> {kiln.name = "h"}, tensor<2xf32> {kiln.name = "mean_out"})
// CHECK-NOT: kiln.optimizer
// CHECK: %[[Y:.*]], %{{.*}}, %{{.*}} = kiln.batch_norm %[[X]], %{{.*}}, %{{.*}}, %[[M]], %{{.*}} :
// CHECK-NOT: training
// CHECK-NOT: kiln.dropout
// CHECK: %[[SQ:.*]] = kiln.mul %[[Y]], %[[Y]]
// CHECK: %[[L:.*]] = kiln.reduce mean %[[SQ]]
// CHECK: return %[[L]], %[[Y]], %[[M]] : tensor<f32>, tensor<4x2x3x3xf32>, tensor<2xf32>
func.func @forward(%x: tensor<4x2x3x3xf32> {kiln.name = "x", kiln.role = #kiln<role input>},
                   %g: tensor<2xf32> {kiln.name = "bn.gamma", kiln.role = #kiln<role param>, kiln.init = #kiln<init ones>},
                   %be: tensor<2xf32> {kiln.name = "bn.beta", kiln.role = #kiln<role param>, kiln.init = #kiln<init zeros>},
                   %m: tensor<2xf32> {kiln.name = "bn.mean", kiln.role = #kiln<role buffer>, kiln.init = #kiln<init zeros>},
                   %v: tensor<2xf32> {kiln.name = "bn.var", kiln.role = #kiln<role buffer>, kiln.init = #kiln<init ones>})
    -> (tensor<f32> {kiln.name = "loss", kiln.loss},
        tensor<4x2x3x3xf32> {kiln.name = "h"},
        tensor<2xf32> {kiln.name = "mean_out"},
        tensor<2xf32> {kiln.name = "bn.mean.updated", kiln.updates = "bn.mean"},
        tensor<2xf32> {kiln.name = "bn.var.updated", kiln.updates = "bn.var"})
    attributes {kiln.optimizer = #kiln.optimizer<sgd, lr = 1.000000e-01>} {
  %y, %nm, %nv = kiln.batch_norm %x, %g, %be, %m, %v {training} : tensor<4x2x3x3xf32>, tensor<2xf32>
  %seed = kiln.constant dense<0> : tensor<i64>
  %site = kiln.constant dense<1> : tensor<i64>
  %d = kiln.dropout %y, %seed, %site, ratio = 5.000000e-01 : tensor<4x2x3x3xf32>
  %sq = kiln.mul %d, %d : tensor<4x2x3x3xf32>
  %l = kiln.reduce mean %sq, dims = [0, 1, 2, 3] : tensor<4x2x3x3xf32>
  return %l, %d, %nm, %nm, %nv : tensor<f32>, tensor<4x2x3x3xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>
}

// -----

// Tests a model without loss or random ops: @eval is a copy of @forward.
// CHECK-LABEL: func.func @eval
// CHECK-SAME: (%[[X:[a-z0-9]+]]: tensor<3xf32> {kiln.name = "x", kiln.role = #kiln<role input>})
// CHECK-SAME: -> (tensor<3xf32> {kiln.name = "y"})
// CHECK: %[[T:.*]] = kiln.tanh %[[X]]
// CHECK: return %[[T]]
func.func @forward(%x: tensor<3xf32> {kiln.name = "x", kiln.role = #kiln<role input>})
    -> (tensor<3xf32> {kiln.name = "y"}) {
  %0 = kiln.tanh %x : tensor<3xf32>
  return %0 : tensor<3xf32>
}

// -----

// Tests that a module without @forward is an error.
// expected-error @+1 {{kiln-eval-function: expected a func.func @forward to derive @eval from}}
module {
  func.func @main() {
    return
  }
}

// -----

// Tests that an existing @eval is not overwritten.
// expected-error @+1 {{kiln-eval-function: the module already has a symbol @eval}}
module {
  func.func @forward() {
    return
  }
  func.func @eval() {
    return
  }
}
