// RUN: kiln-opt %s --split-input-file --kiln-plan-memory | FileCheck %s
// RUN: kiln-opt %s --split-input-file --kiln-plan-memory=alignment=16 | FileCheck %s --check-prefix=ALIGN16

// Tests that arguments get buffers by role, packed in argument order at
// aligned offsets: params, state and the step counter in the persistent
// region, inputs (and arguments without a role) in the input region.
// CHECK-LABEL: func.func @arguments(
// CHECK-SAME: {kiln.buffer = #kiln.buffer<input, offset = 0, size = 64>, kiln.name = "x", kiln.role = #kiln<role input>}
// CHECK-SAME: {kiln.buffer = #kiln.buffer<persistent, offset = 0, size = 128>, kiln.name = "w", kiln.role = #kiln<role param>}
// CHECK-SAME: {kiln.buffer = #kiln.buffer<persistent, offset = 128, size = 128>, kiln.name = "w.m", kiln.role = #kiln<role opt_state>}
// CHECK-SAME: {kiln.buffer = #kiln.buffer<input, offset = 64, size = 64>}
// CHECK-SAME: {kiln.buffer = #kiln.buffer<persistent, offset = 256, size = 64>, kiln.name = "step", kiln.role = #kiln<role step>}
// CHECK-SAME: kiln.memory_plan = #kiln.memory_plan<arena = 64, lower_bound = 64, persistent = 320, input = 128, alignment = 64>
// CHECK: kiln.fusion loop(%arg0, %arg3) {buffers = [#kiln.buffer<arena, offset = 0, size = 64>]}
func.func @arguments(%x: tensor<16xf32> {kiln.name = "x", kiln.role = #kiln<role input>},
                     %w: tensor<32xf32> {kiln.name = "w", kiln.role = #kiln<role param>},
                     %m: tensor<32xf32> {kiln.name = "w.m", kiln.role = #kiln<role opt_state>},
                     %y: tensor<16xf32>,
                     %step: tensor<i64> {kiln.name = "step", kiln.role = #kiln<role step>})
    -> tensor<16xf32> {
  %0 = kiln.fusion loop(%x, %y) : (tensor<16xf32>, tensor<16xf32>) -> tensor<16xf32> {
  ^bb0(%a: tensor<16xf32>, %b: tensor<16xf32>):
    %1 = kiln.add %a, %b : tensor<16xf32>
    kiln.yield %1 : tensor<16xf32>
  }
  return %0 : tensor<16xf32>
}

// -----

// Tests that an elementwise chain runs in one arena buffer: each loop
// result is written over the operand that dies there.
// CHECK-LABEL: func.func @chain(
// CHECK-SAME: kiln.memory_plan = #kiln.memory_plan<arena = 64, lower_bound = 64, persistent = 0, input = 64, alignment = 64>
// CHECK: kiln.fusion loop(%arg0) {buffers = [#kiln.buffer<arena, offset = 0, size = 64>]}
// CHECK: kiln.fusion loop(%0) {buffers = [#kiln.buffer<arena, offset = 0, size = 64>]}
// CHECK: kiln.fusion loop(%1) {buffers = [#kiln.buffer<arena, offset = 0, size = 64>]}
func.func @chain(%x: tensor<16xf32> {kiln.name = "x", kiln.role = #kiln<role input>}) -> tensor<16xf32> {
  %0 = kiln.fusion loop(%x) : (tensor<16xf32>) -> tensor<16xf32> {
  ^bb0(%a: tensor<16xf32>):
    %1 = kiln.exp %a : tensor<16xf32>
    kiln.yield %1 : tensor<16xf32>
  }
  %2 = kiln.fusion loop(%0) : (tensor<16xf32>) -> tensor<16xf32> {
  ^bb0(%a: tensor<16xf32>):
    %3 = kiln.neg %a : tensor<16xf32>
    kiln.yield %3 : tensor<16xf32>
  }
  %4 = kiln.fusion loop(%2) : (tensor<16xf32>) -> tensor<16xf32> {
  ^bb0(%a: tensor<16xf32>):
    %5 = kiln.abs %a : tensor<16xf32>
    kiln.yield %5 : tensor<16xf32>
  }
  return %4 : tensor<16xf32>
}

// -----

// Tests that a parameter update marked kiln.updates is written in place
// into the parameter's persistent buffer when its fusion is the last to
// read the parameter, and that the loss stays in the arena.
// CHECK-LABEL: func.func @update_in_place(
// CHECK-SAME: kiln.memory_plan = #kiln.memory_plan<arena = 128, lower_bound = 128, persistent = 64, input = 64, alignment = 64>
// CHECK: kiln.fusion loop(%arg0, %arg1) {buffers = [#kiln.buffer<arena, offset = 0, size = 64>]}
// CHECK: kiln.fusion reduction(%0) {buffers = [#kiln.buffer<arena, offset = 64, size = 64>]}
// CHECK: kiln.fusion loop(%arg1, %arg0) {buffers = [#kiln.buffer<persistent, offset = 0, size = 64>]}
func.func @update_in_place(%x: tensor<16xf32> {kiln.name = "x", kiln.role = #kiln<role input>},
                           %w: tensor<16xf32> {kiln.name = "w", kiln.role = #kiln<role param>})
    -> (tensor<f32> {kiln.loss, kiln.name = "loss"},
        tensor<16xf32> {kiln.name = "w.updated", kiln.updates = "w"}) {
  %0 = kiln.fusion loop(%x, %w) : (tensor<16xf32>, tensor<16xf32>) -> tensor<16xf32> {
  ^bb0(%a: tensor<16xf32>, %b: tensor<16xf32>):
    %1 = kiln.mul %a, %b : tensor<16xf32>
    kiln.yield %1 : tensor<16xf32>
  }
  %2 = kiln.fusion reduction(%0) : (tensor<16xf32>) -> tensor<f32> {
  ^bb0(%a: tensor<16xf32>):
    %3 = kiln.reduce sum %a, dims = [0] : tensor<16xf32>
    kiln.yield %3 : tensor<f32>
  }
  %4 = kiln.fusion loop(%w, %x) : (tensor<16xf32>, tensor<16xf32>) -> tensor<16xf32> {
  ^bb0(%a: tensor<16xf32>, %b: tensor<16xf32>):
    %5 = kiln.sub %a, %b : tensor<16xf32>
    kiln.yield %5 : tensor<16xf32>
  }
  return %2, %4 : tensor<f32>, tensor<16xf32>
}

// -----

// Tests that an update cannot be written in place when a later fusion
// still reads the old parameter: it stays in the arena (live to the end)
// and the runtime copies it back.
// CHECK-LABEL: func.func @update_read_later(
// CHECK-SAME: kiln.memory_plan = #kiln.memory_plan<arena = 128, lower_bound = 128, persistent = 64, input = 64, alignment = 64>
// CHECK: kiln.fusion loop(%arg1, %arg0) {buffers = [#kiln.buffer<arena, offset = 0, size = 64>]}
// CHECK: kiln.fusion loop(%arg1, %arg0) {buffers = [#kiln.buffer<arena, offset = 64, size = 64>]}
func.func @update_read_later(%x: tensor<16xf32> {kiln.name = "x", kiln.role = #kiln<role input>},
                             %w: tensor<16xf32> {kiln.name = "w", kiln.role = #kiln<role param>})
    -> (tensor<16xf32> {kiln.name = "w.updated", kiln.updates = "w"},
        tensor<16xf32> {kiln.name = "y"}) {
  %0 = kiln.fusion loop(%w, %x) : (tensor<16xf32>, tensor<16xf32>) -> tensor<16xf32> {
  ^bb0(%a: tensor<16xf32>, %b: tensor<16xf32>):
    %1 = kiln.sub %a, %b : tensor<16xf32>
    kiln.yield %1 : tensor<16xf32>
  }
  %2 = kiln.fusion loop(%w, %x) : (tensor<16xf32>, tensor<16xf32>) -> tensor<16xf32> {
  ^bb0(%a: tensor<16xf32>, %b: tensor<16xf32>):
    %3 = kiln.mul %a, %b : tensor<16xf32>
    kiln.yield %3 : tensor<16xf32>
  }
  return %0, %2 : tensor<16xf32>, tensor<16xf32>
}

// -----

// Tests that a reduction result never takes its operand's buffer, even at
// equal sizes: a reduction reads many elements per element it writes.
// CHECK-LABEL: func.func @reduction_no_reuse(
// CHECK-SAME: kiln.memory_plan = #kiln.memory_plan<arena = 128, lower_bound = 128, persistent = 0, input = 64, alignment = 64>
// CHECK: kiln.fusion loop(%arg0) {buffers = [#kiln.buffer<arena, offset = 0, size = 64>]}
// CHECK: kiln.fusion reduction(%0) {buffers = [#kiln.buffer<arena, offset = 64, size = 64>]}
func.func @reduction_no_reuse(%x: tensor<16xf32> {kiln.name = "x", kiln.role = #kiln<role input>}) -> tensor<f32> {
  %0 = kiln.fusion loop(%x) : (tensor<16xf32>) -> tensor<16xf32> {
  ^bb0(%a: tensor<16xf32>):
    %1 = kiln.exp %a : tensor<16xf32>
    kiln.yield %1 : tensor<16xf32>
  }
  %2 = kiln.fusion reduction(%0) : (tensor<16xf32>) -> tensor<f32> {
  ^bb0(%a: tensor<16xf32>):
    %3 = kiln.reduce sum %a, dims = [0] : tensor<16xf32>
    kiln.yield %3 : tensor<f32>
  }
  return %2 : tensor<f32>
}

// -----

// Tests that a view shares its input's buffer (an arena value's, or an
// argument's in its region) and extends its interval: %0 stays live
// through its view's last use, so %3 cannot take its bytes.
// CHECK-LABEL: func.func @views(
// CHECK-SAME: kiln.memory_plan = #kiln.memory_plan<arena = 128, lower_bound = 128, persistent = 0, input = 64, alignment = 64>
// CHECK: kiln.fusion view(%arg0) {buffers = [#kiln.buffer<input, offset = 0, size = 64>]}
// CHECK: kiln.fusion loop(%0) {buffers = [#kiln.buffer<arena, offset = 0, size = 64>]}
// CHECK: kiln.fusion view(%1) {buffers = [#kiln.buffer<arena, offset = 0, size = 64>]}
// CHECK: kiln.fusion loop(%arg0) {buffers = [#kiln.buffer<arena, offset = 64, size = 64>]}
// CHECK: kiln.fusion loop(%2, %3) {buffers = [#kiln.buffer<arena, offset = 0, size = 64>]}
func.func @views(%x: tensor<16xf32> {kiln.name = "x", kiln.role = #kiln<role input>}) -> tensor<16xf32> {
  %0 = kiln.fusion view(%x) : (tensor<16xf32>) -> tensor<4x4xf32> {
  ^bb0(%a: tensor<16xf32>):
    %1 = kiln.reshape %a : tensor<16xf32> -> tensor<4x4xf32>
    kiln.yield %1 : tensor<4x4xf32>
  }
  %2 = kiln.fusion loop(%0) : (tensor<4x4xf32>) -> tensor<4x4xf32> {
  ^bb0(%a: tensor<4x4xf32>):
    %3 = kiln.exp %a : tensor<4x4xf32>
    kiln.yield %3 : tensor<4x4xf32>
  }
  %4 = kiln.fusion view(%2) : (tensor<4x4xf32>) -> tensor<16xf32> {
  ^bb0(%a: tensor<4x4xf32>):
    %5 = kiln.reshape %a : tensor<4x4xf32> -> tensor<16xf32>
    kiln.yield %5 : tensor<16xf32>
  }
  %6 = kiln.fusion loop(%x) : (tensor<16xf32>) -> tensor<16xf32> {
  ^bb0(%a: tensor<16xf32>):
    %7 = kiln.neg %a : tensor<16xf32>
    kiln.yield %7 : tensor<16xf32>
  }
  %8 = kiln.fusion loop(%4, %6) : (tensor<16xf32>, tensor<16xf32>) -> tensor<16xf32> {
  ^bb0(%a: tensor<16xf32>, %b: tensor<16xf32>):
    %9 = kiln.add %a, %b : tensor<16xf32>
    kiln.yield %9 : tensor<16xf32>
  }
  return %8 : tensor<16xf32>
}

// -----

// Tests that a returned value lives to the end: %0 is returned, so the
// later results cannot reuse its bytes, while %1's bytes pass to %2.
// CHECK-LABEL: func.func @returned(
// CHECK-SAME: kiln.memory_plan = #kiln.memory_plan<arena = 128, lower_bound = 128, persistent = 0, input = 64, alignment = 64>
// CHECK: kiln.fusion loop(%arg0) {buffers = [#kiln.buffer<arena, offset = 0, size = 64>]}
// CHECK: kiln.fusion loop(%0) {buffers = [#kiln.buffer<arena, offset = 64, size = 64>]}
// CHECK: kiln.fusion loop(%1) {buffers = [#kiln.buffer<arena, offset = 64, size = 64>]}
func.func @returned(%x: tensor<16xf32> {kiln.name = "x", kiln.role = #kiln<role input>})
    -> (tensor<16xf32>, tensor<16xf32>) {
  %0 = kiln.fusion loop(%x) : (tensor<16xf32>) -> tensor<16xf32> {
  ^bb0(%a: tensor<16xf32>):
    %1 = kiln.exp %a : tensor<16xf32>
    kiln.yield %1 : tensor<16xf32>
  }
  %2 = kiln.fusion loop(%0) : (tensor<16xf32>) -> tensor<16xf32> {
  ^bb0(%a: tensor<16xf32>):
    %3 = kiln.neg %a : tensor<16xf32>
    kiln.yield %3 : tensor<16xf32>
  }
  %4 = kiln.fusion loop(%2) : (tensor<16xf32>) -> tensor<16xf32> {
  ^bb0(%a: tensor<16xf32>):
    %5 = kiln.abs %a : tensor<16xf32>
    kiln.yield %5 : tensor<16xf32>
  }
  return %0, %4 : tensor<16xf32>, tensor<16xf32>
}

// -----

// Tests that sizes are the value's bytes rounded up to the alignment
// option (default 64): tensor<3xf32> (12 bytes) and tensor<5xf16> (10
// bytes) take one unit, tensor<32xf32> 128 bytes, and a 0-element tensor
// still one unit so that every value has its own address.
// CHECK-LABEL: func.func @sizes(
// CHECK-SAME: kiln.memory_plan = #kiln.memory_plan<arena = 256, lower_bound = 256, persistent = 0, input = 192, alignment = 64>
// CHECK: kiln.fusion loop(%arg0) {buffers = [#kiln.buffer<arena, offset = 0, size = 128>]}
// CHECK: kiln.fusion loop(%arg1) {buffers = [#kiln.buffer<arena, offset = 128, size = 64>]}
// CHECK: kiln.fusion loop(%arg0) {buffers = [#kiln.buffer<arena, offset = 192, size = 64>]}
// ALIGN16-LABEL: func.func @sizes(
// ALIGN16-SAME: {kiln.buffer = #kiln.buffer<input, offset = 0, size = 16>}
// ALIGN16-SAME: {kiln.buffer = #kiln.buffer<input, offset = 16, size = 16>}
// ALIGN16-SAME: {kiln.buffer = #kiln.buffer<input, offset = 32, size = 16>}
// ALIGN16-SAME: kiln.memory_plan = #kiln.memory_plan<arena = 160, lower_bound = 160, persistent = 0, input = 48, alignment = 16>
// ALIGN16: kiln.fusion loop(%arg0) {buffers = [#kiln.buffer<arena, offset = 0, size = 128>]}
// ALIGN16: kiln.fusion loop(%arg1) {buffers = [#kiln.buffer<arena, offset = 128, size = 16>]}
// ALIGN16: kiln.fusion loop(%arg0) {buffers = [#kiln.buffer<arena, offset = 144, size = 16>]}
func.func @sizes(%x: tensor<3xf32>, %e: tensor<0xf32>, %h: tensor<5xf16>)
    -> (tensor<32xf32>, tensor<0xf32>, tensor<3xf32>) {
  %0 = kiln.fusion loop(%x) : (tensor<3xf32>) -> tensor<32xf32> {
  ^bb0(%a: tensor<3xf32>):
    %1 = kiln.constant dense<1.0> : tensor<32xf32>
    kiln.yield %1 : tensor<32xf32>
  }
  %2 = kiln.fusion loop(%e) : (tensor<0xf32>) -> tensor<0xf32> {
  ^bb0(%a: tensor<0xf32>):
    %3 = kiln.neg %a : tensor<0xf32>
    kiln.yield %3 : tensor<0xf32>
  }
  %4 = kiln.fusion loop(%x) : (tensor<3xf32>) -> tensor<3xf32> {
  ^bb0(%a: tensor<3xf32>):
    %5 = kiln.exp %a : tensor<3xf32>
    kiln.yield %5 : tensor<3xf32>
  }
  return %0, %2, %4 : tensor<32xf32>, tensor<0xf32>, tensor<3xf32>
}
