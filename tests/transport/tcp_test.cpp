// SPDX-License-Identifier: Apache-2.0
// portal.transport.tcp loaded through the plugin host, on loopback with port 0.
#include "tcp_transport.hpp"

#include <gtest/gtest.h>

#include <filesystem>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "portal/crypto/sha256.hpp"
#include "portal/plugin/host.hpp"
#include "support/plugins.hpp"
#include "support/scale.hpp"

namespace portal::transport {
namespace {

namespace asio = boost::asio;
using base::Bytes;
using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;

class TcpTransport : public ::testing::Test {
 protected:
  void SetUp() override {
    host_ = portal::test::load_build_plugins();
    auto f = resolve(*host_, "tcp://127.0.0.1:0");
    ASSERT_TRUE(f) << f.error().message();
    tcp_ = *f;
  }
  template <class Fn>
  void run(Fn fn) {
    bool done = false;
    io_.restart();  // an earlier run may have left the context stopped
    asio::co_spawn(
        io_,
        [&]() -> asio::awaitable<void> {
          co_await fn();
          done = true;
        },
        asio::detached);
    for (int i = 0; i < 600 && !done; ++i) io_.run_for(100ms);
    ASSERT_TRUE(done);
  }

  asio::io_context io_;
  std::unique_ptr<plugin::Host> host_;
  std::shared_ptr<TransportFactory> tcp_;
};

asio::awaitable<void> send_all(stream::ByteStream& s, std::size_t total, std::uint8_t seed,
                               crypto::Sha256Digest& digest) {
  crypto::Sha256 h;
  Bytes chunk(100'000);
  for (std::size_t sent = 0; sent < total;) {
    chunk.resize(std::min(chunk.size(), total - sent));
    for (std::size_t i = 0; i < chunk.size(); ++i)
      chunk[i] = static_cast<base::Byte>(seed + sent + i * 7);
    h.update(chunk);
    EXPECT_TRUE(co_await s.async_write(chunk));
    sent += chunk.size();
  }
  EXPECT_TRUE(co_await s.async_shutdown_write());
  digest = h.finish();
}

asio::awaitable<void> receive_all(stream::ByteStream& s, std::size_t& total,
                                  crypto::Sha256Digest& digest) {
  crypto::Sha256 h;
  Bytes buf(64 * 1024);
  for (;;) {
    auto n = co_await s.async_read_some(buf);
    EXPECT_TRUE(n) << n.error().message();
    if (!n || *n == 0) break;
    h.update(base::ByteSpan(buf).first(*n));
    total += *n;
  }
  digest = h.finish();
}

TEST_F(TcpTransport, DialAcceptAndBulkBothWaysWithHalfClose) {
  auto uri = parse_uri("tcp://127.0.0.1:0");
  auto listener = tcp_->listen(io_.get_executor(), *uri, {});
  ASSERT_TRUE(listener) << listener.error().message();
  const Uri bound = (*listener)->local_uri();
  EXPECT_NE(bound.port, 0);
  const std::size_t size = portal::test::scaled(64u << 20, 1u << 20);
  run([&]() -> asio::awaitable<void> {
    auto client = co_await tcp_->async_connect(io_.get_executor(), bound, {});
    EXPECT_TRUE(client) << client.error().message();
    auto server = co_await (*listener)->async_accept();
    EXPECT_TRUE(server);
    if (!client || !server) co_return;
    crypto::Sha256Digest a_sent{}, b_sent{}, a_got{}, b_got{};
    std::size_t to_server = 0, to_client = 0;
    int finished = 0;
    auto track = [&](asio::awaitable<void> work) -> asio::awaitable<void> {
      co_await std::move(work);
      ++finished;
    };
    asio::co_spawn(io_, track(send_all(**client, size, 1, a_sent)), asio::detached);
    asio::co_spawn(io_, track(send_all(**server, size, 2, b_sent)), asio::detached);
    asio::co_spawn(io_, track(receive_all(**server, to_server, a_got)), asio::detached);
    asio::co_spawn(io_, track(receive_all(**client, to_client, b_got)), asio::detached);
    asio::steady_timer t(io_);
    while (finished < 4) {
      t.expires_after(5ms);
      co_await t.async_wait(asio::use_awaitable);
    }
    EXPECT_EQ(to_server, size);
    EXPECT_EQ(to_client, size);
    EXPECT_EQ(a_got, a_sent);
    EXPECT_EQ(b_got, b_sent);
    (*client)->close();
    Bytes buf(8);
    EXPECT_FALSE(co_await (*client)->async_read_some(buf));  // closed locally: an error
  });
}

TEST_F(TcpTransport, IPv6LiteralAndNamesThroughTheResolver) {
  for (const char* text : {"tcp://[::1]:0", "tcp://localhost:0"}) {
    SCOPED_TRACE(text);
    auto uri = parse_uri(text);
    auto listener = tcp_->listen(io_.get_executor(), *uri, {});
    ASSERT_TRUE(listener) << listener.error().message();
    Uri target = (*listener)->local_uri();
    if (std::string(text).find("localhost") != std::string::npos) target.host = "localhost";
    run([&]() -> asio::awaitable<void> {
      auto c = co_await tcp_->async_connect(io_.get_executor(), target, {});
      EXPECT_TRUE(c) << c.error().message();
      auto s = co_await (*listener)->async_accept();
      EXPECT_TRUE(s);
    });
  }
}

// A host-less URI (a local socket's) is not a TCP address: neither bound (resolving "" passively
// would bind every interface) nor dialed.
TEST_F(TcpTransport, RefusesHostlessUris) {
  for (const char* text : {"tcp:///run/portal/relay.sock", "tls:///run/portal/relay.sock"}) {
    SCOPED_TRACE(text);
    auto uri = parse_uri(text);
    ASSERT_TRUE(uri);
    auto listener = tcp_->listen(io_.get_executor(), *uri, {});
    ASSERT_FALSE(listener);
    EXPECT_EQ(listener.error(), Errc::InvalidUri);
    run([&]() -> asio::awaitable<void> {
      auto c = co_await tcp_->async_connect(io_.get_executor(), *uri, {});
      EXPECT_FALSE(c);
      if (!c) {
        EXPECT_EQ(c.error(), Errc::InvalidUri);
      }
    });
  }
}

TEST_F(TcpTransport, ConnectRefused) {
  auto listener = tcp_->listen(io_.get_executor(), *parse_uri("tcp://127.0.0.1:0"), {});
  ASSERT_TRUE(listener);
  const Uri gone = (*listener)->local_uri();
  (*listener)->close();
  run([&]() -> asio::awaitable<void> {
    auto c = co_await tcp_->async_connect(io_.get_executor(), gone, {});
    EXPECT_FALSE(c);
    if (!c) {
      EXPECT_EQ(c.error(), asio::error::connection_refused) << c.error().message();
    }
  });
}

// A socket that listens and never accepts, with a full queue: further SYNs are dropped and the
// dial must give up at its own deadline. (The plugin's listeners accept at once, so a raw one.)
TEST_F(TcpTransport, ConnectTimeout) {
  asio::ip::tcp::acceptor listener(io_, {asio::ip::make_address("127.0.0.1"), 0});
  listener.listen(1);
  const Uri target{"tcp", "127.0.0.1", listener.local_endpoint().port(), {}};
  const Settings quick{{"connect_timeout_ms", "300"}};
  run([&]() -> asio::awaitable<void> {
    std::vector<std::unique_ptr<stream::ByteStream>> fillers;
    base::ErrorCode last;
    for (int i = 0; i < 8 && last != Errc::ConnectTimeout; ++i) {
      auto c = co_await tcp_->async_connect(io_.get_executor(), target, quick);
      if (c) {
        fillers.push_back(std::move(*c));
      } else {
        last = c.error();
      }
    }
    EXPECT_EQ(last, Errc::ConnectTimeout) << last.message();
  });
}

TEST_F(TcpTransport, IdleTimeoutClosesASilentConnection) {
  auto listener = tcp_->listen(io_.get_executor(), *parse_uri("tcp://127.0.0.1:0"), {});
  ASSERT_TRUE(listener);
  const Settings idle{{"idle_timeout_ms", "100"}};
  run([&]() -> asio::awaitable<void> {
    auto c = co_await tcp_->async_connect(io_.get_executor(), (*listener)->local_uri(), idle);
    auto s = co_await (*listener)->async_accept();
    EXPECT_TRUE(c && s);
    if (!c || !s) co_return;
    Bytes buf(8);
    auto n = co_await (*c)->async_read_some(buf);
    EXPECT_FALSE(n);
    if (!n) {
      EXPECT_EQ(n.error(), Errc::IdleTimeout);
    }
  });
}

TEST_F(TcpTransport, UnknownSchemeAndBadSettingsAreClearErrors) {
  EXPECT_EQ(resolve(*host_, "quic://127.0.0.1:1").error(), Errc::UnknownScheme);
  EXPECT_EQ(resolve(*host_, "tcp:127.0.0.1").error(), Errc::InvalidUri);
  std::string problem;
  EXPECT_FALSE(tcp_->validate({{"conect_timeout_ms", "5"}}, problem));
  EXPECT_NE(problem.find("conect_timeout_ms: unknown"), std::string::npos) << problem;
  problem.clear();
  EXPECT_FALSE(tcp_->validate({{"nodelay", "yes"}}, problem));
  EXPECT_NE(problem.find("nodelay: expected true or false"), std::string::npos) << problem;
  EXPECT_EQ(
      tcp_->listen(io_.get_executor(), *parse_uri("tcp://127.0.0.1:0"), {{"backlog", "0"}}).error(),
      Errc::InvalidSetting);
}

std::size_t open_descriptors() {
  std::size_t n = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    (void)entry;
    ++n;
  }
  return n;
}

// proxy_protocol on a listener: a trusted proxy's PROXY header is consumed byte-exact (the
// client's first bytes follow intact), the stream names the client, and the client, not the
// proxy, is admitted. A bad header or none in time hands nothing out, admits nobody and leaks no
// descriptor. Without a trusted_proxy hook nobody is trusted, and nothing is read as a header.
TEST_F(TcpTransport, ProxyProtocolNamesTheClientAndHandsOutTheRestIntact) {
  auto listener = tcp_->listen(io_.get_executor(), *parse_uri("tcp://127.0.0.1:0"),
                               {{"proxy_protocol", "true"}, {"proxy_header_timeout_ms", "300"}});
  ASSERT_TRUE(listener);
  std::vector<std::string> admitted;
  AcceptHooks hooks;
  hooks.trusted_proxy = [](const std::string& a) { return a == "127.0.0.1"; };
  hooks.admit = [&admitted](const stream::PeerInfo& p) -> std::shared_ptr<void> {
    admitted.push_back(p.address);
    return std::make_shared<int>(0);
  };
  (*listener)->set_accept_hooks(hooks);
  const auto port = (*listener)->local_uri().port;
  const auto before = open_descriptors();
  // Sends `bytes` from a raw socket (the proxy), then reads what the relay side got.
  auto through = [&](std::string bytes) -> asio::awaitable<std::string> {
    asio::ip::tcp::socket proxy(io_);
    co_await proxy.async_connect({asio::ip::make_address("127.0.0.1"), port}, asio::use_awaitable);
    co_await asio::async_write(proxy, asio::buffer(bytes), asio::use_awaitable);
    proxy.shutdown(asio::ip::tcp::socket::shutdown_send);
    asio::steady_timer give_up(io_, 2s);
    auto accepted = co_await ((*listener)->async_accept() ||
                              give_up.async_wait(asio::as_tuple(asio::use_awaitable)));
    if (accepted.index() == 1) co_return "(nothing)";
    auto& s = std::get<0>(accepted);
    if (!s) co_return "(error)";
    std::string got = (*s)->peer_info().address + ":";
    Bytes buf(256);
    for (;;) {
      auto n = co_await (*s)->async_read_some(buf);
      if (!n || *n == 0) break;
      got.append(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(*n));
    }
    co_return got;
  };
  run([&]() -> asio::awaitable<void> {
    EXPECT_EQ(co_await through("PROXY TCP4 198.51.100.7 127.0.0.1 5 6\r\nPROXY hello"),
              "198.51.100.7:PROXY hello");
    std::string v2{"\r\n\r\n\0\r\nQUIT\n\x21\x11\x00\x0c", 16};
    v2 += std::string{"\xc6\x33\x64\x08\x7f\x00\x00\x01\x00\x05\x00\x06", 12};
    EXPECT_EQ(co_await through(v2 + "\r\n\r\nrest"), "198.51.100.8:\r\n\r\nrest");
    EXPECT_EQ(co_await through("GET / HTTP/1.1\r\n\r\n"), "(nothing)");
    EXPECT_EQ(co_await through("PROXY TCP4 198.51.100.9"), "(nothing)");  // then FIN: too short
  });
  EXPECT_EQ(admitted, (std::vector<std::string>{"198.51.100.7", "198.51.100.8"}));
  // None in time: dropped at the timeout.
  run([&]() -> asio::awaitable<void> {
    asio::ip::tcp::socket proxy(io_);
    co_await proxy.async_connect({asio::ip::make_address("127.0.0.1"), port}, asio::use_awaitable);
    const auto t0 = std::chrono::steady_clock::now();
    char byte = 0;
    auto [ec, n] =
        co_await proxy.async_read_some(asio::buffer(&byte, 1), asio::as_tuple(asio::use_awaitable));
    EXPECT_TRUE(ec == asio::error::eof || ec == asio::error::connection_reset) << ec.message();
    EXPECT_GE(std::chrono::steady_clock::now() - t0, 250ms);
  });
  io_.run_for(100ms);
  EXPECT_EQ(open_descriptors(), before);
  EXPECT_EQ(admitted.size(), 2u);

  // Nobody trusted: the bytes are the stream's, the peer is the socket's.
  hooks.trusted_proxy = nullptr;
  (*listener)->set_accept_hooks(hooks);
  run([&]() -> asio::awaitable<void> {
    EXPECT_EQ(co_await through("PROXY TCP4 198.51.100.7 127.0.0.1 5 6\r\n"),
              "127.0.0.1:PROXY TCP4 198.51.100.7 127.0.0.1 5 6\r\n");
  });
}

}  // namespace
}  // namespace portal::transport
