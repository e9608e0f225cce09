// SPDX-License-Identifier: Apache-2.0
// The `portal` command line (apps/client/main.cpp): keygen and id.
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

TEST(ClientCli, EverySubcommandHasHelp) {
  for (const char* sub : {"keygen", "id"}) {
    const auto r = run_process({bin_path("portal"), sub, "--help"});
    EXPECT_EQ(r.exit_code, 0) << sub;
    EXPECT_NE(r.out.find(sub), std::string::npos) << sub;
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
