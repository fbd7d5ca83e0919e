# Cross build for 64-bit Windows with Debian's mingw-w64 (gcc-mingw-w64-x86-64).
#
# Tests run under Wine through CMAKE_CROSSCOMPILING_EMULATOR. The code
# generator must come from the host: pass -DIDLC_EXECUTABLE=<host idlc> and
# -DPIPERPC_BUILD_IDLC=OFF. Windows builds of msgpack-c and cmocka come from
# scripts/win-deps.sh, which installs them under .deps/win64 (pass that
# folder as CMAKE_PREFIX_PATH).
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)

set(PIPERPC_MINGW_PREFIX x86_64-w64-mingw32)
set(CMAKE_C_COMPILER ${PIPERPC_MINGW_PREFIX}-gcc)
set(CMAKE_CXX_COMPILER ${PIPERPC_MINGW_PREFIX}-g++)
set(CMAKE_RC_COMPILER ${PIPERPC_MINGW_PREFIX}-windres)

# Search the target's folders for libraries and headers, the host's for programs.
set(CMAKE_FIND_ROOT_PATH /usr/${PIPERPC_MINGW_PREFIX})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

find_program(PIPERPC_WINE NAMES wine64 wine)
if(PIPERPC_WINE)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${PIPERPC_WINE})
endif()
