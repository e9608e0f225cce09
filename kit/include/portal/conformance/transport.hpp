// SPDX-License-Identifier: Apache-2.0
#pragma once

// The transport conformance suites. This header defines GoogleTest tests (TEST_P): include it in
// exactly one source file of a test program, and instantiate the suites there:
//
//   #include "portal/conformance/transport.hpp"
//
//   portal::conformance::TransportParams tcp() {
//     return {.name = "tcp", .plugin = "/usr/lib/portal/plugins/portal-transport-tcp.so",
//             .listen_uri = "tcp://127.0.0.1:0"};
//   }
//   PORTAL_TRANSPORT_CONFORMANCE(Mine, ::testing::Values(tcp()));
//
// The program links portal::conformance and GTest::gtest_main.

#include <gmock/gmock.h>
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
#include "portal/stream/byte_stream.hpp"
#include "portal/transport/transport.hpp"

namespace portal::conformance {

/// How the transport suites run one transport plugin.
struct TransportParams {
  /// The suffix of the test names: letters, digits, '_' ("tcp", "wss").
  std::string name;
  /// The plugin file (.so). It is loaded through plugin::Host with every check a host applies.
  std::filesystem::path plugin;
  /// Where to listen: a URI of one of the plugin's schemes, on loopback with port 0 for IP
  /// transports ("tcp://127.0.0.1:0", "ws://127.0.0.1:0/relay"). Every "{tmp}" is replaced by
  /// a fresh private directory for each test ("unix://{tmp}/s.sock"). The suites dial the
  /// listener's local_uri().
  std::string listen_uri;
  /// Settings given to listen() (a TLS certificate and key, say).
  transport::Settings listen_settings;
  /// Settings given to async_connect() (a CA file or pin, say).
  transport::Settings connect_settings;
  /// Whether a stream stays open for reading after its own async_shutdown_write(), so the peer
  /// can still answer (TCP). False for transports whose shutdown ends the whole stream
  /// (WebSocket's closing handshake): the suite then checks only the direction shut down.
  bool half_close = true;
  /// Bytes sent each way at once by LargeTransferBothWays.
  std::size_t large_transfer_bytes = 4u << 20;
  /// URIs of the plugin's schemes that parse but cannot be connected to; async_connect() must
  /// fail on each with an error (checked by DialErrors besides a closed listener).
  std::vector<std::string> bad_connect_uris;
  /// Settings that give both sides an idle timeout of `idle_timeout` (TransportIdleConformance
  /// only), e.g. {{"idle_timeout_ms", "300"}}. Merged over listen_settings and connect_settings.
  transport::Settings idle_settings;
  /// The idle timeout that `idle_settings` set.
  std::chrono::milliseconds idle_timeout{0};
  /// The longest a single test may run before it fails as hung.
  std::chrono::milliseconds time_limit{15000};
};

/// Prints a TransportParams in test failure messages.
inline void PrintTo(const TransportParams& p, std::ostream* os) {
  *os << p.name << " (" << p.plugin.filename().string() << ", " << p.listen_uri << ")";
}

/// The fixture of the transport suites: loads the plugin, resolves the listen URI's scheme
/// through the host and listens; tests dial the listener.
class TransportConformanceBase : public ::testing::TestWithParam<TransportParams> {
 protected:
  /// The parameter of the running test.
  const TransportParams& params() const { return GetParam(); }

  /// Loads the plugin and resolves the factory; fails the test if the host refuses it.
  void SetUp() override {
    std::string problem;
    auto loaded = load_plugin(params().plugin, problem);
    ASSERT_TRUE(loaded) << problem;
    loaded_ = *loaded;
    ASSERT_EQ(loaded_.plugin->kind(), plugin::Kind::Transport)
        << loaded_.plugin->id() << " is not a transport plugin";
    listen_uri_ = expand_tmp(params().listen_uri, tmp_.path());
    auto f = transport::resolve(*loaded_.host, listen_uri_);
    ASSERT_TRUE(f) << "resolve(" << listen_uri_ << "): " << f.error().message();
    factory_ = *f;
  }

  /// Closes what the test left open.
  void TearDown() override {
    for (auto& l : listeners_) l->close();
    runner_.settle(std::chrono::milliseconds(20));
    runner_.dispose(listeners_);
  }

