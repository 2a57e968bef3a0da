#!/bin/sh
# Offline bench: what fusion and memory planning buy on every example,
# from `kiln compile --report` (no GPU, builds nothing). Prints one row per
# example for @train_step and marks the targets:
#   kernels / ops_unfused        <= 0.30
#   bytes_moved / ..._unfused    <= 0.50
#   arena_peak / lower_bound     <= 1.05
# Usage: bench/offline.sh [BUILD_DIR] (default: build). Extra --set flags for
# a model can go in KILN_BENCH_SET, e.g. KILN_BENCH_SET="--set batch=8".
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
kiln=$build/bin/kiln
[ -x "$kiln" ] || { echo "bench/offline.sh: no $kiln (build kiln first)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0
for model in "$root"/examples/*.kiln; do
  name=$(basename "$model" .kiln)
  # shellcheck disable=SC2086
  if ! "$kiln" compile "$model" ${KILN_BENCH_SET:-} --report "$tmp/$name.json" 2>"$tmp/$name.err"; then
    echo "bench/offline.sh: kiln compile failed for $name:" >&2
    cat "$tmp/$name.err" >&2
    status=1
  fi
done
python3 - "$tmp" <<'PY'
import json, os, sys
tmp = sys.argv[1]
rows = []
for f in sorted(os.listdir(tmp)):
    if f.endswith(".json"):
        rows.append((f[:-5], json.load(open(os.path.join(tmp, f)))))
def ratio(a, b):
    return None if a is None or not b else a / b
def mark(r, target):
    if r is None:
        return "   n/a      "
    return "%6.3f %-5s" % (r, "met" if r <= target else "MISS")
head = ("model", "ops", "kernels", "k/ops<=.30", "lib", "bytes", "bytes_unf",
        "b/unf<=.50", "arena", "lower", "a/lb<=1.05", "persistent")
fmt = "%-6s %6s %7s %-12s %4s %10s %10s %-12s %10s %10s %-12s %10s"
print(fmt % head)
missed = 0
for name, d in rows:
    k = ratio(d["kernels"], d["ops_unfused"])
    b = ratio(d["bytes_moved"], d["bytes_moved_unfused"])
    a = ratio(d["arena_peak_bytes"], d["arena_lower_bound_bytes"])
    for r, t in ((k, .30), (b, .50), (a, 1.05)):
        missed += r is None or r > t
    print(fmt % (name, d["ops_unfused"], d["kernels"], mark(k, .30), d["library_calls"],
                 d["bytes_moved"], d["bytes_moved_unfused"], mark(b, .50),
                 d["arena_peak_bytes"], d["arena_lower_bound_bytes"], mark(a, 1.05),
                 d["persistent_bytes"]))
print("targets missed: %d" % missed)
PY
exit $status
