# Every valid IDL file of the front end's test suite must generate C that
# compiles with every warning as an error.
#
#   cmake -DIDLC=idlc -DCC=cc -DVALID=tests/idlc/valid -DINC=tests/idlc/errors/inc
#         -DINCLUDE=include -DWORK=dir -P compile_all.cmake
cmake_minimum_required(VERSION 3.20)
foreach(v IDLC CC VALID INC INCLUDE WORK)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "compile_all.cmake: ${v} is not set")
  endif()
endforeach()

file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")
file(GLOB idls "${VALID}/*.idl")
list(SORT idls)
# Imported by uses_import.idl from the include directory.
list(APPEND idls "${INC}/shared.idl")
foreach(idl IN LISTS idls)
  execute_process(COMMAND "${IDLC}" -I "${INC}" -I "${VALID}" -o "${WORK}" "${idl}"
    RESULT_VARIABLE rc ERROR_VARIABLE err TIMEOUT 60)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "idlc ${idl} failed (exit ${rc}):\n${err}")
  endif()
endforeach()

file(GLOB sources "${WORK}/*.c")
list(LENGTH sources n)
if(n LESS 30)
  message(FATAL_ERROR "only ${n} generated sources in ${WORK}")
endif()
execute_process(COMMAND "${CC}" -std=c11 -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes
    -Wmissing-prototypes -Wconversion -Werror -fsyntax-only -I "${INCLUDE}" -I "${WORK}" ${sources}
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 300)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${CC} rejected generated code:\n${out}${err}")
endif()
message(STATUS "${n} generated sources compile cleanly with ${CC}")
