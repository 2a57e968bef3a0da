#!/bin/sh
# Host-device bench: per example, @train_step time on the host device (the
# generated CUDA kernels under SIMT emulation, library steps on the CPU)
# against the reference interpreter, in the same script, plus NVRTC's cold
# and cached compile time of the example's kernels. Prints one row per
# example; no targets (a CPU emulation is a correctness device, not a fast
# one), the ratio is what to watch.
# Usage: bench/host-device.sh [BUILD_DIR] [STEPS] (defaults: build, 20).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
steps=${2:-20}
kiln=$build/bin/kiln
[ -x "$kiln" ] || { echo "bench/host-device.sh: no $kiln (build kiln first)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export XDG_CACHE_HOME="$tmp/cache"
printf '%-6s %8s %10s %10s %8s %10s %10s\n' model kernels "ref ms" "host ms" "ratio" "nvrtc cold" "cached"
for name in mlp cnn gpt lstm; do
  model=$root/examples/$name.kiln
  # Random data with the model's input shapes: `kiln run` writes none, so
  # use the inputs of one forward run as a tiny data set (one batch).
  "$kiln" run "$model" --output-dir "$tmp/$name-out" > /dev/null
  /usr/bin/python3 - "$model" "$tmp/$name-data" "$kiln" <<'PY'
import json, os, subprocess, sys
import numpy as np
model, out, kiln = sys.argv[1:]
os.makedirs(out, exist_ok=True)
ir = subprocess.run([kiln, "compile", model, "--emit=mlir"], capture_output=True, text=True).stdout
import re
head = ir[ir.index("func.func @forward"):]
head = head[:head.index("{\n")]
for m in re.finditer(r'tensor<([0-9x]*)(f32|i64|i32)> \{[^}]*kiln.name = "([^"]+)", kiln.role = #kiln<role input>', head):
    dims, dt, name = m.groups()
    shape = [int(d) for d in dims.split("x") if d]
    rng = np.random.default_rng(0)
    if dt == "f32":
        a = rng.standard_normal(shape).astype(np.float32)
    else:
        a = rng.integers(0, 2, shape).astype(np.int64 if dt == "i64" else np.int32)
    np.save(os.path.join(out, name + ".npy"), a)
PY
  t() { # seconds of @train_step from the metrics file
    /usr/bin/python3 -c "import json,sys; m=json.load(open(sys.argv[1])); print(m['train_seconds'] / m['steps'] * 1e3)" "$1"
  }
  "$kiln" train "$model" --data "$tmp/$name-data" --steps "$steps" --metrics "$tmp/$name-ref.json" > /dev/null 2>&1
  "$kiln" train "$model" --device host --data "$tmp/$name-data" --steps "$steps" --metrics "$tmp/$name-host.json" > /dev/null 2>&1
  cold=$( { /usr/bin/time -f %e "$kiln" compile "$model" -o "$tmp/$name.kart" > /dev/null; } 2>&1 )
  warm=$( { /usr/bin/time -f %e "$kiln" compile "$model" -o "$tmp/$name.kart" > /dev/null; } 2>&1 )
  kernels=$("$kiln" inspect "$tmp/$name.kart" | sed -n 's/^kernels (\([0-9]*\)):/\1/p')
  ref=$(t "$tmp/$name-ref.json"); host=$(t "$tmp/$name-host.json")
  printf '%-6s %8s %10.2f %10.2f %8.2f %9ss %9ss\n' "$name" "$kernels" "$ref" "$host" \
    "$(/usr/bin/python3 -c "print($host / $ref)")" "$cold" "$warm"
done
