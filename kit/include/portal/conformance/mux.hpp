// SPDX-License-Identifier: Apache-2.0
#pragma once

// The mux conformance suites. This header defines GoogleTest tests (TEST_P): include it in
// exactly one source file of a test program, and instantiate the suites there:
//
//   #include "portal/conformance/mux.hpp"
//
//   portal::conformance::MuxParams mine() {
//     return {.name = "mine", .plugin = "plugins/my-mux.so"};
//   }
//   PORTAL_MUX_CONFORMANCE(Mine, ::testing::Values(mine()));

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "portal/conformance/common.hpp"
#include "portal/mux/mux.hpp"
#include "portal/stream/memory_pipe.hpp"

namespace portal::conformance {

/// How the mux suites run one mux plugin. Two sessions (a client and a server) talk over an
/// in-memory pipe (stream::make_memory_pipe), or one session talks to a raw peer the suite
/// drives (keepalive, garbage, transport loss).
struct MuxParams {
  /// The suffix of the test names: letters, digits, '_'.
  std::string name;
  /// The plugin file (.so). It is loaded through plugin::Host with every check a host applies.
  std::filesystem::path plugin;
  /// Settings of both sessions.
  mux::Settings settings;
  /// Bytes the pipe between the sessions buffers each way.
  std::size_t pipe_capacity = 256 * 1024;
  /// Streams opened at once by ManyStreamsBothWays.
  int streams = 64;
  /// Bytes each of those streams carries each way.
  std::size_t stream_bytes = 64 * 1024;
  /// The most a writer may get accepted (async_write completed) on one stream while the peer
  /// reads nothing: the session's flow control must stop it before this.
  std::size_t max_unread_bytes = 4u << 20;
  /// Settings under which a session pings an idle peer often and ends the session when the peer
  /// stops answering (MuxKeepaliveConformance only), merged over `settings`; e.g. for yamux
  /// {{"keepalive_interval_ms", "100"}, {"ping_timeout_ms", "200"}}.
  mux::Settings keepalive_settings;
  /// How soon, under keepalive_settings, a session must end after its peer goes silent.
  std::chrono::milliseconds keepalive_deadline{2000};
  /// The longest a single test may run before it fails as hung.
  std::chrono::milliseconds time_limit{15000};
};

/// Prints a MuxParams in test failure messages.
inline void PrintTo(const MuxParams& p, std::ostream* os) {
  *os << p.name << " (" << p.plugin.filename().string() << ")";
}

/// The fixture of the mux suites: loads the plugin and makes sessions.
class MuxConformanceBase : public ::testing::TestWithParam<MuxParams> {
 protected:
  /// The parameter of the running test.
  const MuxParams& params() const { return GetParam(); }

  /// Loads the plugin and gets its factory; fails the test if the host refuses it.
  void SetUp() override {
    std::string problem;
    auto loaded = load_plugin(params().plugin, problem);
    ASSERT_TRUE(loaded) << problem;
    loaded_ = *loaded;
    ASSERT_EQ(loaded_.plugin->kind(), plugin::Kind::Mux)
        << loaded_.plugin->id() << " is not a mux plugin";
    auto f = loaded_.plugin->factory<mux::MuxFactory>();
    ASSERT_TRUE(f) << f.error().message();
    factory_ = *f;
  }

  /// Closes every session the test made and lets the closes run.
  void TearDown() override {
    for (auto& s : sessions_) s->close();
    runner_.settle(std::chrono::milliseconds(50));
    for (auto& r : raw_peers_) r->close();
    runner_.settle(std::chrono::milliseconds(10));
    runner_.dispose(sessions_);
    runner_.dispose(raw_peers_);
  }

  /// `base` with `extra` merged over it.
  static mux::Settings merged(mux::Settings base, const mux::Settings& extra) {
    for (const auto& [k, v] : extra) base[k] = v;
    return base;
  }

