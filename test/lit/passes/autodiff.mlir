// RUN: kiln-opt %s --split-input-file --kiln-autodiff --verify-diagnostics | FileCheck %s

// Tests the gradient step of a dense layer with a softmax cross-entropy
// loss: the step signature (forward's arguments plus `step`; loss, one
// gradient per parameter), the backward ops in reverse order, no adjoint for
// the input `x` and the labels `y`, and @forward's other outputs dropped.
// CHECK-LABEL: func.func @train_step
// CHECK-SAME: {kiln.name = "x", kiln.role = #kiln<role input>}
// CHECK-SAME: %[[W:[a-z0-9]+]]: tensor<4x3xf32> {{{.*}}kiln.name = "fc.w"
// CHECK-SAME: %[[STEP:[a-z0-9]+]]: tensor<i64> {kiln.name = "step", kiln.role = #kiln<role step>}
// CHECK-SAME: -> (tensor<f32> {kiln.loss, kiln.name = "loss"}, tensor<4x3xf32> {kiln.grad_of = "fc.w", kiln.name = "fc.w.grad"}, tensor<3xf32> {kiln.grad_of = "fc.b", kiln.name = "fc.b.grad"})
// CHECK: %[[LOGITS:.*]] = kiln.add
// CHECK: %[[LOSS:.*]] = kiln.cross_entropy %[[LOGITS]]
// CHECK: %[[ONE:.*]] = kiln.constant dense<1.000000e+00> : tensor<f32>
// CHECK: %[[DL:.*]] = kiln.cross_entropy_grad %[[LOGITS]], %{{.*}}, %[[ONE]]
// CHECK: %[[DB:.*]] = kiln.reduce sum %[[DL]], dims = [0]
// CHECK: %[[DW:.*]] = kiln.matmul %{{.*}}, %[[DL]] transpose_a
// CHECK-NOT: transpose_b
// CHECK: return %[[LOSS]], %[[DW]], %[[DB]]
func.func @forward(%x: tensor<8x4xf32> {kiln.name = "x", kiln.role = #kiln<role input>},
                   %y: tensor<8xi64> {kiln.name = "y", kiln.role = #kiln<role input>},
                   %w: tensor<4x3xf32> {kiln.name = "fc.w", kiln.role = #kiln<role param>, kiln.init = #kiln<init zeros>},
                   %b: tensor<3xf32> {kiln.name = "fc.b", kiln.role = #kiln<role param>, kiln.init = #kiln<init zeros>})
    -> (tensor<f32> {kiln.name = "loss", kiln.loss}, tensor<8x3xf32> {kiln.name = "logits"}) {
  %0 = kiln.matmul %x, %w : tensor<8x4xf32>, tensor<4x3xf32>
  %1 = kiln.broadcast %b, dims = [1] : tensor<3xf32> -> tensor<8x3xf32>
  %2 = kiln.add %0, %1 : tensor<8x3xf32>
  %3 = kiln.cross_entropy %2, %y : tensor<8x3xf32>, tensor<8xi64>
  return %3, %2 : tensor<f32>, tensor<8x3xf32>
}

// -----

// Tests that the adjoints of a value used twice are summed (w * w, and w
// again through tanh), and that the gradient of a function of w alone
// reaches w.
// CHECK-LABEL: func.func @train_step
// CHECK-SAME: (%[[W:.*]]: tensor<4xf32> {{.*}}, %{{.*}}: tensor<i64> {{.*}})
// CHECK: %[[T:.*]] = kiln.tanh %[[W]]
// CHECK: %[[DY:.*]] = kiln.broadcast
// CHECK: %[[T2:.*]] = kiln.mul %[[T]], %[[T]]
// CHECK: %[[DTANH:.*]] = kiln.mul %[[DY]], %{{.*}}
// CHECK: %[[D1:.*]] = kiln.mul %[[DY]], %[[W]]
// CHECK: %[[D2:.*]] = kiln.mul %[[DY]], %[[W]]
// CHECK: %[[S1:.*]] = kiln.add %[[DTANH]], %[[D1]]
// CHECK: %[[S2:.*]] = kiln.add %[[S1]], %[[D2]]
// CHECK: return %{{.*}}, %[[S2]]
func.func @forward(%w: tensor<4xf32> {kiln.name = "w", kiln.role = #kiln<role param>, kiln.init = #kiln<init zeros>})
    -> (tensor<f32> {kiln.name = "loss", kiln.loss}) {
  %0 = kiln.mul %w, %w : tensor<4xf32>
  %1 = kiln.tanh %w : tensor<4xf32>
  %2 = kiln.add %0, %1 : tensor<4xf32>
  %3 = kiln.reduce sum %2, dims = [0] : tensor<4xf32>
  return %3 : tensor<f32>
}

// -----

// Tests that stop_gradient blocks the gradient: `a` reaches the loss only
// through it and gets a zero gradient marked kiln.no_gradient (with a
// warning); `b` is differentiated as usual.
// CHECK-LABEL: func.func @train_step
// CHECK-SAME: -> (tensor<f32> {kiln.loss, kiln.name = "loss"}, tensor<4xf32> {kiln.grad_of = "a", kiln.name = "a.grad", kiln.no_gradient}, tensor<2xf32> {kiln.grad_of = "unused", kiln.name = "unused.grad", kiln.no_gradient}, tensor<4xf32> {kiln.grad_of = "b", kiln.name = "b.grad"})
// CHECK: %[[SG:.*]] = kiln.stop_gradient
// CHECK: %[[DB:.*]] = kiln.mul %{{.*}}, %[[SG]]
// CHECK: %[[ZA:.*]] = kiln.constant dense<0.000000e+00> : tensor<4xf32>
// CHECK: %[[ZU:.*]] = kiln.constant dense<0.000000e+00> : tensor<2xf32>
// CHECK: return %{{.*}}, %[[ZA]], %[[ZU]], %[[DB]]
// expected-warning @+1 {{parameter 'a' receives no gradient from the loss; the optimizer leaves it unchanged}}
func.func @forward(%a: tensor<4xf32> {kiln.name = "a", kiln.role = #kiln<role param>, kiln.init = #kiln<init zeros>},
                   // expected-warning @+1 {{parameter 'unused' receives no gradient from the loss; the optimizer leaves it unchanged}}
                   %unused: tensor<2xf32> {kiln.name = "unused", kiln.role = #kiln<role param>, kiln.init = #kiln<init zeros>},
                   %b: tensor<4xf32> {kiln.name = "b", kiln.role = #kiln<role param>, kiln.init = #kiln<init zeros>})
    -> (tensor<f32> {kiln.name = "loss", kiln.loss}) {
  %0 = kiln.stop_gradient %a : tensor<4xf32>
  %1 = kiln.mul %0, %b : tensor<4xf32>
  %2 = kiln.reduce sum %1, dims = [0] : tensor<4xf32>
  return %2 : tensor<f32>
}

// -----

// Tests that batch-norm running statistics (buffers) get no gradient, that
// their updates become results of the step with kiln.updates unchanged, and
// that the gradient flows through the normalization to gamma and beta.
// CHECK-LABEL: func.func @train_step
// CHECK-SAME: -> (tensor<f32> {kiln.loss, kiln.name = "loss"}, tensor<2xf32> {kiln.grad_of = "bn.gamma", kiln.name = "bn.gamma.grad"}, tensor<2xf32> {kiln.grad_of = "bn.beta", kiln.name = "bn.beta.grad"}, tensor<2xf32> {kiln.name = "bn.mean.updated", kiln.updates = "bn.mean"}, tensor<2xf32> {kiln.name = "bn.var.updated", kiln.updates = "bn.var"})
// CHECK: %[[Y:.*]], %[[NM:.*]], %[[NV:.*]] = kiln.batch_norm {{.*}} {training}
// CHECK: %[[DX:.*]], %[[DG:.*]], %[[DBE:.*]] = kiln.batch_norm_grad
// CHECK: return %{{.*}}, %[[DG]], %[[DBE]], %[[NM]], %[[NV]]
func.func @forward(%x: tensor<4x2x3x3xf32> {kiln.name = "x", kiln.role = #kiln<role input>},
                   %g: tensor<2xf32> {kiln.name = "bn.gamma", kiln.role = #kiln<role param>, kiln.init = #kiln<init ones>},
                   %be: tensor<2xf32> {kiln.name = "bn.beta", kiln.role = #kiln<role param>, kiln.init = #kiln<init zeros>},
                   %m: tensor<2xf32> {kiln.name = "bn.mean", kiln.role = #kiln<role buffer>, kiln.init = #kiln<init zeros>},
                   %v: tensor<2xf32> {kiln.name = "bn.var", kiln.role = #kiln<role buffer>, kiln.init = #kiln<init ones>})
    -> (tensor<f32> {kiln.name = "loss", kiln.loss},
        tensor<2xf32> {kiln.name = "bn.mean.updated", kiln.updates = "bn.mean"},
        tensor<2xf32> {kiln.name = "bn.var.updated", kiln.updates = "bn.var"}) {
  %y, %nm, %nv = kiln.batch_norm %x, %g, %be, %m, %v {training} : tensor<4x2x3x3xf32>, tensor<2xf32>
  %sq = kiln.mul %y, %y : tensor<4x2x3x3xf32>
  %l = kiln.reduce mean %sq, dims = [0, 1, 2, 3] : tensor<4x2x3x3xf32>
  return %l, %nm, %nv : tensor<f32>, tensor<2xf32>, tensor<2xf32>
}

// -----

// Tests that dropout is rekeyed by the step counter (offset + step * 2^32)
// and that its gradient is the same mask applied to the adjoint.
// CHECK-LABEL: func.func @train_step
// CHECK-SAME: %[[STEP:[a-z0-9]+]]: tensor<i64> {kiln.name = "step", kiln.role = #kiln<role step>}
// CHECK: %[[SEED:.*]] = kiln.constant dense<7> : tensor<i64>
// CHECK: %[[SITE:.*]] = kiln.constant dense<3> : tensor<i64>
// CHECK: %[[STRIDE:.*]] = kiln.constant dense<4294967296> : tensor<i64>
// CHECK: %[[K:.*]] = kiln.mul %[[STEP]], %[[STRIDE]] : tensor<i64>
// CHECK: %[[OFF:.*]] = kiln.add %[[SITE]], %[[K]] : tensor<i64>
// CHECK: %[[Y:.*]] = kiln.dropout %{{.*}}, %[[SEED]], %[[OFF]], ratio = 5.000000e-01
// CHECK: %[[DY:.*]] = kiln.broadcast
// CHECK: %[[DX:.*]] = kiln.dropout %[[DY]], %[[SEED]], %[[OFF]], ratio = 5.000000e-01
// CHECK: return %{{.*}}, %[[DX]]
func.func @forward(%w: tensor<16xf32> {kiln.name = "w", kiln.role = #kiln<role param>, kiln.init = #kiln<init ones>})
    -> (tensor<f32> {kiln.name = "loss", kiln.loss}) {
  %seed = kiln.constant dense<7> : tensor<i64>
  %site = kiln.constant dense<3> : tensor<i64>
  %0 = kiln.dropout %w, %seed, %site, ratio = 5.000000e-01 : tensor<16xf32>
  %1 = kiln.reduce sum %0, dims = [0] : tensor<16xf32>
  return %1 : tensor<f32>
}

// -----

// Tests the backward IR of a convolution and max pooling: the pooling
// gradient routes to the window maxima (kiln.pool2d_grad), the filter
// gradient is a library op (kiln.conv2d_grad_filter) and the input `x`
// gets no gradient (no kiln.conv2d_grad_input).
// CHECK-LABEL: func.func @train_step
// CHECK: %[[C:.*]] = kiln.conv2d
// CHECK: %[[DY:.*]] = kiln.broadcast
// CHECK: %[[DP:.*]] = kiln.pool2d_grad max %[[C]], %[[DY]], window = [2, 2], strides = [2, 2]
// CHECK-NOT: conv2d_grad_input
// CHECK: %[[DW:.*]] = kiln.conv2d_grad_filter %{{.*}}, %[[DP]], strides = [1, 1], padding = [1, 1, 1, 1]
// CHECK: return %{{.*}}, %[[DW]]
func.func @forward(%x: tensor<2x1x6x6xf32> {kiln.name = "x", kiln.role = #kiln<role input>},
                   %w: tensor<3x1x3x3xf32> {kiln.name = "conv.w", kiln.role = #kiln<role param>, kiln.init = #kiln<init zeros>})
    -> (tensor<f32> {kiln.name = "loss", kiln.loss}) {
  %0 = kiln.conv2d %x, %w, strides = [1, 1], padding = [1, 1, 1, 1], dilations = [1, 1], groups = 1 : tensor<2x1x6x6xf32>, tensor<3x1x3x3xf32>
  %1 = kiln.pool2d max %0, window = [2, 2], strides = [2, 2], padding = [0, 0, 0, 0] : tensor<2x3x6x6xf32>
  %2 = kiln.reduce sum %1, dims = [0, 1, 2, 3] : tensor<2x3x3x3xf32>
  return %2 : tensor<f32>
}


// -----

// Tests the backward IR of an embedding, layer norm, softmax, slice and a
// max reduction: the max adjoint is split among ties, the slice adjoint is
// padded back, softmax and layer norm use their backward ops, and the
// embedding gradient scatter-adds into the table (the ids get none).
// CHECK-LABEL: func.func @train_step
// CHECK: %[[E:.*]] = kiln.gather
// CHECK: %[[SM:.*]] = kiln.softmax
// CHECK: %[[TIE:.*]] = kiln.compare eq
// CHECK: %[[PAD:.*]] = kiln.pad %{{.*}}, low = [0, 0, 0], high = [0, 0, 4]
// CHECK: %[[DSM:.*]] = kiln.softmax_grad %[[SM]], %[[PAD]], dim = 2
// CHECK: %[[DX:.*]], %[[DG:.*]], %[[DB:.*]] = kiln.layer_norm_grad %[[E]], %{{.*}}, %[[DSM]], axis = 2
// CHECK: %[[DT:.*]] = kiln.scatter_add %[[DX]], %{{.*}}, axis = 0 : tensor<2x4x8xf32>, tensor<2x4xi64> -> tensor<10x8xf32>
// CHECK: return %{{.*}}, %[[DT]], %[[DG]], %[[DB]]
func.func @forward(%ids: tensor<2x4xi64> {kiln.name = "ids", kiln.role = #kiln<role input>},
                   %table: tensor<10x8xf32> {kiln.name = "wte", kiln.role = #kiln<role param>, kiln.init = #kiln<init zeros>},
                   %g: tensor<8xf32> {kiln.name = "ln.gamma", kiln.role = #kiln<role param>, kiln.init = #kiln<init ones>},
                   %b: tensor<8xf32> {kiln.name = "ln.beta", kiln.role = #kiln<role param>, kiln.init = #kiln<init zeros>})
    -> (tensor<f32> {kiln.name = "loss", kiln.loss}) {
  %0 = kiln.gather %table, %ids, axis = 0 : tensor<10x8xf32>, tensor<2x4xi64>
  %1 = kiln.layer_norm %0, %g, %b, axis = 2 : tensor<2x4x8xf32>, tensor<8xf32>
  %2 = kiln.softmax %1, dim = 2 : tensor<2x4x8xf32>
  %3 = kiln.slice %2, start = [0, 0, 0], limit = [2, 4, 4], step = [1, 1, 1] : tensor<2x4x8xf32>
  %4 = kiln.reduce max %3, dims = [2] : tensor<2x4x4xf32>
  %5 = kiln.reduce mean %4, dims = [0, 1] : tensor<2x4xf32>
  return %5 : tensor<f32>
}

// -----

// Tests that training-mode batch norm over zero channels (an empty input
// that the verifier accepts) is differentiated without dividing by the
// channel count, including the running-mean and running-variance adjoints.
// CHECK-LABEL: func.func @train_step
// CHECK: kiln.batch_norm_grad {{.*}} : tensor<4x0x3xf32>, tensor<0xf32>
// CHECK: return
func.func @forward(%x: tensor<4x0x3xf32> {kiln.name = "x", kiln.role = #kiln<role input>},
                   %g: tensor<0xf32> {kiln.name = "g", kiln.role = #kiln<role param>, kiln.init = #kiln<init ones>},
                   %be: tensor<0xf32> {kiln.name = "be", kiln.role = #kiln<role param>, kiln.init = #kiln<init zeros>},
                   %m: tensor<0xf32> {kiln.name = "m", kiln.role = #kiln<role buffer>, kiln.init = #kiln<init zeros>},
                   %v: tensor<0xf32> {kiln.name = "v", kiln.role = #kiln<role buffer>, kiln.init = #kiln<init ones>})
    -> (tensor<f32> {kiln.name = "loss", kiln.loss}) {
  %y, %nm, %nv = kiln.batch_norm %x, %g, %be, %m, %v {training} : tensor<4x0x3xf32>, tensor<0xf32>
  %l = kiln.reduce sum %y, dims = [0, 1, 2] : tensor<4x0x3xf32>
  %sm = kiln.reduce sum %nm, dims = [0] : tensor<0xf32>
  %sv = kiln.reduce sum %nv, dims = [0] : tensor<0xf32>
  %t = kiln.add %l, %sm : tensor<f32>
  %u = kiln.add %t, %sv : tensor<f32>
  return %u : tensor<f32>
}
