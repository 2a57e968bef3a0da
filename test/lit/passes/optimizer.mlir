// RUN: kiln-opt %s --split-input-file --kiln-optimizer --verify-diagnostics | FileCheck %s

// Tests that sgd with weight decay adds wd*p to the gradient and steps
// against it with the constant lr (cast to f32, broadcast), adds no state
// and marks every result with kiln.updates.
// CHECK-LABEL: func.func @train_step(
// CHECK-SAME: %[[X:.*]]: tensor<2xf32> {kiln.name = "x", kiln.role = #kiln<role input>}
// CHECK-SAME: %[[W:.*]]: tensor<2xf32> {kiln.init = #kiln<init zeros>, kiln.name = "w", kiln.role = #kiln<role param>}
// CHECK-SAME: %{{.*}}: tensor<i64> {kiln.name = "step", kiln.role = #kiln<role step>})
// CHECK-SAME: -> (tensor<f32> {kiln.loss, kiln.name = "loss"}, tensor<2xf32> {kiln.name = "w.updated", kiln.updates = "w"})
// CHECK: %[[LOSS:.*]] = kiln.reduce sum
// CHECK: %[[LR:.*]] = kiln.constant dense<1.000000e-01> : tensor<f64>
// CHECK: %[[WD64:.*]] = kiln.constant dense<1.000000e-02> : tensor<f64>
// CHECK: %[[WD32:.*]] = kiln.cast %[[WD64]] : tensor<f64> -> tensor<f32>
// CHECK: %[[WD:.*]] = kiln.broadcast %[[WD32]], dims = [] : tensor<f32> -> tensor<2xf32>
// CHECK: %[[DECAY:.*]] = kiln.mul %[[WD]], %[[W]] : tensor<2xf32>
// CHECK: %[[G:.*]] = kiln.add %[[X]], %[[DECAY]] : tensor<2xf32>
// CHECK: %[[LR32:.*]] = kiln.cast %[[LR]] : tensor<f64> -> tensor<f32>
// CHECK: %[[LRB:.*]] = kiln.broadcast %[[LR32]], dims = [] : tensor<f32> -> tensor<2xf32>
// CHECK: %[[STEP:.*]] = kiln.mul %[[LRB]], %[[G]] : tensor<2xf32>
// CHECK: %[[NEW:.*]] = kiln.sub %[[W]], %[[STEP]] : tensor<2xf32>
// CHECK: return %[[LOSS]], %[[NEW]] : tensor<f32>, tensor<2xf32>
func.func @train_step(%x: tensor<2xf32> {kiln.name = "x", kiln.role = #kiln<role input>},
                      %w: tensor<2xf32> {kiln.name = "w", kiln.role = #kiln<role param>, kiln.init = #kiln<init zeros>},
                      %step: tensor<i64> {kiln.name = "step", kiln.role = #kiln<role step>})
    -> (tensor<f32> {kiln.loss, kiln.name = "loss"},
        tensor<2xf32> {kiln.grad_of = "w", kiln.name = "w.grad"})
    attributes {kiln.optimizer = #kiln.optimizer<sgd, lr = 0.1, weight_decay = 0.01>} {
  %0 = kiln.mul %w, %x : tensor<2xf32>
  %1 = kiln.reduce sum %0, dims = [0] : tensor<2xf32>
  return %1, %x : tensor<f32>, tensor<2xf32>
}

// -----

// Tests that momentum keeps one zero-initialized buffer per parameter,
// before the step counter: buf = buf*mu + g, p -= lr*buf.
// CHECK-LABEL: func.func @train_step(
// CHECK-SAME: %[[W:[^:]*]]: tensor<2xf64> {kiln.init = #kiln<init zeros>, kiln.name = "w", kiln.role = #kiln<role param>}
// CHECK-SAME: %[[BUF:[^:]*]]: tensor<2xf64> {kiln.init = #kiln<init zeros>, kiln.name = "w.momentum", kiln.role = #kiln<role opt_state>, kiln.state_of = "w"}
// CHECK-SAME: %{{.*}}: tensor<i64> {kiln.name = "step", kiln.role = #kiln<role step>})
// CHECK-SAME: -> (tensor<f64> {kiln.loss, kiln.name = "loss"}, tensor<2xf64> {kiln.name = "w.updated", kiln.updates = "w"}, tensor<2xf64> {kiln.name = "w.momentum.updated", kiln.updates = "w.momentum"})
// CHECK: %[[LOSS:.*]] = kiln.reduce sum
// CHECK: %[[LR:.*]] = kiln.constant dense<1.000000e-01> : tensor<f64>
// CHECK: %[[MU64:.*]] = kiln.constant dense<5.000000e-01> : tensor<f64>
// CHECK: %[[MU:.*]] = kiln.broadcast %[[MU64]], dims = [] : tensor<f64> -> tensor<2xf64>
// CHECK: %[[DECAYED:.*]] = kiln.mul %[[BUF]], %[[MU]] : tensor<2xf64>
// CHECK: %[[NEWBUF:.*]] = kiln.add %[[DECAYED]], %[[W]] : tensor<2xf64>
// CHECK: %[[LRB:.*]] = kiln.broadcast %[[LR]], dims = [] : tensor<f64> -> tensor<2xf64>
// CHECK: %[[STEP:.*]] = kiln.mul %[[LRB]], %[[NEWBUF]] : tensor<2xf64>
// CHECK: %[[NEW:.*]] = kiln.sub %[[W]], %[[STEP]] : tensor<2xf64>
// CHECK: return %[[LOSS]], %[[NEW]], %[[NEWBUF]]
func.func @train_step(%w: tensor<2xf64> {kiln.name = "w", kiln.role = #kiln<role param>, kiln.init = #kiln<init zeros>},
                      %step: tensor<i64> {kiln.name = "step", kiln.role = #kiln<role step>})
    -> (tensor<f64> {kiln.loss, kiln.name = "loss"},
        tensor<2xf64> {kiln.grad_of = "w", kiln.name = "w.grad"})
    attributes {kiln.optimizer = #kiln.optimizer<momentum, lr = 0.1, momentum = 0.5>} {
  %0 = kiln.reduce sum %w, dims = [0] : tensor<2xf64>
  return %0, %w : tensor<f64>, tensor<2xf64>
}

// -----

// Tests that nesterov steps along g + mu*buf.
// CHECK-LABEL: func.func @train_step(
// CHECK-SAME: %[[W:[^:]*]]: tensor<2xf64> {kiln.init = #kiln<init zeros>, kiln.name = "w", kiln.role = #kiln<role param>}
// CHECK-SAME: %[[BUF:[^:]*]]: tensor<2xf64> {kiln.init = #kiln<init zeros>, kiln.name = "w.momentum", kiln.role = #kiln<role opt_state>, kiln.state_of = "w"}
// CHECK: %[[MU64:.*]] = kiln.constant dense<5.000000e-01> : tensor<f64>
// CHECK: %[[MU:.*]] = kiln.broadcast %[[MU64]], dims = [] : tensor<f64> -> tensor<2xf64>
// CHECK: %[[DECAYED:.*]] = kiln.mul %[[BUF]], %[[MU]] : tensor<2xf64>
// CHECK: %[[NEWBUF:.*]] = kiln.add %[[DECAYED]], %[[W]] : tensor<2xf64>
// CHECK: %[[LOOK:.*]] = kiln.mul %[[MU]], %[[NEWBUF]] : tensor<2xf64>
// CHECK: %[[D:.*]] = kiln.add %[[W]], %[[LOOK]] : tensor<2xf64>
// CHECK: %[[LRB:.*]] = kiln.broadcast
// CHECK: %[[STEP:.*]] = kiln.mul %[[LRB]], %[[D]] : tensor<2xf64>
// CHECK: %[[NEW:.*]] = kiln.sub %[[W]], %[[STEP]] : tensor<2xf64>
// CHECK: return %{{.*}}, %[[NEW]], %[[NEWBUF]]
func.func @train_step(%w: tensor<2xf64> {kiln.name = "w", kiln.role = #kiln<role param>, kiln.init = #kiln<init zeros>},
                      %step: tensor<i64> {kiln.name = "step", kiln.role = #kiln<role step>})
    -> (tensor<f64> {kiln.loss, kiln.name = "loss"},
        tensor<2xf64> {kiln.grad_of = "w", kiln.name = "w.grad"})
    attributes {kiln.optimizer = #kiln.optimizer<nesterov, lr = 0.1, momentum = 0.5>} {
  %0 = kiln.reduce sum %w, dims = [0] : tensor<2xf64>
  return %0, %w : tensor<f64>, tensor<2xf64>
}

// -----

// Tests that adam keeps m and v per parameter (parameter by parameter),
// with L2 weight decay in the gradient, and bias corrections from step + 1:
// p -= ((lr / (1 - b1^t)) * m) / (sqrt(v) / sqrt(1 - b2^t) + eps).
// CHECK-LABEL: func.func @train_step(
// CHECK-SAME: %[[A:[^:]*]]: tensor<2xf64> {{{.*}}kiln.name = "a", kiln.role = #kiln<role param>}
// CHECK-SAME: %[[B:[^:]*]]: tensor<f64> {{{.*}}kiln.name = "b", kiln.role = #kiln<role param>}
// CHECK-SAME: %[[AM:[^:]*]]: tensor<2xf64> {kiln.init = #kiln<init zeros>, kiln.name = "a.m", kiln.role = #kiln<role opt_state>, kiln.state_of = "a"}
// CHECK-SAME: %[[AV:[^:]*]]: tensor<2xf64> {kiln.init = #kiln<init zeros>, kiln.name = "a.v", kiln.role = #kiln<role opt_state>, kiln.state_of = "a"}
// CHECK-SAME: %[[BM:[^:]*]]: tensor<f64> {kiln.init = #kiln<init zeros>, kiln.name = "b.m", kiln.role = #kiln<role opt_state>, kiln.state_of = "b"}
// CHECK-SAME: %[[BV:[^:]*]]: tensor<f64> {kiln.init = #kiln<init zeros>, kiln.name = "b.v", kiln.role = #kiln<role opt_state>, kiln.state_of = "b"}
// CHECK-SAME: %[[S:[^:]*]]: tensor<i64> {kiln.name = "step", kiln.role = #kiln<role step>})
// CHECK-SAME: -> (tensor<f64> {kiln.loss, kiln.name = "loss"}, tensor<2xf64> {kiln.name = "a.updated", kiln.updates = "a"}, tensor<f64> {kiln.name = "b.updated", kiln.updates = "b"}, tensor<2xf64> {kiln.name = "a.m.updated", kiln.updates = "a.m"}, tensor<2xf64> {kiln.name = "a.v.updated", kiln.updates = "a.v"}, tensor<f64> {kiln.name = "b.m.updated", kiln.updates = "b.m"}, tensor<f64> {kiln.name = "b.v.updated", kiln.updates = "b.v"})
// CHECK: %[[LR:.*]] = kiln.constant dense<1.000000e-02> : tensor<f64>
// CHECK: %[[ONE:.*]] = kiln.constant dense<1.000000e+00> : tensor<f64>
// CHECK: %[[SF:.*]] = kiln.cast %[[S]] : tensor<i64> -> tensor<f64>
// CHECK: %[[T:.*]] = kiln.add %[[SF]], %[[ONE]] : tensor<f64>
// CHECK: %[[B1:.*]] = kiln.constant dense<8.000000e-01> : tensor<f64>
// CHECK: %[[B1T:.*]] = kiln.pow %[[B1]], %[[T]] : tensor<f64>
// CHECK: %[[BC1:.*]] = kiln.sub %[[ONE]], %[[B1T]] : tensor<f64>
// CHECK: %[[B2:.*]] = kiln.constant dense<9.000000e-01> : tensor<f64>
// CHECK: %[[B2T:.*]] = kiln.pow %[[B2]], %[[T]] : tensor<f64>
// CHECK: %[[BC2:.*]] = kiln.sub %[[ONE]], %[[B2T]] : tensor<f64>
// CHECK: %[[SIZE:.*]] = kiln.div %[[LR]], %[[BC1]] : tensor<f64>
// CHECK: %[[BC2S:.*]] = kiln.sqrt %[[BC2]] : tensor<f64>
// CHECK: %[[WD64:.*]] = kiln.constant dense<1.000000e-01> : tensor<f64>
// CHECK: %[[WD:.*]] = kiln.broadcast %[[WD64]], dims = [] : tensor<f64> -> tensor<2xf64>
// CHECK: %[[DECAY:.*]] = kiln.mul %[[WD]], %[[A]] : tensor<2xf64>
// CHECK: %[[G:.*]] = kiln.add %[[A]], %[[DECAY]] : tensor<2xf64>
// CHECK: %[[OMB164:.*]] = kiln.constant dense<0.19999999999999996> : tensor<f64>
// CHECK: %[[OMB1:.*]] = kiln.broadcast %[[OMB164]], dims = [] : tensor<f64> -> tensor<2xf64>
// CHECK: %[[MG:.*]] = kiln.mul %[[OMB1]], %[[G]] : tensor<2xf64>
// CHECK: %[[B1A:.*]] = kiln.broadcast %[[B1]], dims = [] : tensor<f64> -> tensor<2xf64>
// CHECK: %[[MD:.*]] = kiln.mul %[[AM]], %[[B1A]] : tensor<2xf64>
// CHECK: %[[M:.*]] = kiln.add %[[MD]], %[[MG]] : tensor<2xf64>
// CHECK: %[[OMB264:.*]] = kiln.constant dense<0.099999999999999978> : tensor<f64>
// CHECK: %[[OMB2:.*]] = kiln.broadcast %[[OMB264]], dims = [] : tensor<f64> -> tensor<2xf64>
// CHECK: %[[VG:.*]] = kiln.mul %[[OMB2]], %[[G]] : tensor<2xf64>
// CHECK: %[[VGG:.*]] = kiln.mul %[[VG]], %[[G]] : tensor<2xf64>
// CHECK: %[[B2A:.*]] = kiln.broadcast %[[B2]], dims = [] : tensor<f64> -> tensor<2xf64>
// CHECK: %[[VD:.*]] = kiln.mul %[[AV]], %[[B2A]] : tensor<2xf64>
// CHECK: %[[V:.*]] = kiln.add %[[VD]], %[[VGG]] : tensor<2xf64>
// CHECK: %[[EPS64:.*]] = kiln.constant dense<9.9999999999999995E-7> : tensor<f64>
// CHECK: %[[EPS:.*]] = kiln.broadcast %[[EPS64]], dims = [] : tensor<f64> -> tensor<2xf64>
// CHECK: %[[BC2B:.*]] = kiln.broadcast %[[BC2S]], dims = [] : tensor<f64> -> tensor<2xf64>
// CHECK: %[[ROOT:.*]] = kiln.sqrt %[[V]] : tensor<2xf64>
// CHECK: %[[SCALED:.*]] = kiln.div %[[ROOT]], %[[BC2B]] : tensor<2xf64>
// CHECK: %[[DENOM:.*]] = kiln.add %[[SCALED]], %[[EPS]] : tensor<2xf64>
// CHECK: %[[SIZEB:.*]] = kiln.broadcast %[[SIZE]], dims = [] : tensor<f64> -> tensor<2xf64>
// CHECK: %[[NUM:.*]] = kiln.mul %[[SIZEB]], %[[M]] : tensor<2xf64>
// CHECK: %[[UPD:.*]] = kiln.div %[[NUM]], %[[DENOM]] : tensor<2xf64>
// CHECK: %[[NEWA:.*]] = kiln.sub %[[A]], %[[UPD]] : tensor<2xf64>
// The 0-d parameter uses the scalars as they are (no broadcast).
// CHECK: %[[BNUM:.*]] = kiln.mul %[[SIZE]], %[[NEWBM:.*]] : tensor<f64>
// CHECK: %[[BUPD:.*]] = kiln.div %[[BNUM]], %{{.*}} : tensor<f64>
// CHECK: %[[NEWB:.*]] = kiln.sub %[[B]], %[[BUPD]] : tensor<f64>
// CHECK: return %[[B]], %[[NEWA]], %[[NEWB]], %[[M]], %[[V]], %[[NEWBM]], %{{.*}} :
func.func @train_step(%a: tensor<2xf64> {kiln.name = "a", kiln.role = #kiln<role param>, kiln.init = #kiln<init zeros>},
                      %b: tensor<f64> {kiln.name = "b", kiln.role = #kiln<role param>, kiln.init = #kiln<init zeros>},
                      %step: tensor<i64> {kiln.name = "step", kiln.role = #kiln<role step>})
    -> (tensor<f64> {kiln.loss, kiln.name = "loss"},
        tensor<2xf64> {kiln.grad_of = "a", kiln.name = "a.grad"},
        tensor<f64> {kiln.grad_of = "b", kiln.name = "b.grad"})
    attributes {kiln.optimizer = #kiln.optimizer<adam, lr = 0.01, beta1 = 0.8, beta2 = 0.9, eps = 1.0e-6, weight_decay = 0.1>} {
  return %b, %a, %b : tensor<f64>, tensor<2xf64>, tensor<f64>
}

// -----

// Tests that adamw decays the parameter by 1 - lr*wd before the adam step
// and leaves the gradient alone.
// CHECK-LABEL: func.func @train_step(
// CHECK-SAME: %[[W:[^:]*]]: tensor<2xf64> {{{.*}}kiln.name = "w", kiln.role = #kiln<role param>}
// CHECK-SAME: %[[M:[^:]*]]: tensor<2xf64> {{{.*}}kiln.name = "w.m"
// CHECK-SAME: %[[V:[^:]*]]: tensor<2xf64> {{{.*}}kiln.name = "w.v"
// CHECK: %[[LR:.*]] = kiln.constant dense<1.000000e-02> : tensor<f64>
// CHECK: %[[ONE:.*]] = kiln.constant dense<1.000000e+00> : tensor<f64>
// CHECK: %[[SIZE:.*]] = kiln.div %[[LR]]
// The default weight decay of adamw, 0.01, is the same constant as lr.
// CHECK: %[[LRWD:.*]] = kiln.mul %[[LR]], %[[LR]] : tensor<f64>
// CHECK: %[[KEEP:.*]] = kiln.sub %[[ONE]], %[[LRWD]] : tensor<f64>
// CHECK: %[[KEEPB:.*]] = kiln.broadcast %[[KEEP]], dims = [] : tensor<f64> -> tensor<2xf64>
// CHECK: %[[DECAYED:.*]] = kiln.mul %[[W]], %[[KEEPB]] : tensor<2xf64>
// CHECK: %[[OMB164:.*]] = kiln.constant dense<0.099999999999999978> : tensor<f64>
// CHECK: %[[OMB1:.*]] = kiln.broadcast %[[OMB164]], dims = [] : tensor<f64> -> tensor<2xf64>
// CHECK: kiln.mul %[[OMB1]], %[[W]] : tensor<2xf64>
// CHECK: %[[NEWM:.*]] = kiln.add
// CHECK: %[[NEWV:.*]] = kiln.add
// CHECK: %[[NEW:.*]] = kiln.sub %[[DECAYED]], %{{.*}} : tensor<2xf64>
// CHECK: return %{{.*}}, %[[NEW]], %[[NEWM]], %[[NEWV]] :
func.func @train_step(%w: tensor<2xf64> {kiln.name = "w", kiln.role = #kiln<role param>, kiln.init = #kiln<init zeros>},
                      %step: tensor<i64> {kiln.name = "step", kiln.role = #kiln<role step>})
    -> (tensor<f64> {kiln.loss, kiln.name = "loss"},
        tensor<2xf64> {kiln.grad_of = "w", kiln.name = "w.grad"})
    attributes {kiln.optimizer = #kiln.optimizer<adamw, lr = 0.01>} {
  %0 = kiln.reduce sum %w, dims = [0] : tensor<2xf64>
  return %0, %w : tensor<f64>, tensor<2xf64>
}

// -----

// Tests that clipping scales every gradient by min(clip / (total + 1e-6), 1)
// with total the L2 norm over all gradients (accumulated in f64).
// CHECK-LABEL: func.func @train_step(
// CHECK-SAME: %[[A:[^:]*]]: tensor<2x3xf32>
// CHECK-SAME: %[[B:[^:]*]]: tensor<f32>
// CHECK: %[[ASQ:.*]] = kiln.mul %[[A]], %[[A]] : tensor<2x3xf32>
// CHECK: %[[ASUM:.*]] = kiln.reduce sum %[[ASQ]], dims = [0, 1] : tensor<2x3xf32>
// CHECK: %[[ASUM64:.*]] = kiln.cast %[[ASUM]] : tensor<f32> -> tensor<f64>
// CHECK: %[[BSQ:.*]] = kiln.mul %[[B]], %[[B]] : tensor<f32>
// CHECK: %[[BSQ64:.*]] = kiln.cast %[[BSQ]] : tensor<f32> -> tensor<f64>
// CHECK: %[[SUM:.*]] = kiln.add %[[ASUM64]], %[[BSQ64]] : tensor<f64>
// CHECK: %[[TOTAL:.*]] = kiln.sqrt %[[SUM]] : tensor<f64>
// CHECK: %[[ONE:.*]] = kiln.constant dense<1.000000e+00> : tensor<f64>
// CHECK: %[[TINY:.*]] = kiln.constant dense<9.9999999999999995E-7> : tensor<f64>
// CHECK: %[[GUARDED:.*]] = kiln.add %[[TOTAL]], %[[TINY]] : tensor<f64>
// CHECK: %[[CLIP:.*]] = kiln.constant dense<2.000000e+00> : tensor<f64>
// CHECK: %[[RATIO:.*]] = kiln.div %[[CLIP]], %[[GUARDED]] : tensor<f64>
// CHECK: %[[COEF:.*]] = kiln.minimum %[[RATIO]], %[[ONE]] : tensor<f64>
// CHECK: %[[COEF32:.*]] = kiln.cast %[[COEF]] : tensor<f64> -> tensor<f32>
// CHECK: %[[COEFB:.*]] = kiln.broadcast %[[COEF32]], dims = [] : tensor<f32> -> tensor<2x3xf32>
// CHECK: %[[GA:.*]] = kiln.mul %[[A]], %[[COEFB]] : tensor<2x3xf32>
// CHECK: %[[GB:.*]] = kiln.mul %[[B]], %[[COEF32]] : tensor<f32>
// CHECK: kiln.mul %{{.*}}, %[[GA]] : tensor<2x3xf32>
// CHECK: kiln.mul %{{.*}}, %[[GB]] : tensor<f32>
func.func @train_step(%a: tensor<2x3xf32> {kiln.name = "a", kiln.role = #kiln<role param>, kiln.init = #kiln<init zeros>},
                      %b: tensor<f32> {kiln.name = "b", kiln.role = #kiln<role param>, kiln.init = #kiln<init zeros>},
                      %step: tensor<i64> {kiln.name = "step", kiln.role = #kiln<role step>})
    -> (tensor<f32> {kiln.loss, kiln.name = "loss"},
        tensor<2x3xf32> {kiln.grad_of = "a", kiln.name = "a.grad"},
        tensor<f32> {kiln.grad_of = "b", kiln.name = "b.grad"})
    attributes {kiln.optimizer = #kiln.optimizer<sgd, lr = 0.1, clip_norm = 2.0>} {
  return %b, %a, %b : tensor<f32>, tensor<2x3xf32>, tensor<f32>
}

// -----

// Tests that a linear warmup multiplies lr by min((step + 1) / W, 1).
// CHECK-LABEL: func.func @train_step(
// CHECK-SAME: %[[W:[^:]*]]: tensor<2xf64>
// CHECK-SAME: %[[S:[^:]*]]: tensor<i64> {kiln.name = "step"
// CHECK: %[[LR:.*]] = kiln.constant dense<1.000000e-01> : tensor<f64>
// CHECK: %[[WARM:.*]] = kiln.constant dense<4.000000e+00> : tensor<f64>
// CHECK: %[[ONE:.*]] = kiln.constant dense<1.000000e+00> : tensor<f64>
// CHECK: %[[SF:.*]] = kiln.cast %[[S]] : tensor<i64> -> tensor<f64>
// CHECK: %[[S1:.*]] = kiln.add %[[SF]], %[[ONE]] : tensor<f64>
// CHECK: %[[FRAC:.*]] = kiln.div %[[S1]], %[[WARM]] : tensor<f64>
// CHECK: %[[RAMP:.*]] = kiln.minimum %[[FRAC]], %[[ONE]] : tensor<f64>
// CHECK: %[[LRT:.*]] = kiln.mul %[[LR]], %[[RAMP]] : tensor<f64>
// CHECK: %[[LRB:.*]] = kiln.broadcast %[[LRT]], dims = [] : tensor<f64> -> tensor<2xf64>
// CHECK: kiln.mul %[[LRB]], %[[W]] : tensor<2xf64>
func.func @train_step(%w: tensor<2xf64> {kiln.name = "w", kiln.role = #kiln<role param>, kiln.init = #kiln<init zeros>},
                      %step: tensor<i64> {kiln.name = "step", kiln.role = #kiln<role step>})
    -> (tensor<f64> {kiln.loss, kiln.name = "loss"},
        tensor<2xf64> {kiln.grad_of = "w", kiln.name = "w.grad"})
    attributes {kiln.optimizer = #kiln.optimizer<sgd, lr = 0.1, warmup_steps = 4>} {
  %0 = kiln.reduce sum %w, dims = [0] : tensor<2xf64>
  return %0, %w : tensor<f64>, tensor<2xf64>
}

// -----

// Tests that the cosine schedule decays from lr to min_lr over
// [warmup, total): min_lr + ((lr - min_lr) * 0.5) * (1 + cos(pi * clamp((s - W) / (T - W), 0, 1))),
// times the warmup ramp.
// CHECK-LABEL: func.func @train_step(
// CHECK-SAME: %[[W:[^:]*]]: tensor<2xf64>
// CHECK-SAME: %[[S:[^:]*]]: tensor<i64> {kiln.name = "step"
// CHECK: %[[SPAN:.*]] = kiln.constant dense<8.000000e+00> : tensor<f64>
// CHECK: %[[WARM:.*]] = kiln.constant dense<2.000000e+00> : tensor<f64>
// CHECK: %[[SF:.*]] = kiln.cast %[[S]] : tensor<i64> -> tensor<f64>
// CHECK: %[[SINCE:.*]] = kiln.sub %[[SF]], %[[WARM]] : tensor<f64>
// CHECK: %[[P:.*]] = kiln.div %[[SINCE]], %[[SPAN]] : tensor<f64>
// CHECK: %[[ONE:.*]] = kiln.constant dense<1.000000e+00> : tensor<f64>
// CHECK: %[[ZERO:.*]] = kiln.constant dense<0.000000e+00> : tensor<f64>
// CHECK: %[[P0:.*]] = kiln.maximum %[[P]], %[[ZERO]] : tensor<f64>
// CHECK: %[[P01:.*]] = kiln.minimum %[[P0]], %[[ONE]] : tensor<f64>
// CHECK: %[[PI:.*]] = kiln.constant dense<3.1415926535897931> : tensor<f64>
// CHECK: %[[ANGLE:.*]] = kiln.mul %[[PI]], %[[P01]] : tensor<f64>
// CHECK: %[[COS:.*]] = kiln.cos %[[ANGLE]] : tensor<f64>
// CHECK: %[[SHIFTED:.*]] = kiln.add %[[ONE]], %[[COS]] : tensor<f64>
// CHECK: %[[HALF:.*]] = kiln.constant dense<2.000000e-01> : tensor<f64>
// CHECK: %[[SCALED:.*]] = kiln.mul %[[HALF]], %[[SHIFTED]] : tensor<f64>
// CHECK: %[[MIN:.*]] = kiln.constant dense<1.000000e-01> : tensor<f64>
// CHECK: %[[BASE:.*]] = kiln.add %[[MIN]], %[[SCALED]] : tensor<f64>
// CHECK: %[[S1:.*]] = kiln.add %[[SF]], %[[ONE]] : tensor<f64>
// CHECK: %[[FRAC:.*]] = kiln.div %[[S1]], %[[WARM]] : tensor<f64>
// CHECK: %[[RAMP:.*]] = kiln.minimum %[[FRAC]], %[[ONE]] : tensor<f64>
// CHECK: %[[LRT:.*]] = kiln.mul %[[BASE]], %[[RAMP]] : tensor<f64>
// CHECK: kiln.broadcast %[[LRT]], dims = [] : tensor<f64> -> tensor<2xf64>
func.func @train_step(%w: tensor<2xf64> {kiln.name = "w", kiln.role = #kiln<role param>, kiln.init = #kiln<init zeros>},
                      %step: tensor<i64> {kiln.name = "step", kiln.role = #kiln<role step>})
    -> (tensor<f64> {kiln.loss, kiln.name = "loss"},
        tensor<2xf64> {kiln.grad_of = "w", kiln.name = "w.grad"})
    attributes {kiln.optimizer = #kiln.optimizer<sgd, lr = 0.5, schedule = cosine, warmup_steps = 2, total_steps = 10, min_lr = 0.1>} {
  %0 = kiln.reduce sum %w, dims = [0] : tensor<2xf64>
  return %0, %w : tensor<f64>, tensor<2xf64>
}

// -----

// Tests that a parameter without gradient (kiln.no_gradient) and its state
// come back unchanged and stay out of the clipping norm, and that buffer
// updates and inputs pass through.
// CHECK-LABEL: func.func @train_step(
// CHECK-SAME: %[[X:[^:]*]]: tensor<2xf64> {kiln.name = "x", kiln.role = #kiln<role input>}
// CHECK-SAME: %[[W:[^:]*]]: tensor<2xf64> {{{.*}}kiln.name = "w", kiln.role = #kiln<role param>}
// CHECK-SAME: %[[U:[^:]*]]: tensor<3xf64> {{{.*}}kiln.name = "u", kiln.role = #kiln<role param>}
// CHECK-SAME: %[[N:[^:]*]]: tensor<2xf64> {{{.*}}kiln.name = "n", kiln.role = #kiln<role buffer>}
// CHECK-SAME: %[[WB:[^:]*]]: tensor<2xf64> {{{.*}}kiln.name = "w.momentum", kiln.role = #kiln<role opt_state>, kiln.state_of = "w"}
// CHECK-SAME: %[[UB:[^:]*]]: tensor<3xf64> {{{.*}}kiln.name = "u.momentum", kiln.role = #kiln<role opt_state>, kiln.state_of = "u"}
// CHECK-SAME: -> (tensor<f64> {kiln.loss, kiln.name = "loss"}, tensor<2xf64> {kiln.name = "w.updated", kiln.updates = "w"}, tensor<3xf64> {kiln.name = "u.updated", kiln.updates = "u"}, tensor<2xf64> {kiln.name = "n.updated", kiln.updates = "n"}, tensor<2xf64> {kiln.name = "w.momentum.updated", kiln.updates = "w.momentum"}, tensor<3xf64> {kiln.name = "u.momentum.updated", kiln.updates = "u.momentum"})
// CHECK-NOT: tensor<3xf64>
// CHECK: %[[NEWN:.*]] = kiln.add %[[N]], %[[X]] : tensor<2xf64>
// CHECK: %[[SQ:.*]] = kiln.mul %[[X]], %[[X]] : tensor<2xf64>
// CHECK: %[[SUM:.*]] = kiln.reduce sum %[[SQ]], dims = [0] : tensor<2xf64>
// CHECK: %[[TOTAL:.*]] = kiln.sqrt %[[SUM]] : tensor<f64>
// CHECK-NOT: tensor<3xf64>
// CHECK: %[[NEWW:.*]] = kiln.sub %[[W]], %{{.*}} : tensor<2xf64>
// CHECK-NEXT: return %{{.*}}, %[[NEWW]], %[[U]], %[[NEWN]], %{{.*}}, %[[UB]] :
func.func @train_step(%x: tensor<2xf64> {kiln.name = "x", kiln.role = #kiln<role input>},
                      %w: tensor<2xf64> {kiln.name = "w", kiln.role = #kiln<role param>, kiln.init = #kiln<init zeros>},
                      %u: tensor<3xf64> {kiln.name = "u", kiln.role = #kiln<role param>, kiln.init = #kiln<init zeros>},
                      %n: tensor<2xf64> {kiln.name = "n", kiln.role = #kiln<role buffer>, kiln.init = #kiln<init zeros>},
                      %step: tensor<i64> {kiln.name = "step", kiln.role = #kiln<role step>})
    -> (tensor<f64> {kiln.loss, kiln.name = "loss"},
        tensor<2xf64> {kiln.grad_of = "w", kiln.name = "w.grad"},
        tensor<3xf64> {kiln.grad_of = "u", kiln.name = "u.grad", kiln.no_gradient},
        tensor<2xf64> {kiln.name = "n.updated", kiln.updates = "n"})
    attributes {kiln.optimizer = #kiln.optimizer<momentum, lr = 0.1, clip_norm = 1.0>} {
  %0 = kiln.mul %w, %x : tensor<2xf64>
  %1 = kiln.reduce sum %0, dims = [0] : tensor<2xf64>
  %z = kiln.constant dense<0.0> : tensor<3xf64>
  %2 = kiln.add %n, %x : tensor<2xf64>
  return %1, %x, %z, %2 : tensor<f64>, tensor<2xf64>, tensor<3xf64>, tensor<2xf64>
}

// -----

// Tests that a module without @train_step is rejected.
// expected-error @+1 {{kiln-optimizer: expected a func.func @train_step in gradient form (run --kiln-autodiff first)}}
module {
  func.func @forward(%x: tensor<2xf64> {kiln.name = "x", kiln.role = #kiln<role input>}) -> tensor<2xf64> {
    return %x : tensor<2xf64>
  }
}

// -----

// Tests that @train_step needs an optimizer.
// expected-error @+1 {{kiln-optimizer: @train_step has no kiln.optimizer; the model needs a train clause (train with adam(...))}}
func.func @train_step(%w: tensor<2xf64> {kiln.name = "w", kiln.role = #kiln<role param>, kiln.init = #kiln<init zeros>},
                      %step: tensor<i64> {kiln.name = "step", kiln.role = #kiln<role step>})
    -> (tensor<f64> {kiln.loss, kiln.name = "loss"},
        tensor<2xf64> {kiln.grad_of = "w", kiln.name = "w.grad"}) {
  %0 = kiln.reduce sum %w, dims = [0] : tensor<2xf64>
  return %0, %w : tensor<f64>, tensor<2xf64>
}

// -----

// Tests that a loose optimizer attribute is rejected.
// expected-error @+1 {{kiln-optimizer: @train_step's kiln.optimizer is "adam", expected a #kiln.optimizer<...>}}
func.func @train_step(%w: tensor<2xf64> {kiln.name = "w", kiln.role = #kiln<role param>, kiln.init = #kiln<init zeros>},
                      %step: tensor<i64> {kiln.name = "step", kiln.role = #kiln<role step>})
    -> (tensor<f64> {kiln.loss, kiln.name = "loss"},
        tensor<2xf64> {kiln.grad_of = "w", kiln.name = "w.grad"})
    attributes {kiln.optimizer = "adam"} {
  %0 = kiln.reduce sum %w, dims = [0] : tensor<2xf64>
  return %0, %w : tensor<f64>, tensor<2xf64>
}

// -----

// Tests that the cosine schedule needs total_steps from the model or the
// total-steps option.
// expected-error @+1 {{kiln-optimizer: the cosine schedule of @train_step needs total_steps: give it in the train clause or as --kiln-optimizer="total-steps=N"}}
func.func @train_step(%w: tensor<2xf64> {kiln.name = "w", kiln.role = #kiln<role param>, kiln.init = #kiln<init zeros>},
                      %step: tensor<i64> {kiln.name = "step", kiln.role = #kiln<role step>})
    -> (tensor<f64> {kiln.loss, kiln.name = "loss"},
        tensor<2xf64> {kiln.grad_of = "w", kiln.name = "w.grad"})
    attributes {kiln.optimizer = #kiln.optimizer<sgd, schedule = cosine>} {
  %0 = kiln.reduce sum %w, dims = [0] : tensor<2xf64>
  return %0, %w : tensor<f64>, tensor<2xf64>
}

// -----

// Tests that a gradient must follow its parameter's order and name.
// expected-error @+1 {{kiln-optimizer: @train_step is not in gradient form: result #1 should be the gradient of parameter 'a' of type 'tensor<2xf64>' (kiln.grad_of = "a"), found a result of type 'tensor<2xf64>' with {kiln.grad_of = "b", kiln.name = "b.grad"}}}
func.func @train_step(%a: tensor<2xf64> {kiln.name = "a", kiln.role = #kiln<role param>, kiln.init = #kiln<init zeros>},
                      %b: tensor<2xf64> {kiln.name = "b", kiln.role = #kiln<role param>, kiln.init = #kiln<init zeros>},
                      %step: tensor<i64> {kiln.name = "step", kiln.role = #kiln<role step>})
    -> (tensor<f64> {kiln.loss, kiln.name = "loss"},
        tensor<2xf64> {kiln.grad_of = "b", kiln.name = "b.grad"},
        tensor<2xf64> {kiln.grad_of = "a", kiln.name = "a.grad"})
    attributes {kiln.optimizer = #kiln.optimizer<sgd>} {
  %0 = kiln.reduce sum %a, dims = [0] : tensor<2xf64>
  return %0, %b, %a : tensor<f64>, tensor<2xf64>, tensor<2xf64>
}

// -----

// Tests that every parameter needs a gradient result.
// expected-error @+1 {{kiln-optimizer: @train_step is not in gradient form: expected the loss (kiln.loss) and 1 gradients as its first 2 results}}
func.func @train_step(%w: tensor<2xf64> {kiln.name = "w", kiln.role = #kiln<role param>, kiln.init = #kiln<init zeros>},
                      %step: tensor<i64> {kiln.name = "step", kiln.role = #kiln<role step>})
    -> (tensor<f64> {kiln.loss, kiln.name = "loss"})
    attributes {kiln.optimizer = #kiln.optimizer<sgd>} {
  %0 = kiln.reduce sum %w, dims = [0] : tensor<2xf64>
  return %0 : tensor<f64>
}

// -----

// Tests that a result after the gradients must update a buffer.
// expected-error @+1 {{kiln-optimizer: @train_step is not in gradient form: result #2 should update a buffer (kiln.updates), found {kiln.name = "logits"}}}
func.func @train_step(%w: tensor<2xf64> {kiln.name = "w", kiln.role = #kiln<role param>, kiln.init = #kiln<init zeros>},
                      %step: tensor<i64> {kiln.name = "step", kiln.role = #kiln<role step>})
    -> (tensor<f64> {kiln.loss, kiln.name = "loss"},
        tensor<2xf64> {kiln.grad_of = "w", kiln.name = "w.grad"},
        tensor<2xf64> {kiln.name = "logits"})
    attributes {kiln.optimizer = #kiln.optimizer<sgd>} {
  %0 = kiln.reduce sum %w, dims = [0] : tensor<2xf64>
  return %0, %w, %w : tensor<f64>, tensor<2xf64>, tensor<2xf64>
}

// -----

// Tests that the step counter must be the last argument.
// expected-error @+1 {{kiln-optimizer: @train_step is not in gradient form: expected the step counter (kiln.role = #kiln<role step>) as the last argument, found 'step' with role #kiln<role step> at #0}}
func.func @train_step(%step: tensor<i64> {kiln.name = "step", kiln.role = #kiln<role step>},
                      %w: tensor<2xf64> {kiln.name = "w", kiln.role = #kiln<role param>, kiln.init = #kiln<init zeros>})
    -> (tensor<f64> {kiln.loss, kiln.name = "loss"},
        tensor<2xf64> {kiln.grad_of = "w", kiln.name = "w.grad"})
    attributes {kiln.optimizer = #kiln.optimizer<sgd>} {
  %0 = kiln.reduce sum %w, dims = [0] : tensor<2xf64>
  return %0, %w : tensor<f64>, tensor<2xf64>
}

// -----

// Tests that a step that already has optimizer state (the pass ran) is
// rejected.
// expected-error @+1 {{kiln-optimizer: @train_step is not in gradient form: argument 'w.momentum' is already optimizer state (did --kiln-optimizer run twice?)}}
func.func @train_step(%w: tensor<2xf64> {kiln.name = "w", kiln.role = #kiln<role param>, kiln.init = #kiln<init zeros>},
                      %buf: tensor<2xf64> {kiln.name = "w.momentum", kiln.role = #kiln<role opt_state>, kiln.init = #kiln<init zeros>, kiln.state_of = "w"},
                      %step: tensor<i64> {kiln.name = "step", kiln.role = #kiln<role step>})
    -> (tensor<f64> {kiln.loss, kiln.name = "loss"},
        tensor<2xf64> {kiln.name = "w.updated", kiln.updates = "w"},
        tensor<2xf64> {kiln.name = "w.momentum.updated", kiln.updates = "w.momentum"})
    attributes {kiln.optimizer = #kiln.optimizer<momentum>} {
  %0 = kiln.reduce sum %w, dims = [0] : tensor<2xf64>
  return %0, %w, %buf : tensor<f64>, tensor<2xf64>, tensor<2xf64>
}

// -----

// Tests that only float parameters can be trained.
// expected-error @+1 {{kiln-optimizer: parameter 'k' has type 'tensor<2xi64>': only float parameters can be trained}}
func.func @train_step(%k: tensor<2xi64> {kiln.name = "k", kiln.role = #kiln<role param>, kiln.init = #kiln<init zeros>},
                      %step: tensor<i64> {kiln.name = "step", kiln.role = #kiln<role step>})
    -> (tensor<f64> {kiln.loss, kiln.name = "loss"},
        tensor<2xi64> {kiln.grad_of = "k", kiln.name = "k.grad"})
    attributes {kiln.optimizer = #kiln.optimizer<sgd>} {
  %0 = kiln.constant dense<0.0> : tensor<f64>
  return %0, %k : tensor<f64>, tensor<2xi64>
}

// -----

// Tests that a state name may not collide with an argument's.
// expected-error @+1 {{kiln-optimizer: the state 'w.m' of parameter 'w' would reuse the name of an argument}}
func.func @train_step(%w: tensor<2xf64> {kiln.name = "w", kiln.role = #kiln<role param>, kiln.init = #kiln<init zeros>},
                      %x: tensor<2xf64> {kiln.name = "w.m", kiln.role = #kiln<role input>},
                      %step: tensor<i64> {kiln.name = "step", kiln.role = #kiln<role step>})
    -> (tensor<f64> {kiln.loss, kiln.name = "loss"},
        tensor<2xf64> {kiln.grad_of = "w", kiln.name = "w.grad"})
    attributes {kiln.optimizer = #kiln.optimizer<adam>} {
  %0 = kiln.reduce sum %w, dims = [0] : tensor<2xf64>
  return %0, %x : tensor<f64>, tensor<2xf64>
}

// -----

// Tests that a buffer update named like a parameter's update ('<param>.updated')
// is an error naming the result, not two results of one name.
// expected-error @+1 {{kiln-optimizer: @train_step would have two results named 'w.updated' (an update is named '<arg>.updated'); rename the @forward result}}
func.func @train_step(%w: tensor<2xf64> {kiln.name = "w", kiln.role = #kiln<role param>, kiln.init = #kiln<init zeros>},
                      %c: tensor<2xf64> {kiln.name = "c", kiln.role = #kiln<role buffer>, kiln.init = #kiln<init zeros>},
                      %step: tensor<i64> {kiln.name = "step", kiln.role = #kiln<role step>})
    -> (tensor<f64> {kiln.loss, kiln.name = "loss"},
        tensor<2xf64> {kiln.grad_of = "w", kiln.name = "w.grad"},
        tensor<2xf64> {kiln.name = "w.updated", kiln.updates = "c"})
    attributes {kiln.optimizer = #kiln.optimizer<sgd>} {
  %0 = kiln.reduce sum %w, dims = [0] : tensor<2xf64>
  return %0, %w, %c : tensor<f64>, tensor<2xf64>, tensor<2xf64>
}
