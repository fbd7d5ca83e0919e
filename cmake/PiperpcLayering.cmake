# Checks the include layering of runtime/: every quoted or angled include of
# a runtime folder ("core/...", "transport/...") made by a file under
# runtime/<layer>/ must name a folder that layer may use. Public headers
# (piperpc/...) and system headers are always allowed. So the codec, the
# transports and the platforms can never quietly start to depend on the RPC
# engine in runtime/core/, and base/ stays below everything.
#
#   cmake -DRUNTIME=path/to/runtime [-DSTAMP=file] -P PiperpcLayering.cmake
#
# Every file of the tree is checked, of every platform folder, not only the
# files one build compiles. On success STAMP (if given) is touched, so the
# build reruns the check only when a runtime file changed.
cmake_minimum_required(VERSION 3.20)
if(NOT DEFINED RUNTIME)
  message(FATAL_ERROR "PiperpcLayering.cmake: RUNTIME is not set")
endif()

# The folders each layer may include from, itself included. A new top-level
# folder under runtime/ must be added here before it builds.
set(_allowed_base base)
set(_allowed_codec base codec)
set(_allowed_platform base platform)
set(_allowed_transport base codec platform transport)
set(_allowed_core base codec platform transport core)
set(_layers base codec platform transport core)

file(GLOB_RECURSE _files RELATIVE "${RUNTIME}" "${RUNTIME}/*.c" "${RUNTIME}/*.h")
list(SORT _files)
set(_errors "")
foreach(f IN LISTS _files)
  string(REGEX MATCH "^[^/]+" layer "${f}")
  if(layer STREQUAL f)
    continue() # a file directly in runtime/ (none today) belongs to no layer
  endif()
  if(NOT layer IN_LIST _layers)
    string(APPEND _errors "  runtime/${f}: '${layer}/' is not a known layer; "
      "add it to cmake/PiperpcLayering.cmake\n")
    continue()
  endif()
  file(STRINGS "${RUNTIME}/${f}" _incs REGEX "^[ \t]*#[ \t]*include[ \t]*[<\"]")
  foreach(line IN LISTS _incs)
    string(REGEX REPLACE "^[ \t]*#[ \t]*include[ \t]*[<\"]([^>\"]*)[>\"].*$" "\\1" path "${line}")
    if(path MATCHES "(^|/)\\.\\./")
      string(APPEND _errors "  runtime/${f}: '${path}': include from runtime/, not with ../\n")
      continue()
    endif()
    if(NOT path MATCHES "^([^/]+)/")
      continue() # a system header, or one beside the file ("platform_types.h")
    endif()
    set(top "${CMAKE_MATCH_1}")
    if(top IN_LIST _layers AND NOT top IN_LIST _allowed_${layer})
      list(JOIN _allowed_${layer} ", " allowed)
      string(APPEND _errors "  runtime/${f}: includes '${path}', but ${layer}/ may use only "
        "${allowed} (see docs/architecture.md)\n")
    endif()
  endforeach()
endforeach()

if(_errors)
  message(FATAL_ERROR "runtime/ include layering is broken:\n${_errors}")
endif()
if(DEFINED STAMP)
  file(TOUCH "${STAMP}")
endif()
