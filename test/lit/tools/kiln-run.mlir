// Tests that `kiln run` reads inputs from .npy files, runs the function on
// the reference interpreter and writes every result as NAME.npy.
// RUN: rm -rf %t && mkdir -p %t
// RUN: %python -c "import numpy as np; np.save('%t/x.npy', np.array([[1, 2, 3], [4, 5, 6]], np.float32)); np.save('%t/x64.npy', np.zeros((2, 3)))"
// RUN: kiln run %s --device reference --input x=%t/x.npy --output-dir %t/out | FileCheck %s --check-prefix=WROTE
// RUN: %python -c "import numpy as np; r = np.load('%t/out/scaled.npy'); s = np.load('%t/out/total.npy'); print(r.dtype, r.tolist(), s.dtype, s.tolist())" | FileCheck %s --check-prefix=VALUES
// WROTE: wrote {{.*}}scaled.npy (f32[2, 3])
// WROTE: wrote {{.*}}total.npy (f32[2])
// VALUES: float32 {{\[}}[2.0, 4.0, 6.0], [8.0, 10.0, 12.0]] float32 [6.0, 15.0]

// Tests that a missing input is drawn from the seed, reproducibly.
// RUN: kiln run %s --seed 5 --output-dir %t/r1 > /dev/null
// RUN: kiln run %s --seed 5 --output-dir %t/r2 > /dev/null
// RUN: cmp %t/r1/scaled.npy %t/r2/scaled.npy

// Tests that a dtype or shape mismatch names the input, what it expects and what the file holds.
// RUN: not kiln run %s --input x=%t/x64.npy --output-dir %t/bad 2>&1 | FileCheck %s --check-prefix=MISMATCH
// MISMATCH: kiln: error: input 'x' expects f32[2, 3], but {{.*}}x64.npy holds f64[2, 3]

// Tests that a corrupt .npy file is a clear error.
// RUN: printf 'not numpy' > %t/corrupt.npy
// RUN: not kiln run %s --input x=%t/corrupt.npy --output-dir %t/bad 2>&1 | FileCheck %s --check-prefix=CORRUPT
// CORRUPT: kiln: error: input 'x': {{.*}}corrupt.npy: not a .npy file: missing the \x93NUMPY magic

// Tests that an unknown input name is rejected.
// RUN: not kiln run %s --input z=%t/x.npy --output-dir %t/bad 2>&1 | FileCheck %s --check-prefix=UNKNOWN
// UNKNOWN: kiln: error: --input names 'z', which is not an input of

func.func @forward(%x: tensor<2x3xf32> {kiln.name = "x", kiln.role = #kiln<role input>})
    -> (tensor<2x3xf32> {kiln.name = "scaled"}, tensor<2xf32> {kiln.name = "total"}) {
  %0 = kiln.add %x, %x : tensor<2x3xf32>
  %1 = kiln.reduce sum %x, dims = [1] : tensor<2x3xf32>
  return %0, %1 : tensor<2x3xf32>, tensor<2xf32>
}
