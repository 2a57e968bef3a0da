// A linear regression for `kiln train` tests: the loss is a mean squared
// error, so there are no class labels and no accuracy.
module attributes {kiln.model = "tiny"} {
  func.func @forward(%x: tensor<4x3xf32> {kiln.name = "x", kiln.role = #kiln<role input>},
                     %t: tensor<4x2xf32> {kiln.name = "t", kiln.role = #kiln<role input>},
                     %w: tensor<3x2xf32> {kiln.name = "w", kiln.role = #kiln<role param>, kiln.init = #kiln<init ones>})
      -> (tensor<f32> {kiln.name = "loss", kiln.loss}, tensor<4x2xf32> {kiln.name = "pred"})
      attributes {kiln.optimizer = #kiln.optimizer<sgd, lr = 1.000000e-01>} {
    %p = kiln.matmul %x, %w : tensor<4x3xf32>, tensor<3x2xf32>
    %d = kiln.sub %p, %t : tensor<4x2xf32>
    %sq = kiln.mul %d, %d : tensor<4x2xf32>
    %l = kiln.reduce mean %sq, dims = [0, 1] : tensor<4x2xf32>
    return %l, %p : tensor<f32>, tensor<4x2xf32>
  }
}
