// SPDX-License-Identifier: Apache-2.0
// portal.transport.tcp loaded through the plugin host, on loopback with port 0.
#include "tcp_transport.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "portal/crypto/sha256.hpp"
#include "portal/plugin/host.hpp"
#include "support/plugins.hpp"
#include "support/scale.hpp"

namespace portal::transport {
namespace {

namespace asio = boost::asio;
using base::Bytes;
using namespace std::chrono_literals;

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

// A listener that never accepts, with a full queue: further SYNs are dropped and the dial must
// give up at its own deadline.
TEST_F(TcpTransport, ConnectTimeout) {
  auto listener =
      tcp_->listen(io_.get_executor(), *parse_uri("tcp://127.0.0.1:0"), {{"backlog", "1"}});
  ASSERT_TRUE(listener);
  const Uri target = (*listener)->local_uri();
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

}  // namespace
}  // namespace portal::transport
