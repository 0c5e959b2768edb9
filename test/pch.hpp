#pragma once
// The precompiled header of larimar_use_pch (cmake/LarimarStrict.cmake), for the suites, benchmarks and tools: the
// third-party headers most of them include, parsed once per build instead of once per translation unit (-O2, CPU:
// test/memory/parity.cpp 30.2 s without it, 27.6 s with it; io/atomic_file.cpp 21.0 s, 17.3 s; the PCH itself 9 s
// once per build directory). Only headers from outside larimar: ours are still compiled in each translation unit,
// with our warnings as errors.
// Not doctest: its header registers a test suite, a link dependency for the benchmarks and tools (and costs
// little). The thrust headers are those larimar/backend/system.hpp includes for a C++ compiler.
#include <nlohmann/json.hpp>
#include <thrust/copy.h>
#include <thrust/device_ptr.h>
#include <thrust/device_vector.h>
#include <thrust/execution_policy.h>
#include <thrust/fill.h>
#include <thrust/for_each.h>
#include <thrust/iterator/counting_iterator.h>
#if defined(_OPENMP)
#include <thrust/system/omp/execution_policy.h>
#include <thrust/system/omp/vector.h>
#else
#include <thrust/system/cpp/execution_policy.h>
#include <thrust/system/cpp/vector.h>
#endif
#include <xtensor/xnorm.hpp>
#include <xtensor/xtensor.hpp>
#include <xtensor/xview.hpp>
