# SPDX-License-Identifier: Apache-2.0
# Compiler settings applied per target (never globally).

set(PORTAL_WARNINGS
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion -Wnon-virtual-dtor
  -Wold-style-cast -Woverloaded-virtual -Wimplicit-fallthrough -Werror=unused-result
  -Werror=return-type)
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  list(APPEND PORTAL_WARNINGS -Wduplicated-cond -Wlogical-op)
endif()

set(PORTAL_SANITIZER_FLAGS "")
if(PORTAL_SANITIZE)
  set(PORTAL_SANITIZER_FLAGS -fsanitize=${PORTAL_SANITIZE} -fno-omit-frame-pointer
    -fno-sanitize-recover=all)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang" AND PORTAL_SANITIZE MATCHES "undefined")
    # clang 14 UBSan cannot compile coroutines with -fsanitize=function (LLVM bug 49689).
    list(APPEND PORTAL_SANITIZER_FLAGS -fno-sanitize=function)
  endif()
endif()

# portal_configure_target(<target>): warnings, -Werror when asked, sanitizers.
function(portal_configure_target target)
  target_compile_options(${target} PRIVATE ${PORTAL_WARNINGS})
  if(PORTAL_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
  if(PORTAL_FUZZ)
    # Coverage feedback for libFuzzer from every Portal target, not only the fuzz entry.
    target_compile_options(${target} PRIVATE -fsanitize=fuzzer-no-link)
  endif()
  if(PORTAL_SANITIZER_FLAGS)
    target_compile_options(${target} PRIVATE ${PORTAL_SANITIZER_FLAGS})
    target_link_options(${target} PRIVATE ${PORTAL_SANITIZER_FLAGS})
  endif()
endfunction()

# portal_add_plugin(<name> <sources>...): a runtime-loaded plugin (CMake MODULE) named
# <name>.so in the shipped plugin folder, <build>/lib/portal/plugins, with hidden visibility so
# that only its portal_plugin_v1 entry is exported.
function(portal_add_plugin name)
  cmake_parse_arguments(ARG "" "OUTPUT_DIRECTORY" "" ${ARGN})
  if(NOT ARG_OUTPUT_DIRECTORY)
    set(ARG_OUTPUT_DIRECTORY "${PORTAL_PLUGIN_OUTPUT_DIRECTORY}")
    set(shipped TRUE)
  endif()
  add_library(${name} MODULE ${ARG_UNPARSED_ARGUMENTS})
  set_target_properties(${name} PROPERTIES
    PREFIX ""
    LIBRARY_OUTPUT_DIRECTORY "${ARG_OUTPUT_DIRECTORY}"
    # lib/portal/plugins/x.so -> lib/ holds libportal
    INSTALL_RPATH "$ORIGIN/../..")
  target_link_libraries(${name} PRIVATE portal::plugin_sdk)
  if(NOT PORTAL_SANITIZE)
    # Every symbol must resolve at link time, not at dlopen in the field.
    target_link_options(${name} PRIVATE -Wl,-z,defs)
  endif()
  portal_configure_target(${name})
  if(shipped)
    install(TARGETS ${name} LIBRARY DESTINATION ${PORTAL_PLUGIN_SUBDIR})
  endif()
endfunction()
