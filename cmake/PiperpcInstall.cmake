# Installation: public headers, the shared and static libraries, idlc and the
# code-generation module when they are part of the build, the CMake package
# (piperpcConfig.cmake, piperpcConfigVersion.cmake, piperpcTargets.cmake) and
# the pkg-config files piperpc.pc (shared) and piperpc-static.pc.
#
# Included by the top-level CMakeLists.txt after every subdirectory, so
# `if(TARGET idlc)` sees the compiler when it is built.
include(CMakePackageConfigHelpers)

if(NOT PIPERPC_INSTALL)
  return()
endif()

set(PIPERPC_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/piperpc" CACHE STRING
  "Where piperpcConfig.cmake is installed, relative to the prefix")
set(PIPERPC_INSTALL_PKGCONFIGDIR "${CMAKE_INSTALL_LIBDIR}/pkgconfig" CACHE STRING
  "Where piperpc.pc is installed, relative to the prefix")

# ------------------------------------------------------------ libraries
install(TARGETS piperpc piperpc_static EXPORT piperpcTargets
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT Runtime
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT Runtime NAMELINK_COMPONENT Development
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT Development)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/piperpc
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT Development
  FILES_MATCHING PATTERN "*.h")
install(EXPORT piperpcTargets NAMESPACE piperpc:: FILE piperpcTargets.cmake
  DESTINATION ${PIPERPC_INSTALL_CMAKEDIR} COMPONENT Development)

# ----------------------------------------------------- idlc and codegen
# idlc is installed as a plain program, not through the export set: an
# executable needs nothing from the consumer's link, and piperpcConfig.cmake
# makes the imported target piperpc::idlc from the installed file.
set(PIPERPC_IDLC_FILE_NAME "")
if(TARGET idlc)
  get_target_property(_prpc_idlc_name idlc OUTPUT_NAME)
  if(NOT _prpc_idlc_name)
    set(_prpc_idlc_name idlc)
  endif()
  set(PIPERPC_IDLC_FILE_NAME "${_prpc_idlc_name}${CMAKE_EXECUTABLE_SUFFIX}")
  install(TARGETS idlc RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT Development)
endif()
set(PIPERPC_HAVE_GENERATE OFF)
if(EXISTS "${PROJECT_SOURCE_DIR}/cmake/PiperpcGenerate.cmake")
  set(PIPERPC_HAVE_GENERATE ON)
  install(FILES "${PROJECT_SOURCE_DIR}/cmake/PiperpcGenerate.cmake"
    DESTINATION ${PIPERPC_INSTALL_CMAKEDIR} COMPONENT Development)
endif()

# ------------------------------------------------------- CMake package
configure_package_config_file(
  "${PROJECT_SOURCE_DIR}/cmake/piperpcConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/piperpcConfig.cmake"
  INSTALL_DESTINATION ${PIPERPC_INSTALL_CMAKEDIR}
  PATH_VARS CMAKE_INSTALL_BINDIR)
# 0.x releases break compatibility between minor versions, so a consumer
# asking for 0.2 accepts 0.2.* only.
write_basic_package_version_file(
  "${PROJECT_BINARY_DIR}/piperpcConfigVersion.cmake"
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES "${PROJECT_BINARY_DIR}/piperpcConfig.cmake"
  "${PROJECT_BINARY_DIR}/piperpcConfigVersion.cmake"
  DESTINATION ${PIPERPC_INSTALL_CMAKEDIR} COMPONENT Development)

# ------------------------------------------------------- pkg-config
# The prefix is written at install time, so `cmake --install --prefix DIR`
# produces .pc files that point at DIR. Each template is configured twice:
# now with everything but the prefix, then by the install script.
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(PIPERPC_PC_LIBDIR "${CMAKE_INSTALL_LIBDIR}")
else()
  set(PIPERPC_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
endif()
if(IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(PIPERPC_PC_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")
else()
  set(PIPERPC_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
set(PIPERPC_PC_PREFIX "@PIPERPC_PC_INSTALL_PREFIX@")
set(PIPERPC_PC_THREADS "${CMAKE_THREAD_LIBS_INIT}")
if(NOT PIPERPC_PC_THREADS AND NOT WIN32)
  set(PIPERPC_PC_THREADS "-pthread")
endif()
# msgpack-c: through its own .pc when it has one, else by its linker flag.
set(_prpc_pc_msgpack_req "${PIPERPC_MSGPACK_PC_MODULE}")
set(_prpc_pc_msgpack_lib "")
if(NOT _prpc_pc_msgpack_req)
  set(_prpc_pc_msgpack_lib "${PIPERPC_MSGPACK_LINK_FLAG}")
endif()

# Shared: users link -lpiperpc; msgpack-c and threads are only needed for
# `pkg-config --static`.
set(PIPERPC_PC_NAME "piperpc")
set(PIPERPC_PC_DESCRIPTION "${PROJECT_DESCRIPTION}")
set(PIPERPC_PC_CFLAGS "-I\${includedir}")
set(PIPERPC_PC_LIBS "-L\${libdir} -lpiperpc")
set(PIPERPC_PC_REQUIRES "")
set(PIPERPC_PC_REQUIRES_PRIVATE "${_prpc_pc_msgpack_req}")
string(STRIP "${_prpc_pc_msgpack_lib} ${PIPERPC_PC_THREADS}" PIPERPC_PC_LIBS_PRIVATE)
configure_file("${PROJECT_SOURCE_DIR}/cmake/piperpc.pc.in"
  "${PROJECT_BINARY_DIR}/pkgconfig/piperpc.pc.in" @ONLY)

# Static: names the archive by path (a plain -lpiperpc would pick the shared
# library when both are installed) and defines PRPC_STATIC, which export.h
# needs to declare the functions without dllimport.
set(PIPERPC_PC_NAME "piperpc-static")
set(PIPERPC_PC_DESCRIPTION "${PROJECT_DESCRIPTION} (static library)")
set(PIPERPC_PC_CFLAGS "-I\${includedir} -DPRPC_STATIC")
set(PIPERPC_PC_LIBS "\${libdir}/${CMAKE_STATIC_LIBRARY_PREFIX}piperpc${CMAKE_STATIC_LIBRARY_SUFFIX}")
string(STRIP "${PIPERPC_PC_LIBS} ${_prpc_pc_msgpack_lib} ${PIPERPC_PC_THREADS}" PIPERPC_PC_LIBS)
string(REGEX REPLACE "  +" " " PIPERPC_PC_LIBS "${PIPERPC_PC_LIBS}")
set(PIPERPC_PC_REQUIRES "${_prpc_pc_msgpack_req}")
set(PIPERPC_PC_REQUIRES_PRIVATE "")
set(PIPERPC_PC_LIBS_PRIVATE "")
configure_file("${PROJECT_SOURCE_DIR}/cmake/piperpc.pc.in"
  "${PROJECT_BINARY_DIR}/pkgconfig/piperpc-static.pc.in" @ONLY)

foreach(_prpc_pc IN ITEMS piperpc piperpc-static)
  install(CODE "
    set(PIPERPC_PC_INSTALL_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
    configure_file(\"${PROJECT_BINARY_DIR}/pkgconfig/${_prpc_pc}.pc.in\"
                   \"${PROJECT_BINARY_DIR}/pkgconfig/${_prpc_pc}.pc\" @ONLY)"
    COMPONENT Development)
  install(FILES "${PROJECT_BINARY_DIR}/pkgconfig/${_prpc_pc}.pc"
    DESTINATION ${PIPERPC_INSTALL_PKGCONFIGDIR} COMPONENT Development)
endforeach()
