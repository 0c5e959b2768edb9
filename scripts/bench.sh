#!/usr/bin/env bash
# Every benchmark of the repository, one dated markdown report (docs/benchmarks.md says what each figure means).
#
#   scripts/bench.sh [--out DIR] [--llama-cpp | --no-llama-cpp] [--filter REGEX] [--min-time S] [--ranks "1 2"]
#                    [--no-build] [--jobs N]
#
#   --out DIR        where the report goes (default build/bench-report): DIR/bench-<UTC date>.md, and each
#                    program's own output under DIR/bench-<UTC date>/
#   --llama-cpp      also run the llama.cpp anchor (tools/bench_llama_cpp.sh), building llama.cpp if needed;
#                    without the flag it runs when build-llama-cpp/ already holds llama-bench; --no-llama-cpp: never
#   --filter REGEX   passed to every Google Benchmark program as --benchmark_filter (a shorter run)
#   --min-time S     passed as --benchmark_min_time (benchmarks that fix their own minimum keep it)
#   --ranks "R..."   MPI ranks for bench_distributed (default "1 2"), run under mpirun when both exist
#   --no-build       do not build; run what build/bench holds
#   --jobs N         parallel build jobs (default 1; builds run under nice -n 10)
#
# It builds the benchmark targets in build/ (configuring it with -DLARIMAR_BUILD_BENCH=ON if needed: after
# scripts/test.sh they are already there), writes the random GPT-2-small / BERT-base model directory bench_model
# reads (tools/bench_torch_reference.py --save-only, with PYTHON, default .venv/bin/python) when it is absent, runs
# bench_memory, bench_memory_storage (its FAISS anchor when the build found FAISS), bench_model, bench_tokenizer,
# bench_pipeline, bench_distributed under mpirun, and the llama.cpp anchor, and records `uptime` before and after
# each program, the CPU model and the environment. OMP_WAIT_POLICY defaults to PASSIVE (see docs/benchmarks.md).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT_DIR="$ROOT/build/bench-report"
LLAMA=auto
FILTER=""
MIN_TIME=""
RANKS="1 2"
BUILD=1
JOBS=1
while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT_DIR=$2; shift 2 ;;
    --llama-cpp) LLAMA=yes; shift ;;
    --no-llama-cpp) LLAMA=no; shift ;;
    --filter) FILTER=$2; shift 2 ;;
    --min-time) MIN_TIME=$2; shift 2 ;;
    --ranks) RANKS=$2; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --jobs) JOBS=$2; shift 2 ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "bench.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
say() { echo "bench.sh: $*" >&2; }
cd "$ROOT"
. scripts/openblas-env.sh  # OpenBLAS on its Prescott kernels where it does not know the CPU
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
PY=${PYTHON:-$ROOT/.venv/bin/python}
BENCHES="bench_memory bench_memory_storage bench_model bench_tokenizer bench_pipeline"

# The programs.
if [ "$BUILD" = 1 ]; then
  # The build type's -O3, also where scripts/test.sh left build/ at -O2 (its benchmarks are then rebuilt).
  say "configuring build/ with -DLARIMAR_BUILD_BENCH=ON, -O3"
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O3 -DNDEBUG" -DLARIMAR_BUILD_BENCH=ON >/dev/null
  targets=$(cmake --build build --target help | sed -n 's/^\.\.\. \(bench_[a-z_]*\).*/\1/p' | grep -v cuda || true)
  [ -n "$targets" ] || { say "build/ has no bench_* targets (Google Benchmark absent? scripts/install-deps.sh)"; exit 1; }
  say "building $(echo $targets) (nice -n 10, -j$JOBS)"
  # shellcheck disable=SC2086
  nice -n 10 cmake --build build -j"$JOBS" --target $targets >&2
fi

# The reference models: models/larimar-tiny is in the repository; GPT-2-small / BERT-base with random weights is made.
MODEL_DIR=${LARIMAR_BENCH_MODEL:-$ROOT/build-bench/models/gpt2-small-random}
if [ ! -f "$MODEL_DIR/config.json" ]; then
  if [ -x "$PY" ]; then
    say "writing $MODEL_DIR (tools/bench_torch_reference.py --save-only, seed 0)"
    "$PY" tools/bench_torch_reference.py --save-only "$MODEL_DIR" >&2
  else
    say "no Python at $PY (tools/setup_venv.sh, or set PYTHON): bench_model's decoder and encoder benchmarks will be skipped"
  fi
fi
export LARIMAR_BENCH_MODEL="$MODEL_DIR"

