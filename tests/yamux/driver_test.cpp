// SPDX-License-Identifier: Apache-2.0
// The yamux plugin, loaded through the plugin host, driving real sessions over an in-memory pipe.
#include "driver/yamux_session.hpp"

#include <gtest/gtest.h>

#include <limits>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "portal/crypto/sha256.hpp"
#include "portal/plugin/host.hpp"
#include "portal/stream/memory_pipe.hpp"
#include "support/plugins.hpp"
#include "support/scale.hpp"
#include "yamux/helpers.hpp"

namespace portal::yamux {
namespace {

namespace asio = boost::asio;
using base::Bytes;
using namespace std::chrono_literals;

class YamuxDriver : public ::testing::Test {
 protected:
  void SetUp() override {
    host_ = portal::test::load_build_plugins();
    auto p = host_->find_provider(plugin::Kind::Mux, "yamux");
    ASSERT_TRUE(p);
    ASSERT_EQ((*p)->id(), "portal.mux.yamux");
    auto f = (*p)->factory<mux::MuxFactory>();
    ASSERT_TRUE(f);
    factory_ = *f;
    auto [a, b] = stream::make_memory_pipe(io_.get_executor(), 512 * 1024);
    auto c = factory_->create(std::move(a), mux::Role::Client, settings_);
    auto s = factory_->create(std::move(b), mux::Role::Server, settings_);
    ASSERT_TRUE(c && s);
    client_ = *c;
    server_ = *s;
  }
  void TearDown() override {
    if (client_) client_->close();
    if (server_) server_->close();
    io_.run_for(1s);
  }
  // Runs the io_context until `done` is set (bounded).
  void run(const bool& done) {
    for (int i = 0; i < 200 && !done; ++i) io_.run_for(50ms);
    ASSERT_TRUE(done);
  }

