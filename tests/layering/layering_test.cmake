# Runs the layering check (CHECK) on the real tree (RUNTIME) and on small
# trees written under WORK, one per case, and fails unless each verdict is
# the expected one.
#
#   cmake -DCHECK=.../PiperpcLayering.cmake -DRUNTIME=.../runtime -DWORK=dir -P layering_test.cmake
cmake_minimum_required(VERSION 3.20)
foreach(v CHECK RUNTIME WORK)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "layering_test.cmake: ${v} is not set")
  endif()
endforeach()

set(failures "")

# run_check(NAME TREE EXPECT_OK [REGEX]): runs the check on TREE; EXPECT_OK
# says whether it must pass; a failure's message must match REGEX.
function(run_check name tree expect_ok)
  execute_process(COMMAND ${CMAKE_COMMAND} -DRUNTIME=${tree} -P ${CHECK}
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 30)
  string(REGEX REPLACE "[ \n]+" " " text "${out}${err}") # the error text is wrapped
  if(expect_ok AND NOT rc EQUAL 0)
    set(failures "${failures}${name}: expected to pass, failed:\n${out}${err}\n" PARENT_SCOPE)
  elseif(NOT expect_ok AND rc EQUAL 0)
    set(failures "${failures}${name}: expected to fail, passed\n" PARENT_SCOPE)
  elseif(NOT expect_ok AND NOT text MATCHES "${ARGV3}")
    set(failures "${failures}${name}: failed without '${ARGV3}':\n${out}${err}\n" PARENT_SCOPE)
  endif()
endfunction()

# A tree that keeps every rule: each layer uses itself, what is below it,
# base/, public and system headers, and platform files include their own
# headers by bare name.
function(write_good_tree root)
  file(REMOVE_RECURSE ${root})
  file(WRITE ${root}/base/log.c "#include <stdio.h>\n#include \"base/log.h\"\n#include \"piperpc/alloc.h\"\n")
  file(WRITE ${root}/codec/dec.c "#include \"base/log.h\"\n#include \"codec/scan.h\"\n")
  file(WRITE ${root}/platform/platform.h "#include \"platform_types.h\"\n")
  file(WRITE ${root}/platform/linux/conn.c "#include \"platform/linux/linux_io.h\"\n#include <sys/un.h>\n")
  file(WRITE ${root}/transport/conn.c "#include \"codec/enc.h\"\n#include \"platform/platform.h\"\n")
  file(WRITE ${root}/core/client.c "#include \"transport/transport.h\"\n#include \"core/pending.h\"\n")
endfunction()

run_check(real_tree ${RUNTIME} TRUE)

write_good_tree(${WORK}/good)
run_check(good_tree ${WORK}/good TRUE)

# Each case breaks one rule in an otherwise good tree: file, added line,
# and what the message must say.
set(cases
  "codec_includes_core|codec/dec.c|#include \"core/pending.h\"|runtime/codec/dec.c: includes 'core/pending.h'"
  "transport_includes_core|transport/conn.c|#include \"core/server_conn.h\"|runtime/transport/conn.c: includes 'core/server_conn.h'"
  "platform_includes_core_angled|platform/linux/conn.c|  #  include <core/log.h>|runtime/platform/linux/conn.c: includes 'core/log.h'"
  "platform_includes_transport|platform/platform.h|#include \"transport/transport.h\"|runtime/platform/platform.h: includes 'transport/transport.h'"
  "codec_includes_platform|codec/dec.c|#include \"platform/platform.h\"|runtime/codec/dec.c: includes 'platform/platform.h'"
  "base_includes_codec|base/log.c|#include \"codec/enc.h\"|runtime/base/log.c: includes 'codec/enc.h'"
  "relative_escape|transport/conn.c|#include \"../core/log.h\"|runtime/transport/conn.c: '../core/log.h': include from runtime/"
  "unknown_layer|extra/x.c|#include <stdio.h>|runtime/extra/x.c: 'extra/' is not a known layer")
foreach(c IN LISTS cases)
  string(REPLACE "|" ";" parts "${c}")
  list(GET parts 0 name)
  list(GET parts 1 file)
  list(GET parts 2 line)
  list(GET parts 3 expect)
  write_good_tree(${WORK}/${name})
  file(APPEND ${WORK}/${name}/${file} "${line}\n")
  string(REGEX REPLACE "([][.*+?^$()|\\\\])" "\\\\\\1" expect_re "${expect}")
  run_check(${name} ${WORK}/${name} FALSE "${expect_re}")
endforeach()

if(failures)
  message(FATAL_ERROR "layering check:\n${failures}")
endif()
list(LENGTH cases n)
message(STATUS "layering check: the real tree, a good tree and ${n} broken ones behave")
