# Warnings for piperpc's own targets (never forced on consumers).
function(piperpc_warnings target)
  if(CMAKE_C_COMPILER_ID MATCHES "GNU|Clang")
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow
      -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter)
    if(PIPERPC_WERROR)
      target_compile_options(${target} PRIVATE -Werror)
    endif()
  endif()
endfunction()
