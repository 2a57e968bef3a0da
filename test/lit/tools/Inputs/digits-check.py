"""Checks a `kiln train examples/mlp.kiln` run on the digits data:
argv = metrics.json, checkpoint.safetensors, test data directory, minimum
accuracy. The held-out accuracy must reach the minimum, and must equal the
accuracy NumPy computes from the checkpoint's parameters (the driver's
batched, padded evaluation counts every test sample exactly once)."""
import json
import struct
import sys

import numpy as np

metrics = json.load(open(sys.argv[1]))
minimum = float(sys.argv[4])
accuracy = metrics["eval_accuracy"]
print(f"eval_accuracy {accuracy:.4f} after {metrics['epochs']} epochs "
      f"({metrics['seconds']:.1f} s, {metrics['samples_per_second']:.0f} samples/s)")
assert accuracy >= minimum, f"eval_accuracy {accuracy} < {minimum}"

blob = open(sys.argv[2], "rb").read()
n = struct.unpack("<Q", blob[:8])[0]
header = json.loads(blob[8:8 + n])


def tensor(name):
    entry = header[name]
    begin, end = entry["data_offsets"]
    return np.frombuffer(blob[8 + n + begin:8 + n + end], dtype="<f4").reshape(entry["shape"])


x = np.load(sys.argv[3] + "/x.npy")
y = np.load(sys.argv[3] + "/y.npy")
h = x
for layer in ("l1", "l2", "l3"):
    h = h @ tensor(layer + ".w") + tensor(layer + ".b")
    if layer != "l3":
        h = np.maximum(h, 0)
numpy_accuracy = float(np.mean(np.argmax(h, axis=1) == y))
# f32 rounding may flip a near-tie: allow one sample.
assert abs(numpy_accuracy - accuracy) <= 1.0 / len(y) + 1e-12, (numpy_accuracy, accuracy)
