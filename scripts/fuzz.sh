#!/usr/bin/env bash
# Builds every fuzz/<name>.cpp as a libFuzzer target (clang, ASan+UBSan) and runs each for a bounded time
# (FUZZ_SECONDS, default 30) from its seed corpus fuzz/corpus/<name>/ (if any), FUZZ_JOBS (default: the cores) at
# a time: each fuzzer is one process on one core. Fails on any crash.
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
jobs=${FUZZ_JOBS:-$(nproc)}
run_one() {  # builds and runs one target; its output goes to $out/<name>.log
  local src=$1 name; name=$(basename "$src" .cpp)
  # shellcheck disable=SC2086  # the library list splits into words on purpose
  clang++-14 -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
    -Wall -Wextra -Werror "${incs[@]}" "$src" -o "$out/$name" ${libs[$name]:-}
  local corpus="$out/corpus-$name"; mkdir -p "$corpus"
  local seeds=(); [ -d "fuzz/corpus/$name" ] && seeds=("fuzz/corpus/$name")
  [ -d "fuzz/regressions/$name" ] && seeds+=("fuzz/regressions/$name")  # past finds, run first
  "$out/$name" -max_total_time="$secs" -print_final_stats=0 "$corpus" "${seeds[@]}"
}
pids=() names=() failed=0
for src in "${targets[@]}"; do
  name=$(basename "$src" .cpp)
  echo "fuzz $name for ${secs}s"
  run_one "$src" > "$out/$name.log" 2>&1 &
  pids+=($!) names+=("$name")
  if [ ${#pids[@]} -ge "$jobs" ]; then  # wait for the oldest before starting another
    wait "${pids[0]}" && tail -3 "$out/${names[0]}.log" || { failed=1; echo "fuzz ${names[0]} FAILED"; tail -40 "$out/${names[0]}.log"; }
    pids=("${pids[@]:1}") names=("${names[@]:1}")
  fi
done
for i in "${!pids[@]}"; do
  wait "${pids[$i]}" && tail -3 "$out/${names[$i]}.log" || { failed=1; echo "fuzz ${names[$i]} FAILED"; tail -40 "$out/${names[$i]}.log"; }
done
exit $failed
