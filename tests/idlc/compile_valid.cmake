# Every valid IDL file in valid/ (and the files they import) generates C
# that compiles warning-free: the front end's resolved tree (definition
# order, names) is what the generator builds on.
#   cmake -DIDLC=... -DCC=... -DSRC=<tests/idlc> -DINCLUDE=<include> -DWORK=<dir> -P compile_valid.cmake
cmake_minimum_required(VERSION 3.20)
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")
file(GLOB idls "${SRC}/valid/*.idl")
list(APPEND idls "${SRC}/errors/inc/shared.idl")
foreach(idl IN LISTS idls)
  execute_process(COMMAND "${IDLC}" -I "${SRC}/errors/inc" -o "${WORK}" "${idl}"
    RESULT_VARIABLE rc ERROR_VARIABLE err TIMEOUT 60)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "idlc ${idl} failed (${rc}):\n${err}")
  endif()
endforeach()
file(GLOB sources "${WORK}/*.c")
list(LENGTH sources n)
list(LENGTH idls nidl)
math(EXPR want "${nidl} * 3")
if(NOT n EQUAL want)
  message(FATAL_ERROR "${n} C files were generated for ${nidl} IDL files, expected ${want}")
endif()
foreach(c IN LISTS sources)
  execute_process(COMMAND "${CC}" -std=c11 -Wall -Wextra -Wpedantic -Werror -I "${INCLUDE}" -I "${WORK}"
                          -c "${c}" -o "${c}.o"
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 120)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${c} does not compile:\n${out}${err}")
  endif()
endforeach()
message(STATUS "${n} generated C files compile")
