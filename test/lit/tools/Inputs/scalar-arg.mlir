func.func @forward(%p: f32 {kiln.name = "p", kiln.role = #kiln<role param>, kiln.init = #kiln<init zeros>}) -> (f32 {kiln.name = "out"}) {
  return %p : f32
}
