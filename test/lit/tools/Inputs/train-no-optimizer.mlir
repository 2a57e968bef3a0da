// A model with a loss but no train clause (no kiln.optimizer).
func.func @forward(%x: tensor<4x3xf32> {kiln.name = "x", kiln.role = #kiln<role input>},
                   %w: tensor<3x2xf32> {kiln.name = "w", kiln.role = #kiln<role param>, kiln.init = #kiln<init ones>})
    -> (tensor<f32> {kiln.name = "loss", kiln.loss}) {
  %p = kiln.matmul %x, %w : tensor<4x3xf32>, tensor<3x2xf32>
  %l = kiln.reduce mean %p, dims = [0, 1] : tensor<4x2xf32>
  return %l : tensor<f32>
}
