// A model whose loss is a vector, not a scalar.
func.func @forward(%x: tensor<4x3xf32> {kiln.name = "x", kiln.role = #kiln<role input>},
                   %w: tensor<3x2xf32> {kiln.name = "w", kiln.role = #kiln<role param>, kiln.init = #kiln<init ones>})
    -> (tensor<4xf32> {kiln.name = "loss", kiln.loss})
    attributes {kiln.optimizer = #kiln.optimizer<sgd, lr = 1.000000e-01>} {
  %p = kiln.matmul %x, %w : tensor<4x3xf32>, tensor<3x2xf32>
  %l = kiln.reduce mean %p, dims = [1] : tensor<4x2xf32>
  return %l : tensor<4xf32>
}
