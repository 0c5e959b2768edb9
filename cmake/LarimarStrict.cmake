# Our own targets: warnings are errors; optionally ASan + UBSan.
function(larimar_strict target)
  get_target_property(_type ${target} TYPE)
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Werror>
    $<$<COMPILE_LANGUAGE:CUDA>:-Werror=all-warnings>)
  if(LARIMAR_SANITIZE)
    # -O1 -g1 (after the build type's flags, so they win): the sanitizer build is the slowest stage of
    # scripts/test.sh. -O1 compiles test/memory/sharded.cpp in 70 s where -O2 takes 95 s, with the same checks;
    # -g1 keeps the line tables a report needs and drops the variables' debug information: 60 s CPU instead of
    # 92 s with -g, objects 20 MB instead of 43 MB.
    target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-O1 -g1 -fsanitize=address,undefined
                           -fno-sanitize-recover=all -fno-omit-frame-pointer>)
    target_link_options(${target} PRIVATE -fsanitize=address,undefined)
  endif()
endfunction()
