// SPDX-License-Identifier: Apache-2.0
// What the kit does not cover: the socket file's life (stale sockets, files that are not
// sockets, removal on close), path limits, and the `mode` setting.
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <array>
#include <cerrno>
#include <filesystem>
#include <fstream>

#include "portal/base/uri.hpp"
#include "portal/conformance/common.hpp"
#include "portal/transport/transport.hpp"

namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using portal::transport::Uri;

class UnixTransport : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string problem;
    auto loaded = portal::conformance::load_plugin(UNIX_PLUGIN_FILE, problem);
    ASSERT_TRUE(loaded) << problem;
    loaded_ = *loaded;
    EXPECT_EQ(loaded_.plugin->id(), "example.transport.unix");
    auto f = portal::transport::resolve(*loaded_.host, "unix:///x");
    ASSERT_TRUE(f) << f.error().message();
    factory_ = *f;
  }

  Uri uri_of(const fs::path& p) { return Uri{"unix", {}, 0, p.string()}; }

  portal::base::Result<std::unique_ptr<portal::transport::Listener>> listen(
      const fs::path& p, const portal::transport::Settings& settings = {}) {
    return factory_->listen(runner_.executor(), uri_of(p), settings);
  }

  // Dials `l` and accepts; true when a byte crosses.
  bool round_trip(portal::transport::Listener& l) {
    bool crossed = false;
    runner_.run([&]() -> asio::awaitable<void> {
      using namespace asio::experimental::awaitable_operators;
      auto [c, s] = co_await (factory_->async_connect(runner_.executor(), l.local_uri(), {}) &&
                              l.async_accept());
      if (!c || !s) co_return;
      portal::base::Bytes one{42};
      if (!co_await (*c)->async_write(one)) co_return;
      portal::base::Bytes got(1);
      auto n = co_await (*s)->async_read_some(got);
      crossed = n && *n == 1 && got[0] == 42;
      EXPECT_EQ((*s)->peer_info().address, "");  // a Unix socket's peer has no IP address
    });
    return crossed;
  }

  portal::conformance::TempDir tmp_;
  portal::conformance::Runner runner_{10s};
  portal::conformance::LoadedPlugin loaded_;
  std::shared_ptr<portal::transport::TransportFactory> factory_;
};

bool socket_file(const fs::path& p) {
  struct stat st {};
  return ::lstat(p.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
}

TEST_F(UnixTransport, CloseRemovesItsSocketFile) {
  const auto path = tmp_.path() / "relay.sock";
  auto l = listen(path);
  ASSERT_TRUE(l) << l.error().message();
  EXPECT_EQ((*l)->local_uri().to_string(), "unix://" + path.string());
  EXPECT_TRUE(socket_file(path));
  EXPECT_TRUE(round_trip(**l));
  (*l)->close();
  EXPECT_FALSE(fs::exists(path));
}

TEST_F(UnixTransport, CloseLeavesAFileThatReplacedItsSocket) {
  const auto path = tmp_.path() / "relay.sock";
  auto l = listen(path);
  ASSERT_TRUE(l);
  fs::remove(path);
  std::ofstream(path) << "someone else's";
  l->reset();  // destroyed: closed
  ASSERT_TRUE(fs::exists(path));
  EXPECT_FALSE(socket_file(path));
}

TEST_F(UnixTransport, RefusesToReplaceAFileThatIsNotASocket) {
  const auto path = tmp_.path() / "data.txt";
  std::ofstream(path) << "keep me";
  auto l = listen(path);
  ASSERT_FALSE(l);
  EXPECT_EQ(l.error().value(), EEXIST);
  std::ifstream in(path);
  std::string text;
  std::getline(in, text);
  EXPECT_EQ(text, "keep me");
  fs::create_directory(tmp_.path() / "dir");
  EXPECT_FALSE(listen(tmp_.path() / "dir"));
  EXPECT_TRUE(fs::is_directory(tmp_.path() / "dir"));
}

// A socket file that nobody accepts on (its process died) is replaced; a live one is not.
TEST_F(UnixTransport, ReplacesAStaleSocketButNotALiveOne) {
  const auto path = tmp_.path() / "relay.sock";
  {
    asio::local::stream_protocol::acceptor dead(runner_.io());
    dead.open();
    dead.bind(asio::local::stream_protocol::endpoint(path.string()));
    dead.listen();
  }  // closed without removing its file, as a killed process leaves it
  ASSERT_TRUE(socket_file(path));
  auto l = listen(path);
  ASSERT_TRUE(l) << l.error().message();
  EXPECT_TRUE(round_trip(**l));
  // A second listener of this plugin on the path is refused by the first one's lock, without
  // touching the socket.
  auto second = listen(path);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().value(), EADDRINUSE);
  EXPECT_TRUE(round_trip(**l));  // the first listener keeps its socket
}

