# SPDX-License-Identifier: Apache-2.0
# Debian packages with CPack (docs/deploy.md): `cpack -G DEB` in a build tree makes one package
# per install component, for prefix /usr:
#   libportal0     component runtime: libportal.so.0 and the shipped plugins
#   portal-relay   component relay:   the relay, its systemd unit, /etc/portal/relay.json (a
#                                     conffile) and the browser client's files
#   portal         component client:  the `portal` command
#   libportal-dev  component dev:     headers, static libraries, the CMake package, pkg-config
#                                     files and the plugin conformance kit
# Depends are computed by dpkg-shlibdeps from the binaries; the packages of one build depend on
# each other at exactly their own version. Included last from the top-level CMakeLists.txt.
include_guard(GLOBAL)

set(PORTAL_DEB_MAINTAINER "Portal maintainers <maintainers@portal.invalid>" CACHE STRING
  "Maintainer field of the Debian packages (set it when you publish packages)")
set(PORTAL_DEB_HOMEPAGE "" CACHE STRING
  "Homepage field of the Debian packages (left out when empty)")
set(PORTAL_DEB_RELEASE "1" CACHE STRING
  "Debian revision of the packages: <version>-<revision>")

set(_portal_packaging "${PROJECT_SOURCE_DIR}/packaging")

# Files only the portal-relay package carries. EXCLUDE_FROM_ALL keeps them out of a plain
# `cmake --install` (a staged install under any prefix must not write to /etc); CPack installs
# component by component, which includes them. The unit goes to <prefix>/lib/systemd/system
# (/usr/lib/systemd/system, the same folder as /lib/systemd/system on a merged-/usr system).
install(FILES "${_portal_packaging}/portal-relay.service"
  DESTINATION lib/systemd/system COMPONENT relay EXCLUDE_FROM_ALL)
install(FILES "${_portal_packaging}/relay.json"
  DESTINATION /etc/portal COMPONENT relay EXCLUDE_FROM_ALL)
install(FILES "${PROJECT_SOURCE_DIR}/config/relay.example.json" "${PROJECT_SOURCE_DIR}/docs/deploy.md"
  DESTINATION share/doc/portal-relay COMPONENT relay EXCLUDE_FROM_ALL)

set(CPACK_GENERATOR "DEB")
set(CPACK_PACKAGE_NAME "portal")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
# Each package's Description is its component's DESCRIPTION below (first line: the synopsis).
# CPackDeb puts a non-default CPACK_PACKAGE_DESCRIPTION_SUMMARY in front of it, so the summary
# is left at CPack's default value, which it recognises and leaves out.
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${CMAKE_PROJECT_NAME} built using CMake")
set(CPACK_PACKAGE_CONTACT "${PORTAL_DEB_MAINTAINER}")
set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")
set(CPACK_PACKAGE_DIRECTORY "${PROJECT_BINARY_DIR}/packages")
set(CPACK_STRIP_FILES ON)

set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL runtime relay client dev)
set(CPACK_COMPONENTS_GROUPING IGNORE)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE "${PORTAL_DEB_RELEASE}")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${PORTAL_DEB_MAINTAINER}")
if(PORTAL_DEB_HOMEPAGE)
  set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "${PORTAL_DEB_HOMEPAGE}")
endif()
set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# libportal.so.0 is found in the build tree (it is not installed on the build machine): the
# programs' and plugins' own dependency on it is the exact-version Depends below.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS "${PROJECT_BINARY_DIR}/${PORTAL_LIBDIR}")
# A shlibs file for libportal0 (only it ships a library with a SONAME; CMake 3.25 has no
# per-component switch): libportal.so.0 at exactly this version, its ABI is not stable before 1.0.
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY "=")
# Depends on the other components' packages at exactly this version.
set(CPACK_DEBIAN_ENABLE_COMPONENT_DEPENDS ON)

set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME "libportal0")
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION "libs")
set(CPACK_COMPONENT_RUNTIME_DESCRIPTION
  "Portal: shared library and plugins
libportal, the kernel of Portal (identities, the v1 handshake and secure
channel, the plugin host), and the plugins that portal and portal-relay
load from /usr/lib/portal/plugins: the ChaCha20-Poly1305 cipher, the yamux
multiplexer and the tcp/tls and ws/wss transports.")

set(CPACK_DEBIAN_RELAY_PACKAGE_NAME "portal-relay")
set(CPACK_DEBIAN_RELAY_PACKAGE_SECTION "net")
set(CPACK_COMPONENT_RELAY_DEPENDS runtime)
set(CPACK_DEBIAN_RELAY_PACKAGE_CONTROL_EXTRA
  "${_portal_packaging}/deb/portal-relay/conffiles"
  "${_portal_packaging}/deb/portal-relay/postinst"
  "${_portal_packaging}/deb/portal-relay/prerm"
  "${_portal_packaging}/deb/portal-relay/postrm")
set(CPACK_DEBIAN_RELAY_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_COMPONENT_RELAY_DESCRIPTION
  "Portal relay: forwards end-to-end encrypted connections
portal-relay matches lease holders with dialers and splices their streams;
the traffic it forwards is end-to-end encrypted and it never sees a key.
Compatible with Portal v1 clients. Serves WebSocket (ws://, wss://) and raw
TCP (tcp://, tls://) listeners, HTTP health and Prometheus metrics, and the
browser client's files.

Ships a hardened systemd unit (portal-relay.service) and the configuration
/etc/portal/relay.json, listening on 127.0.0.1 only until it is changed.")

set(CPACK_DEBIAN_CLIENT_PACKAGE_NAME "portal")
set(CPACK_DEBIAN_CLIENT_PACKAGE_SECTION "net")
set(CPACK_COMPONENT_CLIENT_DEPENDS runtime)
set(CPACK_COMPONENT_CLIENT_DESCRIPTION
  "Portal client: publish and reach services through a relay
The portal command: `portal expose` publishes a local TCP service under a
name through one or more relays, `portal connect` reaches one (like
ssh -L), and `portal keygen`, `portal id`, `portal info` and
`portal vanity` manage identities and look at relays. Connections are
end-to-end encrypted; the relay cannot read them.")

set(CPACK_DEBIAN_DEV_PACKAGE_NAME "libportal-dev")
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION "libdevel")
set(CPACK_COMPONENT_DEV_DEPENDS runtime)
# What find_package(Portal) looks for (cmake/package/PortalConfig.cmake.in); the kit needs GTest.
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS
  "libboost1.81-dev, libcrypto++-dev, libprotobuf-dev, pkg-config")
set(CPACK_DEBIAN_DEV_PACKAGE_RECOMMENDS "cmake (>= 3.25), libgtest-dev, libgmock-dev")
set(CPACK_COMPONENT_DEV_DESCRIPTION
  "Portal SDK: headers, static libraries, plugin conformance kit
Everything to build against Portal: the headers, libportal's development
link, the static client SDK, relay library and sans-IO cores, the CMake
package (find_package(Portal) with portal_add_plugin()), pkg-config files,
and the GoogleTest conformance kit that transport, cipher and mux plugins
run against themselves.")

include(CPack)
