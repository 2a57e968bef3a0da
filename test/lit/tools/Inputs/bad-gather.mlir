// A gather whose constant indices are out of range, for kiln-run-limits.mlir.
func.func @forward(%t: tensor<3x2xf32> {kiln.name = "t"}) -> tensor<2x2xf32> {
  %i = kiln.constant dense<[0, 7]> : tensor<2xi64>
  %0 = kiln.gather %t, %i, axis = 0 : tensor<3x2xf32>, tensor<2xi64>
  return %0 : tensor<2x2xf32>
}