STAMP=$(date -u +%Y-%m-%dT%H%MZ)
RAW="$OUT_DIR/bench-$STAMP"
REPORT="$OUT_DIR/bench-$STAMP.md"
mkdir -p "$RAW"
CPU=$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -n 1)
FLAGS=$(grep -o -w -E 'avx2|avx512f|avx512_bf16|avx512_fp16|avx512_vnni|amx_tile' /proc/cpuinfo | sort -u | tr '\n' ' ' || true)
GB_ARGS=(--benchmark_counters_tabular=true)
[ -n "$FILTER" ] && GB_ARGS+=("--benchmark_filter=$FILTER")
[ -n "$MIN_TIME" ] && GB_ARGS+=("--benchmark_min_time=$MIN_TIME")

{
  echo "# Benchmark report, $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  echo "- commit: $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet 2>/dev/null || echo ' (with local changes)')"
  echo "- CPU: $CPU, $(nproc) CPUs ($FLAGS)"
  echo "- memory: $(free -g | awk '/^Mem:/ {print $2 " GB"}')"
  echo "- uptime at start: \`$(uptime)\`"
  echo "- environment: OMP_WAIT_POLICY=$OMP_WAIT_POLICY OMP_NUM_THREADS=${OMP_NUM_THREADS:-(unset)} OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-(unset)} OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-(its own choice)}"
  echo "- arguments: ${GB_ARGS[*]}"
  echo
  echo "The load average says whether the figures are worth reading: other processes on the cores inflate times"
  echo "and move them between runs; read the ratios to the floors measured in the same run (docs/benchmarks.md)."
} > "$REPORT"

run_section() {  # title, output file, command...
  local title=$1 out=$2 rc=0 t0 t1
  shift 2
  say "running $title"
  local before
  before=$(uptime)
  t0=$(date +%s)
  "$@" > "$out" 2>&1 || rc=$?
  t1=$(date +%s)
  {
    echo
    echo "## $title"
    echo
    echo "    $*"
    echo
    echo "exit status $rc, $((t1 - t0)) s; uptime before: \`$before\`; after: \`$(uptime)\`"
    echo
    echo '```'
    cat "$out"
    echo '```'
  } >> "$REPORT"
  [ "$rc" = 0 ] || say "$title exited with status $rc (see $out)"
}

for b in $BENCHES; do
  if [ -x "build/bench/$b" ]; then
    run_section "$b" "$RAW/$b.txt" "build/bench/$b" "${GB_ARGS[@]}"
  else
    say "build/bench/$b absent: skipped"
    printf '\n## %s\n\nabsent from build/bench: not run\n' "$b" >> "$REPORT"
  fi
done
if grep -q 'BM_faiss' "$RAW/bench_memory_storage.txt" 2>/dev/null; then
  echo >> "$REPORT"; echo "(FAISS anchor: the BM_faiss_* rows of bench_memory_storage above.)" >> "$REPORT"
fi

if [ -x build/bench/bench_distributed ] && command -v mpirun >/dev/null; then
  root_flag=()
  [ "$(id -u)" = 0 ] && root_flag=(--allow-run-as-root)
  for r in $RANKS; do
    run_section "bench_distributed, $r rank(s)" "$RAW/bench_distributed-$r.txt" \
      env OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 mpirun --oversubscribe "${root_flag[@]}" -np "$r" \
      build/bench/bench_distributed "${GB_ARGS[@]}"
  done
else
  say "bench_distributed or mpirun absent: the distributed benchmark skipped"
  printf '\n## bench_distributed\n\nnot run: %s\n' \
    "$([ -x build/bench/bench_distributed ] && echo 'no mpirun' || echo 'not built (MPI not found at configure time)')" >> "$REPORT"
fi

LLAMA_SCRATCH=${LLAMA_CPP_SCRATCH:-$ROOT/build-llama-cpp}
if [ "$LLAMA" = yes ] || { [ "$LLAMA" = auto ] && [ -x "$LLAMA_SCRATCH/cmake-build/bin/llama-bench" ]; }; then
  run_section "llama.cpp anchor (tools/bench_llama_cpp.sh)" "$RAW/llama-cpp.txt" \
    tools/bench_llama_cpp.sh --report-dir "$RAW" --jobs "$JOBS"
else
  say "no llama.cpp build in $LLAMA_SCRATCH: the anchor skipped (--llama-cpp builds and runs it)"
  printf '\n## llama.cpp anchor\n\nnot run: no build in %s (scripts/bench.sh --llama-cpp builds it)\n' "$LLAMA_SCRATCH" >> "$REPORT"
fi

printf '\n---\nuptime at the end: `%s`\n' "$(uptime)" >> "$REPORT"
say "report: $REPORT"
