// SPDX-License-Identifier: Apache-2.0
#include "portal/platform/paths.hpp"

#include <gtest/gtest.h>

namespace portal::platform {
namespace {

TEST(PlatformPaths, ExecutablePathIsThisTest) {
  auto exe = executable_path();
  ASSERT_TRUE(exe);
  EXPECT_TRUE(exe->is_absolute());
  EXPECT_EQ(exe->filename(), "portal_identity_tests");
}

// Test executables sit in <build>/tests, a sibling of <build>/bin, so the rule
// "<exe dir>/../lib/portal/plugins" lands on the build tree's plugin folder.
TEST(PlatformPaths, DefaultPluginDirIsRelativeToTheExecutable) {
  auto dir = default_plugin_dir();
  ASSERT_TRUE(dir);
  EXPECT_EQ(std::filesystem::weakly_canonical(*dir),
            std::filesystem::weakly_canonical(PORTAL_BUILD_PLUGIN_DIR));
}

}  // namespace
}  // namespace portal::platform
