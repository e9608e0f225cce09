// SPDX-License-Identifier: Apache-2.0
// portal-relay's command line (apps/relay/main.cpp).
#include <gtest/gtest.h>

#include <algorithm>

#include "portal/version.hpp"
#include "support/process.hpp"

namespace portal {
namespace {

using test::bin_path;
using test::run_process;

std::size_t lines(const std::string& s) {
  return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n'));
}

TEST(RelayCli, VersionPrintsOneLine) {
  const auto r = run_process({bin_path("portal-relay"), "--version"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, std::string("portal-relay ") + kVersion + " (portal-v1 wire protocol)\n");
  EXPECT_EQ(r.err, "");
}

TEST(RelayCli, HelpGoesToStdout) {
  const auto r = run_process({bin_path("portal-relay"), "--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("--version"), std::string::npos);
}

TEST(RelayCli, UnknownFlagIsOneLineError) {
  const auto r = run_process({bin_path("portal-relay"), "--no-such-flag"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(lines(r.err), 1u) << r.err;
  EXPECT_EQ(r.err.rfind("portal-relay: error: ", 0), 0u) << r.err;
  EXPECT_EQ(r.out, "");
}

// Until the relay server lands, running without --version says so plainly and fails.
TEST(RelayCli, ServerNotYetAvailableIsAnHonestError) {
  const auto r = run_process({bin_path("portal-relay")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("not implemented"), std::string::npos);
}

}  // namespace
}  // namespace portal
