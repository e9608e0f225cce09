# SPDX-License-Identifier: Apache-2.0
# Enforces the dependency rules of the architecture (design §2) on every test run:
#   cmake -DPORTAL_SOURCE_DIR=<repo> -P cmake/CheckLayering.cmake
# Each rule names an include pattern and the only folders where it may appear.

cmake_policy(SET CMP0057 NEW)  # if(IN_LIST)

if(NOT PORTAL_SOURCE_DIR)
  message(FATAL_ERROR "set PORTAL_SOURCE_DIR")
endif()

# Modules that are protocol cores or their foundations: no I/O libraries at all. They must also
# compile for WebAssembly.
set(core_modules base crypto identity wire handshake secure_channel lease control yamux)

# The module DAG: the only other framework modules each module's files may include
# (`portal/<module>/...`). Cores sit at the bottom; I/O, plugins and the apps' assembly above.
set(allowed_base "")
set(allowed_crypto base)
set(allowed_identity base crypto)
set(allowed_wire base identity)
set(allowed_lease base identity wire)
set(allowed_handshake base crypto identity)
set(allowed_cipher base plugin)  # the plugin ABI only in aead_factory.hpp (see below)
set(allowed_secure_channel base cipher)
set(allowed_yamux base)
set(allowed_control base crypto handshake identity lease wire)
set(allowed_platform base identity)
set(allowed_plugin base crypto platform)
set(allowed_stream base)
set(allowed_secure_stream base cipher handshake identity secure_channel stream)
set(allowed_mux base plugin stream)
set(allowed_transport base plugin stream)
set(allowed_directory base lease plugin)
set(allowed_config base)
set(allowed_client base cipher config control crypto handshake identity lease mux plugin
    secure_stream stream transport wire)
set(allowed_relay base cipher config control crypto directory handshake identity lease mux platform
    plugin secure_stream stream transport wire)
set(allowed_detail base cipher config mux platform plugin transport)

file(GLOB_RECURSE sources RELATIVE "${PORTAL_SOURCE_DIR}"
  "${PORTAL_SOURCE_DIR}/framework/*.hpp" "${PORTAL_SOURCE_DIR}/framework/*.cpp"
  "${PORTAL_SOURCE_DIR}/framework/*.hpp.in"
  "${PORTAL_SOURCE_DIR}/plugins/*.hpp" "${PORTAL_SOURCE_DIR}/plugins/*.cpp"
  "${PORTAL_SOURCE_DIR}/apps/*.hpp" "${PORTAL_SOURCE_DIR}/apps/*.cpp")

set(violations "")
foreach(file IN LISTS sources)
  file(STRINGS "${PORTAL_SOURCE_DIR}/${file}" includes REGEX "^[ \t]*#[ \t]*include")
  set(is_public_header FALSE)
  if(file MATCHES "^framework/include/")
    set(is_public_header TRUE)
  endif()
  set(is_core FALSE)
  # Plugins keep their sans-IO cores in core/: the same rule applies there.
  if(file MATCHES "^plugins/[^/]+/core/")
    set(is_core TRUE)
  endif()
  foreach(m IN LISTS core_modules)
    if(file MATCHES "^framework/(include/portal|src)/${m}/")
      set(is_core TRUE)
    endif()
  endforeach()
  # The Aead interface is what the secure channel core sees: no plugin ABI in it.
  if(file MATCHES "^framework/include/portal/cipher/aead\\.hpp$")
    set(is_core TRUE)
  endif()
  set(module "")
  if(file MATCHES "^framework/(include/portal|src)/([a-z_]+)/")
    set(module "${CMAKE_MATCH_2}")
  endif()

  foreach(line IN LISTS includes)
    # Crypto++: only portal/crypto's and the cipher plugin's .cpp files.
    if(line MATCHES "cryptopp/" AND NOT file MATCHES "^(framework/src/crypto|plugins/cipher-[^/]+)/.*\\.cpp$")
      list(APPEND violations "${file}: Crypto++ outside portal/crypto and cipher plugins: ${line}")
    endif()
    # Beast: only inside the ws transport's own files (its .cpp files and the private header they
    # share), never in its API header ws_transport.hpp.
    if(line MATCHES "boost/beast" AND (NOT file MATCHES "^plugins/transport-ws/"
                                       OR file MATCHES "ws_transport\\.hpp$"))
      list(APPEND violations "${file}: Beast outside transport-ws .cpp files: ${line}")
    endif()
    # POCO: config and app code, and the Redis directory plugin (POCO's Net and Redis).
    if(line MATCHES "Poco/" AND NOT file MATCHES "^(apps/|framework/src/config/|plugins/directory-redis/)")
      list(APPEND violations "${file}: POCO outside apps, config and directory-redis: ${line}")
    endif()
    # CLI11: apps only.
    if(line MATCHES "[<\"]CLI/" AND NOT file MATCHES "^apps/")
      list(APPEND violations "${file}: CLI11 outside apps: ${line}")
    endif()
    # Generated protobuf headers are private to libportal.
    if(is_public_header AND line MATCHES "\\.pb\\.h")
      list(APPEND violations "${file}: generated protobuf header in a public header: ${line}")
    endif()
    # Cores never touch I/O, nor the plugin ABI.
    if(is_core AND line MATCHES "boost/(asio|beast|dll|process)")
      list(APPEND violations "${file}: I/O library in a protocol core: ${line}")
    endif()
    if(is_core AND line MATCHES "\"portal/plugin/")
      list(APPEND violations "${file}: plugin ABI in a protocol core: ${line}")
    endif()
    # The module DAG.
    if(module AND line MATCHES "\"portal/([a-z_]+)/")
      set(target "${CMAKE_MATCH_1}")
      if(NOT DEFINED allowed_${module})
        list(APPEND violations "${file}: module ${module} is not in the module DAG (CheckLayering.cmake)")
      elseif(NOT target STREQUAL module AND NOT target IN_LIST allowed_${module})
        list(APPEND violations "${file}: module ${module} may not include ${target}: ${line}")
      endif()
    endif()
  endforeach()
endforeach()

list(LENGTH sources checked)
if(violations)
  list(JOIN violations "\n  " text)
  message(FATAL_ERROR "layering rules broken:\n  ${text}")
endif()
message(STATUS "layering rules hold for ${checked} files")
