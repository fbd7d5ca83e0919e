# Generates C from one IDL file and compares every output file with the
# golden copy checked in under tests/gen/golden/<name>/.
#
#   cmake -DIDLC=path/to/idlc -DIDL=name.idl -DSRC=tests/gen -DWORK=dir -P golden.cmake
#
# idlc runs in SRC/idl with -I . so the output carries no machine paths. Set
# PIPERPC_UPDATE_GOLDEN=1 in the environment to rewrite the golden copies
# from the current output instead of comparing (then review the diff):
#   PIPERPC_UPDATE_GOLDEN=1 ctest -R gen_golden
cmake_minimum_required(VERSION 3.20)
foreach(v IDLC IDL SRC WORK)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "golden.cmake: ${v} is not set")
  endif()
endforeach()

get_filename_component(name "${IDL}" NAME_WE)
set(out "${WORK}/${name}")
file(REMOVE_RECURSE "${out}")
file(MAKE_DIRECTORY "${out}")
execute_process(COMMAND "${IDLC}" -I . -o "${out}" "${IDL}"
  WORKING_DIRECTORY "${SRC}/idl"
  RESULT_VARIABLE rc OUTPUT_VARIABLE stdout ERROR_VARIABLE stderr
  TIMEOUT 60)
if(NOT rc EQUAL 0 OR stdout OR stderr)
  message(FATAL_ERROR "idlc ${IDL} failed (exit ${rc}):\n${stdout}${stderr}")
endif()

set(golden "${SRC}/golden/${name}")
file(GLOB produced RELATIVE "${out}" "${out}/*")
list(SORT produced)
if("$ENV{PIPERPC_UPDATE_GOLDEN}" STREQUAL "1")
  file(REMOVE_RECURSE "${golden}")
  file(MAKE_DIRECTORY "${golden}")
  foreach(f IN LISTS produced)
    file(COPY "${out}/${f}" DESTINATION "${golden}")
  endforeach()
  message(STATUS "updated ${golden}")
  return()
endif()

file(GLOB expected RELATIVE "${golden}" "${golden}/*")
list(SORT expected)
if(NOT produced STREQUAL expected)
  message(FATAL_ERROR "${IDL}: idlc wrote [${produced}], the golden set is [${expected}]")
endif()
set(failed "")
foreach(f IN LISTS produced)
  file(READ "${out}/${f}" a)
  file(READ "${golden}/${f}" b)
  if(NOT a STREQUAL b)
    list(APPEND failed "${f}")
  endif()
endforeach()
if(failed)
  message(FATAL_ERROR "${IDL}: generated output differs from tests/gen/golden/${name}/ in: ${failed}\n"
    "Compare: diff -r ${golden} ${out}\n"
    "If the change is intended: PIPERPC_UPDATE_GOLDEN=1 ctest -R gen_golden")
endif()

# Generation is deterministic: a second run gives the same bytes.
file(MAKE_DIRECTORY "${out}-again")
execute_process(COMMAND "${IDLC}" -I . -o "${out}-again" "${IDL}"
  WORKING_DIRECTORY "${SRC}/idl" RESULT_VARIABLE rc2 TIMEOUT 60)
foreach(f IN LISTS produced)
  file(READ "${out}/${f}" a)
  file(READ "${out}-again/${f}" b)
  if(NOT a STREQUAL b)
    message(FATAL_ERROR "${IDL}: two runs of idlc wrote different ${f}")
  endif()
endforeach()
