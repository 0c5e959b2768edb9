#!/usr/bin/env bash
# Installs what is missing, builds everything, runs every test: the release suites, the ASan+UBSan suites,
# out-of-tree consumers of the installed package, and (when nvcc is present) compiles the CUDA targets.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/install-deps.sh
. scripts/openblas-env.sh  # OpenBLAS on its Prescott kernels where it does not know the CPU
jobs=${JOBS:-$(nproc)}
t0=$(date +%s)
# Each stage's heading says the wall time so far and the CPU seconds (user + system, this script's children) that
# the stage before it took: where the time of a CI run goes.
cpu_mark=0 cpu_file=$(mktemp)
trap 'rm -f "$cpu_file"' EXIT
stage() {  # `times` runs in this shell (a command substitution would count a subshell's children: none)
  times > "$cpu_file"
  local c; c=$(awk 'NR == 2 { split($1, u, /[ms]/); split($2, s, /[ms]/); printf "%d", u[1] * 60 + u[2] + s[1] * 60 + s[2] }' "$cpu_file")
  echo; echo "=== $* ($(( $(date +%s) - t0 )) s; the stage before: $(( c - cpu_mark )) s CPU)"
  cpu_mark=$c
}

stage "release build"
# -O1: compiling is most of a CI run, and test/memory/memory.cpp compiles in 39 s of CPU at -O1 against 57 s at
# -O2 (-O3: a third more again). The library is header-only, so its users choose their own level; the benchmarks
# are measured at the build type's -O3 (scripts/bench.sh configures its own flags) and compile here at -O1.
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O1 -DNDEBUG" -DLARIMAR_BUILD_BENCH=ON >/dev/null
cmake --build build -j "$jobs"
stage "release tests"
LARIMAR_MINILM_DIR=$(bash scripts/fetch-minilm.sh)
[ -n "$LARIMAR_MINILM_DIR" ] && export LARIMAR_MINILM_DIR || echo "note: MiniLM weights unavailable; that test skips"
ctest --test-dir build --output-on-failure -j "$jobs"

stage "ASan+UBSan build"
# The library's suites, without the tools and the run-time factories' suites (test/runtime/tests.cmake): the
# factories' one translation unit alone costs minutes under the sanitizers, and the memories and pipelines it
# dispatches to are the ones the memory and pipeline suites run here; the release stage runs all of them.
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLARIMAR_SANITIZE=ON \
      -DLARIMAR_BUILD_BENCH=OFF -DLARIMAR_BUILD_EXAMPLES=OFF -DLARIMAR_BUILD_TOOLS=OFF >/dev/null
cmake --build build-asan -j "$jobs"
stage "ASan+UBSan tests"
# -E: the compile-error checks (the compiler with -fsyntax-only) and the include-graph script run no code of ours
# under the sanitizers; they are the same commands the release stage ran.
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan --output-on-failure -j "$jobs" -E '_is_a_compile_error$|^include_graph_acyclic$'

stage "ThreadSanitizer: recall_pipeline::ask_async (a generation on a worker while the caller writes), concurrent memory reads"
# One thread each for OpenMP and OpenBLAS: libgomp and OpenBLAS are not instrumented, their own threads would
# report false races; the races that matter here are between the worker and the calling thread, and between
# four threads reading one memory.
cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O1 -g1 -DNDEBUG" \
      -DCMAKE_CXX_FLAGS="-fsanitize=thread" \
      -DLARIMAR_BUILD_BENCH=OFF -DLARIMAR_BUILD_EXAMPLES=OFF -DLARIMAR_BUILD_TOOLS=OFF >/dev/null
cmake --build build-tsan -j "$jobs" --target test_pipeline_recall test_memory_concurrent_reads
OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 TSAN_OPTIONS=halt_on_error=1 \
  ./build-tsan/test/test_pipeline_recall -tc="ask_async*"
OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 TSAN_OPTIONS=halt_on_error=1 \
  ./build-tsan/test/test_memory_concurrent_reads

stage "install + out-of-tree consumers (memory alone; everything, with other thrust systems)"
rm -rf build/prefix build-consumer
cmake --install build --prefix "$root/build/prefix" >/dev/null
cmake -S test/consumer/memory -B build-consumer/memory -DCMAKE_PREFIX_PATH="$root/build/prefix" >/dev/null
cmake --build build-consumer/memory -j "$jobs"
./build-consumer/memory/larimar_consumer_memory
if command -v mpirun >/dev/null; then  # the distributed component (OpenMPI as root needs --allow-run-as-root)
  cmake -S test/consumer/distributed -B build-consumer/distributed -DCMAKE_PREFIX_PATH="$root/build/prefix" >/dev/null
  cmake --build build-consumer/distributed -j "$jobs"
  mpirun --oversubscribe --allow-run-as-root -np 2 ./build-consumer/distributed/larimar_consumer_distributed
fi
cuda_consumer=()
nvcc_=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
[ -x "$nvcc_" ] && cuda_consumer=(-DLARIMAR_CONSUMER_CUDA=ON -DCMAKE_CUDA_COMPILER="$nvcc_" -DCMAKE_CUDA_ARCHITECTURES="${CUDA_ARCH:-90}")
cmake -S test/consumer/full -B build-consumer/full -DCMAKE_PREFIX_PATH="$root/build/prefix" \
      -DLARIMAR_THRUST_DEVICE_SYSTEM=CPP "${cuda_consumer[@]}" >/dev/null
cmake --build build-consumer/full -j "$jobs"
for c in full omp none; do ./build-consumer/full/larimar_consumer_$c; done

if [ -x scripts/fuzz.sh ]; then
  stage "fuzz (bounded)"
  bash scripts/fuzz.sh
fi

if command -v nvcc >/dev/null 2>&1 || [ -x /usr/local/cuda/bin/nvcc ]; then
  stage "CUDA targets (compile + link; the GPU check's bundle packed, unpacked and its libraries resolved)"
  bash scripts/gpu-check.sh --bundle build-cuda/gpu-bundle.tar.xz
  bash scripts/gpu-check.sh --prebuilt build-cuda/gpu-bundle.tar.xz
fi
stage "all tests passed"
