# piperpc_generate(TARGET t IDLS a.idl ... [IMPORT_DIRS dir ...] [OUT_DIR dir]
#                  [HEADER] [CLIENT] [SERVER])
#
# Runs idlc on each IDL file at build time and adds the generated C files to
# target t, with the output directory on t's include path (PUBLIC, so code
# that links t can include the generated headers). Without HEADER, CLIENT or
# SERVER all three parts are generated: <stem>.h/.c, <stem>_client.h/.c and
# <stem>_server.h/.c. Files an IDL imports must be listed too (their own
# headers are included by the importing file's header).
#
# idlc writes a depfile naming every file it read, so editing an imported
# file regenerates its importers. The compiler used is, in order:
#   - IDLC_EXECUTABLE (cache variable or normal variable): for cross builds,
#     where the host's idlc must run, not the target's;
#   - the target piperpc::idlc (built in this tree, or imported from an
#     installed piperpc package);
#   - an idlc found on the PATH.
#
# Works the same in the piperpc tree and from an install (the package config
# includes this file).
include_guard(GLOBAL)

function(piperpc_generate)
  cmake_parse_arguments(PG "HEADER;CLIENT;SERVER" "TARGET;OUT_DIR" "IDLS;IMPORT_DIRS" ${ARGN})
  if(PG_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "piperpc_generate: unknown arguments: ${PG_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT PG_TARGET)
    message(FATAL_ERROR "piperpc_generate: TARGET is required")
  endif()
  if(NOT TARGET ${PG_TARGET})
    message(FATAL_ERROR "piperpc_generate: ${PG_TARGET} is not a target")
  endif()
  if(NOT PG_IDLS)
    message(FATAL_ERROR "piperpc_generate: IDLS needs at least one .idl file")
  endif()
  if(NOT PG_OUT_DIR)
    set(PG_OUT_DIR "${CMAKE_CURRENT_BINARY_DIR}/piperpc_generated/${PG_TARGET}")
  endif()
  get_filename_component(PG_OUT_DIR "${PG_OUT_DIR}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_BINARY_DIR}")
  file(MAKE_DIRECTORY "${PG_OUT_DIR}")

  # Which idlc. The output depends on it too, so that a new idlc (another
  # version, another generator) regenerates the files it would write
  # differently, whether it is a target of this build or a file.
  set(_idlc "")
  set(_idlc_dep "")
  if(IDLC_EXECUTABLE)
    set(_idlc "${IDLC_EXECUTABLE}")
    set(_idlc_dep "${IDLC_EXECUTABLE}")
  elseif(TARGET piperpc::idlc)
    # An ALIAS in the piperpc tree, an IMPORTED target from an install.
    get_target_property(_real piperpc::idlc ALIASED_TARGET)
    if(NOT _real)
      set(_real piperpc::idlc)
    endif()
    set(_idlc "$<TARGET_FILE:${_real}>")
    set(_idlc_dep ${_real})
  else()
    find_program(PIPERPC_IDLC_PROGRAM idlc)
    if(NOT PIPERPC_IDLC_PROGRAM)
      message(FATAL_ERROR "piperpc_generate: no idlc found (set IDLC_EXECUTABLE)")
    endif()
    set(_idlc "${PIPERPC_IDLC_PROGRAM}")
    set(_idlc_dep "${PIPERPC_IDLC_PROGRAM}")
  endif()

  set(_parts "")
  set(_suffixes "")
  if(PG_HEADER)
    list(APPEND _parts --header)
    list(APPEND _suffixes .h .c)
  endif()
  if(PG_CLIENT)
    list(APPEND _parts --client)
    list(APPEND _suffixes _client.h _client.c)
  endif()
  if(PG_SERVER)
    list(APPEND _parts --server)
    list(APPEND _suffixes _server.h _server.c)
  endif()
  if(NOT _parts)
    set(_suffixes .h .c _client.h _client.c _server.h _server.c)
  endif()

  set(_include_args "")
  foreach(dir IN LISTS PG_IMPORT_DIRS)
    get_filename_component(dir "${dir}" ABSOLUTE)
    list(APPEND _include_args -I "${dir}")
  endforeach()

  set(_sources "")
  foreach(idl IN LISTS PG_IDLS)
    get_filename_component(_abs "${idl}" ABSOLUTE)
    get_filename_component(_stem "${idl}" NAME_WE)
    set(_outs "")
    foreach(suffix IN LISTS _suffixes)
      list(APPEND _outs "${PG_OUT_DIR}/${_stem}${suffix}")
      if(suffix MATCHES "\\.c$")
        list(APPEND _sources "${PG_OUT_DIR}/${_stem}${suffix}")
      endif()
    endforeach()
    set(_depfile "${PG_OUT_DIR}/${_stem}.idl.d")
    add_custom_command(
      OUTPUT ${_outs}
      COMMAND "${_idlc}" ${_include_args} ${_parts} -o "${PG_OUT_DIR}" --depfile "${_depfile}" "${_abs}"
      DEPENDS "${_abs}" ${_idlc_dep}
      DEPFILE "${_depfile}"
      COMMENT "idlc ${idl}"
      VERBATIM)
  endforeach()

  target_sources(${PG_TARGET} PRIVATE ${_sources})
  target_include_directories(${PG_TARGET} PUBLIC "$<BUILD_INTERFACE:${PG_OUT_DIR}>")
endfunction()
