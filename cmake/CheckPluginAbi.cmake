# SPDX-License-Identifier: Apache-2.0
# The plugin ABI is pinned (docs/versioning.md): every header a plugin compiles against (the
# closure of the SDK's and the plugin interfaces' `#include "portal/..."`) is hashed, and the
# hashes are kept with the ABI version in framework/plugin-abi.lock. The test fails when a header
# changes while the version in portal/plugin/descriptor.hpp stays the same.
#   check:  cmake -DPORTAL_SOURCE_DIR=<repo> -P cmake/CheckPluginAbi.cmake
#   re-pin after bumping kAbiMinor or PORTAL_PLUGIN_ABI_MAJOR:
#           cmake -DPORTAL_SOURCE_DIR=<repo> -DUPDATE=ON -P cmake/CheckPluginAbi.cmake
#   re-pin without a bump (a change that provably leaves the ABI alone, e.g. a comment):
#           cmake -DPORTAL_SOURCE_DIR=<repo> -DUPDATE=ON "-DNOT_ABI=<why>" -P ...
#   (the reason is written into the lock file, where review sees it)
cmake_policy(SET CMP0057 NEW)
if(NOT PORTAL_SOURCE_DIR)
  message(FATAL_ERROR "set PORTAL_SOURCE_DIR")
endif()
set(include_dir "${PORTAL_SOURCE_DIR}/framework/include")
set(lock "${PORTAL_SOURCE_DIR}/framework/plugin-abi.lock")

# The version, from its one home.
include("${CMAKE_CURRENT_LIST_DIR}/PortalAbiVersion.cmake")
set(descriptor "${include_dir}/portal/plugin/descriptor.hpp")
portal_read_plugin_abi("${descriptor}" version)

# What a plugin sees: the SDK, the interfaces each kind implements, and the kernel headers the
# shipped and example plugins use (libportal code they call), and all those include.
set(pending portal/plugin/sdk.hpp portal/plugin/descriptor.hpp portal/plugin/settings.hpp
    portal/plugin/guard.hpp portal/plugin/errors.hpp
    portal/transport/transport.hpp portal/transport/accept_queue.hpp
    portal/transport/tcp_acceptor.hpp portal/transport/forwarded.hpp
    portal/mux/mux.hpp portal/cipher/aead_factory.hpp portal/yamux/session.hpp
    portal/directory/directory.hpp
    portal/stream/byte_stream.hpp portal/stream/logged.hpp portal/stream/async_signal.hpp
    portal/base/log.hpp portal/base/log_gate.hpp portal/base/secret.hpp portal/base/parse.hpp
    portal/base/uri.hpp)
set(closure "")
while(pending)
  list(POP_FRONT pending header)
  if(header IN_LIST closure)
    continue()
  endif()
  if(NOT EXISTS "${include_dir}/${header}")
    continue()  # generated (version.hpp): not part of the ABI
  endif()
  list(APPEND closure "${header}")
  file(STRINGS "${include_dir}/${header}" lines REGEX "^[ \t]*#[ \t]*include[ \t]*\"portal/")
  foreach(line IN LISTS lines)
    string(REGEX MATCH "\"(portal/[^\"]+)\"" _ "${line}")
    list(APPEND pending "${CMAKE_MATCH_1}")
  endforeach()
endwhile()
list(SORT closure)

set(current "abi ${version}\n")
foreach(header IN LISTS closure)
  file(SHA256 "${include_dir}/${header}" hash)
  string(APPEND current "${hash} ${header}\n")
endforeach()

set(pinned "")
set(pinned_version "")
set(notes "")
if(EXISTS "${lock}")
  file(STRINGS "${lock}" lock_lines)
  foreach(line IN LISTS lock_lines)
    if(line MATCHES "^#")
      string(APPEND notes "${line}\n")
    elseif(line MATCHES "^abi ([0-9]+\\.[0-9]+)$")
      set(pinned_version "${CMAKE_MATCH_1}")
      string(APPEND pinned "${line}\n")
    elseif(NOT line STREQUAL "")
      string(APPEND pinned "${line}\n")
    endif()
  endforeach()
endif()

if(UPDATE)
  if(pinned STREQUAL current)
    message(STATUS "plugin ABI ${version}: the lock is current")
    return()
  endif()
  if(version STREQUAL pinned_version)
    if(NOT NOT_ABI)
      message(FATAL_ERROR "the plugin ABI headers changed but the ABI is still ${version}: bump "
                          "kAbiMinor (additions) or PORTAL_PLUGIN_ABI_MAJOR (breaks) in "
                          "portal/plugin/descriptor.hpp first, or give -DNOT_ABI=<why>")
    endif()
    string(APPEND notes "# re-pinned at ${version} without a bump: ${NOT_ABI}\n")
  elseif(pinned_version)
    set(notes "")  # a new version starts a clean record
  endif()
  if(notes STREQUAL "")
    set(notes "# The plugin ABI's headers, pinned (cmake/CheckPluginAbi.cmake; docs/versioning.md).\n")
  endif()
  file(WRITE "${lock}" "${notes}${current}")
  list(LENGTH closure n)
  message(STATUS "plugin ABI ${version}: pinned ${n} headers in ${lock}")
  return()
endif()

if(NOT EXISTS "${lock}")
  message(FATAL_ERROR "no ${lock}: pin it with -DUPDATE=ON")
endif()
if(NOT pinned STREQUAL current)
  # Name what differs.
  string(REPLACE "\n" ";" a "${pinned}")
  string(REPLACE "\n" ";" b "${current}")
  set(diff "")
  foreach(line IN LISTS b)
    if(NOT line IN_LIST a AND NOT line STREQUAL "")
      list(APPEND diff "now:    ${line}")
    endif()
  endforeach()
  foreach(line IN LISTS a)
    if(NOT line IN_LIST b AND NOT line STREQUAL "")
      list(APPEND diff "pinned: ${line}")
    endif()
  endforeach()
  list(JOIN diff "\n  " text)
  if(version STREQUAL pinned_version)
    message(FATAL_ERROR "the plugin ABI headers changed without an ABI bump (still ${version}):\n  ${text}\n"
                        "Bump kAbiMinor or PORTAL_PLUGIN_ABI_MAJOR in portal/plugin/descriptor.hpp, "
                        "then re-pin: cmake -DPORTAL_SOURCE_DIR=. -DUPDATE=ON -P cmake/CheckPluginAbi.cmake")
  endif()
  message(FATAL_ERROR "the plugin ABI is ${version} but the lock pins ${pinned_version}:\n  ${text}\n"
                      "Re-pin: cmake -DPORTAL_SOURCE_DIR=. -DUPDATE=ON -P cmake/CheckPluginAbi.cmake")
endif()
list(LENGTH closure n)
message(STATUS "plugin ABI ${version}: ${n} headers match the lock")
