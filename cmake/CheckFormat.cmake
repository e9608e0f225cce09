# SPDX-License-Identifier: Apache-2.0
# Fails when a C++ file differs from .clang-format (design/style.md: a format check in CI):
#   cmake -DPORTAL_SOURCE_DIR=<repo> -DCLANG_FORMAT=<path> -P cmake/CheckFormat.cmake
file(GLOB_RECURSE files
  "${PORTAL_SOURCE_DIR}/framework/*.hpp" "${PORTAL_SOURCE_DIR}/framework/*.cpp"
  "${PORTAL_SOURCE_DIR}/plugins/*.hpp" "${PORTAL_SOURCE_DIR}/plugins/*.cpp"
  "${PORTAL_SOURCE_DIR}/apps/*.hpp" "${PORTAL_SOURCE_DIR}/apps/*.cpp"
  "${PORTAL_SOURCE_DIR}/tests/*.hpp" "${PORTAL_SOURCE_DIR}/tests/*.cpp"
  "${PORTAL_SOURCE_DIR}/bench/*.hpp" "${PORTAL_SOURCE_DIR}/bench/*.cpp"
  "${PORTAL_SOURCE_DIR}/examples/*.hpp" "${PORTAL_SOURCE_DIR}/examples/*.cpp"
  "${PORTAL_SOURCE_DIR}/kit/*.hpp")
list(FILTER files EXCLUDE REGEX "/tests/fixtures/")
execute_process(COMMAND "${CLANG_FORMAT}" --dry-run --Werror ${files}
  RESULT_VARIABLE rc ERROR_VARIABLE out)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "files differ from .clang-format (fix: clang-format -i <file>):\n${out}")
endif()
list(LENGTH files n)
message(STATUS "${n} files formatted")
