// SPDX-License-Identifier: Apache-2.0
// The `portal` command line (apps/client/main.cpp): keygen, id, vanity and --list-plugins.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>

#include "portal/identity/identity.hpp"
#include "support/pem.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "support/vectors.hpp"

namespace portal {
namespace {

using test::bin_path;
using test::run_process;

std::size_t lines(const std::string& s) {
  return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n'));
}

void write_key(const std::filesystem::path& p, const std::string& pem, mode_t mode) {
  {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << pem;
  }
  ASSERT_EQ(::chmod(p.c_str(), mode), 0);
}

// Done-when of the foundation issue: `portal id --key K` prints the vector ID for every seed.
TEST(ClientCliId, PrintsTheVectorIdForEverySeed) {
  test::TempDir dir;
  const auto doc = test::load_vectors("identity.json");
  int n = 0;
  for (const auto& v : doc.at("vectors").as_array()) {
    SCOPED_TRACE(test::str(v, "label"));
    const auto key = dir / ("seed" + std::to_string(n++) + ".pem");
    write_key(key, test::pem_from_seed(test::hex(v, "seed_hex")), 0600);
    const auto r = run_process({bin_path("portal"), "id", "--key", key.string()});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, test::str(v, "id") + "\n");
    EXPECT_EQ(r.err, "");
  }
  EXPECT_EQ(n, 5);
}

TEST(ClientCliId, RefusesAKeyOthersCanRead) {
  test::TempDir dir;
  const auto key = dir / "open.pem";
  write_key(key, test::pem_from_seed(base::Bytes(32, 1)), 0644);
  const auto r = run_process({bin_path("portal"), "id", "--key", key.string()});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("group or others"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("0644"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("chmod 600"), std::string::npos) << r.err;
}

TEST(ClientCliId, MissingFileAndMissingOptionAreOneLineErrors) {
  test::TempDir dir;
  auto r = run_process({bin_path("portal"), "id", "--key", (dir / "none.pem").string()});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("does not exist"), std::string::npos) << r.err;
  r = run_process({bin_path("portal"), "id"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("--key"), std::string::npos) << r.err;
}

// The build tree's plugins (the default directory next to bin/): every plugin on a line, then the
// two implementations of chacha20-poly1305 with the faster one active.
TEST(ClientCliListPlugins, ListsPluginsAndTheActiveCipher) {
  const auto r = run_process({bin_path("portal"), "--list-plugins"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  for (const char* id : {"portal.cipher.chacha20-poly1305", "portal.cipher.openssl",
                         "portal.mux.yamux", "portal.transport.tcp", "portal.transport.ws"}) {
    EXPECT_NE(r.out.find(std::string("plugin  ") + id + "  "), std::string::npos) << id << r.out;
  }
  const auto active = r.out.find("cipher  chacha20-poly1305  ");
  ASSERT_NE(active, std::string::npos) << r.out;
  const auto line_end = r.out.find('\n', active);
  const std::string first = r.out.substr(active, line_end - active);
  EXPECT_NE(first.find("  active  "), std::string::npos) << first;
  EXPECT_NE(first.find(" MB/s"), std::string::npos) << first;
  EXPECT_NE(r.out.find("  standby  ", line_end), std::string::npos) << r.out;

  // A directory without the stack's plugins: the listing, then one error line.
  test::TempDir empty;
  const auto e =
      run_process({bin_path("portal"), "--list-plugins", "--plugin-dir", empty.path().string()});
  EXPECT_NE(e.exit_code, 0);
  EXPECT_EQ(e.out, "");
  EXPECT_EQ(lines(e.err), 1u) << e.err;
  EXPECT_NE(e.err.find("no mux plugin provides 'yamux'"), std::string::npos) << e.err;
  // Neither a command with it, nor nothing at all.
  EXPECT_NE(run_process({bin_path("portal"), "--list-plugins", "id", "--key", "x"}).exit_code, 0);
  const auto none = run_process({bin_path("portal")});
  EXPECT_NE(none.exit_code, 0);
  EXPECT_EQ(lines(none.err), 1u) << none.err;
}

TEST(ClientCliKeygen, WritesA0600KeyAndPrintsItsId) {
  test::TempDir dir;
  const auto key = dir / "new.pem";
  const auto r = run_process({bin_path("portal"), "keygen", "--out", key.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(r.out.size(), identity::kIdLength + 1);
  const std::string id = r.out.substr(0, identity::kIdLength);
  EXPECT_TRUE(identity::is_well_formed_id(id)) << id;
  struct stat st {};
  ASSERT_EQ(::stat(key.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  const auto again = run_process({bin_path("portal"), "id", "--key", key.string()});
  EXPECT_EQ(again.out, id + "\n");
}

TEST(ClientCliKeygen, RefusesToOverwriteWithoutForce) {
  test::TempDir dir;
  const auto key = dir / "k.pem";
  const auto first = run_process({bin_path("portal"), "keygen", "--out", key.string()});
  ASSERT_EQ(first.exit_code, 0);
  const auto second = run_process({bin_path("portal"), "keygen", "--out", key.string()});
  EXPECT_NE(second.exit_code, 0);
  EXPECT_EQ(lines(second.err), 1u) << second.err;
  EXPECT_NE(second.err.find("--force"), std::string::npos) << second.err;
  EXPECT_EQ(run_process({bin_path("portal"), "id", "--key", key.string()}).out, first.out);
  const auto forced = run_process({bin_path("portal"), "keygen", "--out", key.string(), "--force"});
  EXPECT_EQ(forced.exit_code, 0);
  EXPECT_NE(forced.out, first.out);
}

// The last line of `s`, without its newline.
std::string last_line(std::string s) {
  if (!s.empty() && s.back() == '\n') s.pop_back();
  const auto newline = s.rfind('\n');
  return newline == std::string::npos ? s : s.substr(newline + 1);
}

// Done-when of the vanity issue: a short prefix (lower case is upper-cased) is found, the key file
// has mode 0600 and holds an identity whose ID starts with the prefix; only the ID is printed.
TEST(ClientCliVanity, FindsAShortPrefixAndWritesA0600Key) {
  test::TempDir dir;
  const auto key = dir / "vanity.pem";
  // --max-seconds only bounds a broken build: 2 characters take about 1024 attempts.
  const auto r = run_process(
      {bin_path("portal"), "vanity", "q4", "--out", key.string(), "--max-seconds", "60"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(r.out.size(), identity::kIdLength + 1) << r.out;
  const std::string id = r.out.substr(0, identity::kIdLength);
  EXPECT_EQ(id.rfind("Q4", 0), 0u) << id;
  EXPECT_TRUE(identity::is_well_formed_id(id)) << id;
  EXPECT_NE(r.err.find("found after"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("PRIVATE KEY"), std::string::npos) << r.err;
  struct stat st {};
  ASSERT_EQ(::stat(key.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  const auto again = run_process({bin_path("portal"), "id", "--key", key.string()});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(again.out, id + "\n");
}

TEST(ClientCliVanity, OneThreadFindsAOneCharacterPrefix) {
  test::TempDir dir;
  const auto key = dir / "k.pem";
  const auto r = run_process({bin_path("portal"), "vanity", "7", "--out", key.string(), "--threads",
                              "1", "--max-seconds", "60"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("7", 0), 0u) << r.out;
  EXPECT_EQ(run_process({bin_path("portal"), "id", "--key", key.string()}).out, r.out);
}

// Each prefix no ID can start with is refused with its reason, before any search and without
// creating the key file.
TEST(ClientCliVanity, RefusesImpossiblePrefixesWithTheReason) {
  test::TempDir dir;
  const auto key = dir / "never.pem";
  const std::string a25(25, 'A');
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "empty prefix"},
      {"AB0", "'0' is not in the ID alphabet"},
      {"ab1", "'1' is not in the ID alphabet"},
      {"CAT8", "'8' is not in the ID alphabet"},
      {"9", "'9' is not in the ID alphabet"},
      {"A-B", "'-' is not in the ID alphabet"},
      {"A=", "'=' is not in the ID alphabet"},
      {"\xc3\xa9", "'\\xc3' is not in the ID alphabet"},
      {a25 + "AA", "27 characters long"},
      // portal-v1 §5.2: the 26th character holds 3 data bits and 2 zero bits.
      {a25 + "B", "never 'B'"},
      {a25 + "z", "never 'Z'"},
      {a25 + "7", "never '7'"},
      {a25 + "5", "never '5'"},
      {a25 + "C", "never 'C'"},
      {a25 + "6", "never '6'"},
  };
  for (const auto& [prefix, reason] : cases) {
    SCOPED_TRACE(prefix);
    // --max-seconds turns a missed refusal into a failure instead of a hang.
    const auto r = run_process(
        {bin_path("portal"), "vanity", prefix, "--out", key.string(), "--max-seconds", "5"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(lines(r.err), 1u) << r.err;
    EXPECT_EQ(r.err.rfind("portal: error: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(reason), std::string::npos) << r.err;
    EXPECT_FALSE(std::filesystem::exists(key));
  }
}

// A 26-character prefix ending in one of A E I M Q U Y 4 (any case) is possible, if hopeless: it
// is searched and gives up when --max-seconds runs out, with exit code 2, creating no file.
TEST(ClientCliVanity, GivesUpWhenMaxSecondsRunsOut) {
  test::TempDir dir;
  const auto key = dir / "none.pem";
  for (const char last : std::string("AeImQuY4")) {
    const std::string prefix = std::string(25, last == '4' ? 'b' : 'A') + last;
    SCOPED_TRACE(prefix);
    const auto r = run_process({bin_path("portal"), "vanity", prefix, "--out", key.string(),
                                "--threads", "1", "--max-seconds", "0.1"});
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_EQ(r.out, "");
    const auto error = last_line(r.err);
    EXPECT_EQ(error.rfind("portal: error: gave up after --max-seconds 0.1", 0), 0u) << r.err;
    EXPECT_NE(error.find("attempts"), std::string::npos) << r.err;
    EXPECT_FALSE(std::filesystem::exists(key));
  }
}

// Progress every 2 s on stderr: attempts, rate, elapsed time and expected work (32^8 here).
TEST(ClientCliVanity, ReportsProgressOnStderr) {
  test::TempDir dir;
  const auto r = run_process({bin_path("portal"), "vanity", "ZZZZZZZZ", "--out",
                              (dir / "k.pem").string(), "--threads", "1", "--max-seconds", "2.5"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(r.out, "");
  const auto progress = r.err.find("\nportal vanity: ");
  ASSERT_NE(progress, std::string::npos) << r.err;
  const auto line = r.err.substr(progress + 1, r.err.find('\n', progress + 1) - progress - 1);
  EXPECT_NE(line.find(" attempts, "), std::string::npos) << line;
  EXPECT_NE(line.find("/s, "), std::string::npos) << line;
  EXPECT_NE(line.find("s elapsed"), std::string::npos) << line;
  EXPECT_NE(line.find("expected ~1099511627776 attempts"), std::string::npos) << line;
}

TEST(ClientCliVanity, RefusesAnExistingFileBeforeSearchingUnlessForced) {
  test::TempDir dir;
  const auto key = dir / "k.pem";
  const auto first = run_process({bin_path("portal"), "keygen", "--out", key.string()});
  ASSERT_EQ(first.exit_code, 0);
  // A prefix that would take centuries: the refusal must come before the search.
  const auto refused = run_process(
      {bin_path("portal"), "vanity", "ZZZZZZZZZZZZ", "--out", key.string(), "--max-seconds", "5"});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_EQ(lines(refused.err), 1u) << refused.err;
  EXPECT_NE(refused.err.find("--force"), std::string::npos) << refused.err;
  EXPECT_EQ(run_process({bin_path("portal"), "id", "--key", key.string()}).out, first.out);
  const auto forced = run_process(
      {bin_path("portal"), "vanity", "2", "--out", key.string(), "--force", "--max-seconds", "60"});
  ASSERT_EQ(forced.exit_code, 0) << forced.err;
  EXPECT_EQ(forced.out.rfind("2", 0), 0u) << forced.out;
  EXPECT_EQ(run_process({bin_path("portal"), "id", "--key", key.string()}).out, forced.out);
}

TEST(ClientCliVanity, BadOptionsAreOneLineErrors) {
  test::TempDir dir;
  const auto key = (dir / "k.pem").string();
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"vanity", "AB"}, std::vector<std::string>{"vanity", "--out", key},
        std::vector<std::string>{"vanity", "AB", "--out", key, "--threads", "0"},
        std::vector<std::string>{"vanity", "AB", "--out", key, "--max-seconds", "-1"},
        std::vector<std::string>{"vanity", "AB", "--out", (dir / "no" / "k.pem").string()}}) {
    std::vector<std::string> argv{bin_path("portal")};
    argv.insert(argv.end(), args.begin(), args.end());
    const auto r = run_process(argv);
    EXPECT_NE(r.exit_code, 0);
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(lines(r.err), 1u) << r.err;
    EXPECT_EQ(r.err.rfind("portal: error: ", 0), 0u) << r.err;
  }
  EXPECT_FALSE(std::filesystem::exists(key));
}

TEST(ClientCliVanity, HelpNamesEveryOption) {
  const auto r = run_process({bin_path("portal"), "vanity", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* option : {"PREFIX", "--out", "--force", "--threads", "--max-seconds"}) {
    EXPECT_NE(r.out.find(option), std::string::npos) << option;
  }
}

TEST(ClientCli, EverySubcommandHasHelp) {
  for (const char* sub : {"keygen", "id", "vanity", "expose", "connect", "info"}) {
    const auto r = run_process({bin_path("portal"), sub, "--help"});
    EXPECT_EQ(r.exit_code, 0) << sub;
    EXPECT_NE(r.out.find(sub), std::string::npos) << sub;
  }
  // Every subcommand that builds a stack takes --config and --plugin-dir.
  for (const char* sub : {"expose", "connect", "info"}) {
    const auto r = run_process({bin_path("portal"), sub, "--help"});
    for (const char* flag : {"--relay", "--config", "--plugin-dir", "--key"}) {
      EXPECT_NE(r.out.find(flag), std::string::npos) << sub << " " << flag;
    }
  }
  const auto top = run_process({bin_path("portal"), "--help"});
  EXPECT_EQ(top.exit_code, 0);
  EXPECT_NE(top.out.find("keygen"), std::string::npos);
}

TEST(ClientCli, NoSubcommandOrUnknownOneIsAOneLineError) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{}, std::vector<std::string>{"frobnicate"}}) {
    std::vector<std::string> argv{bin_path("portal")};
    argv.insert(argv.end(), args.begin(), args.end());
    const auto r = run_process(argv);
    EXPECT_NE(r.exit_code, 0);
    EXPECT_EQ(lines(r.err), 1u) << r.err;
    EXPECT_EQ(r.err.rfind("portal: error: ", 0), 0u) << r.err;
  }
}

}  // namespace
}  // namespace portal
