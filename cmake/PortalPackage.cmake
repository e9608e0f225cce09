# SPDX-License-Identifier: Apache-2.0
# The installed SDK's CMake package and pkg-config files (docs/embedding.md, docs/versioning.md).
# Included from the top-level CMakeLists.txt after every target exists.
include(CMakePackageConfigHelpers)

include(PortalAbiVersion)
portal_read_plugin_abi("${PROJECT_SOURCE_DIR}/framework/include/portal/plugin/descriptor.hpp"
  PORTAL_PLUGIN_ABI)

set(PORTAL_CMAKEDIR "${PORTAL_LIBDIR}/cmake/Portal")
install(EXPORT PortalTargets NAMESPACE portal:: DESTINATION ${PORTAL_CMAKEDIR}
  FILE PortalTargets.cmake COMPONENT dev)
configure_package_config_file("${PROJECT_SOURCE_DIR}/cmake/package/PortalConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/package/PortalConfig.cmake"
  INSTALL_DESTINATION ${PORTAL_CMAKEDIR}
  PATH_VARS PORTAL_PLUGIN_SUBDIR)
# Before 1.0 a minor release may break the SDK (docs/versioning.md): only the same minor matches.
if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(compat SameMinorVersion)
else()
  set(compat SameMajorVersion)
endif()
write_basic_package_version_file("${PROJECT_BINARY_DIR}/package/PortalConfigVersion.cmake"
  VERSION ${PROJECT_VERSION} COMPATIBILITY ${compat})
install(FILES "${PROJECT_BINARY_DIR}/package/PortalConfig.cmake"
  "${PROJECT_BINARY_DIR}/package/PortalConfigVersion.cmake"
  "${PROJECT_SOURCE_DIR}/cmake/PortalPlugin.cmake"
  DESTINATION ${PORTAL_CMAKEDIR} COMPONENT dev)

foreach(pc portal portal-client portal-relay portal-cores)
  configure_file("${PROJECT_SOURCE_DIR}/cmake/package/${pc}.pc.in"
    "${PROJECT_BINARY_DIR}/package/${pc}.pc" @ONLY)
  install(FILES "${PROJECT_BINARY_DIR}/package/${pc}.pc"
    DESTINATION ${PORTAL_LIBDIR}/pkgconfig COMPONENT dev)
endforeach()
