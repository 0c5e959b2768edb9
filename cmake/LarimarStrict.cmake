# Our own targets: warnings are errors; optionally ASan + UBSan.
function(larimar_strict target)
  get_target_property(_type ${target} TYPE)
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Werror>
    $<$<COMPILE_LANGUAGE:CUDA>:-Werror=all-warnings>)
  if(LARIMAR_SANITIZE)
    # -O0 -g1 (after the build type's flags, so they win): the sanitizer build is the slowest stage of
    # scripts/test.sh (2,101 s CPU of a 2,310 s run at -O1). test/memory/sharded.cpp compiles in 25 s CPU at -O0
    # where -O1 takes 43 s, with the same checks (the suites then run slower, but run far shorter than they
    # compile); -g1 keeps the line tables a report needs and drops the variables' debug information.
    # LARIMAR_SANITIZED: a suite may run its end-to-end sweeps over fewer items here (the release build runs them
    # whole); what the sanitizers check is every code path, which a few items take.
    target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-O0 -g1 -fsanitize=address,undefined
                           -fno-sanitize-recover=all -fno-omit-frame-pointer>)
    target_compile_definitions(${target} PRIVATE LARIMAR_SANITIZED=1)
    target_link_options(${target} PRIVATE -fsanitize=address,undefined)
  endif()
endfunction()

# larimar_use_pch(target): compile the target's C++ sources after the shared precompiled header
# (test/pch.hpp: xtensor, thrust, nlohmann_json; its target larimar_test_pch is in CMakeLists.txt),
# so that those third-party headers are parsed once per build, not once per translation unit (about a tenth of a
# heavy suite's CPU time at -O2). Only where the suites are built; the target must have the suites' flags.
function(larimar_use_pch target)
  if(LARIMAR_BUILD_TESTS)
    target_precompile_headers(${target} REUSE_FROM larimar_test_pch)
  endif()
endfunction()
