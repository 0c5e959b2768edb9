# Sourced by the scripts. OpenBLAS picks its kernels by CPU model when it loads, and Debian 12's OpenBLAS 0.3.21 does
# not know the newest Xeons (family 6, model 207 seen here): it falls back to its Prescott (SSE3) kernels, whose sgemm
# is 5x slower (22 against 115 GFLOP/s on one core). Where it does, this names the kernels the CPU can run.
# A value the caller set wins; nothing is changed where OpenBLAS knows the CPU.
if [ -z "${OPENBLAS_CORETYPE:-}" ] && command -v python3 >/dev/null 2>&1; then
  _openblas_core=$(OPENBLAS_VERBOSE=2 python3 -c "import ctypes; ctypes.CDLL('libopenblas.so.0')" 2>&1 | sed -n 's/^Core: //p')
  if [ "$_openblas_core" = Prescott ]; then
    if grep -qw avx512f /proc/cpuinfo && grep -qw avx512bw /proc/cpuinfo && grep -qw avx512vl /proc/cpuinfo \
       && grep -qw avx512dq /proc/cpuinfo; then
      export OPENBLAS_CORETYPE=SkylakeX
    elif grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo; then
      export OPENBLAS_CORETYPE=Haswell
    fi
    if [ -n "${OPENBLAS_CORETYPE:-}" ]; then
      echo "note: OpenBLAS does not know this CPU; OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE" >&2
    fi
  fi
  unset _openblas_core
fi
