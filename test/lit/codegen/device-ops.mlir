// Tests the kernels of ops and shapes the examples do not make, on the host
// device against the reference interpreter (same seed, same inputs): a
// log_softmax composite and its gradient, softmax over a leading dim,
// reductions (max with keep_dims, mean over everything, min over the
// leading dim, prod), argmax over the leading dim, concat, compare/select/
// cast, constants (a splat and a table), iota, dropout and rng (Philox:
// bit-identical streams), a pad and a transpose.
// RUN: rm -rf %t && mkdir -p %t
// RUN: kiln run %s --device reference --seed 3 --output-dir %t/ref > /dev/null
// RUN: env XDG_CACHE_HOME=%t/cache kiln run %s --device host --seed 3 --output-dir %t/host > /dev/null
// RUN: %python %S/compare-outputs.py %t/ref %t/host 2e-6 | FileCheck %s
// CHECK: 16 outputs agree

func.func @forward(%x: tensor<4x6xf32> {kiln.name = "x", kiln.role = #kiln<role input>},
                   %dy: tensor<4x6xf32> {kiln.name = "dy", kiln.role = #kiln<role input>})
    -> (tensor<4x6xf32> {kiln.name = "log_softmax"}, tensor<4x6xf32> {kiln.name = "log_softmax_grad"},
        tensor<4x6xf32> {kiln.name = "softmax0"}, tensor<4x1xf32> {kiln.name = "max_keep"},
        tensor<f32> {kiln.name = "mean_all"}, tensor<6xf32> {kiln.name = "min0"},
        tensor<4xf32> {kiln.name = "prod1"}, tensor<6xi64> {kiln.name = "argmax0"},
        tensor<8x6xf32> {kiln.name = "concat"}, tensor<4x6xi32> {kiln.name = "select_cast"},
        tensor<4x6xf32> {kiln.name = "consts"}, tensor<4x6xf32> {kiln.name = "dropout"},
        tensor<4x6xf32> {kiln.name = "rng"}, tensor<6x8xf32> {kiln.name = "pad_t"},
        tensor<4x6xi64> {kiln.name = "iota"}, tensor<4x6xi1> {kiln.name = "bern"}) {
  %0 = kiln.log_softmax %x, dim = 1 : tensor<4x6xf32>
  %1 = kiln.log_softmax_grad %0, %dy, dim = 1 : tensor<4x6xf32>
  %2 = kiln.softmax %x, dim = 0 : tensor<4x6xf32>
  %3 = kiln.reduce max %x, dims = [1] keep_dims : tensor<4x6xf32>
  %4 = kiln.reduce mean %x, dims = [0, 1] : tensor<4x6xf32>
  %5 = kiln.reduce min %x, dims = [0] : tensor<4x6xf32>
  %6 = kiln.reduce prod %x, dims = [1] : tensor<4x6xf32>
  %7 = kiln.argmax %x, dim = 0 : tensor<4x6xf32>
  %8 = kiln.concat %x, %dy dim = 0 : tensor<4x6xf32>, tensor<4x6xf32>
  %zero = kiln.constant dense<0.0> : tensor<4x6xf32>
  %c = kiln.compare gt, %x, %zero : tensor<4x6xf32>
  %neg = kiln.neg %x : tensor<4x6xf32>
  %sel = kiln.select %c, %x, %neg : tensor<4x6xi1>, tensor<4x6xf32>
  %scaled = kiln.mul %sel, %dy : tensor<4x6xf32>
  %9 = kiln.cast %scaled : tensor<4x6xf32> -> tensor<4x6xi32>
  %tab = kiln.constant dense<[1.0, 2.0, 3.0, -4.0, 0.5, 0.25]> : tensor<6xf32>
  %tabb = kiln.broadcast %tab, dims = [1] : tensor<6xf32> -> tensor<4x6xf32>
  %10 = kiln.mul %tabb, %x : tensor<4x6xf32>
  %seed = kiln.constant dense<7> : tensor<i64>
  %off = kiln.constant dense<11> : tensor<i64>
  %11 = kiln.dropout %x, %seed, %off, ratio = 0.25 : tensor<4x6xf32>
  %12 = kiln.rng uniform %seed, %off, a = -1.0, b = 2.0 : tensor<4x6xf32>
  %tr = kiln.transpose %x, perm = [1, 0] : tensor<4x6xf32>
  %13 = kiln.pad %tr, low = [0, 1], high = [0, 3], value = 5.0 : tensor<6x4xf32>
  %14 = kiln.iota dim = 1 : tensor<4x6xi64>
  %15 = kiln.rng bernoulli %seed, %off, a = 0.5, b = 0.0 : tensor<4x6xi1>
  return %0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15
      : tensor<4x6xf32>, tensor<4x6xf32>, tensor<4x6xf32>, tensor<4x1xf32>, tensor<f32>, tensor<6xf32>,
        tensor<4xf32>, tensor<6xi64>, tensor<8x6xf32>, tensor<4x6xi32>, tensor<4x6xf32>, tensor<4x6xf32>,
        tensor<4x6xf32>, tensor<6x8xf32>, tensor<4x6xi64>, tensor<4x6xi1>
}
