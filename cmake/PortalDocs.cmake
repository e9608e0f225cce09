# SPDX-License-Identifier: Apache-2.0
# The API reference (docs/api.md, docs/Doxyfile.in): Doxygen over the public headers, HTML only,
# into <build>/docs/api/html. Any warning (an undocumented public declaration, a malformed
# comment) fails the target; the test BuildApiDocs (tests/CMakeLists.txt) runs the same.
# Without doxygen (Debian package `doxygen`, scripts/install-deps.sh) there is no `docs` target.
find_program(PORTAL_DOXYGEN doxygen)
if(PORTAL_DOXYGEN)
  set(PORTAL_DOCS_OUTPUT_DIR "${PROJECT_BINARY_DIR}/docs/api")
  set(PORTAL_DOXYFILE "${PROJECT_BINARY_DIR}/docs/Doxyfile")
  configure_file("${PROJECT_SOURCE_DIR}/docs/Doxyfile.in" "${PORTAL_DOXYFILE}" @ONLY)
  add_custom_target(docs
    COMMAND "${CMAKE_COMMAND}" -E make_directory "${PORTAL_DOCS_OUTPUT_DIR}"
    COMMAND "${PORTAL_DOXYGEN}" "${PORTAL_DOXYFILE}"
    WORKING_DIRECTORY "${PROJECT_BINARY_DIR}/docs"
    COMMENT "Doxygen: the API reference in ${PORTAL_DOCS_OUTPUT_DIR}/html"
    VERBATIM)
endif()
