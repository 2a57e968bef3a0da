#!/usr/bin/env bash
# Installs prerequisites, builds Kiln and runs every test (lit, GoogleTest,
# numeric conformance, fuzzing). Ends with ctest's summary line.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/build.sh
cd build
ctest --output-on-failure -j "${KILN_JOBS:-$(nproc)}" "$@"
