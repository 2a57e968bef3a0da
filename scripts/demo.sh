#!/usr/bin/env bash
# Installs prerequisites, builds Kiln, then checks the example models and
# runs each forward pass on the reference interpreter.
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
