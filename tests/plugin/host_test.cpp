// SPDX-License-Identifier: Apache-2.0
#include "portal/plugin/host.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <fstream>

#include "plugin/echo_service.hpp"
#include "portal/base/encoding.hpp"
#include "portal/crypto/sha256.hpp"
#include "portal/transport/transport.hpp"
#include "support/temp_dir.hpp"

namespace portal::plugin {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

fs::path test_plugin(const std::string& name) {
  return fs::path(PORTAL_TEST_PLUGIN_DIR) / ("portal-test-" + name + ".so");
}

// Copies a test plugin into `dir` under `as` with the given mode.
fs::path stage(const test::TempDir& dir, const std::string& name, const std::string& as,
               mode_t mode = 0755) {
  const auto to = dir / as;
  fs::copy_file(test_plugin(name), to, fs::copy_options::overwrite_existing);
  EXPECT_EQ(::chmod(to.c_str(), mode), 0);
  return to;
}

// Loads one file and returns the refusal's code (or success).
base::ErrorCode refusal_of(const fs::path& file, HostOptions options = {}) {
  Host host(std::move(options));
  auto r = host.load_file(file);
  if (r) return {};
  EXPECT_EQ(host.refusals().size(), 1u);
  if (!host.refusals().empty()) {
    const auto line = host.refusals().front().to_string();
    EXPECT_EQ(line.find('\n'), std::string::npos) << line;  // one line
    EXPECT_EQ(line.rfind(file.string(), 0), 0u) << line;    // names the file first
  }
  return r.error();
}

TEST(PluginHost, LoadsAWellFormedPlugin) {
  Host host;
  auto p = host.load_file(test_plugin("echo"));
  ASSERT_TRUE(p) << (host.refusals().empty() ? "" : host.refusals()[0].to_string());
  EXPECT_EQ((*p)->id(), "portal.test.echo");
  EXPECT_EQ((*p)->kind(), Kind::Extension);
  EXPECT_EQ((*p)->version(), "1.2.3");
  EXPECT_TRUE((*p)->provides("echo"));
  EXPECT_EQ((*p)->fingerprint(), host_fingerprint());
  EXPECT_TRUE(host.find("portal.test.echo"));
  EXPECT_TRUE(host.find_provider(Kind::Extension, "echo"));
  EXPECT_EQ(host.find_provider(Kind::Cipher, "echo").error(), Errc::UnknownPlugin);
  EXPECT_EQ(host.find("portal.nope").error(), Errc::UnknownPlugin);
}

TEST(PluginHost, RefusesAMissingFile) {
  test::TempDir dir;
  EXPECT_EQ(refusal_of(dir / "absent.so"), Errc::FileNotFound);
}

TEST(PluginHost, RefusesAFileThatIsNotASharedLibrary) {
  test::TempDir dir;
  const auto f = dir / "garbage.so";
  std::ofstream(f) << "this is not an ELF file\n";
  ::chmod(f.c_str(), 0644);
  EXPECT_EQ(refusal_of(f), Errc::NotLoadable);
}

TEST(PluginHost, RefusesALibraryWithoutTheEntry) {
  EXPECT_EQ(refusal_of(test_plugin("no-entry")), Errc::NoEntry);
}

TEST(PluginHost, RefusesAnEntryWithoutDescriptor) {
  EXPECT_EQ(refusal_of(test_plugin("null-descriptor")), Errc::NoDescriptor);
}

// A transport built for ABI 2.1 is loaded (an older minor), but never given a host-less URI,
// which it could take for "every address"; its usual URIs still resolve.
TEST(PluginHost, AnOlderTransportIsNotGivenHostlessUris) {
  Host host;
  auto p = host.load_file(test_plugin("old-transport"));
  ASSERT_TRUE(p) << (host.refusals().empty() ? "" : host.refusals()[0].to_string());
  EXPECT_EQ((*p)->abi_minor(), 1u);
  EXPECT_EQ(transport::resolve(host, "oldtcp:///tmp/relay.sock").error(),
            transport::Errc::InvalidUri);
  EXPECT_TRUE(transport::resolve(host, "oldtcp://127.0.0.1:1"));
}

TEST(PluginHost, RefusesADifferentAbiMajor) {
  Host host;
  EXPECT_EQ(host.load_file(test_plugin("abi-major")).error(), Errc::AbiMajorMismatch);
  const std::string expected = "plugin " + std::to_string(kAbiMajor + 1) + "." +
                               std::to_string(kAbiMinor) + ", host " + std::to_string(kAbiMajor) +
                               "." + std::to_string(kAbiMinor);
  EXPECT_NE(host.refusals()[0].detail.find(expected), std::string::npos)
      << host.refusals()[0].to_string();
}

TEST(PluginHost, RefusesANewerAbiMinor) {
  EXPECT_EQ(refusal_of(test_plugin("abi-minor")), Errc::AbiMinorTooNew);
}

TEST(PluginHost, RefusesAFingerprintMismatchAndNamesTheField) {
  Host host;
  EXPECT_EQ(host.load_file(test_plugin("fingerprint")).error(), Errc::FingerprintMismatch);
  EXPECT_NE(host.refusals()[0].detail.find("plugin has compiler=gcc-0.1"), std::string::npos)
      << host.refusals()[0].to_string();
}

TEST(PluginHost, RefusesAnInvalidDescriptor) {
  EXPECT_EQ(refusal_of(test_plugin("bad-id")), Errc::InvalidDescriptor);
  EXPECT_EQ(refusal_of(test_plugin("bad-kind")), Errc::InvalidDescriptor);
}

TEST(PluginHost, RefusesADuplicateId) {
  test::TempDir dir;
  const auto a = stage(dir, "echo", "a.so");
  const auto b = stage(dir, "echo", "b.so");
  Host host;
  ASSERT_TRUE(host.load_file(a));
  EXPECT_EQ(host.load_file(b).error(), Errc::DuplicateId);
  EXPECT_NE(host.refusals()[0].detail.find("a.so"), std::string::npos);
  EXPECT_EQ(host.plugins().size(), 1u);
}

TEST(PluginHost, RefusesGroupOrWorldWritableFiles) {
  test::TempDir dir;
  for (mode_t mode : {0775u, 0757u, 0666u}) {
    const auto f = stage(dir, "echo", "w.so", mode);
    EXPECT_EQ(refusal_of(f), Errc::FileWritable) << std::oct << mode;
  }
  EXPECT_FALSE(refusal_of(stage(dir, "echo", "ok.so", 0755)));
}

TEST(PluginHost, Sha256Pins) {
  test::TempDir dir;
  const auto f = stage(dir, "echo", "pinned.so");
  std::ifstream in(f, std::ios::binary);
  const std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  const std::string good = base::hex_encode(crypto::sha256(base::as_bytes(bytes)));

  HostOptions wrong;
  wrong.sha256_pins["pinned.so"] = std::string(64, '0');
  EXPECT_EQ(refusal_of(f, wrong), Errc::PinMismatch);

  HostOptions right;
  right.sha256_pins["pinned.so"] = good;
  EXPECT_FALSE(refusal_of(f, right));
}

TEST(PluginHost, LoadAllScansDirectoriesAndReportsEveryRefusal) {
  test::TempDir dir;
  stage(dir, "echo", "portal-test-echo.so");
  stage(dir, "no-entry", "portal-test-no-entry.so");
  stage(dir, "abi-major", "portal-test-abi-major.so");
  std::ofstream(dir / "README.txt") << "not a plugin, and not a .so: ignored\n";
  HostOptions options;
  options.directories = {dir.path(), dir / "missing"};
  options.sha256_pins["absent.so"] = std::string(64, 'a');
  Host host(options);
  host.load_all();
  ASSERT_EQ(host.plugins().size(), 1u);
  EXPECT_EQ(host.plugins()[0]->id(), "portal.test.echo");
  std::vector<base::ErrorCode> codes;
  for (const auto& r : host.refusals()) codes.push_back(r.code);
  const std::vector<base::ErrorCode> expected{Errc::AbiMajorMismatch, Errc::NoEntry,
                                              Errc::DirectoryNotFound, Errc::FileNotFound};
  EXPECT_EQ(codes, expected);
}

TEST(PluginHost, RefusesAWorldWritableDirectory) {
  test::TempDir dir;
  const auto sub = dir / "open";
  fs::create_directory(sub);
  ::chmod(sub.c_str(), 0777);
  HostOptions options;
  options.directories = {sub};
  Host host(options);
  host.load_all();
  ASSERT_EQ(host.refusals().size(), 1u);
  EXPECT_EQ(host.refusals()[0].code, Errc::DirectoryWritable);
}

// The sticky bit stops others from replacing our files, not from adding their own plugins.
TEST(PluginHost, RefusesAStickyWorldWritableDirectory) {
  test::TempDir dir;
  const auto sub = dir / "tmp-like";
  fs::create_directory(sub);
  ASSERT_EQ(::chmod(sub.c_str(), 01777), 0);
  stage(dir, "echo", "tmp-like/portal-test-echo.so");
  HostOptions options;
  options.directories = {sub};
  Host host(options);
  host.load_all();
  EXPECT_TRUE(host.plugins().empty());
  ASSERT_EQ(host.refusals().size(), 1u);
  EXPECT_EQ(host.refusals()[0].code, Errc::DirectoryWritable);
}

// The file that passed the checks (and the pin) is the file that is loaded, even when the path
// is replaced in between.
TEST(PluginHost, LoadsTheFileItCheckedEvenIfThePathIsReplaced) {
  test::TempDir dir;
  const auto f = stage(dir, "echo", "swap.so");
  const auto other = stage(dir, "abi-major", "other.so");
  std::ifstream in(f, std::ios::binary);
  const std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  HostOptions options;
  options.sha256_pins["swap.so"] = base::hex_encode(crypto::sha256(base::as_bytes(bytes)));
  int swaps = 0;
  options.before_map = [&](const fs::path& p) {
    ++swaps;
    fs::rename(other, p);  // atomically replaces swap.so with an unpinned, different plugin
  };
  Host host(options);
  auto p = host.load_file(f);
  ASSERT_TRUE(p) << (host.refusals().empty() ? "" : host.refusals()[0].to_string());
  EXPECT_EQ(swaps, 1);
  EXPECT_EQ((*p)->id(), "portal.test.echo");
  // The path now holds the other plugin, and loading it by path sees that one.
  Host again;
  EXPECT_EQ(again.load_file(f).error(), Errc::AbiMajorMismatch);
}

// Each file is loaded as itself, however descriptor numbers are reused between loads.
TEST(PluginHost, SuccessiveHostsLoadEachFileAsItself) {
  test::TempDir dir;
  for (int round = 0; round < 3; ++round) {
    const auto a = stage(dir, "echo", "a" + std::to_string(round) + ".so");
    const auto b = stage(dir, "abi-major", "b" + std::to_string(round) + ".so");
    {
      Host host;
      auto p = host.load_file(a);
      ASSERT_TRUE(p);
      EXPECT_EQ((*p)->id(), "portal.test.echo");
    }
    {
      Host host;
      EXPECT_EQ(host.load_file(b).error(), Errc::AbiMajorMismatch);
    }
    Host host;
    EXPECT_TRUE(host.load_file(test_plugin("echo")));
  }
}

struct OtherInterface : Factory {
  static constexpr std::string_view kInterface = "portal.other/1";
};

TEST(PluginHost, FactoryChecksTheInterface) {
  Host host;
  auto p = host.load_file(test_plugin("echo"));
  ASSERT_TRUE(p);
  EXPECT_EQ((*p)->factory<OtherInterface>().error(), Errc::InterfaceMismatch);
  auto echo = (*p)->factory<test::EchoService>();
  ASSERT_TRUE(echo);
  EXPECT_EQ((*echo)->throw_inside_guard().error(), Errc::PluginFailure);
}

// The awaitable-across-plugin case: coroutine methods of an RTLD_LOCAL plugin, driven by the
// host's io_context, many at once, after the Host itself is gone (the factory reference keeps the
// plugin loaded). Run under the asan preset too.
TEST(PluginHost, AwaitableAcrossThePluginBoundary) {
  std::shared_ptr<test::EchoService> echo;
  {
    Host host;
    auto p = host.load_file(test_plugin("echo"));
    ASSERT_TRUE(p);
    auto f = (*p)->factory<test::EchoService>();
    ASSERT_TRUE(f);
    echo = *f;
  }
  boost::asio::io_context io;
  constexpr int kCalls = 200;
  int done = 0;
  for (int i = 0; i < kCalls; ++i) {
    boost::asio::co_spawn(
        io,
        [&, i]() -> boost::asio::awaitable<void> {
          auto r =
              co_await echo->async_echo("n" + std::to_string(i), std::chrono::milliseconds(i % 5));
          EXPECT_TRUE(r);
          if (r) {
            EXPECT_EQ(*r, "echo:n" + std::to_string(i));
          }
          ++done;
        },
        boost::asio::detached);
  }
  io.run();
  EXPECT_EQ(done, kCalls);
}

TEST(PluginHost, FingerprintHasEveryField) {
  const std::string fp(host_fingerprint());
  for (const char* field : {"compiler=", "stdlib=", "cxx=", "boost=", "asan=", "rtti=",
                            "exceptions=", "asio-ts-executor=", "abi=1"}) {
    EXPECT_NE(fp.find(field), std::string::npos) << field << " in " << fp;
  }
}

}  // namespace
}  // namespace portal::plugin
