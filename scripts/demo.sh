#!/usr/bin/env bash
# Installs what is missing, builds, and runs the main example.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/install-deps.sh
. scripts/openblas-env.sh  # OpenBLAS on its Prescott kernels where it does not know the CPU
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)" --target episodic_memory
./build/examples/episodic_memory

# Long-context recall with the shipped models/larimar-small: a 3-digit passkey in a 1M-token context, written into
# a sharded memory and recalled by the decoder (docs/pipeline.md). Prints the answer, the truth and the timings.
echo
cmake --build build -j "$(nproc)" --target long_context_recall
OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} ./build/examples/long_context_recall models/larimar-small 1000000 3 50 1
