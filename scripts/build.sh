#!/usr/bin/env bash
# Configures and builds Kiln into build/ (tools in build/bin/). Used by
# scripts/test.sh and scripts/demo.sh; safe to run repeatedly.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/bootstrap.sh
if [[ ! -f build/build.ninja ]]; then
  cmake -G Ninja -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
JOBS="${KILN_JOBS:-$(nproc)}"
echo "building Kiln in build/ (log: build/build.log)"
if ! ninja -C build -j "$JOBS" >build/build.log 2>&1; then
  grep -E -A12 'FAILED|error' build/build.log | head -n 80
  echo "build failed; the whole log is build/build.log" >&2
  exit 1
fi
