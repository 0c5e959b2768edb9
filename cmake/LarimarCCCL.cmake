# Finds the thrust/CUB headers (NVIDIA CCCL) and defines the imported target larimar::cccl that carries them.
# Used by the build tree and by the installed package, so the include directory is the one found on the machine
# that configures, never a path recorded when larimar was installed.
#
# Hints, first found wins: the LARIMAR_CCCL_DIR variable (cache or normal), the LARIMAR_CCCL_DIR environment
# variable, the CUDA toolkit CMake found (CUDAToolkit_INCLUDE_DIRS), $CUDA_PATH, $CUDA_HOME, /usr/local/cuda; in
# each, the directory itself and its cccl/ subdirectory (CUDA 13 keeps thrust in include/cccl). Then the default
# include paths (Debian's libthrust-dev installs /usr/include/thrust).
# Result: LARIMAR_CCCL_INCLUDE_DIR (cache), LARIMAR_CCCL_VERSION, LARIMAR_CCCL_FOUND.
if(TARGET larimar::cccl)
  set(LARIMAR_CCCL_FOUND TRUE)
  return()
endif()

set(_larimar_cccl_hints)
foreach(_d IN ITEMS "${LARIMAR_CCCL_DIR}" "$ENV{LARIMAR_CCCL_DIR}")
  if(_d)
    list(APPEND _larimar_cccl_hints "${_d}")
  endif()
endforeach()
set(_larimar_cccl_paths)
foreach(_d IN LISTS CUDAToolkit_INCLUDE_DIRS ITEMS "$ENV{CUDA_PATH}" "$ENV{CUDA_HOME}" /usr/local/cuda)
  if(_d)
    if(NOT _d MATCHES "/include$")
      string(APPEND _d "/include")
    endif()
    list(APPEND _larimar_cccl_paths "${_d}")
  endif()
endforeach()

find_path(LARIMAR_CCCL_INCLUDE_DIR NAMES thrust/version.h
  HINTS ${_larimar_cccl_hints} ${_larimar_cccl_paths}
  PATH_SUFFIXES cccl
  DOC "Directory that holds thrust/ and cub/ (NVIDIA CCCL): the CUDA toolkit's include/cccl, or /usr/include")
unset(_larimar_cccl_hints)
unset(_larimar_cccl_paths)

set(LARIMAR_CCCL_FOUND FALSE)
if(LARIMAR_CCCL_INCLUDE_DIR)
  file(STRINGS "${LARIMAR_CCCL_INCLUDE_DIR}/thrust/version.h" _v REGEX "^#define THRUST_VERSION [0-9]+")
  string(REGEX REPLACE "^#define THRUST_VERSION ([0-9]+).*" "\\1" _v "${_v}")
  if(_v)
    math(EXPR _major "${_v} / 100000")
    math(EXPR _minor "(${_v} / 100) % 1000")
    math(EXPR _patch "${_v} % 100")
    set(LARIMAR_CCCL_VERSION "${_major}.${_minor}.${_patch}")
    unset(_major)
    unset(_minor)
    unset(_patch)
  endif()
  unset(_v)
  add_library(larimar::cccl INTERFACE IMPORTED)
  # Imported: the consumer sees it as a system directory (no warnings from thrust under -Werror).
  set_target_properties(larimar::cccl PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${LARIMAR_CCCL_INCLUDE_DIR}")
  set(LARIMAR_CCCL_FOUND TRUE)
endif()
