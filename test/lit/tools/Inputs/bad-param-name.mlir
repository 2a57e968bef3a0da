// A buffer whose name leaves the output directory: `kiln run --gradients`
// writes parameters and buffers as DIR/params/NAME.npy.
func.func @forward(%x: tensor<4x3xf32> {kiln.name = "x", kiln.role = #kiln<role input>},
                   %b: tensor<3x2xf32> {kiln.name = "../../evil", kiln.role = #kiln<role buffer>, kiln.init = #kiln<init ones>},
                   %w: tensor<3x2xf32> {kiln.name = "w", kiln.role = #kiln<role param>, kiln.init = #kiln<init ones>})
    -> (tensor<f32> {kiln.name = "loss", kiln.loss}) {
  %a = kiln.add %b, %w : tensor<3x2xf32>
  %p = kiln.matmul %x, %a : tensor<4x3xf32>, tensor<3x2xf32>
  %l = kiln.reduce mean %p, dims = [0, 1] : tensor<4x2xf32>
  return %l : tensor<f32>
}
