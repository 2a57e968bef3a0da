// A classifier with two labels per sample that transposes its labels before
// the loss: label i no longer belongs to the output's position i, so
// `kiln train` reports no accuracy (it used to compare misaligned pairs).
module attributes {kiln.model = "transposed-labels"} {
  func.func @forward(%x: tensor<4x3xf32> {kiln.name = "x", kiln.role = #kiln<role input>},
                     %y: tensor<4x2xi64> {kiln.name = "y", kiln.role = #kiln<role input>},
                     %w: tensor<3x6xf32> {kiln.name = "w", kiln.role = #kiln<role param>, kiln.init = #kiln<init ones>})
      -> (tensor<f32> {kiln.name = "loss", kiln.loss}, tensor<4x2x3xf32> {kiln.name = "logits"})
      attributes {kiln.optimizer = #kiln.optimizer<sgd, lr = 1.000000e-01>} {
    %p = kiln.matmul %x, %w : tensor<4x3xf32>, tensor<3x6xf32>
    %logits = kiln.reshape %p : tensor<4x6xf32> -> tensor<4x2x3xf32>
    %flat = kiln.reshape %p : tensor<4x6xf32> -> tensor<8x3xf32>
    %yt = kiln.transpose %y, perm = [1, 0] : tensor<4x2xi64>
    %yf = kiln.reshape %yt : tensor<2x4xi64> -> tensor<8xi64>
    %l = kiln.cross_entropy %flat, %yf : tensor<8x3xf32>, tensor<8xi64>
    return %l, %logits : tensor<f32>, tensor<4x2x3xf32>
  }
}