// A socket some other program listens on (no lock of ours) is found live by a connection
// attempt, which that program sees as a connection that ends at once; it is left alone.
TEST_F(UnixTransport, LeavesAnotherProgramsLiveSocketAlone) {
  const auto path = tmp_.path() / "other.sock";
  asio::local::stream_protocol::acceptor other(runner_.io());
  other.open();
  other.bind(asio::local::stream_protocol::endpoint(path.string()));
  other.listen();
  auto refused = listen(path);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().value(), EADDRINUSE);
  ASSERT_TRUE(socket_file(path));
  runner_.run([&]() -> asio::awaitable<void> {
    auto [ec, probe] = co_await other.async_accept(asio::as_tuple(asio::use_awaitable));
    EXPECT_FALSE(ec) << ec.message();
    if (ec) co_return;
    std::array<char, 8> buf{};
    auto [rec, n] =
        co_await probe.async_read_some(asio::buffer(buf), asio::as_tuple(asio::use_awaitable));
    EXPECT_TRUE(rec == asio::error::eof || n == 0) << "the probe sent bytes";
  });
}

// The socket's directory must not be one other users may change (they could swap the socket).
TEST_F(UnixTransport, RefusesADirectoryOthersMayChange) {
  const auto dir = tmp_.path() / "open";
  fs::create_directory(dir);
  fs::permissions(dir, fs::perms::all);  // 0777, not sticky
  auto refused = listen(dir / "relay.sock");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().value(), EPERM);
  fs::permissions(dir, fs::perms::all | fs::perms::sticky_bit);  // like /tmp
  auto l = listen(dir / "relay.sock");
  ASSERT_TRUE(l) << l.error().message();
  EXPECT_TRUE(round_trip(**l));
}

// sun_path holds 108 bytes with the NUL: a 107-byte path works, a longer one is refused before
// any socket address is built from it.
TEST_F(UnixTransport, PathLimits) {
  const fs::path dir = tmp_.path();
  const std::size_t room = portal::base::kMaxLocalPathBytes - dir.string().size() - 1;
  ASSERT_LT(dir.string().size() + 2, portal::base::kMaxLocalPathBytes);
  const auto longest = dir / std::string(room, 's');
  ASSERT_EQ(longest.string().size(), portal::base::kMaxLocalPathBytes);
  ASSERT_EQ(longest.string().size(), sizeof(sockaddr_un::sun_path) - 1);
  auto l = listen(longest);
  ASSERT_TRUE(l) << l.error().message();
  EXPECT_TRUE(round_trip(**l));
  const auto too_long = longest.string() + "s";
  EXPECT_EQ(portal::transport::parse_uri("unix://" + too_long).error(),
            portal::base::Errc::UriPathTooLong);
  auto refused = listen(too_long);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), portal::base::Errc::UriPathTooLong);
  runner_.run([&]() -> asio::awaitable<void> {
    auto c = co_await factory_->async_connect(runner_.executor(), uri_of(too_long), {});
    EXPECT_FALSE(c);
    if (!c) {
      EXPECT_EQ(c.error(), portal::base::Errc::UriPathTooLong);
    }
  });
}

// Only scheme:///absolute/path: a host, a port or a relative path is refused by name.
TEST_F(UnixTransport, RefusesUrisThatAreNotAnAbsolutePath) {
  for (const Uri& bad :
       {Uri{"unix", "localhost", 0, "/tmp/x.sock"}, Uri{"unix", {}, 7, "/x"},
        Uri{"unix", {}, 0, "relative.sock"}, Uri{"unix", {}, 0, ""}, Uri{"unix", {}, 0, "/"}}) {
    auto l = factory_->listen(runner_.executor(), bad, {});
    ASSERT_FALSE(l) << bad.to_string();
    EXPECT_EQ(l.error(), portal::transport::Errc::InvalidUri);
    runner_.run([&]() -> asio::awaitable<void> {
      auto c = co_await factory_->async_connect(runner_.executor(), bad, {});
      EXPECT_FALSE(c);
      if (!c) {
        EXPECT_EQ(c.error(), portal::transport::Errc::InvalidUri);
      }
    });
  }
}

TEST_F(UnixTransport, ModeSetsTheSocketFilesPermissions) {
  const auto path = tmp_.path() / "relay.sock";
  auto l = listen(path, {{"mode", "600"}});
  ASSERT_TRUE(l) << l.error().message();
  struct stat st {};
  ASSERT_EQ(::lstat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::string problem;
  for (const char* bad : {"999", "", "12345", "rw", "1000"}) {
    problem.clear();
    EXPECT_FALSE(factory_->validate({{"mode", bad}}, problem)) << bad;
    EXPECT_NE(problem.find("mode"), std::string::npos) << problem;
  }
  EXPECT_TRUE(factory_->validate({{"mode", "0660"}}, problem)) << problem;
}

TEST_F(UnixTransport, ConnectErrorsNameTheCause) {
  runner_.run([&]() -> asio::awaitable<void> {
    auto missing =
        co_await factory_->async_connect(runner_.executor(), uri_of(tmp_.path() / "none.sock"), {});
    EXPECT_FALSE(missing);
    if (!missing) {
      EXPECT_EQ(missing.error().value(), ENOENT);
    }
  });
}

}  // namespace
