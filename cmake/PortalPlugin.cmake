# SPDX-License-Identifier: Apache-2.0
# portal_add_plugin(<name> <sources>... [OUTPUT_DIRECTORY <dir>]): a runtime-loaded Portal plugin.
#
# Used by Portal's own build and installed with the SDK (find_package(Portal) includes it), so a
# plugin built outside gets the same settings as the shipped ones:
# - a CMake MODULE named <name>.so (no "lib" prefix), in OUTPUT_DIRECTORY when given;
# - hidden visibility: only the PORTAL_PLUGIN macro's `portal_plugin_v1` entry is exported;
# - C++20 and the definitions of portal::plugin_sdk, which the build fingerprint the host checks
#   at load time depends on (the language level is one of its fields);
# - every symbol resolved at link time (-z defs), not at dlopen in the field.
# Install it where the host looks (<prefix>/lib/portal/plugins, or a --plugin-dir) yourself.
include_guard(GLOBAL)

function(portal_add_plugin name)
  cmake_parse_arguments(ARG "" "OUTPUT_DIRECTORY" "" ${ARGN})
  if(NOT ARG_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "portal_add_plugin(${name}): no source files")
  endif()
  add_library(${name} MODULE ${ARG_UNPARSED_ARGUMENTS})
  set_target_properties(${name} PROPERTIES
    PREFIX ""
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    # Exactly C++20, whatever the including project asks for: __cplusplus is a fingerprint field.
    CXX_STANDARD 20
    CXX_STANDARD_REQUIRED ON
    CXX_EXTENSIONS OFF
    # <prefix>/lib/portal/plugins/x.so -> <prefix>/lib holds libportal
    INSTALL_RPATH "$ORIGIN/../..")
  if(ARG_OUTPUT_DIRECTORY)
    set_target_properties(${name} PROPERTIES LIBRARY_OUTPUT_DIRECTORY "${ARG_OUTPUT_DIRECTORY}")
  endif()
  target_compile_features(${name} PRIVATE cxx_std_20)
  target_link_libraries(${name} PRIVATE portal::plugin_sdk)
  # Sanitizer runtimes resolve their symbols at load time, which -z defs refuses.
  if(NOT PORTAL_SANITIZE)
    target_link_options(${name} PRIVATE -Wl,-z,defs)
  endif()
  # Portal's own build adds its warnings and sanitizers (cmake/PortalTargets.cmake).
  if(COMMAND portal_configure_target)
    portal_configure_target(${name})
  endif()
endfunction()
