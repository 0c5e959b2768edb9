#!/usr/bin/env bash
# Installs the Debian packages the build needs, only those missing. Safe to run again.
set -euo pipefail
pkgs=(cmake g++ make pkg-config libxtensor-dev xtl-dev libopenblas-dev liblapack-dev
      doctest-dev libbenchmark-dev nlohmann-json3-dev clang libclang-rt-14-dev
      zlib1g-dev fortunes   # zlib: larimar-recall's PNGs; fortunes: the prose haystack (held-out files)
      libfaiss-dev          # FAISS: bench_memory_storage's side-by-side lookup rows (it builds without)
      python3               # the include-graph CTest (tools/include_graph.py), gpu-check.sh's bundle
      libopenmpi-dev openmpi-bin)  # larimar::distributed and its tests (mpirun; as root: --allow-run-as-root)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  sudo_=""; [ "$(id -u)" -eq 0 ] || sudo_="sudo"
  $sudo_ apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
if [ ! -d /usr/local/cuda/include/cccl/thrust ]; then
  echo "warning: CUDA toolkit (CCCL/thrust) not found at /usr/local/cuda; thrust-based targets need it" >&2
fi
