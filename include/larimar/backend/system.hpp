#pragma once
// The thrust backends, one folder each, and the one the build selects:
//   backend::omp  - thrust's OpenMP system (CPP when the compiler has no OpenMP) + OpenBLAS/LAPACK; any C++ compiler
//   backend::cuda - thrust's CUDA system + cuBLAS/cuSOLVER; only in translation units compiled by nvcc
// backend::active is the backend of THRUST_DEVICE_SYSTEM (omp unless CUDA, which nvcc targets default to).
// backend::host (backend/host/host.hpp, no thrust) is storage::host's and is not a thrust backend.
#include "larimar/backend/omp/omp.hpp"
#include "larimar/backend/thrust_system.hpp"
#if defined(__CUDACC__)
#include "larimar/backend/cuda/cuda.hpp"
#endif

namespace larimar::backend {

#if THRUST_DEVICE_SYSTEM == THRUST_DEVICE_SYSTEM_CUDA
using active = cuda;
#else
using active = omp;
#endif

}  // namespace larimar::backend
