#!/usr/bin/env bash
# Installs every prerequisite of Kiln on a fresh Debian 12 machine.
# Idempotent: when everything is present it checks and prints nothing.
set -euo pipefail

APT_PACKAGES=(
  cmake ninja-build g++ git
  libmlir-22-dev mlir-22-tools llvm-22-dev llvm-22-tools lld-22
  libgtest-dev nlohmann-json3-dev libboost-context-dev libflatbuffers-dev flatbuffers-compiler
  libonnx-testdata python3-numpy python3-onnx python3-torch
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "bootstrap: installing ${missing[*]}"
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
