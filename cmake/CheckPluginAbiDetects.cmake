# SPDX-License-Identifier: Apache-2.0
# CheckPluginAbi.cmake must fail when an ABI header changes without a bump, and pass again after
# a bump and a re-pin. Runs on a copy of the headers and the lock in WORK_DIR.
#   cmake -DPORTAL_SOURCE_DIR=<repo> -DWORK_DIR=<dir> -P cmake/CheckPluginAbiDetects.cmake
file(REMOVE_RECURSE "${WORK_DIR}")
file(COPY "${PORTAL_SOURCE_DIR}/framework/include" DESTINATION "${WORK_DIR}/framework")
file(COPY "${PORTAL_SOURCE_DIR}/framework/plugin-abi.lock" DESTINATION "${WORK_DIR}/framework")
set(check "${CMAKE_CURRENT_LIST_DIR}/CheckPluginAbi.cmake")
function(run expect_rc expect_text what)
  execute_process(COMMAND "${CMAKE_COMMAND}" -DPORTAL_SOURCE_DIR=${WORK_DIR} ${ARGN} -P "${check}"
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT ((rc EQUAL 0) EQUAL (expect_rc EQUAL 0)) OR NOT out MATCHES "${expect_text}")
    message(FATAL_ERROR "${what}: rc ${rc}, expected ${expect_rc} and '${expect_text}':\n${out}")
  endif()
endfunction()
run(0 "match the lock" "the unchanged copy")
# A member added to a plugin interface, no bump.
set(mux "${WORK_DIR}/framework/include/portal/mux/mux.hpp")
file(READ "${mux}" text)
string(REPLACE "namespace portal::mux {" "namespace portal::mux {\nstruct Added { int x; };" text "${text}")
file(WRITE "${mux}" "${text}")
run(1 "changed without an ABI bump.*portal/mux/mux.hpp" "a changed header")
run(1 "still 2|still [0-9]" "a re-pin without a bump" -DUPDATE=ON)
# The bump, then the re-pin: passes.
set(descriptor "${WORK_DIR}/framework/include/portal/plugin/descriptor.hpp")
file(READ "${descriptor}" text)
string(REGEX MATCH "kAbiMinor = ([0-9]+)" _ "${text}")
math(EXPR next "${CMAKE_MATCH_1} + 1")
string(REGEX REPLACE "kAbiMinor = [0-9]+" "kAbiMinor = ${next}" text "${text}")
file(WRITE "${descriptor}" "${text}")
run(1 "but the lock pins" "a bump without a re-pin")
run(0 "pinned" "the re-pin after a bump" -DUPDATE=ON)
run(0 "match the lock" "the bumped, re-pinned copy")
file(REMOVE_RECURSE "${WORK_DIR}")
message(STATUS "the plugin ABI check catches an unbumped change")
