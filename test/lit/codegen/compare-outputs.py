"""Compares every REF/NAME.npy with GOT/NAME.npy: same dtype and shape,
max |d| <= TOL * max(max |ref|, 1); prints one line per output and a
summary; exits 1 on any difference. Usage: compare-outputs.py REF GOT TOL"""
import os
import sys

import numpy as np

ref_dir, got_dir, tol = sys.argv[1], sys.argv[2], float(sys.argv[3])
names = sorted(f for f in os.listdir(ref_dir) if f.endswith(".npy"))
bad = 0
for name in names:
    r = np.load(os.path.join(ref_dir, name))
    g = np.load(os.path.join(got_dir, name))
    if r.dtype != g.dtype or r.shape != g.shape:
        print(f"{name}: {g.dtype}{list(g.shape)} vs reference {r.dtype}{list(r.shape)}")
        bad += 1
        continue
    rd, gd = r.astype(np.float64), g.astype(np.float64)
    same_nan = np.array_equal(np.isnan(rd), np.isnan(gd))
    d = np.nan_to_num(np.abs(rd - gd), nan=0.0)
    scale = max(float(np.nan_to_num(np.abs(rd)).max(initial=0.0)), 1.0)
    err = float(d.max(initial=0.0)) / scale
    ok = same_nan and err <= tol
    bad += not ok
    print(f"{name}: {err:.2e} {'ok' if ok else 'DIFFERENT'}")
print(f"{len(names) - bad} outputs agree" if not bad else f"{bad} of {len(names)} outputs differ")
sys.exit(1 if bad else 0)
