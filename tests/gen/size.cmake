# Bounds the size of the generated code: generates kv.idl, prints the total
# lines of all six files and the lines per method, and fails when any
# two-way method costs more than BOUND lines.
#
#   cmake -DIDLC=path/to/idlc -DSRC=tests/gen -DWORK=dir [-DBOUND=80] -P size.cmake
#
# A method's cost is measured, not estimated: it is the number of lines the
# output loses when the method (with its doc comment) is taken out of the
# IDL, counted over every generated file, headers included. This is a size
# bound, so it is pass/fail; it says nothing about speed.
cmake_minimum_required(VERSION 3.20)
foreach(v IDLC SRC WORK)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "size.cmake: ${v} is not set")
  endif()
endforeach()
if(NOT DEFINED BOUND)
  set(BOUND 80)
endif()

# Generates dir/kv.idl into dir/out; sets out_var to the total line count.
function(generated_lines dir out_var)
  file(REMOVE_RECURSE "${dir}/out")
  file(MAKE_DIRECTORY "${dir}/out")
  execute_process(COMMAND "${IDLC}" -I . -o out kv.idl
    WORKING_DIRECTORY "${dir}"
    RESULT_VARIABLE rc OUTPUT_VARIABLE stdout ERROR_VARIABLE stderr
    TIMEOUT 60)
  if(NOT rc EQUAL 0 OR stdout OR stderr)
    message(FATAL_ERROR "idlc ${dir}/kv.idl failed (exit ${rc}):\n${stdout}${stderr}")
  endif()
  file(GLOB files "${dir}/out/*")
  list(LENGTH files nfiles)
  if(NOT nfiles EQUAL 6)
    message(FATAL_ERROR "idlc wrote ${nfiles} files for ${dir}/kv.idl, not 6")
  endif()
  set(total 0)
  foreach(f IN LISTS files)
    file(READ "${f}" text)
    string(REGEX MATCHALL "\n" newlines "${text}")
    list(LENGTH newlines n)
    math(EXPR total "${total} + ${n}")
  endforeach()
  set(${out_var} ${total} PARENT_SCOPE)
endfunction()

file(READ "${SRC}/idl/kv.idl" idl)
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}/all")
file(WRITE "${WORK}/all/kv.idl" "${idl}")
generated_lines("${WORK}/all" total)

# Method declarations: a type, a name and a parameter list, up to the ';'
# (left out of the match, since CMake lists split on it).
string(REGEX MATCHALL "\n[ \t]*[A-Za-z_][A-Za-z0-9_<>, ]* [A-Za-z_][A-Za-z0-9_]*\\([^)\n]*\\)[^;\n]*"
       decls "${idl}")
set(nmethods 0)
set(twoway "")
foreach(decl IN LISTS decls)
  string(STRIP "${decl}" decl)
  if(decl MATCHES "^event ")
    continue()
  endif()
  math(EXPR nmethods "${nmethods} + 1")
  if(NOT decl MATCHES "^oneway ")
    string(REGEX REPLACE "^[^(]* ([A-Za-z_][A-Za-z0-9_]*)\\(.*" "\\1" name "${decl}")
    list(APPEND twoway ${name})
  endif()
endforeach()
if(twoway STREQUAL "")
  message(FATAL_ERROR "size.cmake: found no two-way method in kv.idl")
endif()

math(EXPR per_method "${total} / ${nmethods}")
message(STATUS "kv.idl: ${total} generated lines in 6 files, ${nmethods} methods: "
               "${per_method} lines per method, types and events included")

set(over "")
foreach(name IN LISTS twoway)
  # The method's line and the doc comment lines right above it.
  string(REGEX REPLACE "(\n[ \t]*///[^\n]*)*\n[^\n]*[ \t]${name}\\([^\n]*" "" without "${idl}")
  if(without STREQUAL idl)
    message(FATAL_ERROR "size.cmake: could not take method ${name} out of kv.idl")
  endif()
  file(MAKE_DIRECTORY "${WORK}/without_${name}")
  file(WRITE "${WORK}/without_${name}/kv.idl" "${without}")
  generated_lines("${WORK}/without_${name}" rest)
  math(EXPR cost "${total} - ${rest}")
  message(STATUS "  two-way method ${name}: ${cost} lines (bound ${BOUND})")
  if(cost GREATER BOUND)
    list(APPEND over "${name} (${cost})")
  endif()
endforeach()
if(over)
  message(FATAL_ERROR "generated code past ${BOUND} lines per two-way method: ${over}")
endif()
