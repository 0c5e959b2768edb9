#!/usr/bin/env bash
# The GPU check: builds every CUDA target with nvcc, runs the CUDA checks (the memory's cuSOLVER/cuBLAS paths
# against LAPACK, the decoder against its CPU backend, the pipeline with the memory on the host and on the GPU) and
# the GPU benchmarks (the memory against its cuBLAS floor, lookups, device memory against context length), and
# writes a report naming the device (build-cuda/gpu-report.md, or $GPU_REPORT).
#
#   scripts/gpu-check.sh                    install what is missing, build, run (a GPU machine with Debian's packages)
#   scripts/gpu-check.sh --bundle FILE      install, build, and pack the CUDA programs with the libraries they need
#                                           that a CUDA machine may lack (OpenBLAS, gfortran, benchmark): ~6 MB .tar.xz
#   scripts/gpu-check.sh --prebuilt FILE    no install, no build: unpack FILE and run (a GPU machine that cannot
#                                           reach a package registry; the CUDA libraries are found on that machine)
#
# Without a GPU every mode still does all it can (build, pack, unpack, resolve every program's libraries), says
# so in the report and exits 0, so CI exercises every part but the runs. Each program runs under a time limit
# (GPU_CHECK_TIMEOUT seconds, default 240) with line-buffered output, so a hang or crash still leaves a report.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
mode=build
bundle=
case "${1:-}" in
  --bundle) mode=bundle; bundle=${2:?"--bundle needs a file name"} ;;
  --prebuilt) mode=prebuilt; bundle=${2:?"--prebuilt needs a file name"} ;;
  "") ;;
  *) echo "usage: $0 [--bundle FILE | --prebuilt FILE]" >&2; exit 2 ;;
esac
[ -n "$bundle" ] && bundle=$(realpath -m "$bundle")
nvcc=${NVCC:-/usr/local/cuda/bin/nvcc}
arch=${CUDA_ARCH:-90}
limit=${GPU_CHECK_TIMEOUT:-240}
mkdir -p build-cuda
report=$(realpath -m "${GPU_REPORT:-build-cuda/gpu-report.md}")

if [ "$mode" = prebuilt ]; then
  bin=build-cuda/prebuilt
  rm -rf "$bin" && mkdir -p "$bin"
  tar -xJf "$bundle" -C "$bin" 2>/dev/null ||  # no xz there: Python's lzma reads it too
    python3 -c 'import sys, tarfile; t = tarfile.open(sys.argv[1])
t.extractall(sys.argv[2], **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))' "$bundle" "$bin"
else
  bash scripts/install-deps.sh
  cmake -S . -B build-cuda -DCMAKE_BUILD_TYPE=Release -DLARIMAR_CUDA=ON -DCMAKE_CUDA_COMPILER="$nvcc" \
        -DCMAKE_CUDA_ARCHITECTURES="$arch" >/dev/null
  cmake --build build-cuda -j "$(nproc)" --target larimar_cuda_targets
  bin=build-cuda/bundle
  rm -rf "$bin" && mkdir -p "$bin/lib"
  find build-cuda/test build-cuda/bench -maxdepth 1 -type f \( -name 'test_*_cuda' -o -name 'bench_*_cuda' \) \
    -exec cp {} "$bin/" \;
  # Every shared library the programs load but the C/C++ runtime and CUDA's own (the CUDA machine has those).
  for lib in $(ldd "$bin"/*_cuda | awk '/=> \//{print $3}' | sort -u); do
    case "$(basename "$lib")" in
      libc.so*|libm.so*|libdl.so*|librt.so*|libpthread.so*|libgcc_s.so*|libstdc++.so*|ld-linux*) ;;
      libcu*|libnv*) ;;
      *) cp -L "$lib" "$bin/lib/" ;;
    esac
  done
  if [ "$mode" = bundle ]; then
    tar -cJf "$bundle" -C "$bin" .
    echo "bundle: $bundle ($(du -h "$bundle" | cut -f1)): $(cd "$bin" && ls -- *_cuda lib | tr '\n' ' ')"
  fi
fi
bin=$(realpath "$bin")

# The libraries: the bundle's, then CUDA's wherever this machine keeps them (toolkit or Python wheels).
export LD_LIBRARY_PATH="$bin/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
missing() { { ldd "$bin"/*_cuda 2>/dev/null || true; } | awk '/not found/{print $1}' | sort -u; }
for lib in $(missing); do
  found=$(find /usr/local/cuda/lib64 /usr/local/cuda/targets /usr/local/cuda*/lib* /usr/local/lib /usr/lib \
               /opt -name "$lib" 2>/dev/null | head -1 || true)
  [ -n "$found" ] && export LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$(dirname "$found")"
done
export LARIMAR_FIXTURE_DIR="$root/test/fixtures" LARIMAR_MODEL_DIR="$root/models/larimar-tiny"
export OMP_WAIT_POLICY=PASSIVE

{
  echo "# larimar GPU check — $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  echo "mode: $mode; programs: $(cd "$bin" && ls -- *_cuda | tr '\n' ' ')"
  if [ "$mode" = prebuilt ]; then echo "built elsewhere (sm_$arch unless CUDA_ARCH said otherwise)"
  else echo "nvcc: $("$nvcc" --version | tail -1); built for sm_$arch"; fi
} >"$report"
still=$(missing)
if [ -n "$still" ]; then
  echo "libraries not found: $(echo $still)" | tee -a "$report"
fi
if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
  echo "device: none (nothing run)" | tee -a "$report"
  [ -z "$still" ] || exit 1
  exit 0
fi
echo "device: $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | head -1)" >>"$report"
status=0
for t in $(cd "$bin" && ls -- test_*_cuda); do
  echo "== $t" | tee -a "$report"
  if (cd test && timeout "$limit" "$bin/$t") >>"$report" 2>&1; then echo "passed" | tee -a "$report"
  else echo "FAILED (exit $?)" | tee -a "$report"; status=1; fi
done
for b in $(cd "$bin" && ls -- bench_*_cuda 2>/dev/null); do
  echo "== $b" | tee -a "$report"
  timeout "$limit" "$bin/$b" --benchmark_counters_tabular=true >>"$report" 2>&1 || { echo "FAILED (exit $?)" | tee -a "$report"; status=1; }
done
echo "report: $report"
exit $status
