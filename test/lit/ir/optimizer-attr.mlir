// RUN: kiln-opt %s --split-input-file | FileCheck %s
// RUN: kiln-opt %s --split-input-file | kiln-opt --split-input-file | FileCheck %s

// Tests that each kind fills in PyTorch's defaults and prints its update
// rule's fields, and nothing that belongs to another kind.
// CHECK-LABEL: func.func @defaults
// CHECK-SAME: kiln.adam = #kiln.optimizer<adam, lr = 1.000000e-03, beta1 = 9.000000e-01, beta2 = 9.990000e-01, eps = 1.000000e-08, weight_decay = 0.000000e+00>
// CHECK-SAME: kiln.adamw = #kiln.optimizer<adamw, lr = 1.000000e-03, beta1 = 9.000000e-01, beta2 = 9.990000e-01, eps = 1.000000e-08, weight_decay = 1.000000e-02>
// CHECK-SAME: kiln.momentum = #kiln.optimizer<momentum, lr = 1.000000e-02, momentum = 9.000000e-01, weight_decay = 0.000000e+00>
// CHECK-SAME: kiln.nesterov = #kiln.optimizer<nesterov, lr = 1.000000e-02, momentum = 9.000000e-01, weight_decay = 0.000000e+00>
// CHECK-SAME: kiln.sgd = #kiln.optimizer<sgd, lr = 1.000000e-02, weight_decay = 0.000000e+00>
func.func @defaults() attributes {
    kiln.sgd = #kiln.optimizer<sgd>, kiln.momentum = #kiln.optimizer<momentum>,
    kiln.nesterov = #kiln.optimizer<nesterov>, kiln.adam = #kiln.optimizer<adam>,
    kiln.adamw = #kiln.optimizer<adamw>} {
  return
}

// -----

// Tests that fields in any order and every optional feature round-trip in
// the canonical order, and that numbers with more than 7 digits keep them.
// CHECK-LABEL: func.func @all_fields
// CHECK-SAME: kiln.optimizer = #kiln.optimizer<adam, lr = 1.23456789e-01, beta1 = 8.500000e-01, beta2 = 9.900000e-01, eps = 1.000000e-06, weight_decay = 5.000000e-04, clip_norm = 2.500000e+00, schedule = cosine, warmup_steps = 5, total_steps = 50, min_lr = 1.000000e-04>
func.func @all_fields() attributes {kiln.optimizer = #kiln.optimizer<adam,
    min_lr = 1.0e-4, total_steps = 50, schedule = cosine, warmup_steps = 5,
    clip_norm = 2.5, weight_decay = 5.0e-4, eps = 1.0e-6, beta2 = 0.99,
    beta1 = 0.85, lr = 0.123456789>} {
  return
}

// -----

// Tests that warmup alone keeps the constant schedule, and that the cosine
// schedule may leave total_steps to the driver (0 is not printed).
// CHECK-LABEL: func.func @schedules
// CHECK-SAME: kiln.cosine = #kiln.optimizer<sgd, lr = 5.000000e-01, weight_decay = 0.000000e+00, schedule = cosine>
// CHECK-SAME: kiln.warmup = #kiln.optimizer<momentum, lr = 1.000000e-02, momentum = 5.000000e-01, weight_decay = 0.000000e+00, warmup_steps = 3>
func.func @schedules() attributes {
    kiln.warmup = #kiln.optimizer<momentum, momentum = 0.5, warmup_steps = 3>,
    kiln.cosine = #kiln.optimizer<sgd, lr = 0.5, schedule = cosine>} {
  return
}

// -----

// Tests that integer literals are accepted for real-valued fields.
// CHECK-LABEL: func.func @integer_literals
// CHECK-SAME: kiln.optimizer = #kiln.optimizer<sgd, lr = 1.000000e+00, weight_decay = 0.000000e+00, clip_norm = 5.000000e+00>
func.func @integer_literals() attributes {kiln.optimizer = #kiln.optimizer<sgd, lr = 1, clip_norm = 5>} {
  return
}
