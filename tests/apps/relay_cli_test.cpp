// SPDX-License-Identifier: Apache-2.0
// portal-relay's command line (apps/relay/main.cpp).
#include <gtest/gtest.h>

#include <algorithm>

#include "portal/plugin/descriptor.hpp"
#include "portal/version.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

#include <fstream>

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

// Without plugins the relay cannot assemble its stack: one clear line, exit 1, no port opened.
TEST(RelayCli, MissingPluginsAreOneClearError) {
  portal::test::TempDir empty;
  const auto r = run_process({bin_path("portal-relay"), "--plugin-dir", empty.path().string(),
                              "--listen", "tcp://127.0.0.1:0"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("no mux plugin provides 'yamux'"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");
}

// A listener whose scheme no plugin provides is named with the plugin directories searched.
TEST(RelayCli, UnknownListenerSchemeIsNamed) {
  const auto r = run_process({bin_path("portal-relay"), "--listen", "quic://127.0.0.1:0"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no transport plugin provides 'quic'"), std::string::npos) << r.err;
}

// Done-when of the plugin issue: from the build tree, with no --plugin-dir, the default folder
// <build>/lib/portal/plugins is found relative to the executable and cipher-chacha is listed.
TEST(RelayCliPlugins, ListsShippedPluginsFromTheDefaultFolder) {
  const auto r = run_process({bin_path("portal-relay"), "--list-plugins"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  const std::string line = std::string("plugin  portal.cipher.chacha20-poly1305  cipher  ") +
                           kVersion + "  " + PORTAL_BUILD_PLUGIN_DIR + "/portal-cipher-chacha.so\n";
  EXPECT_NE(r.out.find(line), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("refused"), std::string::npos) << r.out;
}

TEST(RelayCliPlugins, ReportsRefusedFilesOneLineEach) {
  const auto r = run_process({bin_path("portal-relay"), "--list-plugins", "--plugin-dir",
                              PORTAL_TEST_PLUGIN_DIR, "--plugin-dir", "/nonexistent/plugins"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("plugin  portal.test.echo  extension  1.2.3  "), std::string::npos) << r.out;
  const std::string abi_major =
      "portal-test-abi-major.so: plugin ABI major differs from the host's: plugin " +
      std::to_string(plugin::kAbiMajor + 1) + "." + std::to_string(plugin::kAbiMinor) + ", host " +
      std::to_string(plugin::kAbiMajor) + ".";
  for (const std::string& reason : std::vector<std::string>{
           abi_major, "portal-test-abi-minor.so: plugin needs a newer ABI minor",
           "portal-test-fingerprint.so: plugin build fingerprint differs",
           "portal-test-no-entry.so: not a Portal plugin",
           "portal-test-null-descriptor.so: plugin entry returned no descriptor",
           "portal-test-bad-id.so: plugin descriptor is invalid: bad id",
           "/nonexistent/plugins: plugin directory does not exist"}) {
    EXPECT_NE(r.out.find(reason), std::string::npos) << reason << "\n" << r.out;
  }
}

TEST(RelayCliConfig, PrintsTheEmbeddedDefaultsAndAppliesFlags) {
  auto r = run_process({bin_path("portal-relay"), "--print-config"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"listeners\": [\"ws://127.0.0.1:4017/relay\", \"tcp://127.0.0.1:4027\"]"),
            std::string::npos)
      << r.out;
  r = run_process({bin_path("portal-relay"), "--listen", "tcp://[::1]:0", "--listen",
                   "ws://127.0.0.1:0/relay", "--print-config"});
  EXPECT_NE(r.out.find("\"listeners\": [\"tcp://[::1]:0\", \"ws://127.0.0.1:0/relay\"]"),
            std::string::npos)
      << r.out;
  r = run_process({bin_path("portal-relay"), "--listen", "nonsense", "--print-config"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(lines(r.err), 1u) << r.err;
}

TEST(RelayCliConfig, CheckConfigNamesFileKeyAndReason) {
  portal::test::TempDir dir;
  const auto bad = dir / "bad.json";
  std::ofstream(bad) << "{\"listeners\": [\"ws://x\"], \"limits\": {\"max_streams_per_lease\": 0}}";
  auto r = run_process({bin_path("portal-relay"), "--check-config", bad.string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find(bad.string() + ": listeners[0]: 'ws://x': invalid URI"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find(bad.string() + ": limits.max_streams_per_lease: must be between 1"),
            std::string::npos)
      << r.out;
  const auto broken = dir / "broken.json";
  std::ofstream(broken) << "{\n  \"log_level\": \"info\"\n  \"mux\": {}\n}\n";
  r = run_process({bin_path("portal-relay"), "--check-config", broken.string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out.rfind(broken.string() + ":3:3: JSON syntax error", 0), 0u) << r.out;
  r = run_process({bin_path("portal-relay"), "--check-config", PORTAL_EXAMPLE_CONFIG});
  EXPECT_EQ(r.exit_code, 0) << r.out;
  // A bad --config file refuses to start, naming the problem.
  r = run_process({bin_path("portal-relay"), "--config", bad.string(), "--print-config"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("listeners[0]"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace portal
