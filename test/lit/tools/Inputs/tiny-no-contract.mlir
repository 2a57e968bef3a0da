// A runnable function that is not a model: its arguments have no names or roles.
func.func @forward(%x: tensor<2xf32>) -> tensor<2xf32> {
  return %x : tensor<2xf32>
}