  asio::io_context io_;
  mux::Settings settings_;
  std::unique_ptr<plugin::Host> host_;
  std::shared_ptr<mux::MuxFactory> factory_;
  std::shared_ptr<mux::Session> client_;
  std::shared_ptr<mux::Session> server_;
};

asio::awaitable<Bytes> read_all(stream::ByteStream& s) {
  Bytes all;
  Bytes buf(16 * 1024);
  for (;;) {
    auto n = co_await s.async_read_some(buf);
    if (!n || *n == 0) break;
    all.insert(all.end(), buf.begin(), buf.begin() + static_cast<long>(*n));
  }
  co_return all;
}

TEST_F(YamuxDriver, HundredConcurrentEchoStreamsWithChecksums) {
  const std::size_t size = portal::test::scaled(256 * 1024, 8 * 1024);
  constexpr int kStreams = 100;
  int echoed = 0;
  int verified = 0;
  bool done = false;
  test::spawn_echo_server(io_, server_, kStreams, [&] { ++echoed; });
  for (int i = 0; i < kStreams; ++i) {
    asio::co_spawn(
        io_,
        [&, i]() -> asio::awaitable<void> {
          auto s = co_await client_->async_open();
          EXPECT_TRUE(s);
          if (!s) co_return;
          std::shared_ptr<stream::ByteStream> st(std::move(*s));
          const Bytes data = test::pattern(static_cast<std::uint32_t>(i), size);
          Bytes back;
          bool got = false;
          asio::co_spawn(
              io_,
              [&, st]() -> asio::awaitable<void> {
                back = co_await read_all(*st);
                got = true;
              },
              asio::detached);
          EXPECT_TRUE(co_await st->async_write(data));
          EXPECT_TRUE(co_await st->async_shutdown_write());
          asio::steady_timer t(io_);
          while (!got) {
            t.expires_after(1ms);
            co_await t.async_wait(asio::use_awaitable);
          }
          EXPECT_EQ(crypto::sha256(back), crypto::sha256(data));
          if (++verified == kStreams) done = true;
        },
        asio::detached);
  }
  run(done);
  EXPECT_EQ(echoed, kStreams);
}

// The peer writes everything before reading any echo, so DATA frames arrive in pieces while the
// echo side is busy (the pattern of hashicorp's Go client; a lost wake-up once stalled this).
TEST_F(YamuxDriver, EchoWhenThePeerWritesEverythingFirst) {
  constexpr int kStreams = 100;
  const std::size_t size = 83886;
  int verified = 0;
  bool done = false;
  test::spawn_echo_server(io_, server_, kStreams);
  for (int i = 0; i < kStreams; ++i) {
    asio::co_spawn(
        io_,
        [&, i]() -> asio::awaitable<void> {
          auto s = co_await client_->async_open();
          EXPECT_TRUE(s);
          if (!s) co_return;
          std::shared_ptr<stream::ByteStream> st(std::move(*s));
          auto data = std::make_shared<Bytes>(test::pattern(static_cast<std::uint32_t>(i), size));
          asio::co_spawn(
              io_, [st, data]() -> asio::awaitable<void> { (void)co_await st->async_write(*data); },
              asio::detached);
          Bytes back(size);
          std::size_t got = 0;
          while (got < size) {
            auto n = co_await st->async_read_some(base::MutableByteSpan(back).subspan(got));
            if (!n || *n == 0) break;
            got += *n;
          }
          EXPECT_EQ(back, *data);
          EXPECT_TRUE(co_await st->async_shutdown_write());
          if (++verified == kStreams) done = true;
        },
        asio::detached);
  }
  run(done);
}

TEST_F(YamuxDriver, PingMeasuresRtt) {
  bool done = false;
  asio::co_spawn(
      io_,
      [&]() -> asio::awaitable<void> {
        auto rtt = co_await client_->async_ping();
        EXPECT_TRUE(rtt);
        if (rtt) {
          EXPECT_LT(*rtt, std::chrono::seconds(5));
        }
        auto back = co_await server_->async_ping();
        EXPECT_TRUE(back);
        done = true;
      },
      asio::detached);
  run(done);
}

TEST_F(YamuxDriver, ResetReachesThePeer) {
  bool done = false;
  asio::co_spawn(
      io_,
      [&]() -> asio::awaitable<void> {
        auto s = co_await client_->async_open();
        EXPECT_TRUE(co_await (*s)->async_write(base::as_bytes("x")));
        auto peer = co_await server_->async_accept();
        EXPECT_TRUE(peer);
        (*s)->close();
        Bytes buf(10);
        auto n = co_await (*peer)->async_read_some(buf);  // the byte sent before the reset
        if (n && *n > 0) n = co_await (*peer)->async_read_some(buf);
        EXPECT_FALSE(n);
        if (!n) {
          EXPECT_EQ(n.error(), Errc::StreamReset);
        }
        done = true;
      },
      asio::detached);
  run(done);
}

TEST_F(YamuxDriver, SlowReaderBlocksTheWriterInsteadOfBuffering) {
  bool wrote_all = false;
  bool checked = false;
  bool read_everything = false;
  std::unique_ptr<stream::ByteStream> peer;
  asio::co_spawn(
      io_,
      [&]() -> asio::awaitable<void> {
        auto s = co_await client_->async_open();
        auto p = co_await server_->async_accept();
        peer = std::move(*p);
        EXPECT_TRUE(co_await (*s)->async_write(Bytes(2 * 1024 * 1024, 7)));
        wrote_all = true;
        (void)co_await (*s)->async_shutdown_write();
      },
      asio::detached);
  asio::co_spawn(
      io_,
      [&]() -> asio::awaitable<void> {
        asio::steady_timer t(io_, 300ms);
        co_await t.async_wait(asio::use_awaitable);
        // Nobody read: the writer is stuck after one window.
        EXPECT_FALSE(wrote_all);
        checked = true;
        auto all = co_await read_all(*peer);
        EXPECT_EQ(all.size(), 2u * 1024 * 1024);
        read_everything = true;
      },
      asio::detached);
  run(checked);
  // Until the reader has everything: the writer finishes a window before the reader does, and
  // ending the test then would cut the reader short.
  bool finished = false;
  asio::co_spawn(
      io_,
      [&]() -> asio::awaitable<void> {
        while (!wrote_all || !read_everything) {
          asio::steady_timer t(io_, 5ms);
          co_await t.async_wait(asio::use_awaitable);
        }
        finished = true;
      },
      asio::detached);
  run(finished);
}

TEST_F(YamuxDriver, DrainWaitsForStreamsThenCloses) {
  bool done = false;
  asio::co_spawn(
      io_,
      [&]() -> asio::awaitable<void> {
        auto s = co_await client_->async_open();
        EXPECT_TRUE(co_await (*s)->async_write(base::as_bytes("hi")));
        auto p = co_await server_->async_accept();
        bool drained = false;
        asio::co_spawn(
            io_,
            [&]() -> asio::awaitable<void> {
              EXPECT_TRUE(co_await server_->async_drain(5s));
              drained = true;
            },
            asio::detached);
        // New opens are refused once GO_AWAY arrived, the old stream still works.
        asio::steady_timer t(io_, 20ms);
        co_await t.async_wait(asio::use_awaitable);
        auto refused = co_await client_->async_open();
        EXPECT_FALSE(refused);
        Bytes buf(2);
        EXPECT_EQ((co_await (*p)->async_read_some(buf)).value(), 2u);
        EXPECT_FALSE(drained);
        (void)co_await (*s)->async_shutdown_write();
        (void)co_await (*p)->async_shutdown_write();
        EXPECT_EQ((co_await (*s)->async_read_some(buf)).value(), 0u);
        while (!drained) {
          t.expires_after(5ms);
          co_await t.async_wait(asio::use_awaitable);
        }
        EXPECT_FALSE(server_->is_open());
        done = true;
      },
      asio::detached);
  run(done);
}

TEST_F(YamuxDriver, TransportLossEndsTheSession) {
  bool done = false;
  asio::co_spawn(
      io_,
      [&]() -> asio::awaitable<void> {
        auto s = co_await client_->async_open();
        server_->close();
        auto why = co_await client_->async_wait_closed();
        EXPECT_TRUE(why);
        Bytes buf(4);
        EXPECT_FALSE(co_await (*s)->async_read_some(buf));
        done = true;
      },
      asio::detached);
  run(done);
}

// Regression (the v1 client interop test): a peer writes, half-closes and its connection ends
// at once. Everything it sent is still read, and then the stream ends as the peer left it: with
// end of stream after its FIN, with an error where it was cut off.
TEST_F(YamuxDriver, WhatArrivedBeforeTheTransportEndedIsStillRead) {
  constexpr std::size_t kSize = 100 * 1024;  // within the window: the writes complete unread
  bool done = false;
  asio::co_spawn(
      io_,
      [&]() -> asio::awaitable<void> {
        auto finished = co_await client_->async_open();
        auto cut = co_await client_->async_open();
        EXPECT_TRUE(finished && cut);
        if (!finished || !cut) co_return;
        EXPECT_TRUE(co_await (*finished)->async_write(base::as_bytes("go")));
        EXPECT_TRUE(co_await (*cut)->async_write(base::as_bytes("go")));
        auto a = co_await server_->async_accept();
        auto b = co_await server_->async_accept();
        EXPECT_TRUE(a && b);
        if (!a || !b) co_return;
        EXPECT_TRUE(co_await (*a)->async_write(test::pattern(1, kSize)));
        EXPECT_TRUE(co_await (*a)->async_shutdown_write());
        EXPECT_TRUE(co_await (*b)->async_write(test::pattern(2, kSize)));
        // Let the frames reach the transport, then end the server's session.
        asio::steady_timer t(io_, 100ms);
        co_await t.async_wait(asio::use_awaitable);
        server_->close();
        EXPECT_TRUE(co_await client_->async_wait_closed());
        auto read_to_end = [](stream::ByteStream& s, Bytes& all) -> asio::awaitable<bool> {
          Bytes buf(16 * 1024);
          for (;;) {
            auto n = co_await s.async_read_some(buf);
            if (!n) co_return false;
            if (*n == 0) co_return true;
            all.insert(all.end(), buf.begin(), buf.begin() + static_cast<long>(*n));
          }
        };
        Bytes got;
        EXPECT_TRUE(co_await read_to_end(**finished, got));  // a clean end of stream
        EXPECT_EQ(got, test::pattern(1, kSize));
        got.clear();
        EXPECT_FALSE(co_await read_to_end(**cut, got));  // cut off: an error after the data
        EXPECT_EQ(got, test::pattern(2, kSize));
        done = true;
      },
      asio::detached);
  run(done);
}

TEST(YamuxSettings, UnknownKeysAndBadValuesNameTheKey) {
  std::string problem;
  EXPECT_TRUE(
      parse_settings({{"max_stream_window", "16777216"}, {"enable_keepalive", "false"}}, problem));
  EXPECT_FALSE(parse_settings({{"max_stream_windw", "1"}}, problem));
  EXPECT_NE(problem.find("max_stream_windw: unknown"), std::string::npos) << problem;
  problem.clear();
  EXPECT_FALSE(parse_settings({{"accept_backlog", "lots"}}, problem));
  EXPECT_NE(problem.find("accept_backlog: expected a whole number"), std::string::npos) << problem;
  problem.clear();
  EXPECT_FALSE(parse_settings({{"max_stream_window", "1024"}}, problem));
  EXPECT_NE(problem.find("max_stream_window"), std::string::npos) << problem;
}

// A transport whose writes take a while and go out in small pieces: the driver's two output
// buffers take turns (the core queues frames while a write is in flight), and whatever the
// interleaving of many writers, every stream's bytes arrive whole and in order.
class SlowPieces final : public stream::ByteStream {
 public:
  explicit SlowPieces(std::unique_ptr<stream::ByteStream> inner) : inner_(std::move(inner)) {}
  asio::any_io_executor get_executor() override { return inner_->get_executor(); }
  asio::awaitable<base::Result<std::size_t>> async_read_some(base::MutableByteSpan b) override {
    return inner_->async_read_some(b);
  }
  asio::awaitable<base::Result<void>> async_write(base::ByteSpan d) override {
    ++writes;
    while (!d.empty()) {
      asio::steady_timer t(inner_->get_executor(), 100us);
      co_await t.async_wait(asio::use_awaitable);
      const std::size_t n = std::min<std::size_t>(d.size(), 3000);  // not a frame boundary
      if (auto r = co_await inner_->async_write(d.first(n)); !r) co_return r;
      d = d.subspan(n);
    }
    co_return base::Result<void>{};
  }
  asio::awaitable<base::Result<void>> async_shutdown_write() override {
    return inner_->async_shutdown_write();
  }
  void close() noexcept override { inner_->close(); }
  int writes = 0;