  /// `base` with `extra` merged over it.
  static transport::Settings merged(transport::Settings base, const transport::Settings& extra) {
    for (const auto& [k, v] : extra) base[k] = v;
    return base;
  }

  /// Listens on the listen URI with `settings` (listen_settings by default); null on failure.
  transport::Listener* listen(std::optional<transport::Settings> settings = std::nullopt) {
    auto uri = transport::parse_uri(listen_uri_);
    if (!ok(uri, "parse_uri(" + listen_uri_ + ")")) return nullptr;
    auto l =
        factory_->listen(runner_.executor(), *uri, settings.value_or(params().listen_settings));
    if (!ok(l, "listen(" + listen_uri_ + ")")) return nullptr;
    listeners_.push_back(std::move(*l));
    return listeners_.back().get();
  }

  /// Dials `listener` with `settings` (connect_settings by default).
  boost::asio::awaitable<base::Result<std::unique_ptr<stream::ByteStream>>> dial(
      transport::Listener& listener, std::optional<transport::Settings> settings = std::nullopt) {
    co_return co_await factory_->async_connect(runner_.executor(), listener.local_uri(),
                                               settings.value_or(params().connect_settings));
  }

  /// A connected pair: [0] dialled, [1] accepted. Either is null on failure (already reported).
  /// The accepting side writes one byte first, which the dialling side reads before this
  /// returns: a TLS server may run its handshake with its stream's first read or write, so a
  /// dial is only complete once the accepted stream is used.
  boost::asio::awaitable<
      std::pair<std::unique_ptr<stream::ByteStream>, std::unique_ptr<stream::ByteStream>>>
  connect_pair(transport::Listener& listener,
               std::optional<transport::Settings> client = std::nullopt) {
    std::pair<std::unique_ptr<stream::ByteStream>, std::unique_ptr<stream::ByteStream>> out;
    std::unique_ptr<stream::ByteStream> s;
    Group accepting;
    accepting.spawn(runner_.executor(), [&]() -> boost::asio::awaitable<void> {
      s = co_await accept_and_greet(listener);
    });
    auto c = co_await dial(listener, std::move(client));
    if (!ok(c, "async_connect")) {
      listener.close();  // ends the pending accept
      co_await accepting.wait();
      co_return out;
    }
    co_await accepting.wait();
    if (!s) co_return out;
    base::Bytes greeting(1);
    auto n = co_await (*c)->async_read_some(greeting);
    if (!ok(n, "async_read_some (the accepting side's first byte)")) co_return out;
    if (*n != 1 || greeting[0] != kGreeting) {
      ADD_FAILURE() << "the accepting side's first byte did not arrive";
      co_return out;
    }
    out.first = std::move(*c);
    out.second = std::move(s);
    co_return out;
  }

  /// The byte connect_pair() sends from the accepting side.
  static constexpr base::Byte kGreeting = 0x5a;

  /// Accepts one stream and writes kGreeting on it; null on failure (already reported).
  static boost::asio::awaitable<std::unique_ptr<stream::ByteStream>> accept_and_greet(
      transport::Listener& listener) {
    auto s = co_await listener.async_accept();
    if (!ok(s, "async_accept")) co_return nullptr;
    const base::Bytes greeting{kGreeting};
    if (!ok(co_await (*s)->async_write(greeting), "async_write (first byte)")) co_return nullptr;
    co_return std::move(*s);
  }

