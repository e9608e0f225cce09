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

# Shipped plugins: portal_add_plugin (cmake/PortalPlugin.cmake, also installed with the SDK),
# built into <build>/lib/portal/plugins and installed with the runtime component.
include(PortalPlugin)

function(portal_add_shipped_plugin name)
  portal_add_plugin(${name} ${ARGN} OUTPUT_DIRECTORY "${PORTAL_PLUGIN_OUTPUT_DIRECTORY}")
  install(TARGETS ${name} LIBRARY DESTINATION ${PORTAL_PLUGIN_SUBDIR} COMPONENT runtime)
endfunction()
