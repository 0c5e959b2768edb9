#!/usr/bin/env bash
# Runs tools/train/train.py in the background the way a long CPU run should go: niced, with its output in
# runs/<name>.out, on jemalloc that keeps what torch frees (glibc hands every large tensor back to the kernel
# and faults it in again next step: a third of the CPU time went to page faults), and with OpenBLAS on the
# calling thread (train.py sets it).
#   bash tools/train/run.sh runs/<name> [train.py options]       # a new run
#   bash tools/train/run.sh runs/<name> --resume                  # continue it from its last checkpoint
# Stop it with `kill -TERM <pid>` (it writes a checkpoint first).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
run=$1
shift
. "$root/scripts/openblas-env.sh"
jemalloc=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2
if [ -e "$jemalloc" ]; then
  export LD_PRELOAD="$jemalloc${LD_PRELOAD:+:$LD_PRELOAD}" MALLOC_CONF="dirty_decay_ms:-1,muzzy_decay_ms:-1"
else
  echo "run.sh: $jemalloc absent (bash tools/setup_venv.sh installs it); training on glibc malloc, slower" >&2
fi
mkdir -p "$(dirname "$run")"
nohup nice -n "${NICE:-0}" "$root/.venv/bin/python" "$root/tools/train/train.py" --run "$run" "$@" >> "$run.out" 2>&1 &
echo "train.py started: pid $!, log $run/log.txt"
