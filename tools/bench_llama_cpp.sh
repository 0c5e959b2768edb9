#!/usr/bin/env bash
# llama.cpp as the anchor of the decoder benchmarks: bench_model and llama-bench on the same random GPT-2-small
# weights, at the same precision and thread count, interleaved (ours, theirs, ours, theirs ...).
#
#   tools/bench_llama_cpp.sh [--reps N] [--threads "1 2"] [--formats "f32 f16 q8_0"] [--report-dir DIR]
#                            [--build-only] [--jobs N]
#
# What it does (each step is skipped when its output already exists):
#   1. llama.cpp's source from pip's llama-cpp-python sdist (it vendors llama.cpp in vendor/llama.cpp), into
#      $LLAMA_CPP_SCRATCH (default build-llama-cpp/ in this checkout, git-ignored); pin it with
#      LLAMA_CPP_PYTHON_VERSION=0.3.36 (the version the figures in docs/benchmarks.md were measured with).
#   2. llama-bench and llama-quantize built there with CMake, CPU only, -DGGML_NATIVE=ON (as llama.cpp builds by
#      default), `nice -n 10`, --jobs parallel jobs (default 1).
#   3. The model directory bench_model reads (tools/bench_torch_reference.py --save-only, seed 0), its decoder as a
#      Hugging Face GPT-2 directory (tools/make_gpt2_hf_dir.py), GGUF files at f32 and f16 from llama.cpp's own
#      convert_hf_to_gguf.py (tools/gguf_convert_gpt2.py) and q8_0 from llama-quantize.
#   4. For each repetition, thread count and format: bench_model's decode (BM_decode_batch1_weights: 128 greedy
#      tokens after a 32-token prompt), llama-bench decode (-p 0 -n 128), bench_model's prefill
#      (BM_prefill_512_weights), llama-bench prefill (-p 512 -n 0). larimar's precision for q8_0 is its int8 format
#      (per-row scales; q8_0 has one scale per 32 weights).
#   5. One markdown table (median tokens/s over the repetitions, larimar / llama.cpp), `uptime` before and after,
#      the CPU model: to stdout and to DIR/llama-cpp-anchor-<UTC date>.md (default DIR build/bench-report).
#
# Environment: PYTHON (default .venv/bin/python: torch, transformers<4.45, safetensors; tools/setup_venv.sh),
# BENCH_MODEL (default build/bench/bench_model), LARIMAR_BENCH_MODEL (the model directory, default
# build-bench/models/gpt2-small-random), LLAMA_BENCH_REPS (llama-bench's -r, default 3).
# Every run has OMP_WAIT_POLICY=PASSIVE and OMP_NUM_THREADS = OPENBLAS_NUM_THREADS = the thread count.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REPS=3
THREADS="1 2"
FORMATS="f32 f16 q8_0"
REPORT_DIR="$ROOT/build/bench-report"
BUILD_ONLY=0
JOBS=1
while [ $# -gt 0 ]; do
  case "$1" in
    --reps) REPS=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --formats) FORMATS=$2; shift 2 ;;
    --report-dir) REPORT_DIR=$2; shift 2 ;;
    --build-only) BUILD_ONLY=1; shift ;;
    --jobs) JOBS=$2; shift 2 ;;
    -h|--help) sed -n '2,28p' "$0"; exit 0 ;;
    *) echo "bench_llama_cpp.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

SCRATCH=${LLAMA_CPP_SCRATCH:-$ROOT/build-llama-cpp}
PY=${PYTHON:-$ROOT/.venv/bin/python}
BENCH_MODEL=${BENCH_MODEL:-$ROOT/build/bench/bench_model}
MODEL_DIR=${LARIMAR_BENCH_MODEL:-$ROOT/build-bench/models/gpt2-small-random}
LLAMA_BENCH_REPS=${LLAMA_BENCH_REPS:-3}
say() { echo "bench_llama_cpp: $*" >&2; }
die() { say "$*"; exit 1; }

[ -x "$PY" ] || die "no Python at $PY: run tools/setup_venv.sh or set PYTHON"
mkdir -p "$SCRATCH/src"

