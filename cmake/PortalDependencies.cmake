# SPDX-License-Identifier: Apache-2.0
# Every third-party dependency, found once. See docs/building.md for the Debian packages.
find_package(Threads REQUIRED)

# Boost 1.81: header-only use (System's result, Asio, Beast, DLL, JSON).
find_package(Boost 1.81 REQUIRED CONFIG)

find_package(PkgConfig REQUIRED)
pkg_check_modules(CRYPTOPP REQUIRED IMPORTED_TARGET libcrypto++)

find_package(Protobuf REQUIRED)
if(NOT TARGET protobuf::libprotobuf-lite)
  message(FATAL_ERROR "protobuf lite runtime not found (install libprotobuf-dev)")
endif()

find_package(CLI11 2.1 CONFIG REQUIRED)

# OpenSSL 3.0: TLS in the transport plugins only (plugins/tls).
find_package(OpenSSL 3.0 REQUIRED)

if(PORTAL_BUILD_TESTS)
  find_package(GTest 1.12 CONFIG REQUIRED)
  include(GoogleTest)
else()
  # The conformance kit is part of the SDK (libportal-dev) whether or not our tests are built.
  find_package(GTest 1.12 CONFIG QUIET)
endif()
