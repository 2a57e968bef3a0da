#!/usr/bin/env bash
# Installs prerequisites, builds Kiln, then checks the example models, runs
# each forward pass on the reference interpreter, and trains the MLP on the
# digits data set (examples/data/digits), printing its held-out accuracy;
# then compiles the MLP to a .kart artifact and trains it with its CUDA
# kernels (on a GPU if there is one, else on the host device).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/build.sh
KILN=build/bin/kiln
OUT="${TMPDIR:-/tmp}/kiln-demo"
for model in mlp cnn gpt lstm; do
  echo "== examples/$model.kiln"
  "$KILN" check "examples/$model.kiln"
  "$KILN" run "examples/$model.kiln" --device reference --seed 1 \
    --output-dir "$OUT/$model" | sed 's/^/   /'
done
echo "== the MLP's IR (first lines; all of it in $OUT/mlp.mlir)"
"$KILN" compile examples/mlp.kiln --emit=mlir -o "$OUT/mlp.mlir"
head -n 12 "$OUT/mlp.mlir"
echo "== the MLP's loss on a random batch (seed 1):"
/usr/bin/python3 -c "import numpy as np; print('   loss =', float(np.load('$OUT/mlp/loss.npy')))"
echo "== the MLP's gradients against finite differences (f64, batch 4)"
"$KILN" gradcheck examples/mlp.kiln --set batch=4 | sed 's/^/   /'
echo "== training the MLP on the digits (20 epochs; held-out accuracy on 359 test images)"
rm -rf "$OUT/mlp-train"
mkdir -p "$OUT/mlp-train"
"$KILN" train examples/mlp.kiln --device reference \
  --data examples/data/digits/train --eval-data examples/data/digits/test \
  --epochs 20 --checkpoint "$OUT/mlp-train" --metrics "$OUT/mlp-train/metrics.json"
/usr/bin/python3 -c "import json; m = json.load(open('$OUT/mlp-train/metrics.json')); \
print('   held-out accuracy: %.2f%% (%d epochs, %.1f s)' % (100 * m['eval_accuracy'], m['epochs'], m['seconds']))"
echo "== compiling the MLP to a GPU artifact (CUDA kernels by NVRTC for sm_80, sm_90)"
"$KILN" compile examples/mlp.kiln -o "$OUT/mlp.kart" --report "$OUT/mlp-kart.json" | sed 's/^/   /'
"$KILN" inspect "$OUT/mlp.kart" | sed -n '/^function @train_step/,/^kernels/p' | sed 's/^/   /'
echo "== training the MLP with those kernels (--device auto: the GPU if there is one, else the host's SIMT emulation)"
"$KILN" train examples/mlp.kiln --device auto \
  --data examples/data/digits/train --eval-data examples/data/digits/test \
  --epochs 20 | tail -n 3 | sed 's/^/   /'
