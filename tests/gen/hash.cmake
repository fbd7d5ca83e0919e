# The structural signature hash: names of parameters and fields do not
# change it; any change of a type, a method or an event does.
#
#   cmake -DIDLC=path/to/idlc -DWORK=dir -P hash.cmake
cmake_minimum_required(VERSION 3.20)
foreach(v IDLC WORK)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "hash.cmake: ${v} is not set")
  endif()
endforeach()

function(hash_of name text out)
  set(dir "${WORK}/${name}")
  file(REMOVE_RECURSE "${dir}")
  file(MAKE_DIRECTORY "${dir}")
  # The texts spell ';' as '@' so CMake does not split them into lists.
  string(REPLACE "@" ";" text "${text}")
  file(WRITE "${dir}/h.idl" "${text}")
  execute_process(COMMAND "${IDLC}" --header -o "${dir}" h.idl WORKING_DIRECTORY "${dir}"
    RESULT_VARIABLE rc ERROR_VARIABLE err TIMEOUT 30)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${name}: idlc failed:\n${err}")
  endif()
  file(STRINGS "${dir}/h.h" line REGEX "define h_I_SIGNATURE_HASH")
  if(NOT line MATCHES "UINT64_C\\((0x[0-9a-f]+)\\)")
    message(FATAL_ERROR "${name}: no hash in h.h")
  endif()
  set(${out} "${CMAKE_MATCH_1}" PARENT_SCOPE)
endfunction()

set(base "module h@\nstruct S { u32 a@ optional<S> next@ }\nenum E { A = 1, B = 2 }\ninterface I {\n  S get(u32 key) raises (E)@\n  event changed(string what)@\n}\n")
hash_of(base "${base}" h_base)

# The same structure with every name that is not on the wire changed, the
# methods in another order, and doc comments and attributes added.
hash_of(renamed "module h@\n/// docs\nstruct S { u32 renamed@ optional<S> also_renamed@ }\nenum E { X = 1, Y = 2 }\n[version(3.1)]\ninterface I {\n  event changed(string thing)@\n  [idempotent, timeout(5)] S get(u32 id) raises (E)@\n}\n" h_renamed)
if(NOT h_base STREQUAL h_renamed)
  message(FATAL_ERROR "renaming parameters, fields or enumerators changed the hash: ${h_base} vs ${h_renamed}")
endif()

set(changes
  "field_type|module h@\nstruct S { u64 a@ optional<S> next@ }\nenum E { A = 1, B = 2 }\ninterface I {\n  S get(u32 key) raises (E)@\n  event changed(string what)@\n}\n"
  "field_added|module h@\nstruct S { u32 a@ optional<S> next@ u8 more@ }\nenum E { A = 1, B = 2 }\ninterface I {\n  S get(u32 key) raises (E)@\n  event changed(string what)@\n}\n"
  "enum_value|module h@\nstruct S { u32 a@ optional<S> next@ }\nenum E { A = 1, B = 3 }\ninterface I {\n  S get(u32 key) raises (E)@\n  event changed(string what)@\n}\n"
  "param_type|module h@\nstruct S { u32 a@ optional<S> next@ }\nenum E { A = 1, B = 2 }\ninterface I {\n  S get(i32 key) raises (E)@\n  event changed(string what)@\n}\n"
  "method_added|module h@\nstruct S { u32 a@ optional<S> next@ }\nenum E { A = 1, B = 2 }\ninterface I {\n  S get(u32 key) raises (E)@\n  void other()@\n  event changed(string what)@\n}\n"
  "wire_name|module h@\nstruct S { u32 a@ optional<S> next@ }\nenum E { A = 1, B = 2 }\ninterface I {\n  [name(\"get2\")] S get(u32 key) raises (E)@\n  event changed(string what)@\n}\n"
  "event_param|module h@\nstruct S { u32 a@ optional<S> next@ }\nenum E { A = 1, B = 2 }\ninterface I {\n  S get(u32 key) raises (E)@\n  event changed(bytes what)@\n}\n"
  "direction|module h@\nstruct S { u32 a@ optional<S> next@ }\nenum E { A = 1, B = 2 }\ninterface I {\n  S get(inout u32 key) raises (E)@\n  event changed(string what)@\n}\n")
list(LENGTH changes nchanges)
if(NOT nchanges EQUAL 8)
  message(FATAL_ERROR "expected 8 variants, parsed ${nchanges}")
endif()
foreach(entry IN LISTS changes)
  string(FIND "${entry}" "|" bar)
  string(SUBSTRING "${entry}" 0 ${bar} name)
  math(EXPR start "${bar} + 1")
  string(SUBSTRING "${entry}" ${start} -1 text)
  hash_of(${name} "${text}" h)
  if(h STREQUAL h_base)
    message(FATAL_ERROR "${name}: the change did not change the hash (${h})")
  endif()
endforeach()
message(STATUS "hash ${h_base}: stable under renames, changed by every structural change")
