// SPDX-License-Identifier: Apache-2.0
#include "portal/platform/paths.hpp"

#include <system_error>

namespace portal::platform {

base::Result<std::filesystem::path> executable_path() {
  std::error_code ec;
  auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return base::ErrorCode(ec.value(), boost::system::system_category());
  return p;
}

base::Result<std::filesystem::path> default_plugin_dir() {
  auto exe = executable_path();
  if (!exe) return exe.error();
  // <prefix>/bin/<exe> -> <prefix>/lib/portal/plugins (PORTAL_PLUGIN_SUBDIR comes from CMake).
  return exe->parent_path().parent_path() / PORTAL_PLUGIN_SUBDIR;
}

}  // namespace portal::platform
