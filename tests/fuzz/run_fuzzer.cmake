# Runs a libFuzzer binary on a fresh copy of its seed corpus, so the source
# tree is never written to. Inputs: FUZZER, SEEDS, WORK, SECONDS.
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK}/corpus ${WORK}/artifacts)
file(GLOB seeds ${SEEDS}/*)
file(COPY ${seeds} DESTINATION ${WORK}/corpus)
execute_process(
  COMMAND ${FUZZER} ${WORK}/corpus
    -max_total_time=${SECONDS}
    -rss_limit_mb=2048
    -timeout=10
    -max_len=65536
    -print_final_stats=1
    -artifact_prefix=${WORK}/artifacts/
  WORKING_DIRECTORY ${WORK}
  RESULT_VARIABLE rc)
file(GLOB corpus ${WORK}/corpus/*)
list(LENGTH corpus n)
message(STATUS "corpus after the run: ${n} inputs")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "fuzzer failed (exit ${rc}); the crashing input is in ${WORK}/artifacts")
endif()
