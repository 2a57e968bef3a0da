// RUN: kiln-opt %s --split-input-file --verify-diagnostics

// Tests that lr must be positive.
// expected-error @+1 {{invalid #kiln.optimizer: lr must be a finite number > 0, found 0}}
func.func @f() attributes {kiln.optimizer = #kiln.optimizer<sgd, lr = 0.0>}

// -----

// Tests that momentum belongs to momentum and nesterov.
// expected-error @+1 {{invalid #kiln.optimizer: momentum applies only to the momentum and nesterov optimizers, found momentum = 0.9 for adam}}
func.func @f() attributes {kiln.optimizer = #kiln.optimizer<adam, momentum = 0.9>}

// -----

// Tests that momentum lies in [0, 1).
// expected-error @+1 {{invalid #kiln.optimizer: momentum must be in [0, 1), found 1}}
func.func @f() attributes {kiln.optimizer = #kiln.optimizer<momentum, momentum = 1.0>}

// -----

// Tests that nesterov needs a momentum.
// expected-error @+1 {{invalid #kiln.optimizer: nesterov needs momentum in (0, 1), found 0}}
func.func @f() attributes {kiln.optimizer = #kiln.optimizer<nesterov, momentum = 0.0>}

// -----

// Tests that beta1 belongs to adam and adamw.
// expected-error @+1 {{invalid #kiln.optimizer: beta1 applies only to adam and adamw, found beta1 = 0.9 for sgd}}
func.func @f() attributes {kiln.optimizer = #kiln.optimizer<sgd, beta1 = 0.9>}

// -----

// Tests that beta2 lies in [0, 1).
// expected-error @+1 {{invalid #kiln.optimizer: beta2 must be in [0, 1), found -0.5}}
func.func @f() attributes {kiln.optimizer = #kiln.optimizer<adamw, beta2 = -0.5>}

// -----

// Tests that eps belongs to adam and adamw.
// expected-error @+1 {{invalid #kiln.optimizer: eps applies only to adam and adamw, found eps = 1e-08 for nesterov}}
func.func @f() attributes {kiln.optimizer = #kiln.optimizer<nesterov, eps = 1.0e-8>}

// -----

// Tests that eps must be positive.
// expected-error @+1 {{invalid #kiln.optimizer: eps must be a finite number > 0, found 0}}
func.func @f() attributes {kiln.optimizer = #kiln.optimizer<adam, eps = 0.0>}

// -----

// Tests that weight_decay must not be negative.
// expected-error @+1 {{invalid #kiln.optimizer: weight_decay must be a finite number >= 0, found -0.01}}
func.func @f() attributes {kiln.optimizer = #kiln.optimizer<adamw, weight_decay = -0.01>}

// -----

// Tests that clip_norm must not be negative.
// expected-error @+1 {{invalid #kiln.optimizer: clip_norm must be a finite number >= 0 (0 turns clipping off), found -1}}
func.func @f() attributes {kiln.optimizer = #kiln.optimizer<sgd, clip_norm = -1.0>}

// -----

// Tests that warmup_steps must not be negative.
// expected-error @+1 {{invalid #kiln.optimizer: warmup_steps must be >= 0, found -2}}
func.func @f() attributes {kiln.optimizer = #kiln.optimizer<sgd, warmup_steps = -2>}

// -----

// Tests that total_steps belongs to the cosine schedule.
// expected-error @+1 {{invalid #kiln.optimizer: total_steps applies only to the cosine schedule, found total_steps = 100 with schedule = constant}}
func.func @f() attributes {kiln.optimizer = #kiln.optimizer<sgd, total_steps = 100>}

// -----

// Tests that total_steps must not be negative.
// expected-error @+1 {{invalid #kiln.optimizer: total_steps must be >= 0, found -1}}
func.func @f() attributes {kiln.optimizer = #kiln.optimizer<sgd, schedule = cosine, total_steps = -1>}

// -----

// Tests that the cosine schedule decays after the warmup.
// expected-error @+1 {{invalid #kiln.optimizer: the cosine schedule needs total_steps > warmup_steps, found total_steps = 10 and warmup_steps = 20}}
func.func @f() attributes {kiln.optimizer = #kiln.optimizer<sgd, schedule = cosine, warmup_steps = 20, total_steps = 10>}

// -----

// Tests that min_lr belongs to the cosine schedule.
// expected-error @+1 {{invalid #kiln.optimizer: min_lr applies only to the cosine schedule, found min_lr = 0.001 with schedule = constant}}
func.func @f() attributes {kiln.optimizer = #kiln.optimizer<sgd, min_lr = 1.0e-3>}

// -----

// Tests that min_lr lies below lr.
// expected-error @+1 {{invalid #kiln.optimizer: min_lr must be in [0, lr] = [0, 0.01], found 0.1}}
func.func @f() attributes {kiln.optimizer = #kiln.optimizer<sgd, schedule = cosine, min_lr = 0.1>}

// -----

// Tests that an unknown kind lists the kinds.
// expected-error @+1 {{unknown optimizer 'adagrad'; expected one of sgd, momentum, nesterov, adam, adamw}}
func.func @f() attributes {kiln.optimizer = #kiln.optimizer<adagrad>}

// -----

// Tests that an unknown field lists the fields.
// expected-error @+1 {{unknown field 'betas' of #kiln.optimizer; expected one of lr, momentum, beta1, beta2, eps, weight_decay, clip_norm, schedule, warmup_steps, total_steps, min_lr}}
func.func @f() attributes {kiln.optimizer = #kiln.optimizer<adam, betas = 0.9>}

// -----

// Tests that a field is given once.
// expected-error @+1 {{field 'lr' is given twice}}
func.func @f() attributes {kiln.optimizer = #kiln.optimizer<adam, lr = 0.1, lr = 0.2>}

// -----

// Tests that an unknown schedule lists the schedules.
// expected-error @+1 {{unknown schedule 'linear'; expected constant or cosine}}
func.func @f() attributes {kiln.optimizer = #kiln.optimizer<sgd, schedule = linear>}
