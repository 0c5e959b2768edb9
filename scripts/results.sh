#!/usr/bin/env bash
# Reproduces every figure of docs/results.md with one command:
#   recall sweeps (3-, 4-, 5-digit passkeys and the SF needle at 4K/32K/137K/1M tokens, depths 0..100%, SEEDS seeds,
#   three key policies; memory-only and end-to-end), the capacity study, the time split / peak memory per length,
#   and RULER's NIAH tasks with each segment packing and their cost at 1M tokens (section 6; RULER=0 skips it).
# Usage: scripts/results.sh [MODEL_DIR] [OUT_DIR]        (default models/larimar-small, runs/results)
# Environment: LARIMAR_RECALL (a built larimar-recall; default: build it in build-results), SEEDS (default 20), JOBS (parallel sweeps, default 2), LENGTHS (default 4K,32K,137K,1M),
#              DEPTHS (default 0,25,50,75,100), RULER (default 1), RULER_SEEDS (default 5).
# Each sweep is one single-threaded process; JOBS of them run at a time. ~30 min on 2 shared cores (docs/results.md).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
. scripts/openblas-env.sh  # OpenBLAS on its Prescott kernels where it does not know the CPU
model=${1:-models/larimar-small}
out=${2:-runs/results}
seeds=${SEEDS:-20}
jobs=${JOBS:-2}
lengths=${LENGTHS:-4K,32K,137K,1M}
depths=${DEPTHS:-0,25,50,75,100}
if [ -n "${LARIMAR_RECALL:-}" ]; then  # a larimar-recall built elsewhere
  bin=$(realpath "$LARIMAR_RECALL")
else
  bash scripts/install-deps.sh
  cmake -S . -B build-results -DCMAKE_BUILD_TYPE=Release -DLARIMAR_BUILD_TESTS=OFF -DLARIMAR_BUILD_BENCH=OFF \
        -DLARIMAR_BUILD_EXAMPLES=OFF >/dev/null
  cmake --build build-results --target larimar-recall -j "$(nproc)"
  bin=$root/build-results/tools/recall/larimar-recall
fi
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
mkdir -p "$out"
t0=$(date +%s)
echo "model $model -> $out (seeds $seeds, lengths $lengths, depths $depths, $jobs at a time); started $(date -u)"

# 1. The recall sweeps: one process per task.
sweep() {  # sweep <name> <task arguments...>
  name=$1
  shift
  "$bin" --model "$model" "$@" --lengths "$lengths" --depths "$depths" --seeds "$seeds" \
         --policies prefix,no-prefix,prefix-encoding --no-progress --out "$out/$name" > "$out/$name.log" 2>&1 \
    && echo "  $name done ($(( $(date +%s) - t0 )) s)" || { echo "  $name FAILED: see $out/$name.log"; return 1; }
}
export -f sweep
export bin model lengths depths seeds out t0
printf '%s\n' "passkey-3 --task passkey --digits 3" "passkey-4 --task passkey --digits 4" \
              "passkey-5 --task passkey --digits 5" "needle --task needle" |
  xargs -P "$jobs" -I{} bash -c 'sweep {}'

# 2. The capacity study: one unsharded memory of K = 64 slots against N/K.
"$bin" --model "$model" --capacity --capacity-slots 64 --ratios 0.25,0.5,1,2,4,8,16 --out "$out/capacity" \
  > "$out/capacity.log" 2>&1
echo "  capacity done ($(( $(date +%s) - t0 )) s)"

# 3. Time split and peak memory per length: one process per length (3-digit passkey, prefix lookup, end to end,
#    depth 50%, 3 seeds), alone on the machine, peak RSS from the kernel (/usr/bin/time -v or getrusage).
for len in ${lengths//,/ }; do
  "$bin" --model "$model" --task passkey --digits 3 --lengths "$len" --depths 50 --seeds 3 --policies prefix \
         --no-progress --out "$out/timing-$len" > "$out/timing-$len.log" 2>&1
done
echo "  timing done ($(( $(date +%s) - t0 )) s)"

# 4. RULER's NIAH tasks (4K, 32K, 128K) with each packing, then each packing's memory-only cost at 1M tokens (needle
#    over prose and passkey filler, 2 seeds).
packings="greedy sentence_start sentence_keys"
if [ "${RULER:-1}" != 0 ]; then
  for p in $packings; do
    "$bin" --model "$model" --task ruler:all --lengths 4K,32K,128K --seeds "${RULER_SEEDS:-5}" --packing "$p" \
           --no-progress --out "$out/ruler-$p" > "$out/ruler-$p.log" 2>&1
  done
  for task in needle passkey; do
    for p in $packings; do
      "$bin" --model "$model" --task "$task" --lengths 1M --seeds 2 --memory-only --packing "$p" --no-progress \
        > "$out/packing-cost-$task-$p.log" 2>&1
    done
  done
  echo "  RULER and packing cost done ($(( $(date +%s) - t0 )) s)"
fi

# The tables, gathered.
{
  for f in passkey-3 passkey-4 passkey-5 needle; do sed -n '/^| task | policy | [0-9]/,/^$/p' "$out/$f.log"; done
  echo
  sed -n '/^| N\/K/,/^$/p' "$out/capacity.log"
  echo
  echo "| task | policy | length | tokens | segment | encode | write | read | decode | total | peak RSS |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|"
  for len in ${lengths//,/ }; do grep -h '^| passkey-3 | prefix | ' "$out/timing-$len.log" | grep -v '/' ; done
  if [ "${RULER:-1}" != 0 ]; then
    for p in $packings; do echo; echo "RULER, $p packing:"; sed -n '/^| task | policy | 4K/,/^$/p' "$out/ruler-$p.log"; done
    echo
    echo "| packing cost, 1M tokens | task | policy | length | tokens | segment | encode | write | read | decode | total | peak RSS |"
    for task in needle passkey; do
      for p in $packings; do
        grep -h '| 1M |' "$out/packing-cost-$task-$p.log" | grep -v '^| task' | sed "s/^/| $p /"
      done
    done
  fi
} > "$out/results.md"
echo "all done in $(( $(date +%s) - t0 )) s; tables in $out/results.md"
