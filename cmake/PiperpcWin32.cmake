# What the Windows platform layer (runtime/platform/win32/) needs from the
# build. Include it from runtime/CMakeLists.txt after the library targets are
# defined:
#
#   if(WIN32)
#     include(PiperpcWin32)
#     piperpc_win32_setup()
#   endif()
#
# - The system libraries the layer calls: Winsock (ws2_32: sockets, AcceptEx
#   through WSAIoctl) and advapi32 (tokens, SIDs, security descriptors).
#   Windows 8 or later is the floor (GetActiveProcessorCount, CancelIoEx,
#   PROC_THREAD_ATTRIBUTE_HANDLE_LIST, ...).
# - mingw-w64's printf attribute is ms_printf, which rejects %zu;
#   __USE_MINGW_ANSI_STDIO=1 selects mingw's C99 printf family, which
#   formats %zu and %lld correctly at run time.
function(piperpc_win32_setup)
  foreach(t piperpc_objects piperpc piperpc_static)
    if(TARGET ${t})
      target_link_libraries(${t} PUBLIC ws2_32 advapi32)
      target_compile_definitions(${t} PUBLIC _WIN32_WINNT=0x0602 __USE_MINGW_ANSI_STDIO=1)
    endif()
  endforeach()
endfunction()
