# Runs idlc on one IDL file and compares what it printed and its exit code
# with a golden file.
#
#   cmake -DIDLC=path/to/idlc -DIDL=name.idl -DDIR=dir -DMODE=errors|valid -P golden.cmake
#
# The command runs in DIR with the IDL file's name as given, so diagnostics
# carry short relative paths. MODE=errors compares stderr (idlc --check);
# MODE=valid compares stdout of idlc --dump-ast and expects empty stderr. A
# first line "// idlc-args: ..." adds arguments (for example -I inc).
#
# -DWRAPPER=a|b|c runs idlc under a command (the memcheck variants; '|'
# separates its arguments).
#
# The golden file is DIR/<name>.expected: the output, then a last line
# "exit: N". Set PIPERPC_UPDATE_GOLDEN=1 in the environment to rewrite the
# golden files from the current output instead of comparing.
cmake_minimum_required(VERSION 3.20)
foreach(v IDLC IDL DIR MODE)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "golden.cmake: ${v} is not set")
  endif()
endforeach()

file(STRINGS "${DIR}/${IDL}" first LIMIT_COUNT 1)
set(extra "")
if(first MATCHES "^// idlc-args: (.*)$")
  separate_arguments(extra UNIX_COMMAND "${CMAKE_MATCH_1}")
endif()

if(MODE STREQUAL "errors")
  set(flag --check)
else()
  set(flag --dump-ast)
endif()
set(wrapper "")
if(WRAPPER)
  string(REPLACE "|" ";" wrapper "${WRAPPER}")
endif()
execute_process(COMMAND ${wrapper} "${IDLC}" ${flag} ${extra} "${IDL}"
  WORKING_DIRECTORY "${DIR}"
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err
  TIMEOUT 30)

if(MODE STREQUAL "errors")
  set(actual "${err}exit: ${rc}\n")
  if(out)
    message(FATAL_ERROR "${IDL}: unexpected output on stdout:\n${out}")
  endif()
else()
  set(actual "${out}exit: ${rc}\n")
  if(err)
    message(FATAL_ERROR "${IDL}: a valid file produced diagnostics:\n${err}")
  endif()
endif()

string(REGEX REPLACE "\\.idl$" ".expected" golden "${DIR}/${IDL}")
if("$ENV{PIPERPC_UPDATE_GOLDEN}" STREQUAL "1")
  file(WRITE "${golden}" "${actual}")
  message(STATUS "updated ${golden}")
  return()
endif()
if(NOT EXISTS "${golden}")
  message(FATAL_ERROR "${golden} is missing; run with PIPERPC_UPDATE_GOLDEN=1 to create it.\nOutput was:\n${actual}")
endif()
file(READ "${golden}" expected)
if(NOT actual STREQUAL expected)
  # The actual output goes to the build tree (the working directory), never
  # beside the golden file.
  get_filename_component(gname "${golden}" NAME)
  set(saved "${CMAKE_CURRENT_BINARY_DIR}/${MODE}-${gname}.actual")
  file(WRITE "${saved}" "${actual}")
  execute_process(COMMAND diff -u "${golden}" "${saved}" OUTPUT_VARIABLE d)
  message(FATAL_ERROR "${IDL}: output differs from ${golden}\n${d}\n(actual output saved to ${saved})")
endif()
if(MODE STREQUAL "errors" AND rc EQUAL 0)
  message(FATAL_ERROR "${IDL}: a malformed file was accepted")
endif()
