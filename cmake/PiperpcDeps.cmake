# Finds msgpack-c the ecosystem's way: its CMake config first (4.x exports
# target msgpackc, 6.x exports msgpack-c), then pkg-config. The result is the
# imported target piperpc_msgpack.
find_package(msgpack-c CONFIG QUIET)
if(NOT TARGET msgpack-c)
  find_package(msgpack CONFIG QUIET)
endif()
if(TARGET msgpack-c)
  set(PIPERPC_MSGPACK_TARGET msgpack-c)
elseif(TARGET msgpackc)
  set(PIPERPC_MSGPACK_TARGET msgpackc)
else()
  find_package(PkgConfig REQUIRED)
  pkg_check_modules(PIPERPC_PC_MSGPACK REQUIRED IMPORTED_TARGET msgpack-c)
  set(PIPERPC_MSGPACK_TARGET PkgConfig::PIPERPC_PC_MSGPACK)
  if(NOT PIPERPC_PC_MSGPACK_FOUND)
    pkg_check_modules(PIPERPC_PC_MSGPACK REQUIRED IMPORTED_TARGET msgpack)
  endif()
endif()
message(STATUS "piperpc: msgpack-c target ${PIPERPC_MSGPACK_TARGET}")

find_package(Threads REQUIRED)
