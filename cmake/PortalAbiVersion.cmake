# SPDX-License-Identifier: Apache-2.0
# portal_read_plugin_abi(<descriptor.hpp> <out>): sets <out> to "major.minor", the plugin ABI
# version read from its one home (PORTAL_PLUGIN_ABI_MAJOR and kAbiMinor in descriptor.hpp).
# Used by the package files and by the ABI pin check (both build and script mode).
function(portal_read_plugin_abi descriptor out)
  file(STRINGS "${descriptor}" major_line REGEX "^#define PORTAL_PLUGIN_ABI_MAJOR [0-9]+")
  file(STRINGS "${descriptor}" minor_line REGEX "kAbiMinor = [0-9]+")
  string(REGEX MATCH "[0-9]+$" major "${major_line}")
  string(REGEX MATCH "kAbiMinor = ([0-9]+)" _ "${minor_line}")
  set(minor "${CMAKE_MATCH_1}")
  if(major STREQUAL "" OR minor STREQUAL "")
    message(FATAL_ERROR "cannot read the plugin ABI version from ${descriptor}")
  endif()
  set(${out} "${major}.${minor}" PARENT_SCOPE)
endfunction()
