"""Checks the metrics of the tiny regression run of train.test against the
checkpoint: argv = metrics.json, checkpoint.safetensors, data directory."""
import json
import struct
import sys

import numpy as np

metrics = json.load(open(sys.argv[1]))
for key in ("final_loss", "eval_loss", "eval_accuracy", "steps", "epochs",
            "samples_per_second", "seconds", "history"):
    assert key in metrics, key
assert metrics["eval_accuracy"] is None, metrics
assert "cross_entropy" in metrics["accuracy_note"], metrics
assert metrics["steps"] == 6 and metrics["epochs"] == 3, metrics
assert [h["epoch"] for h in metrics["history"]] == [1, 2, 3], metrics["history"]
assert metrics["history"][-1]["eval_loss"] == metrics["eval_loss"]

blob = open(sys.argv[2], "rb").read()
n = struct.unpack("<Q", blob[:8])[0]
header = json.loads(blob[8:8 + n])
w = header["w"]
assert w["dtype"] == "F32" and w["shape"] == [3, 2], w
begin, end = w["data_offsets"]
weights = np.frombuffer(blob[8 + n + begin:8 + n + end], dtype="<f4").reshape(3, 2)

x = np.load(sys.argv[3] + "/x.npy").astype(np.float64)
t = np.load(sys.argv[3] + "/t.npy").astype(np.float64)
expected = np.mean((x @ weights - t) ** 2)
assert abs(metrics["eval_loss"] - expected) < 1e-5 * max(1, expected), (metrics["eval_loss"], expected)
