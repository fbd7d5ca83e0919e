# The version is written twice: in project() of the top CMakeLists.txt
# (the library's VERSION and SOVERSION, the CMake package and pkg-config
# files) and in include/piperpc/version.h (what applications and generated
# code compile against, and what idlc stamps into its output). Included
# right after project(); configuring stops if the two disagree.
set(_prpc_version_h "${PROJECT_SOURCE_DIR}/include/piperpc/version.h")
set(_prpc_version_parts "")
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${_prpc_version_h}")
file(STRINGS "${_prpc_version_h}" _prpc_version_string REGEX "^#define PRPC_VERSION_STRING ")
string(REGEX REPLACE "^#define PRPC_VERSION_STRING \"([^\"]*)\".*" "\\1" _prpc_version_string
  "${_prpc_version_string}")
foreach(_part MAJOR MINOR PATCH)
  file(STRINGS "${_prpc_version_h}" _prpc_v REGEX "^#define PRPC_VERSION_${_part} ")
  string(REGEX REPLACE "^#define PRPC_VERSION_${_part} ([0-9]+).*" "\\1" _prpc_v "${_prpc_v}")
  list(APPEND _prpc_version_parts "${_prpc_v}")
endforeach()
list(JOIN _prpc_version_parts "." _prpc_version_parts)
if(NOT _prpc_version_string STREQUAL PROJECT_VERSION OR
   NOT _prpc_version_parts STREQUAL PROJECT_VERSION)
  message(FATAL_ERROR "include/piperpc/version.h says ${_prpc_version_string} "
    "(${_prpc_version_parts}) but project() says ${PROJECT_VERSION}; make them agree")
endif()
