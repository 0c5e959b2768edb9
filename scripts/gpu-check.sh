#!/usr/bin/env bash
# One command for a machine with a GPU: builds every CUDA target with nvcc, runs the CUDA checks (the memory's
# cuSOLVER/cuBLAS paths against LAPACK, the decoder against its CPU backend) and the GPU benchmarks (the memory
# against its cuBLAS floor, lookups, device memory against context length) and writes a report naming the
# device (build-cuda/gpu-report.md). Without a GPU it builds everything, says so in the
# report and exits 0, so every part that can run anywhere is exercised on every machine.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/install-deps.sh
nvcc=${NVCC:-/usr/local/cuda/bin/nvcc}
arch=${CUDA_ARCH:-90}
report=build-cuda/gpu-report.md
cmake -S . -B build-cuda -DCMAKE_BUILD_TYPE=Release -DLARIMAR_CUDA=ON -DCMAKE_CUDA_COMPILER="$nvcc" \
      -DCMAKE_CUDA_ARCHITECTURES="$arch" >/dev/null
cmake --build build-cuda -j "$(nproc)" --target larimar_cuda_targets
mkdir -p build-cuda
{
  echo "# larimar GPU check — $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  echo "nvcc: $("$nvcc" --version | tail -1)"
} >"$report"
built=$(find build-cuda/test build-cuda/bench -maxdepth 1 -type f \( -name 'test_*_cuda' -o -name 'bench_*_cuda' \) 2>/dev/null | sort)
echo "built for sm_$arch: $(echo $built | tr '\n' ' ')" >>"$report"
if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
  echo "device: none (nothing run)" | tee -a "$report"
  exit 0
fi
echo "device: $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | head -1)" >>"$report"
status=0
for t in $(find build-cuda/test -maxdepth 1 -type f -name 'test_*_cuda' | sort); do
  echo "== $t" | tee -a "$report"
  if (cd test && "../$t") >>"$report" 2>&1; then echo "passed" | tee -a "$report"; else echo "FAILED" | tee -a "$report"; status=1; fi
done
for b in $(find build-cuda/bench -maxdepth 1 -type f -name 'bench_*_cuda' 2>/dev/null | sort); do
  echo "== $b" | tee -a "$report"
  "$b" --benchmark_counters_tabular=true >>"$report" 2>&1 || status=1
done
echo "report: $report"
exit $status
