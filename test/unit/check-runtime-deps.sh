#!/usr/bin/env bash
# The runtime links no MLIR or LLVM, and no CUDA library (the cuda device
# dlopen()s the driver, cuBLASLt and NVRTC): checks `ldd` of each file given.
set -euo pipefail
for f in "$@"; do
  deps=$(ldd "$f")
  echo "$f:"
  echo "$deps" | sed 's/^/  /'
  if echo "$deps" | grep -Eiq 'mlir|llvm|libcuda|cublas|nvrtc|not found'; then
    echo "error: $f depends on MLIR/LLVM/CUDA libraries or has unresolved ones" >&2
    exit 1
  fi
done
echo "ok: no MLIR, LLVM or CUDA library linked"