  Runner runner_{GetParam().time_limit};                         ///< runs the test's coroutines
  TempDir tmp_;                                                  ///< "{tmp}" of the URIs
  LoadedPlugin loaded_;                                          ///< the plugin under test
  std::shared_ptr<transport::TransportFactory> factory_;         ///< its factory
  std::string listen_uri_;                                       ///< listen_uri, expanded
  std::vector<std::unique_ptr<transport::Listener>> listeners_;  ///< closed at TearDown
};

/// The transport suite: dial/accept, ordering, half-close, large transfers, errors, close,
/// accept hooks. Instantiate with PORTAL_TRANSPORT_CONFORMANCE.
class TransportConformance : public TransportConformanceBase {};

/// The idle-timeout suite, for transports that have one (TransportParams::idle_settings).
/// Instantiate with PORTAL_TRANSPORT_IDLE_CONFORMANCE.
class TransportIdleConformance : public TransportConformanceBase {
 protected:
  /// Connects to `l` with `client` settings; then the side that has the idle timeout (the
  /// dialling one if `dialler`) waits in a read while the other does nothing. The read must fail
  /// with transport::Errc::IdleTimeout, not before about the timeout, and well before the limit.
  void silent_peer(transport::Listener& l, const transport::Settings& client, bool dialler) {
    const auto idle = params().idle_timeout;
    runner_.run([&]() -> boost::asio::awaitable<void> {
      auto [c, s] = co_await connect_pair(l, client);
      if (!c || !s) co_return;
      auto& waiting = dialler ? *c : *s;
      const auto t0 = std::chrono::steady_clock::now();
      base::Bytes buf(16);
      auto n = co_await waiting.async_read_some(buf);
      const auto took = std::chrono::steady_clock::now() - t0;
      EXPECT_FALSE(n) << "a silent connection was not closed";
      if (!n) {
        EXPECT_EQ(n.error(), transport::Errc::IdleTimeout) << n.error().message();
      }
      EXPECT_GE(took, idle / 2) << "closed before the idle timeout";
      EXPECT_LE(took, idle * 5 + std::chrono::seconds(2)) << "closed long after the idle timeout";
    });
  }
};

}  // namespace portal::conformance

/// Instantiates the transport suite under `prefix` for the TransportParams of a GoogleTest
/// generator, e.g. PORTAL_TRANSPORT_CONFORMANCE(Tcp, ::testing::Values(params)).
#define PORTAL_TRANSPORT_CONFORMANCE(prefix, ...)                           \
  using TransportConformance = ::portal::conformance::TransportConformance; \
  INSTANTIATE_TEST_SUITE_P(prefix, TransportConformance, __VA_ARGS__,       \
                           ::portal::conformance::ParamName{})

/// Instantiates the idle-timeout suite (TransportParams with idle_settings and idle_timeout).
#define PORTAL_TRANSPORT_IDLE_CONFORMANCE(prefix, ...)                              \
  using TransportIdleConformance = ::portal::conformance::TransportIdleConformance; \
  INSTANTIATE_TEST_SUITE_P(prefix, TransportIdleConformance, __VA_ARGS__,           \
                           ::portal::conformance::ParamName{})

