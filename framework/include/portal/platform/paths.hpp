// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <filesystem>

#include "portal/base/export.hpp"
#include "portal/base/result.hpp"

namespace portal::platform {

/// The absolute path of the running executable (from /proc/self/exe).
/// Errors: the operating system's error when it cannot be read.
[[nodiscard]] PORTAL_API base::Result<std::filesystem::path> executable_path();

/// The default plugin directory: `<prefix>/lib/portal/plugins`, where `<prefix>` is the parent of
/// the executable's `bin/` folder. It is the same in the build tree and in an install, because
/// the build tree mirrors the install layout.
[[nodiscard]] PORTAL_API base::Result<std::filesystem::path> default_plugin_dir();

}  // namespace portal::platform