  /// A session over `transport`; null (and a failure) on error. Closed at TearDown.
  std::shared_ptr<mux::Session> session(std::unique_ptr<stream::ByteStream> transport,
                                        mux::Role role, const mux::Settings& settings) {
    auto s = factory_->create(std::move(transport), role, settings);
    if (!ok(s, "MuxFactory::create")) return nullptr;
    sessions_.push_back(*s);
    return *s;
  }

  /// A session over one end of an in-memory pipe; the other end, which the test drives as a raw
  /// peer, is kept by the fixture and returned in `raw`.
  std::shared_ptr<mux::Session> with_raw_peer(mux::Role role, const mux::Settings& settings,
                                              stream::ByteStream*& raw) {
    auto [mine, theirs] = stream::make_memory_pipe(runner_.executor(), params().pipe_capacity);
    raw = theirs.get();
    raw_peers_.push_back(std::move(theirs));
    return session(std::move(mine), role, settings);
  }

  /// A client and a server session over one in-memory pipe, with `settings`.
  std::pair<std::shared_ptr<mux::Session>, std::shared_ptr<mux::Session>> pair(
      const mux::Settings& settings) {
    auto [a, b] = stream::make_memory_pipe(runner_.executor(), params().pipe_capacity);
    auto c = session(std::move(a), mux::Role::Client, settings);
    auto s = session(std::move(b), mux::Role::Server, settings);
    return {c, s};
  }

  Runner runner_{GetParam().time_limit};                        ///< runs the test's coroutines
  LoadedPlugin loaded_;                                         ///< the plugin under test
  std::shared_ptr<mux::MuxFactory> factory_;                    ///< its factory
  std::vector<std::shared_ptr<mux::Session>> sessions_;         ///< closed at TearDown
  std::vector<std::unique_ptr<stream::ByteStream>> raw_peers_;  ///< of with_raw_peer()
};

/// The mux suite: streams, windows, resets, GoAway (drain), ping, transport loss, garbage.
/// Instantiate with PORTAL_MUX_CONFORMANCE.
class MuxConformance : public MuxConformanceBase {};

/// The keepalive suite, for multiplexers that have one (MuxParams::keepalive_settings).
/// Instantiate with PORTAL_MUX_KEEPALIVE_CONFORMANCE.
class MuxKeepaliveConformance : public MuxConformanceBase {};

}  // namespace portal::conformance

/// Instantiates the mux suite under `prefix` for the MuxParams of a GoogleTest generator,
/// e.g. PORTAL_MUX_CONFORMANCE(Mine, ::testing::Values(params)).
#define PORTAL_MUX_CONFORMANCE(prefix, ...)                     \
  using MuxConformance = ::portal::conformance::MuxConformance; \
  INSTANTIATE_TEST_SUITE_P(prefix, MuxConformance, __VA_ARGS__, ::portal::conformance::ParamName{})

/// Instantiates the keepalive suite (MuxParams with keepalive_settings).
#define PORTAL_MUX_KEEPALIVE_CONFORMANCE(prefix, ...)                             \
  using MuxKeepaliveConformance = ::portal::conformance::MuxKeepaliveConformance; \
  INSTANTIATE_TEST_SUITE_P(prefix, MuxKeepaliveConformance, __VA_ARGS__,          \
                           ::portal::conformance::ParamName{})

