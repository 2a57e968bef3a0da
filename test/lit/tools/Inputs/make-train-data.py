"""Writes small data directories for the `kiln train` lit tests into argv[1]:
one good set for examples/mlp.kiln (x f32[N, 64], y i64[N]) and one broken
variant per data error, plus data for the tiny .mlir regression models."""
import os
import sys

import numpy as np

root = sys.argv[1]
rng = np.random.default_rng(0)


def write(name, **arrays):
    d = os.path.join(root, name)
    os.makedirs(d, exist_ok=True)
    for key, value in arrays.items():
        np.save(os.path.join(d, key + ".npy"), value)


x = rng.random((40, 64), dtype=np.float32)
y = (np.arange(40) % 10).astype(np.int64)
write("good", x=x, y=y)
write("missing", x=x)
write("dtype", x=x.astype(np.float64), y=y)
write("shape", x=x[:, :63].copy(), y=y)
write("count", x=x, y=y[:39].copy())
write("labels", x=x, y=np.where(np.arange(40) == 17, 12, y).astype(np.int64))
write("few", x=x[:5].copy(), y=y[:5].copy())
write("ydtype", x=x, y=y.astype(np.int32))
# 10 samples: two batches of 4 and a partial one for the padded evaluation.
write("tiny", x=rng.random((10, 3), dtype=np.float32), t=rng.random((10, 2), dtype=np.float32))
# Two labels per sample (for a model that transposes its labels).
write("pairs", x=rng.random((10, 3), dtype=np.float32),
      y=rng.integers(0, 3, size=(10, 2)).astype(np.int64))
