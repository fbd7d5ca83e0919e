# Finds piperpc's dependencies the ecosystem's way.
#
# msgpack-c: its CMake config first (msgpack-c 6.x installs package
# "msgpack-c" with target msgpack-c; 4.x, as Debian 12 ships it, installs
# package "msgpack" with target msgpackc), then pkg-config (module msgpack-c,
# else msgpack). The chosen target's name ends up in PIPERPC_MSGPACK_TARGET.
# piperpcConfig.cmake.in repeats the same search for consumers, so keep the
# two in step.
#
# It also records, for piperpc.pc, which pkg-config module describes msgpack-c
# (PIPERPC_MSGPACK_PC_MODULE, empty when none) and the plain linker flag that
# names the library (PIPERPC_MSGPACK_LINK_FLAG).
find_package(msgpack-c CONFIG QUIET)
if(NOT TARGET msgpack-c)
  find_package(msgpack CONFIG QUIET)
endif()

find_package(PkgConfig QUIET)
set(PIPERPC_MSGPACK_PC_MODULE "")
if(PkgConfig_FOUND)
  foreach(_prpc_mod IN ITEMS msgpack-c msgpack)
    pkg_check_modules(PIPERPC_PC_PROBE_${_prpc_mod} QUIET ${_prpc_mod})
    if(PIPERPC_PC_PROBE_${_prpc_mod}_FOUND)
      set(PIPERPC_MSGPACK_PC_MODULE ${_prpc_mod})
      break()
    endif()
  endforeach()
endif()

if(TARGET msgpack-c)
  set(PIPERPC_MSGPACK_TARGET msgpack-c)
  set(PIPERPC_MSGPACK_LINK_FLAG -lmsgpack-c)
elseif(TARGET msgpackc)
  set(PIPERPC_MSGPACK_TARGET msgpackc)
  set(PIPERPC_MSGPACK_LINK_FLAG -lmsgpackc)
elseif(PIPERPC_MSGPACK_PC_MODULE)
  pkg_check_modules(PIPERPC_PC_MSGPACK REQUIRED IMPORTED_TARGET ${PIPERPC_MSGPACK_PC_MODULE})
  set(PIPERPC_MSGPACK_TARGET PkgConfig::PIPERPC_PC_MSGPACK)
  list(JOIN PIPERPC_PC_MSGPACK_LDFLAGS " " PIPERPC_MSGPACK_LINK_FLAG)
else()
  message(FATAL_ERROR "piperpc needs msgpack-c (C library, 4.x or newer): neither its CMake "
    "package (msgpack-c or msgpack) nor a pkg-config module (msgpack-c or msgpack) was found. "
    "On Debian: apt-get install libmsgpack-dev")
endif()
message(STATUS "piperpc: msgpack-c target ${PIPERPC_MSGPACK_TARGET}")

find_package(Threads REQUIRED)
