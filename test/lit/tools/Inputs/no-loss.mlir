func.func @forward(%w: tensor<4xf32> {kiln.name = "w", kiln.role = #kiln<role param>, kiln.init = #kiln<init zeros>})
    -> (tensor<4xf32> {kiln.name = "y"}) {
  return %w : tensor<4xf32>
}
