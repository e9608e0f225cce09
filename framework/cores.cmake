# SPDX-License-Identifier: Apache-2.0
# The cores library and the v1 messages it holds. Included by framework/CMakeLists.txt (native)
# and by wasm/CMakeLists.txt (emscripten), so both build the very same list. Needs the targets
# Boost::headers, Threads::Threads, PkgConfig::CRYPTOPP and protobuf::libprotobuf-lite, and
# protobuf_generate(); the wasm build defines them for its own Crypto++ and protobuf.
set(PORTAL_FRAMEWORK_DIR "${CMAKE_CURRENT_LIST_DIR}")

configure_file("${PORTAL_FRAMEWORK_DIR}/include/portal/version.hpp.in"
  "${CMAKE_CURRENT_BINARY_DIR}/include/portal/version.hpp" @ONLY)

# v1 protobuf messages, lite runtime; generated headers stay private to libportal.
set(PORTAL_PROTO_OUT "${CMAKE_CURRENT_BINARY_DIR}/proto")
file(MAKE_DIRECTORY "${PORTAL_PROTO_OUT}")
add_library(portal_proto OBJECT "${PORTAL_FRAMEWORK_DIR}/proto/rdsec.proto"
  "${PORTAL_FRAMEWORK_DIR}/proto/rdverb.proto")
protobuf_generate(TARGET portal_proto LANGUAGE cpp APPEND_PATH
  IMPORT_DIRS "${PORTAL_FRAMEWORK_DIR}/proto"
  PROTOC_OUT_DIR "${PORTAL_PROTO_OUT}")
target_include_directories(portal_proto SYSTEM PUBLIC "${PORTAL_PROTO_OUT}")
target_link_libraries(portal_proto PUBLIC protobuf::libprotobuf-lite)

# The cores library: every sans-IO core (the protocol engines, the relay's and the client's
# decisions) and their foundations. No Asio, no plugin host, no file I/O, and no exceptions: it is
# what the WebAssembly build compiles, and BuildCoresHaveNoAsio checks its symbols. libportal
# holds all of it (whole archive), so embedders and plugins see one copy.
add_library(portal_cores STATIC
  ${PORTAL_FRAMEWORK_DIR}/src/base/bytes.cpp
  ${PORTAL_FRAMEWORK_DIR}/src/base/byte_buffer.cpp
  ${PORTAL_FRAMEWORK_DIR}/src/base/clock.cpp
  ${PORTAL_FRAMEWORK_DIR}/src/base/encoding.cpp
  ${PORTAL_FRAMEWORK_DIR}/src/base/errors.cpp
  ${PORTAL_FRAMEWORK_DIR}/src/base/random.cpp
  ${PORTAL_FRAMEWORK_DIR}/src/base/secret.cpp
  ${PORTAL_FRAMEWORK_DIR}/src/base/uri.cpp
  ${PORTAL_FRAMEWORK_DIR}/src/base/address_set.cpp
  ${PORTAL_FRAMEWORK_DIR}/src/crypto/ed25519.cpp
  ${PORTAL_FRAMEWORK_DIR}/src/crypto/errors.cpp
  ${PORTAL_FRAMEWORK_DIR}/src/crypto/hkdf.cpp
  ${PORTAL_FRAMEWORK_DIR}/src/crypto/sha256.cpp
  ${PORTAL_FRAMEWORK_DIR}/src/crypto/x25519.cpp
  ${PORTAL_FRAMEWORK_DIR}/src/base/length_prefixed.cpp
  ${PORTAL_FRAMEWORK_DIR}/src/handshake/errors.cpp
  ${PORTAL_FRAMEWORK_DIR}/src/handshake/handshake.cpp
  ${PORTAL_FRAMEWORK_DIR}/src/handshake/messages.cpp
  ${PORTAL_FRAMEWORK_DIR}/src/handshake/replay_cache.cpp
  ${PORTAL_FRAMEWORK_DIR}/src/secure_channel/secure_channel.cpp
  ${PORTAL_FRAMEWORK_DIR}/src/base/log.cpp
  ${PORTAL_FRAMEWORK_DIR}/src/base/log_gate.cpp
  ${PORTAL_FRAMEWORK_DIR}/src/wire/control.cpp
  ${PORTAL_FRAMEWORK_DIR}/src/lease/directory.cpp
  ${PORTAL_FRAMEWORK_DIR}/src/lease/lease_table.cpp
  ${PORTAL_FRAMEWORK_DIR}/src/lease/memory_directory.cpp
  ${PORTAL_FRAMEWORK_DIR}/src/lease/name.cpp
  ${PORTAL_FRAMEWORK_DIR}/src/control/client.cpp
  ${PORTAL_FRAMEWORK_DIR}/src/control/relay_stream.cpp
  ${PORTAL_FRAMEWORK_DIR}/src/identity/credential.cpp
  ${PORTAL_FRAMEWORK_DIR}/src/identity/errors.cpp
  ${PORTAL_FRAMEWORK_DIR}/src/identity/identity.cpp
  ${PORTAL_FRAMEWORK_DIR}/src/identity/pkcs8.cpp
  ${PORTAL_FRAMEWORK_DIR}/src/cipher/aead.cpp
  ${PORTAL_FRAMEWORK_DIR}/src/client/core.cpp
  ${PORTAL_FRAMEWORK_DIR}/src/client/resolve.cpp
  ${PORTAL_FRAMEWORK_DIR}/src/client/errors.cpp
  ${PORTAL_FRAMEWORK_DIR}/src/mux/errors.cpp
  ${PORTAL_FRAMEWORK_DIR}/src/relay/core.cpp
  ${PORTAL_FRAMEWORK_DIR}/src/relay/rate.cpp
  ${PORTAL_FRAMEWORK_DIR}/src/yamux/errors.cpp
  ${PORTAL_FRAMEWORK_DIR}/src/yamux/session.cpp
  $<TARGET_OBJECTS:portal_proto>)
add_library(portal::cores ALIAS portal_cores)
set_target_properties(portal_cores PROPERTIES POSITION_INDEPENDENT_CODE ON EXPORT_NAME cores)
target_compile_features(portal_cores PUBLIC cxx_std_20)
target_include_directories(portal_cores
  PUBLIC
    "$<BUILD_INTERFACE:${PORTAL_FRAMEWORK_DIR}/include>"
    "$<BUILD_INTERFACE:${CMAKE_CURRENT_BINARY_DIR}/include>"
    "$<INSTALL_INTERFACE:include>"
  PRIVATE
    "${PORTAL_PROTO_OUT}"
    "${PORTAL_FRAMEWORK_DIR}/src")
target_compile_options(portal_cores PRIVATE -fno-exceptions)
# Except the Crypto++ backend of portal/crypto: its headers throw. It is the one part of the cores
# that the WebAssembly build replaces (docs/adr/0008-cores-library.md).
set_source_files_properties(src/crypto/ed25519.cpp src/crypto/hkdf.cpp src/crypto/sha256.cpp
  ${PORTAL_FRAMEWORK_DIR}/src/crypto/x25519.cpp TARGET_DIRECTORY portal_cores PROPERTIES COMPILE_OPTIONS -fexceptions)
target_link_libraries(portal_cores
  PUBLIC Boost::headers Threads::Threads
  PRIVATE PkgConfig::CRYPTOPP protobuf::libprotobuf-lite)
portal_configure_target(portal_cores)
