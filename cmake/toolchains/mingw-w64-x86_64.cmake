# Cross build for 64-bit Windows with Debian's mingw-w64 (gcc-mingw-w64-x86-64).
#
#   bash scripts/win-deps.sh
#   cmake -S . -B build/windows -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/mingw-w64-x86_64.cmake \
#         -DIDLC_EXECUTABLE=<host build>/idlc/idlc
#
# The code generator must come from the host (IDLC_EXECUTABLE); idlc itself
# is therefore not built here by default. Windows builds of msgpack-c and
# cmocka come from scripts/win-deps.sh, which installs them under .deps/win64
# of the checkout; this file finds them there (PIPERPC_WIN_DEPS overrides the
# folder). Tests run under Wine through CMAKE_CROSSCOMPILING_EMULATOR.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)

set(PIPERPC_MINGW_PREFIX x86_64-w64-mingw32)
set(CMAKE_C_COMPILER ${PIPERPC_MINGW_PREFIX}-gcc)
set(CMAKE_CXX_COMPILER ${PIPERPC_MINGW_PREFIX}-g++)
set(CMAKE_RC_COMPILER ${PIPERPC_MINGW_PREFIX}-windres)

if(NOT PIPERPC_WIN_DEPS)
  get_filename_component(PIPERPC_WIN_DEPS "${CMAKE_CURRENT_LIST_DIR}/../../.deps/win64" ABSOLUTE)
endif()

# Search the target's folders (the compiler's and the dependency prefix) for
# libraries, headers and packages; the host's for programs.
set(CMAKE_FIND_ROOT_PATH /usr/${PIPERPC_MINGW_PREFIX} ${PIPERPC_WIN_DEPS})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# pkg-config must describe the Windows builds, never the host's libraries.
set(ENV{PKG_CONFIG_LIBDIR} "${PIPERPC_WIN_DEPS}/lib/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")

# Programs carry the compiler's runtime (libgcc, winpthread) inside, so they
# run under Wine or on Windows without DLLs beside them. Every program and
# DLL goes to one folder, so a program finds libpiperpc.dll there (Windows
# looks for DLLs in the program's own folder first).
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "-static")
set(CMAKE_RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bin)

# The generator runs on the build machine: the cross build uses the host's
# idlc (IDLC_EXECUTABLE) instead of building one for Windows.
if(NOT DEFINED PIPERPC_BUILD_IDLC)
  set(PIPERPC_BUILD_IDLC OFF CACHE BOOL "Build the idlc compiler")
endif()

# Tests run under Wine in a prefix of the build tree's own, with no display
# (no window may open on a headless machine), without debug chatter, and
# without the Mono and Gecko installers Wine would offer in a new prefix.
# wine-run.sh fails a run in which Wine reports a crash even when the exit
# code says success.
find_program(PIPERPC_WINE NAMES wine64 wine)
if(PIPERPC_WINE)
  set(CMAKE_CROSSCOMPILING_EMULATOR env -u DISPLAY -u WAYLAND_DISPLAY
    WINEPREFIX=${CMAKE_BINARY_DIR}/wineprefix WINEDEBUG=-all WINEDLLOVERRIDES=mscoree,mshtml=
    bash ${CMAKE_CURRENT_LIST_DIR}/../wine-run.sh ${PIPERPC_WINE})
endif()
