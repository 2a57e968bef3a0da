// A classifier whose cross_entropy labels are a buffer, not an input: the
// evaluation has no labels to compare with, so `kiln train` reports no
// accuracy (it used to look the buffer up among the --eval-data inputs).
module attributes {kiln.model = "buffer-labels"} {
  func.func @forward(%x: tensor<4x3xf32> {kiln.name = "x", kiln.role = #kiln<role input>},
                     %y: tensor<4xi64> {kiln.name = "y", kiln.role = #kiln<role buffer>, kiln.init = #kiln<init zeros>},
                     %w: tensor<3x2xf32> {kiln.name = "w", kiln.role = #kiln<role param>, kiln.init = #kiln<init ones>})
      -> (tensor<f32> {kiln.name = "loss", kiln.loss}, tensor<4x2xf32> {kiln.name = "logits"})
      attributes {kiln.optimizer = #kiln.optimizer<sgd, lr = 1.000000e-01>} {
    %p = kiln.matmul %x, %w : tensor<4x3xf32>, tensor<3x2xf32>
    %l = kiln.cross_entropy %p, %y : tensor<4x2xf32>, tensor<4xi64>
    return %l, %p : tensor<f32>, tensor<4x2xf32>
  }
}