 private:
  std::unique_ptr<stream::ByteStream> inner_;
};

TEST_F(YamuxDriver, ManyWritersOverASlowPiecewiseTransportKeepEveryStreamInOrder) {
  auto [a, b] = stream::make_memory_pipe(io_.get_executor(), 64 * 1024);
  auto slow = std::make_unique<SlowPieces>(std::move(a));
  SlowPieces* slow_view = slow.get();
  auto c = factory_->create(std::move(slow), mux::Role::Client, settings_);
  auto s = factory_->create(std::move(b), mux::Role::Server, settings_);
  ASSERT_TRUE(c && s);
  constexpr int kStreams = 16;
  const std::size_t size = portal::test::scaled(200 * 1024, 20 * 1024);
  int verified = 0;
  bool done = false;
  asio::co_spawn(
      io_,
      [&, server = *s]() -> asio::awaitable<void> {
        for (int i = 0; i < kStreams; ++i) {
          auto st = co_await server->async_accept();
          EXPECT_TRUE(st);
          if (!st) co_return;
          asio::co_spawn(
              io_,
              [&, in = std::shared_ptr<stream::ByteStream>(
                      std::move(*st))]() -> asio::awaitable<void> {
                const Bytes all = co_await read_all(*in);
                EXPECT_EQ(all.size(), size);
                if (all.empty()) co_return;
                const std::uint32_t seed = all[0];  // the pattern's first byte names the stream
                bool matched = false;
                for (std::uint32_t k = 0; k < static_cast<std::uint32_t>(kStreams) && !matched;
                     ++k) {
                  const Bytes want = test::pattern(k, size);
                  if (want[0] == seed && want == all) matched = true;
                }
                EXPECT_TRUE(matched);
                if (++verified == kStreams) done = true;
              },
              asio::detached);
        }
      },
      asio::detached);
  for (int i = 0; i < kStreams; ++i) {
    asio::co_spawn(
        io_,
        [&, i, client = *c]() -> asio::awaitable<void> {
          auto st = co_await client->async_open();
          EXPECT_TRUE(st);
          if (!st) co_return;
          const Bytes data = test::pattern(static_cast<std::uint32_t>(i), size);
          // Several writes per stream, so frames of all streams interleave in the output.
          for (std::size_t off = 0; off < size; off += 7000) {
            const std::size_t n = std::min<std::size_t>(7000, size - off);
            EXPECT_TRUE(co_await (*st)->async_write(base::ByteSpan(data).subspan(off, n)));
          }
          EXPECT_TRUE(co_await (*st)->async_shutdown_write());
        },
        asio::detached);
  }
  run(done);
  EXPECT_EQ(verified, kStreams);
  // Frames queued while a write was in flight went out together in a later write.
  EXPECT_GT(slow_view->writes, 0);
  EXPECT_LT(slow_view->writes, kStreams * static_cast<int>(size / 7000));
  (*c)->close();
  (*s)->close();
}

}  // namespace
}  // namespace portal::yamux
