# The property that ties the checker to the generators: for every IDL file in
# the tree (tests/ and examples/, valid ones and the golden errors alike),
# idlc either rejects it or the C it generates compiles with every warning as
# an error. An IDL name clash the checker misses shows up here as C that does
# not compile.
#
#   cmake -DIDLC=idlc -DCC=cc -DROOT=<source tree> -DWORK=<dir> -P accepted_compiles.cmake
#
# Each file is checked in its own directory with the arguments of its
# "// idlc-args: ..." first line, as the golden tests run it. When idlc accepts
# it, the file and everything it imports are generated into a directory of
# their own and every generated .c is compiled. The files of tests/idlc/valid,
# tests/gen/idl and the examples must be accepted.
cmake_minimum_required(VERSION 3.20)
foreach(v IDLC CC ROOT WORK)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "accepted_compiles.cmake: ${v} is not set")
  endif()
endforeach()

set(flags -std=c11 -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes
  -Wconversion -Werror -fsyntax-only)
set(must_accept "^(tests/idlc/valid|tests/gen/idl|tests/examples|tests/consumer|examples)/")

file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")
file(GLOB_RECURSE idls RELATIVE "${ROOT}" "${ROOT}/tests/*.idl" "${ROOT}/examples/*.idl")
list(SORT idls)

set(failures "")
set(accepted 0)
set(rejected 0)
set(compiled 0)
foreach(rel IN LISTS idls)
  set(idl "${ROOT}/${rel}")
  get_filename_component(dir "${idl}" DIRECTORY)
  get_filename_component(name "${idl}" NAME)
  string(MAKE_C_IDENTIFIER "${rel}" tag)
  set(out "${WORK}/${tag}")
  file(MAKE_DIRECTORY "${out}")

  file(STRINGS "${idl}" first LIMIT_COUNT 1)
  set(extra "")
  if(first MATCHES "^// idlc-args: (.*)$")
    separate_arguments(extra UNIX_COMMAND "${CMAKE_MATCH_1}")
  endif()

  execute_process(COMMAND "${IDLC}" --check --depfile "${out}/deps.d" ${extra} "${name}"
    WORKING_DIRECTORY "${dir}" RESULT_VARIABLE rc OUTPUT_QUIET ERROR_VARIABLE err TIMEOUT 60)
  if(NOT rc MATCHES "^[012]$")
    string(APPEND failures "${rel}: idlc --check ended with '${rc}':\n${err}\n")
    continue()
  endif()
  if(NOT rc EQUAL 0)
    math(EXPR rejected "${rejected} + 1")
    if(rel MATCHES "${must_accept}")
      string(APPEND failures "${rel}: rejected (exit ${rc}), but it is meant to be valid:\n${err}\n")
    endif()
    continue()
  endif()
  math(EXPR accepted "${accepted} + 1")

  # Everything the file reads, generated too: its header includes theirs.
  file(READ "${out}/deps.d" deps)
  string(REGEX REPLACE "^[^:]*: " "" deps "${deps}")
  string(STRIP "${deps}" deps)
  separate_arguments(deps UNIX_COMMAND "${deps}")
  execute_process(COMMAND "${IDLC}" ${extra} -o "${out}" ${deps}
    WORKING_DIRECTORY "${dir}" RESULT_VARIABLE rc OUTPUT_QUIET ERROR_VARIABLE err TIMEOUT 60)
  if(NOT rc EQUAL 0)
    string(APPEND failures "${rel}: accepted by --check, but generating it and its imports failed (exit ${rc}):\n${err}\n")
    continue()
  endif()
  file(GLOB sources "${out}/*.c")
  if(NOT sources)
    string(APPEND failures "${rel}: accepted, but nothing was generated\n")
    continue()
  endif()
  execute_process(COMMAND "${CC}" ${flags} -I "${ROOT}/include" -I "${out}" ${sources}
    RESULT_VARIABLE rc OUTPUT_VARIABLE cc_out ERROR_VARIABLE cc_err TIMEOUT 300)
  if(NOT rc EQUAL 0)
    # The first errors say enough; one clash can cause hundreds.
    string(SUBSTRING "${cc_out}${cc_err}" 0 3000 cc_first)
    string(APPEND failures "${rel}: accepted by idlc, but the generated C does not compile:\n${cc_first}\n")
    continue()
  endif()
  list(LENGTH sources n)
  math(EXPR compiled "${compiled} + ${n}")
endforeach()

list(LENGTH idls total)
message(STATUS "${total} IDL files: ${rejected} rejected, ${accepted} accepted, ${compiled} generated C files compiled")
if(failures)
  message(FATAL_ERROR "${failures}")
endif()
if(accepted EQUAL 0 OR rejected EQUAL 0)
  message(FATAL_ERROR "expected both accepted and rejected files among the ${total} under ${ROOT}")
endif()