# 1. the source
src_dir() { ls -d "$SCRATCH"/src/llama_cpp_python-*/vendor/llama.cpp 2>/dev/null | sort -V | tail -n 1; }
LLAMA_SRC=$(src_dir || true)
if [ -z "$LLAMA_SRC" ]; then
  spec=llama-cpp-python${LLAMA_CPP_PYTHON_VERSION:+==$LLAMA_CPP_PYTHON_VERSION}
  say "downloading the $spec sdist into $SCRATCH/src (pip builds its build requirements from source: minutes)"
  "$PY" -m pip download --no-binary :all: --no-deps "$spec" -d "$SCRATCH/src" >&2
  tarball=$(ls "$SCRATCH"/src/llama_cpp_python-*.tar.gz | sort -V | tail -n 1)
  tar -xzf "$tarball" -C "$SCRATCH/src"
  LLAMA_SRC=$(src_dir) || die "no vendor/llama.cpp in $tarball"
fi
say "llama.cpp source: $LLAMA_SRC"

# 2. the build
LB="$SCRATCH/cmake-build/bin/llama-bench"
LQ="$SCRATCH/cmake-build/bin/llama-quantize"
if [ ! -x "$LB" ] || [ ! -x "$LQ" ]; then
  say "building llama-bench and llama-quantize in $SCRATCH/cmake-build (nice -n 10, -j$JOBS)"
  nice -n 10 cmake -S "$LLAMA_SRC" -B "$SCRATCH/cmake-build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON \
    -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
    -DLLAMA_BUILD_TOOLS=ON -DBUILD_SHARED_LIBS=OFF >&2
  nice -n 10 cmake --build "$SCRATCH/cmake-build" --target llama-bench llama-quantize -j"$JOBS" >&2
fi
[ -x "$LB" ] || die "no $LB after the build"
[ "$BUILD_ONLY" = 1 ] && { say "built $LB"; exit 0; }

# 3. the weights
if [ ! -f "$MODEL_DIR/config.json" ]; then
  say "writing the random GPT-2-small / BERT-base model directory $MODEL_DIR (seed 0)"
  "$PY" "$ROOT/tools/bench_torch_reference.py" --save-only "$MODEL_DIR" >&2
fi
HF_DIR="$MODEL_DIR/hf"
if [ ! -f "$HF_DIR/model.safetensors" ] || [ "$HF_DIR/model.safetensors" -ot "$MODEL_DIR/decoder.safetensors" ]; then
  "$PY" "$ROOT/tools/make_gpt2_hf_dir.py" --model-dir "$MODEL_DIR" --out "$HF_DIR" >&2
fi
GGUF_DIR="$SCRATCH/gguf"
mkdir -p "$GGUF_DIR"
gguf() { echo "$GGUF_DIR/gpt2-small-random-$1.gguf"; }
for f in f32 f16; do
  if [ ! -f "$(gguf $f)" ] || [ "$(gguf $f)" -ot "$HF_DIR/model.safetensors" ]; then
    say "converting to $(gguf $f)"
    "$PY" "$ROOT/tools/gguf_convert_gpt2.py" "$LLAMA_SRC" "$HF_DIR" --outtype $f --outfile "$(gguf $f)" >&2
  fi
done
if [ ! -f "$(gguf q8_0)" ] || [ "$(gguf q8_0)" -ot "$(gguf f32)" ]; then
  "$LQ" "$(gguf f32)" "$(gguf q8_0)" q8_0 >&2
fi
[ -x "$BENCH_MODEL" ] || die "no $BENCH_MODEL: cmake --build build --target bench_model (with -DLARIMAR_BUILD_BENCH=ON)"

