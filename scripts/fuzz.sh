#!/usr/bin/env bash
# Builds every fuzz/<name>.cpp as a libFuzzer target (clang, ASan+UBSan) and runs each for a bounded time
# (FUZZ_SECONDS, default 30) from its seed corpus fuzz/corpus/<name>/ (if any). Fails on any crash.
# The state-file seeds are written by fuzz/seeds/state_file.cpp (build/test/make_state_file_corpus).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
secs=${FUZZ_SECONDS:-30}
out=build-fuzz
mkdir -p "$out"
shopt -s nullglob
targets=(fuzz/*.cpp)
[ ${#targets[@]} -gt 0 ] || { echo "no fuzz targets"; exit 0; }
incs=(-I include -isystem /usr/include/nlohmann)
# What a target links beyond the headers: the state files' memories need BLAS and LAPACK (OpenBLAS has both).
declare -A libs=([state_file]="-lopenblas")
for src in "${targets[@]}"; do
  name=$(basename "$src" .cpp)
  # shellcheck disable=SC2086  # the library list splits into words on purpose
  clang++-14 -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
    -Wall -Wextra -Werror "${incs[@]}" "$src" -o "$out/$name" ${libs[$name]:-}
  corpus="$out/corpus-$name"; mkdir -p "$corpus"
  seeds=(); [ -d "fuzz/corpus/$name" ] && seeds=("fuzz/corpus/$name")
  [ -d "fuzz/regressions/$name" ] && seeds+=("fuzz/regressions/$name")  # past finds, run first
  echo "fuzz $name for ${secs}s"
  "$out/$name" -max_total_time="$secs" -print_final_stats=0 "$corpus" "${seeds[@]}" 2>&1 | tail -3
done