/// @cond PORTAL_CONFORMANCE_TESTS
// The tests. Each runs its coroutines under MuxParams::time_limit.
namespace portal::conformance {

GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(MuxKeepaliveConformance);

// The plugin accepts its settings and refuses an unknown key by name, in validate() and
// create().
TEST_P(MuxConformance, ValidatesSettings) {
  std::string problem;
  EXPECT_TRUE(factory_->validate(params().settings, problem)) << problem;
  problem.clear();
  const std::string key = "conformance_no_such_key";
  const auto bad = merged(params().settings, {{key, "1"}});
  EXPECT_FALSE(factory_->validate(bad, problem));
  EXPECT_NE(problem.find(key), std::string::npos)
      << "the problem does not name the key: " << problem;
  auto [a, b] = stream::make_memory_pipe(runner_.executor(), 1024);
  auto s = factory_->create(std::move(a), mux::Role::Client, bad);
  EXPECT_FALSE(s) << "create() accepted an unknown setting";
  if (s) (*s)->close();
}

// `streams` streams opened at once, each carrying stream_bytes each way with half-closes,
// checked byte for byte; each is accepted once; afterwards both sessions count no stream.
TEST_P(MuxConformance, ManyStreamsBothWays) {
  auto [client, server] = pair(params().settings);
  ASSERT_TRUE(client && server);
  const int count = params().streams;
  const std::size_t bytes = params().stream_bytes;
  std::vector<int> seen;
  runner_.run([&]() -> boost::asio::awaitable<void> {
    const auto ex = runner_.executor();
    Group g;
    g.spawn(ex, [&]() -> boost::asio::awaitable<void> {
      Group handlers;
      for (int i = 0; i < count; ++i) {
        auto a = co_await server->async_accept();
        if (!ok(a, "async_accept")) break;
        std::shared_ptr<stream::ByteStream> st(std::move(*a));
        handlers.spawn(ex, [&, st]() -> boost::asio::awaitable<void> {
          base::Bytes head(4);
          if (!co_await read_exactly(*st, head)) co_return;
          const std::uint32_t id = base::load_be32(head.data());
          seen.push_back(static_cast<int>(id));
          Group both;
          both.spawn(ex, [&, st, id]() -> boost::asio::awaitable<void> {
            if (co_await expect_pattern(*st, id, bytes)) {
              EXPECT_TRUE(co_await expect_end(*st));
            }
          });
          both.spawn(ex, [&, st, id]() -> boost::asio::awaitable<void> {
            if (co_await send_pattern(*st, 1000 + std::uint64_t{id}, bytes)) {
              EXPECT_TRUE(ok(co_await st->async_shutdown_write(), "async_shutdown_write"));
            }
          });
          co_await both.wait();
        });
      }
      co_await handlers.wait();
    });
    for (int i = 0; i < count; ++i) {
      g.spawn(ex, [&, i]() -> boost::asio::awaitable<void> {
        auto o = co_await client->async_open();
        if (!ok(o, "async_open")) co_return;
        std::shared_ptr<stream::ByteStream> st(std::move(*o));
        const auto id = static_cast<std::uint32_t>(i);
        base::Bytes head(4);
        base::store_be32(head.data(), id);
        Group both;
        both.spawn(ex, [&, st, id]() -> boost::asio::awaitable<void> {
          if (!ok(co_await st->async_write(head), "async_write")) co_return;
          if (co_await send_pattern(*st, id, bytes)) {
            EXPECT_TRUE(ok(co_await st->async_shutdown_write(), "async_shutdown_write"));
          }
        });
        both.spawn(ex, [&, st, id]() -> boost::asio::awaitable<void> {
          if (co_await expect_pattern(*st, 1000 + std::uint64_t{id}, bytes)) {
            EXPECT_TRUE(co_await expect_end(*st));
          }
        });
        co_await both.wait();
      });
    }
    co_await g.wait();
    // Every stream object is gone and both directions ended: no session keeps any.
    for (int i = 0; i < 300 && (client->stream_count() + server->stream_count()) > 0; ++i) {
      co_await Runner::sleep(std::chrono::milliseconds(10));
    }
    EXPECT_EQ(client->stream_count(), 0u) << "finished streams still counted";
    EXPECT_EQ(server->stream_count(), 0u) << "finished streams still counted";
  });
  std::sort(seen.begin(), seen.end());
  std::vector<int> expected;
  for (int i = 0; i < count; ++i) expected.push_back(i);
  EXPECT_EQ(seen, expected);
}

// Flow control: a writer whose peer reads nothing gets at most max_unread_bytes accepted and
// then waits (nobody buffers without bound); another stream of the same session still carries
// data meanwhile; once the reader reads, the writer finishes and every byte arrives in order.
TEST_P(MuxConformance, FlowControlPacesAWriterThatIsNotRead) {
  auto [client, server] = pair(params().settings);
  ASSERT_TRUE(client && server);
  const std::size_t limit = params().max_unread_bytes;
  const std::size_t total = 2 * limit + (1u << 20);
  runner_.run([&]() -> boost::asio::awaitable<void> {
    const auto ex = runner_.executor();
    auto o = co_await client->async_open();
    if (!ok(o, "async_open")) co_return;
    std::shared_ptr<stream::ByteStream> w(std::move(*o));
    std::size_t accepted = 0;
    bool finished = false;
    Group writer;
    writer.spawn(ex, [&, w]() -> boost::asio::awaitable<void> {
      base::Bytes chunk(64 * 1024);
      while (accepted < total) {
        const auto piece =
            base::MutableByteSpan(chunk).first(std::min(chunk.size(), total - accepted));
        fill_pattern(20, accepted, piece);
        if (!ok(co_await w->async_write(piece), "async_write")) co_return;
        accepted += piece.size();
      }
      finished = true;
      EXPECT_TRUE(ok(co_await w->async_shutdown_write(), "async_shutdown_write"));
    });
    auto a = co_await server->async_accept();
    if (!ok(a, "async_accept")) {
      w->close();
      co_await writer.wait();
      co_return;
    }
    std::shared_ptr<stream::ByteStream> r(std::move(*a));
    co_await Runner::sleep(std::chrono::milliseconds(300));
    EXPECT_FALSE(finished) << "the writer wrote " << total << " bytes with nobody reading";
    EXPECT_LE(accepted, limit) << "the writer got " << accepted
                               << " bytes accepted with nobody reading";
    // Another stream is not held up by the stalled one.
    {
      auto o2 = co_await client->async_open();
      if (ok(o2, "async_open (second stream)")) {
        auto a2 = co_await server->async_accept();
        if (ok(a2, "async_accept (second stream)")) {
          Group g;
          g.spawn(ex, [&]() -> boost::asio::awaitable<void> {
            if (co_await send_pattern(**o2, 21, 64 * 1024)) {
              (void)co_await (*o2)->async_shutdown_write();
            }
          });
          g.spawn(ex, [&]() -> boost::asio::awaitable<void> {
            EXPECT_TRUE(co_await expect_pattern(**a2, 21, 64 * 1024))
                << "a second stream is blocked by a stalled one";
            EXPECT_TRUE(co_await expect_end(**a2));
          });
          co_await g.wait();
        }
      }
    }
    EXPECT_LE(accepted, limit) << "the writer got " << accepted
                               << " bytes accepted with nobody reading";
    EXPECT_FALSE(finished);
    // The reader reads: the writer proceeds to the end.
    EXPECT_TRUE(co_await expect_pattern(*r, 20, total));
    EXPECT_TRUE(co_await expect_end(*r));
    co_await writer.wait();
    EXPECT_TRUE(finished);
  });
}

// close() on a stream resets it: the peer's read fails (a reset is not an end of stream) and its
// writes soon fail; the closed side's own operations fail. Both directions.
TEST_P(MuxConformance, ResetReachesThePeer) {
  auto [client, server] = pair(params().settings);
  ASSERT_TRUE(client && server);
  runner_.run([&]() -> boost::asio::awaitable<void> {
    for (const bool opener_resets : {true, false}) {
      SCOPED_TRACE(opener_resets ? "the opening side resets" : "the accepting side resets");
      auto o = co_await client->async_open();
      if (!ok(o, "async_open")) co_return;
      if (!co_await send_pattern(**o, 30, 100)) co_return;
      auto a = co_await server->async_accept();
      if (!ok(a, "async_accept")) co_return;
      if (!co_await expect_pattern(**a, 30, 100)) co_return;
      auto& closer = opener_resets ? **o : **a;
      auto& peer = opener_resets ? **a : **o;
      closer.close();
      closer.close();  // idempotent
      base::Bytes buf(64);
      auto n = co_await peer.async_read_some(buf);
      EXPECT_FALSE(n) << "the peer of a reset stream read " << (n ? *n : 0)
                      << " bytes instead of an error";
      bool failed = false;
      const base::Bytes chunk(16 * 1024, 1);
      for (int i = 0; i < 128 && !failed; ++i) failed = !(co_await peer.async_write(chunk));
      EXPECT_TRUE(failed) << "writes to a reset stream kept succeeding";
      EXPECT_FALSE(co_await closer.async_write(chunk)) << "a write after close() succeeded";
      EXPECT_FALSE(co_await closer.async_read_some(buf)) << "a read after close() succeeded";
    }
  });
}

// GoAway (async_drain): the peer can open no new stream (the open fails, or the stream is
// refused), the open stream keeps working both ways, the drain waits for it to finish, then
// both sessions end.
TEST_P(MuxConformance, GoAwayDrainsThenCloses) {
  auto [client, server] = pair(params().settings);
  ASSERT_TRUE(client && server);
  runner_.run([&]() -> boost::asio::awaitable<void> {
    const auto ex = runner_.executor();
    auto o = co_await client->async_open();
    if (!ok(o, "async_open")) co_return;
    if (!co_await send_pattern(**o, 40, 10)) co_return;
    auto a = co_await server->async_accept();
    if (!ok(a, "async_accept") || !co_await expect_pattern(**a, 40, 10)) co_return;
    std::optional<base::Result<void>> drained;
    Group g;
    g.spawn(ex, [&]() -> boost::asio::awaitable<void> {
      drained = co_await server->async_drain(std::chrono::seconds(10));
    });
    co_await Runner::sleep(std::chrono::milliseconds(100));
    auto late = co_await client->async_open();
    if (late) {
      base::Bytes one{1};
      (void)co_await (*late)->async_write(one);
      base::Bytes buf(1);
      auto n = co_await (*late)->async_read_some(buf);
      EXPECT_FALSE(n) << "a stream opened after GoAway was not refused";
    }
    EXPECT_FALSE(drained) << "the drain did not wait for the open stream";
    g.spawn(ex, [&]() -> boost::asio::awaitable<void> {
      if (co_await send_pattern(**a, 41, 100000)) {
        EXPECT_TRUE(ok(co_await (*a)->async_shutdown_write(), "async_shutdown_write"));
      }
    });
    g.spawn(ex, [&]() -> boost::asio::awaitable<void> {
      if (co_await send_pattern(**o, 42, 100000)) {
        EXPECT_TRUE(ok(co_await (*o)->async_shutdown_write(), "async_shutdown_write"));
      }
    });
    EXPECT_TRUE(co_await expect_pattern(**o, 41, 100000)) << "the open stream stopped working";
    EXPECT_TRUE(co_await expect_end(**o));
    EXPECT_TRUE(co_await expect_pattern(**a, 42, 100000)) << "the open stream stopped working";
    EXPECT_TRUE(co_await expect_end(**a));
    co_await g.wait();
    EXPECT_TRUE(drained.has_value() && ok(*drained, "async_drain"));
    EXPECT_FALSE(server->is_open()) << "the drained session is still open";
    (void)co_await client->async_wait_closed();
    EXPECT_FALSE(client->is_open());
    auto after = co_await client->async_open();
    EXPECT_FALSE(after) << "a stream opened on an ended session";
  });
}

// A drain whose stream never finishes ends at its timeout: the session closes and the stream
// fails.
TEST_P(MuxConformance, GoAwayDrainTimesOut) {
  auto [client, server] = pair(params().settings);
  ASSERT_TRUE(client && server);
  runner_.run([&]() -> boost::asio::awaitable<void> {
    auto o = co_await client->async_open();
    if (!ok(o, "async_open") || !co_await send_pattern(**o, 50, 10)) co_return;
    auto a = co_await server->async_accept();
    if (!ok(a, "async_accept") || !co_await expect_pattern(**a, 50, 10)) co_return;
    const auto t0 = std::chrono::steady_clock::now();
    (void)co_await server->async_drain(std::chrono::milliseconds(300));
    const auto took = std::chrono::steady_clock::now() - t0;
    EXPECT_GE(took, std::chrono::milliseconds(250)) << "the drain did not wait for the stream";
    EXPECT_LE(took, std::chrono::milliseconds(3300)) << "the drain overran its timeout";
    EXPECT_FALSE(server->is_open());
    base::Bytes buf(8);
    EXPECT_FALSE(co_await (*a)->async_read_some(buf)) << "a stream outlived its session";
    (void)co_await client->async_wait_closed();
    EXPECT_FALSE(client->is_open());
  });
}

// Pings from either side come back with a round-trip time; several at once all do.
TEST_P(MuxConformance, Ping) {
  auto [client, server] = pair(params().settings);
  ASSERT_TRUE(client && server);
  runner_.run([&]() -> boost::asio::awaitable<void> {
    for (auto* s : {client.get(), server.get()}) {
      auto rtt = co_await s->async_ping();
      if (ok(rtt, "async_ping")) {
        EXPECT_GE(rtt->count(), 0);
        EXPECT_LT(*rtt, std::chrono::seconds(5));
      }
    }
    Group g;
    for (int i = 0; i < 10; ++i) {
      g.spawn(runner_.executor(), [&]() -> boost::asio::awaitable<void> {
        EXPECT_TRUE(ok(co_await client->async_ping(), "async_ping (concurrent)"));
      });
    }
    co_await g.wait();
  });
}

// close() on a session ends it at once and the peer's too: streams fail on both sides, no new
// stream can be opened or accepted.
TEST_P(MuxConformance, CloseEndsBothSessions) {
  auto [client, server] = pair(params().settings);
  ASSERT_TRUE(client && server);
  runner_.run([&]() -> boost::asio::awaitable<void> {
    auto o = co_await client->async_open();
    if (!ok(o, "async_open") || !co_await send_pattern(**o, 60, 10)) co_return;
    auto a = co_await server->async_accept();
    if (!ok(a, "async_accept") || !co_await expect_pattern(**a, 60, 10)) co_return;
    Group g;
    g.spawn(runner_.executor(), [&]() -> boost::asio::awaitable<void> {
      base::Bytes buf(8);
      auto n = co_await (*a)->async_read_some(buf);
      EXPECT_FALSE(n && *n > 0) << "bytes nobody sent";
    });
    co_await Runner::sleep(std::chrono::milliseconds(20));
    client->close();
    client->close();  // idempotent
    EXPECT_FALSE(client->is_open());
    const base::Bytes one{1};
    EXPECT_FALSE(co_await (*o)->async_write(one)) << "a stream of a closed session wrote";
    (void)co_await server->async_wait_closed();
    EXPECT_FALSE(server->is_open());
    co_await g.wait();
    EXPECT_FALSE(co_await client->async_open()) << "opened a stream on a closed session";
    EXPECT_FALSE(co_await server->async_accept()) << "accepted a stream on an ended session";
  });
}

// The transport failing under a session ends it with an error reason, and its streams fail.
TEST_P(MuxConformance, TransportLossEndsTheSession) {
  stream::ByteStream* raw = nullptr;
  auto s = with_raw_peer(mux::Role::Client, params().settings, raw);
  ASSERT_NE(s, nullptr);
  runner_.run([&]() -> boost::asio::awaitable<void> {
    auto o = co_await s->async_open();
    if (!ok(o, "async_open")) co_return;
    co_await Runner::sleep(std::chrono::milliseconds(20));
    raw->close();
    const auto why = co_await s->async_wait_closed();
    EXPECT_TRUE(why) << "the session ended without an error after losing its transport";
    EXPECT_FALSE(s->is_open());
    base::Bytes buf(8);
    auto n = co_await (*o)->async_read_some(buf);
    EXPECT_FALSE(n) << "a stream of a lost session did not fail";
  });
}

// Garbage from the peer, then the end of the transport: the session ends (no crash, no hang)
// and accepts nothing.
TEST_P(MuxConformance, GarbageEndsTheSession) {
  stream::ByteStream* raw = nullptr;
  auto s = with_raw_peer(mux::Role::Server, params().settings, raw);
  ASSERT_NE(s, nullptr);
  runner_.run([&]() -> boost::asio::awaitable<void> {
    Group g;
    g.spawn(runner_.executor(), [&]() -> boost::asio::awaitable<void> {
      base::Bytes buf(4096);
      for (;;) {  // whatever the session answers is read and dropped
        auto n = co_await raw->async_read_some(buf);
        if (!n || *n == 0) co_return;
      }
    });
    base::Bytes junk(64 * 1024);
    fill_pattern(77, 0, junk);
    (void)co_await raw->async_write(junk);
    (void)co_await raw->async_shutdown_write();
    (void)co_await s->async_wait_closed();
    EXPECT_FALSE(s->is_open());
    EXPECT_FALSE(co_await s->async_accept()) << "accepted a stream out of garbage";
    raw->close();
    co_await g.wait();
  });
}

// Keepalive: with keepalive_settings, a session whose peer reads everything but never answers
// sends keepalives and ends within keepalive_deadline, with an error reason.
TEST_P(MuxKeepaliveConformance, SilentPeerEndsTheSession) {
  ASSERT_FALSE(params().keepalive_settings.empty()) << "MuxParams::keepalive_settings is empty";
  stream::ByteStream* raw = nullptr;
  auto s =
      with_raw_peer(mux::Role::Client, merged(params().settings, params().keepalive_settings), raw);
  ASSERT_NE(s, nullptr);
  runner_.run([&]() -> boost::asio::awaitable<void> {
    std::size_t heard = 0;
    Group g;
    g.spawn(runner_.executor(), [&]() -> boost::asio::awaitable<void> {
      base::Bytes buf(4096);
      for (;;) {
        auto n = co_await raw->async_read_some(buf);
        if (!n || *n == 0) co_return;
        heard += *n;
      }
    });
    const auto t0 = std::chrono::steady_clock::now();
    const auto why = co_await s->async_wait_closed();
    const auto took = std::chrono::steady_clock::now() - t0;
    EXPECT_TRUE(why) << "the session ended without an error";
    EXPECT_LE(took, params().keepalive_deadline) << "a silent peer was detected late";
    EXPECT_GT(heard, 0u) << "the session sent no keepalive";
    raw->close();
    co_await g.wait();
  });
}

// Keepalive: two sessions with keepalive_settings that answer each other stay open for
// keepalive_deadline with no traffic of their own, and still carry a stream afterwards.
TEST_P(MuxKeepaliveConformance, AnsweringPeerKeepsTheSession) {
  ASSERT_FALSE(params().keepalive_settings.empty()) << "MuxParams::keepalive_settings is empty";
  auto [client, server] = pair(merged(params().settings, params().keepalive_settings));
  ASSERT_TRUE(client && server);
  runner_.run([&]() -> boost::asio::awaitable<void> {
    co_await Runner::sleep(params().keepalive_deadline);
    EXPECT_TRUE(client->is_open()) << "keepalive ended a session whose peer answers";
    EXPECT_TRUE(server->is_open()) << "keepalive ended a session whose peer answers";
    auto o = co_await client->async_open();
    if (!ok(o, "async_open") || !co_await send_pattern(**o, 70, 1000)) co_return;
    auto a = co_await server->async_accept();
    if (ok(a, "async_accept")) {
      EXPECT_TRUE(co_await expect_pattern(**a, 70, 1000));
    }
  });
}

}  // namespace portal::conformance
/// @endcond
