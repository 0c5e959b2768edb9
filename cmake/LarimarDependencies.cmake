# What each layer of larimar needs, shared by the build tree and the installed package (larimarConfig.cmake).
# The caller sets _larimar_layers to the layers wanted (memory, backend, model); for each missing package the
# layer's name goes into _larimar_missing_<layer>. In the build tree every package is required; in the package
# a missing one makes only the components that need it not found (find_package(larimar COMPONENTS ...)).
#
#   memory   xtensor (+ xtl), BLAS (OpenBLAS: cblas.h), LAPACK, OpenMP  — core/ backend/host storage/host keys/ solver/ memory/
#                                                                          io/state_file
#   backend  thrust/CUB headers (CCCL, larimar::cccl), BLAS, OpenMP     — backend/{omp,cuda} storage/device
#   model    backend + nlohmann_json                                    — model/ tokenizer/ io/safetensors
if(CMAKE_FIND_PACKAGE_NAME STREQUAL "larimar")
  set(_larimar_find_mode QUIET)
else()
  set(_larimar_find_mode REQUIRED)
endif()

# _larimar_require(<layer> <package> [find_package arguments...])
macro(_larimar_require layer pkg)
  if(NOT ${pkg}_FOUND)
    find_package(${pkg} ${ARGN} ${_larimar_find_mode})
  endif()
  if(NOT ${pkg}_FOUND)
    list(APPEND _larimar_missing_${layer} ${pkg})
  endif()
endmacro()

foreach(_layer IN ITEMS memory backend model)
  set(_larimar_missing_${_layer})
endforeach()

if("memory" IN_LIST _larimar_layers OR "backend" IN_LIST _larimar_layers OR "model" IN_LIST _larimar_layers)
  set(_larimar_bla_vendor "${BLA_VENDOR}")
  set(BLA_VENDOR OpenBLAS)  # cblas.h and its symbols
  _larimar_require(blas BLAS)
  set(BLA_VENDOR "${_larimar_bla_vendor}")
  _larimar_require(openmp OpenMP COMPONENTS CXX)
  foreach(_layer IN ITEMS memory backend model)
    list(APPEND _larimar_missing_${_layer} ${_larimar_missing_blas} ${_larimar_missing_openmp})
  endforeach()
endif()
if("memory" IN_LIST _larimar_layers)
  _larimar_require(memory xtl)
  _larimar_require(memory xtensor)
  _larimar_require(memory LAPACK)
endif()
if("backend" IN_LIST _larimar_layers OR "model" IN_LIST _larimar_layers)
  include("${CMAKE_CURRENT_LIST_DIR}/LarimarCCCL.cmake")
  if(NOT LARIMAR_CCCL_FOUND)
    list(APPEND _larimar_missing_backend "CCCL (thrust headers: set LARIMAR_CCCL_DIR)")
    if(NOT CMAKE_FIND_PACKAGE_NAME STREQUAL "larimar")
      message(FATAL_ERROR "larimar: thrust/CUB headers (CCCL) not found; set LARIMAR_CCCL_DIR to the directory "
                          "that holds thrust/ (e.g. /usr/local/cuda/include/cccl), or install libthrust-dev")
    endif()
  endif()
  list(APPEND _larimar_missing_model ${_larimar_missing_backend})
endif()
if("model" IN_LIST _larimar_layers)
  _larimar_require(model nlohmann_json)
endif()
unset(_larimar_missing_blas)
unset(_larimar_missing_openmp)
unset(_larimar_bla_vendor)
unset(_larimar_find_mode)
