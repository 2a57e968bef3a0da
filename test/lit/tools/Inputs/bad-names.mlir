func.func @forward(%x: tensor<2xf32>) -> (tensor<2xf32> {kiln.name = "../evil"}) {
  return %x : tensor<2xf32>
}
