# Our own targets: warnings are errors; optionally ASan + UBSan.
function(larimar_strict target)
  get_target_property(_type ${target} TYPE)
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Werror>
    $<$<COMPILE_LANGUAGE:CUDA>:-Werror=all-warnings>)
  if(LARIMAR_SANITIZE)
    # -O1 (after the build type's flags, so it wins): the sanitizer build is the slowest stage of scripts/test.sh;
    # measured on test/memory/sharded.cpp, -O1 compiles in 70 s where -O2 takes 95 s, and the checks are the same.
    target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-O1 -fsanitize=address,undefined
                           -fno-sanitize-recover=all -fno-omit-frame-pointer>)
    target_link_options(${target} PRIVATE -fsanitize=address,undefined)
  endif()
endfunction()