/// @cond PORTAL_CONFORMANCE_TESTS
// The tests. Each runs its coroutines under TransportParams::time_limit.
namespace portal::conformance {

GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(TransportIdleConformance);

// The plugin provides the listen URI's scheme, accepts its own settings and refuses an unknown
// key by name, in validate(), listen() and async_connect().
TEST_P(TransportConformance, ValidatesSettings) {
  auto uri = transport::parse_uri(listen_uri_);
  ASSERT_TRUE(uri) << listen_uri_ << ": " << uri.error().message();
  EXPECT_TRUE(loaded_.plugin->provides(uri->scheme));
  std::string problem;
  EXPECT_TRUE(factory_->validate(params().listen_settings, problem)) << problem;
  problem.clear();
  EXPECT_TRUE(factory_->validate(params().connect_settings, problem)) << problem;
  problem.clear();
  const std::string key = "conformance_no_such_key";
  EXPECT_FALSE(factory_->validate({{key, "1"}}, problem));
  EXPECT_NE(problem.find(key), std::string::npos)
      << "the problem does not name the key: " << problem;
  EXPECT_FALSE(
      factory_->listen(runner_.executor(), *uri, merged(params().listen_settings, {{key, "1"}})))
      << "listen() accepted an unknown setting";
  auto* l = listen();
  ASSERT_NE(l, nullptr);
  const auto bad = merged(params().connect_settings, {{key, "1"}});
  runner_.run([&]() -> boost::asio::awaitable<void> {
    auto c = co_await dial(*l, bad);
    EXPECT_FALSE(c) << "async_connect() accepted an unknown setting";
  });
}

// local_uri() names the bound address in the listen URI's scheme; port 0 gets a real port, and
// two listeners on port 0 get different ones.
TEST_P(TransportConformance, ListenerReportsItsAddress) {
  auto uri = transport::parse_uri(listen_uri_);
  ASSERT_TRUE(uri);
  auto* l = listen();
  ASSERT_NE(l, nullptr);
  const auto bound = l->local_uri();
  EXPECT_EQ(bound.scheme, uri->scheme);
  EXPECT_EQ(bound.path, uri->path);
  if (uri->port == 0 && !uri->host.empty()) {
    EXPECT_NE(bound.port, 0) << "local_uri() did not report the port bound";
    auto* l2 = listen();
    ASSERT_NE(l2, nullptr);
    EXPECT_NE(l2->local_uri(), bound);
  }
  auto again = transport::parse_uri(bound.to_string());
  EXPECT_TRUE(again) << bound.to_string() << " does not parse";
}

// Eight clients dial at once; each accepted stream carries its own client's bytes, and each
// client gets its own answer.
TEST_P(TransportConformance, DialAndAccept) {
  auto* l = listen();
  ASSERT_NE(l, nullptr);
  constexpr int kClients = 8;
  constexpr std::size_t kBytes = 1000;
  std::vector<int> seen;
  runner_.run([&]() -> boost::asio::awaitable<void> {
    Group clients;
    Group servers;
    const auto ex = runner_.executor();
    for (int i = 0; i < kClients; ++i) {
      clients.spawn(ex, [&, i]() -> boost::asio::awaitable<void> {
        auto c = co_await dial(*l);
        if (!ok(c, "async_connect")) co_return;
        base::Bytes hello{static_cast<base::Byte>(i)};
        if (!ok(co_await (*c)->async_write(hello), "async_write")) co_return;
        if (!co_await send_pattern(**c, static_cast<std::uint64_t>(i), kBytes)) co_return;
        EXPECT_TRUE(co_await expect_pattern(**c, 100 + static_cast<std::uint64_t>(i), kBytes));
      });
    }
    for (int i = 0; i < kClients; ++i) {
      auto s = co_await l->async_accept();
      if (!ok(s, "async_accept")) break;
      std::shared_ptr<stream::ByteStream> st(std::move(*s));
      servers.spawn(ex, [&, st]() -> boost::asio::awaitable<void> {
        base::Bytes id(1);
        auto n = co_await st->async_read_some(id);
        if (!ok(n, "async_read_some") || *n != 1) co_return;
        seen.push_back(id[0]);
        EXPECT_TRUE(co_await expect_pattern(*st, id[0], kBytes));
        EXPECT_TRUE(co_await send_pattern(*st, 100 + std::uint64_t{id[0]}, kBytes));
        // Keep the stream until the client has read the answer.
        base::Bytes rest(1);
        (void)co_await st->async_read_some(rest);
      });
    }
    co_await clients.wait();
    co_await servers.wait();
  });
  std::sort(seen.begin(), seen.end());
  std::vector<int> expected;
  for (int i = 0; i < kClients; ++i) expected.push_back(i);
  EXPECT_EQ(seen, expected);
}

// 500 small writes (1 to 509 bytes) each way at once arrive in order, byte for byte.
TEST_P(TransportConformance, OrderingOfManySmallWrites) {
  auto* l = listen();
  ASSERT_NE(l, nullptr);
  runner_.run([&]() -> boost::asio::awaitable<void> {
    auto [c, s] = co_await connect_pair(*l);
    if (!c || !s) co_return;
    auto small_writes = [](stream::ByteStream& st,
                           std::uint64_t seed) -> boost::asio::awaitable<void> {
      base::Bytes chunk;
      std::size_t sent = 0;
      for (int i = 0; i < 500; ++i) {
        chunk.resize(1 + static_cast<std::size_t>(i * 37) % 509);
        fill_pattern(seed, sent, chunk);
        if (!ok(co_await st.async_write(chunk), "async_write")) co_return;
        sent += chunk.size();
      }
    };
    std::size_t total = 0;
    for (int i = 0; i < 500; ++i) total += 1 + static_cast<std::size_t>(i * 37) % 509;
    Group g;
    const auto ex = runner_.executor();
    g.spawn(ex, [&]() { return small_writes(*c, 1); });
    g.spawn(ex, [&]() { return small_writes(*s, 2); });
    g.spawn(ex, [&]() -> boost::asio::awaitable<void> {
      EXPECT_TRUE(co_await expect_pattern(*s, 1, total));
    });
    g.spawn(ex, [&]() -> boost::asio::awaitable<void> {
      EXPECT_TRUE(co_await expect_pattern(*c, 2, total));
    });
    co_await g.wait();
  });
}

// After async_shutdown_write() the peer reads everything sent, then the end of the stream. With
// half_close, the peer can still answer and the answer arrives, then its own end.
TEST_P(TransportConformance, HalfClose) {
  auto* l = listen();
  ASSERT_NE(l, nullptr);
  runner_.run([&]() -> boost::asio::awaitable<void> {
    auto [c, s] = co_await connect_pair(*l);
    if (!c || !s) co_return;
    Group g;
    const auto ex = runner_.executor();
    g.spawn(ex, [&]() -> boost::asio::awaitable<void> {
      if (!co_await send_pattern(*c, 3, 100000)) co_return;
      EXPECT_TRUE(ok(co_await c->async_shutdown_write(), "async_shutdown_write"));
    });
    g.spawn(ex, [&]() -> boost::asio::awaitable<void> {
      if (!co_await expect_pattern(*s, 3, 100000)) co_return;
      EXPECT_TRUE(co_await expect_end(*s)) << "no end of stream after the peer's shutdown";
    });
    co_await g.wait();
    if (params().half_close) {
      g.spawn(ex, [&]() -> boost::asio::awaitable<void> {
        if (!co_await send_pattern(*s, 4, 50000)) co_return;
        EXPECT_TRUE(ok(co_await s->async_shutdown_write(), "async_shutdown_write (answer)"));
      });
      g.spawn(ex, [&]() -> boost::asio::awaitable<void> {
        if (!co_await expect_pattern(*c, 4, 50000)) co_return;
        EXPECT_TRUE(co_await expect_end(*c));
      });
    } else {
      // The stream has ended for the side that shut down: a read completes (end or error).
      g.spawn(ex, [&]() -> boost::asio::awaitable<void> {
        base::Bytes buf(16);
        auto n = co_await c->async_read_some(buf);
        if (n) {
          EXPECT_EQ(*n, 0u) << "bytes after the closing handshake";
        }
      });
    }
    co_await g.wait();
  });
}

// large_transfer_bytes each way at the same time, in writes from 1 byte to 256 KiB, checked
// byte for byte; then each side's shutdown reaches the other.
TEST_P(TransportConformance, LargeTransferBothWays) {
  auto* l = listen();
  ASSERT_NE(l, nullptr);
  const std::size_t size = params().large_transfer_bytes;
  runner_.run([&]() -> boost::asio::awaitable<void> {
    auto [c, s] = co_await connect_pair(*l);
    if (!c || !s) co_return;
    Group g;
    const auto ex = runner_.executor();
    g.spawn(ex,
            [&]() -> boost::asio::awaitable<void> { (void)co_await send_pattern(*c, 5, size); });
    g.spawn(ex,
            [&]() -> boost::asio::awaitable<void> { (void)co_await send_pattern(*s, 6, size); });
    g.spawn(ex, [&]() -> boost::asio::awaitable<void> {
      EXPECT_TRUE(co_await expect_pattern(*s, 5, size)) << "client to server";
    });
    g.spawn(ex, [&]() -> boost::asio::awaitable<void> {
      EXPECT_TRUE(co_await expect_pattern(*c, 6, size)) << "server to client";
    });
    co_await g.wait();
    g.spawn(ex, [&]() -> boost::asio::awaitable<void> {
      EXPECT_TRUE(ok(co_await c->async_shutdown_write(), "async_shutdown_write"));
    });
    g.spawn(ex, [&]() -> boost::asio::awaitable<void> { EXPECT_TRUE(co_await expect_end(*s)); });
    co_await g.wait();
  });
}

// Dialling a listener that has closed, or a URI from bad_connect_uris, fails with an error (in
// time, without a crash); a URI that does not parse is InvalidUri.
TEST_P(TransportConformance, DialErrors) {
  auto* l = listen();
  ASSERT_NE(l, nullptr);
  const auto gone = l->local_uri();
  l->close();
  listeners_.clear();
  runner_.settle(std::chrono::milliseconds(20));
  runner_.run([&]() -> boost::asio::awaitable<void> {
    auto c = co_await factory_->async_connect(runner_.executor(), gone, params().connect_settings);
    EXPECT_FALSE(c) << "connected to a closed listener at " << gone.to_string();
    if (!c) {
      EXPECT_FALSE(c.error().message().empty());
    }
    for (const auto& text : params().bad_connect_uris) {
      auto uri = transport::parse_uri(expand_tmp(text, tmp_.path()));
      if (!uri) continue;  // refused before the plugin: a clear error too
      auto bad =
          co_await factory_->async_connect(runner_.executor(), *uri, params().connect_settings);
      EXPECT_FALSE(bad) << "connected to " << text;
    }
  });
  EXPECT_EQ(transport::resolve(*loaded_.host, "no scheme at all").error(),
            transport::Errc::InvalidUri);
}

// close() aborts a pending read (it completes with an error, not the end of the stream) and
// later writes fail; the peer sees its stream end. Closing a listener completes a pending
// accept with an error.
TEST_P(TransportConformance, CloseAbortsPendingOperations) {
  auto* l = listen();
  ASSERT_NE(l, nullptr);
  runner_.run([&]() -> boost::asio::awaitable<void> {
    auto [c, s] = co_await connect_pair(*l);
    if (!c || !s) co_return;
    Group g;
    const auto ex = runner_.executor();
    g.spawn(ex, [&]() -> boost::asio::awaitable<void> {
      base::Bytes buf(16);
      auto n = co_await c->async_read_some(buf);
      EXPECT_FALSE(n) << "a read pending at close() returned " << (n ? *n : 0) << " bytes";
    });
    co_await Runner::sleep(std::chrono::milliseconds(50));
    c->close();
    c->close();  // idempotent
    co_await g.wait();
    base::Bytes data(1000, 1);
    EXPECT_FALSE(co_await c->async_write(data)) << "a write after close() succeeded";
    base::Bytes buf(16);
    for (;;) {  // the peer reads the end (or an error), never more than was sent
      auto n = co_await s->async_read_some(buf);
      if (!n || *n == 0) break;
      ADD_FAILURE() << "the peer read bytes nobody sent";
      break;
    }
    g.spawn(ex, [&]() -> boost::asio::awaitable<void> {
      auto a = co_await l->async_accept();
      EXPECT_FALSE(a) << "accept after close() handed out a stream";
    });
    co_await Runner::sleep(std::chrono::milliseconds(20));
    l->close();
    co_await g.wait();
  });
}

// AcceptHooks (observed with a GoogleMock function): a listener that applies them calls admit
// once per connection before handing it out; a refused connection is closed and never
// accepted; the token lives as long as the accepted stream. A listener that does not apply
// them never calls them.
TEST_P(TransportConformance, AcceptHooks) {
  using ::testing::_;
  auto* l = listen();
  ASSERT_NE(l, nullptr);
  ::testing::MockFunction<std::shared_ptr<void>(const stream::PeerInfo&)> admit;
  std::weak_ptr<int> weak;
  transport::AcceptHooks hooks;
  hooks.admit = admit.AsStdFunction();
  l->set_accept_hooks(hooks);
  if (!l->applies_accept_hooks()) {
    EXPECT_CALL(admit, Call(_)).Times(0);
    runner_.run([&]() -> boost::asio::awaitable<void> {
      auto [c, s] = co_await connect_pair(*l);
      EXPECT_TRUE(c && s);
    });
    return;
  }
  {
    ::testing::InSequence order;
    EXPECT_CALL(admit, Call(_)).WillOnce(::testing::Return(nullptr));
    EXPECT_CALL(admit, Call(_)).WillOnce([&weak](const stream::PeerInfo&) {
      auto token = std::make_shared<int>(7);  // the listener's copy is the only one
      weak = token;
      return std::shared_ptr<void>(token);
    });
  }
  runner_.run([&]() -> boost::asio::awaitable<void> {
    auto refused = co_await dial(*l);
    if (refused) {
      base::Bytes buf(16);
      auto n = co_await (*refused)->async_read_some(buf);
      EXPECT_TRUE(!n || *n == 0) << "a refused connection delivered bytes";
    }
    auto [c, s] = co_await connect_pair(*l);
    if (!c || !s) co_return;
    base::Bytes two{2};
    EXPECT_TRUE(ok(co_await c->async_write(two), "async_write"));
    base::Bytes got(1);
    auto n = co_await s->async_read_some(got);
    EXPECT_TRUE(ok(n, "async_read_some") && *n == 1 && got[0] == 2)
        << "the accepted stream is not the admitted connection";
    EXPECT_FALSE(weak.expired()) << "the admission token was dropped while the stream lives";
    s.reset();
    c->close();
    co_await Runner::sleep(std::chrono::milliseconds(50));
    EXPECT_TRUE(weak.expired()) << "the admission token outlived the accepted stream";
  });
}

// Idle timeout: a pending read on a connection whose peer does nothing fails with
// transport::Errc::IdleTimeout, not before about the timeout and well before the test's limit.
// `dialler`: the timeout is set on the dialling side (else on the listener).
TEST_P(TransportIdleConformance, SilentPeerTimesOutTheDialler) {
  ASSERT_FALSE(params().idle_settings.empty()) << "TransportParams::idle_settings is empty";
  ASSERT_GT(params().idle_timeout.count(), 0) << "TransportParams::idle_timeout is 0";
  auto* l = listen(params().listen_settings);
  ASSERT_NE(l, nullptr);
  silent_peer(*l, merged(params().connect_settings, params().idle_settings), true);
}

TEST_P(TransportIdleConformance, SilentPeerTimesOutTheAcceptor) {
  ASSERT_FALSE(params().idle_settings.empty()) << "TransportParams::idle_settings is empty";
  ASSERT_GT(params().idle_timeout.count(), 0) << "TransportParams::idle_timeout is 0";
  auto* l = listen(merged(params().listen_settings, params().idle_settings));
  ASSERT_NE(l, nullptr);
  silent_peer(*l, params().connect_settings, false);
}

// Traffic keeps a connection with an idle timeout open: one byte every idle/4 for three idle
// periods, both sides reading all along (as a host does), and nothing fails.
TEST_P(TransportIdleConformance, TrafficKeepsItOpen) {
  ASSERT_GT(params().idle_timeout.count(), 0) << "TransportParams::idle_timeout is 0";
  const auto idle = params().idle_timeout;
  auto* l = listen(merged(params().listen_settings, params().idle_settings));
  ASSERT_NE(l, nullptr);
  runner_.run([&]() -> boost::asio::awaitable<void> {
    auto [c, s] =
        co_await connect_pair(*l, merged(params().connect_settings, params().idle_settings));
    if (!c || !s) co_return;
    bool checking = true;
    std::size_t received = 0;
    Group readers;
    const auto ex = runner_.executor();
    auto reader = [&](stream::ByteStream& st, const char* side) {
      return [&st, side, &checking, &received]() -> boost::asio::awaitable<void> {
        base::Bytes buf(64);
        for (;;) {
          auto n = co_await st.async_read_some(buf);
          if (!checking) co_return;
          if (!n || *n == 0) {
            ADD_FAILURE() << side << " ended while traffic flowed: "
                          << (n ? std::string("end of stream") : n.error().message());
            co_return;
          }
          received += *n;
        }
      };
    };
    readers.spawn(ex, reader(*s, "the accepting side"));
    readers.spawn(ex, reader(*c, "the dialling side"));
    int sent = 0;
    for (auto until = std::chrono::steady_clock::now() + 3 * idle;
         std::chrono::steady_clock::now() < until; ++sent) {
      base::Bytes one{1};
      if (!ok(co_await c->async_write(one), "async_write")) break;
      co_await Runner::sleep(idle / 4);
    }
    EXPECT_EQ(received, static_cast<std::size_t>(sent));
    checking = false;
    c->close();
    s->close();
    co_await readers.wait();
  });
}

}  // namespace portal::conformance
/// @endcond
