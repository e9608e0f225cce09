// SPDX-License-Identifier: Apache-2.0
// Interop against an independent yamux: hashicorp/yamux (Debian's 2019 snapshot) in Go, over the
// peer's stdin/stdout. Both roles: our client with their server, their client with our server.
// 100 concurrent streams carrying 8 MiB each way in total, checksummed; half-close in both
// directions; pings both ways.
#include <gtest/gtest.h>

#include <csignal>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "driver/yamux_session.hpp"
#include "portal/crypto/sha256.hpp"
#include "support/fd_stream.hpp"
#include "support/scale.hpp"
#include "yamux/helpers.hpp"

namespace portal::yamux {
namespace {

namespace asio = boost::asio;
using base::Bytes;
using namespace std::chrono_literals;

constexpr int kStreams = 100;

using test::pattern;

std::size_t per_stream() { return portal::test::scaled(8u * 1024 * 1024 / kStreams, 4096); }

// A pipe whose reader exited must fail the write, not kill the test.
const bool kIgnoreSigpipe = [] {
  std::signal(SIGPIPE, SIG_IGN);
  return true;
}();

void run_bounded(asio::io_context& io, const bool& done) {
  for (int i = 0; i < 1200 && !done; ++i) io.run_for(50ms);  // at most a minute
}

TEST(YamuxInterop, OurServerTheirClient) {
  asio::io_context io;
  auto [child, transport] = portal::test::spawn_with_stream(
      io.get_executor(),
      {YAMUX_GO_PEER, "client", std::to_string(kStreams), std::to_string(per_stream())});
  auto session = start_session(std::move(transport), Role::Server, Config{});
  int echoed = 0;
  bool pinged = false;
  bool closed = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto rtt = co_await session->async_ping();
        EXPECT_TRUE(rtt) << rtt.error().message();
        pinged = true;
      },
      asio::detached);
  test::spawn_echo_server(
      io, session, 0, [&] { ++echoed; }, [&] { closed = true; });
  run_bounded(io, closed);
  session->close();
  io.run_for(100ms);
  EXPECT_TRUE(closed);
  EXPECT_TRUE(pinged);
  EXPECT_EQ(echoed, kStreams);
  if (!closed) child.kill();
  EXPECT_EQ(child.wait(), 0) << "the Go client reports its checks on stderr";
}

TEST(YamuxInterop, OurClientTheirServer) {
  asio::io_context io;
  auto [child, transport] =
      portal::test::spawn_with_stream(io.get_executor(), {YAMUX_GO_PEER, "server"});
  auto session = start_session(std::move(transport), Role::Client, Config{});
  const std::size_t size = per_stream();
  int verified = 0;
  bool done = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto rtt = co_await session->async_ping();
        EXPECT_TRUE(rtt) << rtt.error().message();
      },
      asio::detached);
  for (int i = 0; i < kStreams; ++i) {
    asio::co_spawn(
        io,
        [&, i]() -> asio::awaitable<void> {
          auto s = co_await session->async_open();
          EXPECT_TRUE(s);
          if (!s) co_return;
          std::shared_ptr<stream::ByteStream> st(std::move(*s));
          const Bytes data = pattern(static_cast<std::uint32_t>(i), size);
          bool sent = false;
          asio::co_spawn(
              io,
              [&, st]() -> asio::awaitable<void> {
                EXPECT_TRUE(co_await st->async_write(data));
                EXPECT_TRUE(co_await st->async_shutdown_write());  // half-close; echo continues
                sent = true;
              },
              asio::detached);
          crypto::Sha256 h;
          std::size_t got = 0;
          Bytes buf(32 * 1024);
          for (;;) {
            auto n = co_await st->async_read_some(buf);
            EXPECT_TRUE(n);
            if (!n || *n == 0) break;
            h.update(base::ByteSpan(buf).first(*n));
            got += *n;
          }
          EXPECT_EQ(got, size);
          EXPECT_EQ(h.finish(), crypto::sha256(data));
          EXPECT_TRUE(sent);
          if (++verified == kStreams) done = true;
        },
        asio::detached);
  }
  run_bounded(io, done);
  EXPECT_EQ(verified, kStreams);
  session->close();  // the Go server's accept loop ends and it exits
  io.run_for(200ms);
  EXPECT_EQ(child.wait(), 0);
}

}  // namespace
}  // namespace portal::yamux