# 4. the runs, interleaved
larimar_format() { case "$1" in f32) echo 0 ;; f16) echo 1 ;; bf16) echo 2 ;; q8_0) echo 3 ;; *) die "format $1?" ;; esac; }
RESULTS=$(mktemp)
trap 'rm -f "$RESULTS" "$RESULTS".json' EXIT
ours() {  # kind threads format
  local filter
  if [ "$1" = decode ]; then filter="^BM_decode_batch1_weights/format:$(larimar_format "$3")/"
  else filter="^BM_prefill_512_weights/format:$(larimar_format "$3")/"; fi
  OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=$2 OPENBLAS_NUM_THREADS=$2 LARIMAR_BENCH_MODEL="$MODEL_DIR" \
    "$BENCH_MODEL" --benchmark_filter="$filter" --benchmark_out="$RESULTS.json" --benchmark_out_format=json >/dev/null
  "$PY" -c 'import json,sys; b=[x for x in json.load(open(sys.argv[1]))["benchmarks"] if "tokens/s" in x]
print(b[0]["tokens/s"] if b else "nan")' "$RESULTS.json"
}
theirs() {  # kind threads format
  local pn
  if [ "$1" = decode ]; then pn="-p 0 -n 128"; else pn="-p 512 -n 0"; fi
  # shellcheck disable=SC2086
  OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=$2 "$LB" -m "$(gguf "$3")" -t "$2" $pn -r "$LLAMA_BENCH_REPS" -o json \
    2>/dev/null | "$PY" -c 'import json,sys; r=json.load(sys.stdin); print(r[0]["avg_ts"] if r else "nan")'
}
UPTIME_BEFORE=$(uptime)
START=$(date -u +%Y-%m-%dT%H:%M:%SZ)
for rep in $(seq 1 "$REPS"); do
  for t in $THREADS; do
    for f in $FORMATS; do
      for kind in decode prefill; do
        a=$(ours $kind "$t" "$f"); b=$(theirs $kind "$t" "$f")
        printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$rep" "$kind" "$t" "$f" "$a" "$b" >> "$RESULTS"
        say "rep $rep $kind threads $t $f: larimar $a tok/s, llama.cpp $b tok/s"
      done
    done
  done
done
END=$(date -u +%Y-%m-%dT%H:%M:%SZ)
UPTIME_AFTER=$(uptime)

# 5. the report
mkdir -p "$REPORT_DIR"
REPORT="$REPORT_DIR/llama-cpp-anchor-$(date -u +%Y-%m-%dT%H%MZ).md"
CPU=$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -n 1)
FLAGS=$(grep -o -w -E 'avx2|avx512f|avx512_bf16|avx512_vnni|amx_tile' /proc/cpuinfo | sort -u | tr '\n' ' ' || true)
{
  echo "## llama.cpp anchor: GPT-2-small, random weights (seed 0), batch 1"
  echo
  echo "- $START – $END, $(nproc) CPUs: $CPU ($FLAGS)"
  echo "- uptime before: \`$UPTIME_BEFORE\`"
  echo "- uptime after: \`$UPTIME_AFTER\`"
  echo "- llama.cpp: $(basename "$(dirname "$(dirname "$LLAMA_SRC")")") (vendored), GGML_NATIVE=ON; llama-bench -r $LLAMA_BENCH_REPS"
  echo "- larimar: $BENCH_MODEL; $REPS interleaved repetitions; OMP_WAIT_POLICY=PASSIVE"
  echo
  "$PY" - "$RESULTS" <<'EOF'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
keys = []
for r in rows:
    k = (r[1], r[2], r[3])
    if k not in keys:
        keys.append(k)
def med(xs):
    xs = [float(x) for x in xs if x not in ("nan", "")]
    return statistics.median(xs) if xs else float("nan")
print("| measure | threads | precision (larimar / llama.cpp) | larimar tok/s | llama.cpp tok/s | larimar / llama.cpp | runs (larimar; llama.cpp) |")
print("|---|---|---|---|---|---|---|")
ours_name = {"f32": "f32", "f16": "f16", "bf16": "bf16", "q8_0": "int8"}
for kind, t, f in keys:
    sel = [r for r in rows if (r[1], r[2], r[3]) == (kind, t, f)]
    a, b = med(r[4] for r in sel), med(r[5] for r in sel)
    what = "decode, 128 tokens" if kind == "decode" else "prefill, 512 tokens"
    runs = ", ".join(f"{float(r[4]):.1f}" for r in sel) + "; " + ", ".join(f"{float(r[5]):.1f}" for r in sel)
    print(f"| {what} | {t} | {ours_name.get(f, f)} / {f} | {a:.1f} | {b:.1f} | {a / b:.2f}× | {runs} |")
EOF
} | tee "$REPORT"
say "report: $REPORT"
