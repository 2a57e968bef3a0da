#!/usr/bin/python3
"""Builds the digits data set of Kiln's examples from scikit-learn's copy.

    /usr/bin/python3 examples/data/digits/make_digits.py [CSV_GZ]

Reads digits.csv.gz (Debian python3-sklearn ships it; 1,797 rows of 64
pixel counts 0..16 and a label 0..9) without importing scikit-learn, and
writes next to this script:

    train/x.npy  float32 [1438, 64]  pixels / 16
    train/y.npy  int64   [1438]      labels
    test/x.npy   float32 [359, 64]
    test/y.npy   int64   [359]
    cnn/{train,test}/x.npy   float32 [n, 1, 8, 8]  (the same images as 1x8x8)
    lstm/{train,test}/x.npy  float32 [n, 8, 8]     (8 rows of 8 pixels)
    cnn/..., lstm/... y.npy  copies of the labels

The split is stratified: of each class, the 20% (rounded) of rows whose
SHA-256 of "kiln-digits-split:<row index>" sorts first form the test set.
No random generator is involved, so the split is the same with any Python
or NumPy version. Rows keep the CSV's order within each split.
"""
import csv
import gzip
import hashlib
import os
import sys

import numpy as np

DEFAULT_CSV = "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz"
TEST_FRACTION = 0.2


def main():
    source = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_CSV
    with gzip.open(source, "rt", newline="") as f:
        rows = [[int(v) for v in row] for row in csv.reader(f) if row]
    data = np.array(rows, dtype=np.int64)
    if data.shape != (1797, 65):
        sys.exit(f"{source}: expected 1797 rows of 65 values, found {data.shape}")
    pixels, labels = data[:, :64], data[:, 64]
    if pixels.min() < 0 or pixels.max() > 16 or labels.min() < 0 or labels.max() > 9:
        sys.exit(f"{source}: pixels must be 0..16 and labels 0..9")

    def key(i):
        return hashlib.sha256(f"kiln-digits-split:{i}".encode()).hexdigest()

    test = set()
    for c in range(10):
        rows_c = sorted(np.flatnonzero(labels == c).tolist(), key=key)
        test.update(rows_c[: int(round(TEST_FRACTION * len(rows_c)))])
    splits = {
        "train": [i for i in range(len(labels)) if i not in test],
        "test": [i for i in range(len(labels)) if i in test],
    }

    here = os.path.dirname(os.path.abspath(__file__))
    for split, index in splits.items():
        x = (pixels[index] / 16.0).astype(np.float32)
        y = labels[index].astype(np.int64)
        for sub, shape in (("", (len(index), 64)), ("cnn", (len(index), 1, 8, 8)),
                           ("lstm", (len(index), 8, 8))):
            out = os.path.join(here, sub, split)
            os.makedirs(out, exist_ok=True)
            np.save(os.path.join(out, "x.npy"), np.ascontiguousarray(x.reshape(shape)))
            np.save(os.path.join(out, "y.npy"), y)
        counts = np.bincount(y, minlength=10).tolist()
        print(f"{split}: {len(index)} samples, per class {counts}")


if __name__ == "__main__":
    main()
