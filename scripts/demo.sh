#!/usr/bin/env bash
# Installs what is missing, builds, and runs the main example.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)" --target episodic_memory
./build/examples/episodic_memory
