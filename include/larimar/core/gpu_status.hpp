#pragma once
// CUDA runtime, cuBLAS and cuSOLVER status codes as exceptions. One rule for every GPU call in the library:
//
//   LARIMAR_GPU_CALL(cublasSgemm, handle, ...);     // throws device_error "cublasSgemm failed: CUBLAS_STATUS_..."
//   gpu_check(status, "cusolverDnSgesvdj");         // the same for a status already in hand
//
// An allocation failure (cudaErrorMemoryAllocation, *_STATUS_ALLOC_FAILED) becomes out_of_memory. The names are
// looked up by the libraries' numeric codes (stable ABI values), so the mapping compiles and is unit-tested
// without CUDA (test/memory/errors.cpp); under nvcc the typed overloads below forward the real status types.
#include <cstddef>
#include <string>

#include "larimar/core/error.hpp"

#if defined(__CUDACC__)
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cusolverDn.h>
#endif

namespace larimar {

enum class gpu_library { cuda_runtime, cublas, cusolver };

// The library's name for a status code ("CUBLAS_STATUS_ALLOC_FAILED"), or "unknown status" for a code we do not
// know (the message still carries the number).
inline const char* gpu_status_name(gpu_library lib, int code) {
  switch (lib) {
    case gpu_library::cuda_runtime:
      switch (code) {
        case 0: return "cudaSuccess";
        case 1: return "cudaErrorInvalidValue";
        case 2: return "cudaErrorMemoryAllocation";
        case 3: return "cudaErrorInitializationError";
        case 4: return "cudaErrorCudartUnloading";
        case 9: return "cudaErrorInvalidConfiguration";
        case 17: return "cudaErrorInvalidDevicePointer";
        case 35: return "cudaErrorInsufficientDriver";
        case 46: return "cudaErrorDevicesUnavailable";
        case 100: return "cudaErrorNoDevice";
        case 101: return "cudaErrorInvalidDevice";
        case 200: return "cudaErrorInvalidKernelImage";
        case 209: return "cudaErrorNoKernelImageForDevice";
        case 214: return "cudaErrorECCUncorrectable";
        case 222: return "cudaErrorUnsupportedPtxVersion";
        case 400: return "cudaErrorInvalidResourceHandle";
        case 700: return "cudaErrorIllegalAddress";
        case 701: return "cudaErrorLaunchOutOfResources";
        case 702: return "cudaErrorLaunchTimeout";
        case 710: return "cudaErrorAssert";
        case 719: return "cudaErrorLaunchFailure";
        case 801: return "cudaErrorNotSupported";
        case 999: return "cudaErrorUnknown";
        default: return "unknown status";
      }
    case gpu_library::cublas:
      switch (code) {
        case 0: return "CUBLAS_STATUS_SUCCESS";
        case 1: return "CUBLAS_STATUS_NOT_INITIALIZED";
        case 3: return "CUBLAS_STATUS_ALLOC_FAILED";
        case 7: return "CUBLAS_STATUS_INVALID_VALUE";
        case 8: return "CUBLAS_STATUS_ARCH_MISMATCH";
        case 11: return "CUBLAS_STATUS_MAPPING_ERROR";
        case 13: return "CUBLAS_STATUS_EXECUTION_FAILED";
        case 14: return "CUBLAS_STATUS_INTERNAL_ERROR";
        case 15: return "CUBLAS_STATUS_NOT_SUPPORTED";
        case 16: return "CUBLAS_STATUS_LICENSE_ERROR";
        default: return "unknown status";
      }
    case gpu_library::cusolver:
      switch (code) {
        case 0: return "CUSOLVER_STATUS_SUCCESS";
        case 1: return "CUSOLVER_STATUS_NOT_INITIALIZED";
        case 2: return "CUSOLVER_STATUS_ALLOC_FAILED";
        case 3: return "CUSOLVER_STATUS_INVALID_VALUE";
        case 4: return "CUSOLVER_STATUS_ARCH_MISMATCH";
        case 5: return "CUSOLVER_STATUS_MAPPING_ERROR";
        case 6: return "CUSOLVER_STATUS_EXECUTION_FAILED";
        case 7: return "CUSOLVER_STATUS_INTERNAL_ERROR";
        case 8: return "CUSOLVER_STATUS_MATRIX_TYPE_NOT_SUPPORTED";
        case 9: return "CUSOLVER_STATUS_NOT_SUPPORTED";
        case 10: return "CUSOLVER_STATUS_ZERO_PIVOT";
        case 11: return "CUSOLVER_STATUS_INVALID_LICENSE";
        case 31: return "CUSOLVER_STATUS_INVALID_WORKSPACE";
        default: return "unknown status";
      }
  }
  return "unknown status";
}

inline bool gpu_status_is_alloc_failure(gpu_library lib, int code) {
  return (lib == gpu_library::cuda_runtime && code == 2) || (lib == gpu_library::cublas && code == 3) ||
         (lib == gpu_library::cusolver && code == 2);
}

// Throws for any code but 0 (success in all three libraries): out_of_memory for an allocation failure,
// device_error otherwise; the message names the call, the status and its number.
inline void gpu_check(gpu_library lib, int code, const char* call) {
  if (code == 0) return;
  const std::string what = std::string(call) + " failed: " + gpu_status_name(lib, code) + " (" +
                           std::to_string(code) + ")";
  if (gpu_status_is_alloc_failure(lib, code)) throw out_of_memory(what + "; the device is out of memory", 0);
  throw device_error(what);
}

#if defined(__CUDACC__)
inline void gpu_check(cudaError_t s, const char* call) {
  if (s != cudaSuccess) (void)cudaGetLastError();  // reset the runtime's last error (a non-sticky one) before throwing
  gpu_check(gpu_library::cuda_runtime, static_cast<int>(s), call);
}
inline void gpu_check(cublasStatus_t s, const char* call) { gpu_check(gpu_library::cublas, static_cast<int>(s), call); }
inline void gpu_check(cusolverStatus_t s, const char* call) {
  gpu_check(gpu_library::cusolver, static_cast<int>(s), call);
}
#endif

}  // namespace larimar

// Calls fn(args...) and throws, naming fn, when it does not return success.
#define LARIMAR_GPU_CALL(fn, ...) ::larimar::gpu_check(fn(__VA_ARGS__), #fn)
