// SPDX-License-Identifier: Apache-2.0
// Relay-to-relay forwarding with real processes (ADR 0015 §3-4): a real redis-server, three or
// more portal-relay processes that list each other in fleet.peers, a lease held on relay A and
// dialers on relays B and C. Checksummed transfers through `portal expose` on A, a refusal for a
// lease that exists nowhere and for a relay A does not accept as a peer, relay A killed in the
// middle of a transfer, and the peering metrics.

#include <csignal>

#include "portal/client/control.hpp"
#include "portal/platform/key_file.hpp"
#include "portal/secure_stream/secure_stream.hpp"
#include "portal/transport/transport.hpp"
#include "portal/wire/control.hpp"
#include "relay/bulk.hpp"
#include "relay/fleet_harness.hpp"
#include "support/process.hpp"
#include "support/redis_server.hpp"
#include "support/scale.hpp"
#include "support/temp_dir.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include <chrono>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

namespace portal::wire {
// gtest prints response codes by name.
inline void PrintTo(ResponseCode code, std::ostream* os) { *os << to_string(code); }
}  // namespace portal::wire

namespace portal::test {
namespace {

using lease::DirectoryStatus;
using wire::ResponseCode;
using namespace std::chrono_literals;

constexpr auto kHeartbeat = 200ms;
constexpr std::uint64_t kDialerSeed = 1;
constexpr std::uint64_t kHolderSeed = 2;

// One dialer: the relay's answer (for a TCP client of `portal connect`, ACCEPTED once its
// connection is made), why it failed when it did, and its side of the exchange.
struct Leg {
  ResponseCode code = ResponseCode::Unknown;
  std::string error;
  std::shared_ptr<Transfer> t = std::make_shared<Transfer>();
  bool finished = false;  // the dial failed, or exchange() returned
  // Done: nothing more will happen on this leg.
  [[nodiscard]] bool done() const {
    return finished && (code != ResponseCode::Accepted || !error.empty() || t->read_done);
  }
};

// Asks the relay of `s` for a connection to `lease_id`; when ACCEPTED, runs the end-to-end
// handshake (when `secure` is set) and exchange()s `total` bytes each way. Named coroutine,
// arguments by value.
asio::awaitable<void> dial_and_exchange(std::shared_ptr<mux::Session> s, std::string lease_id,
                                        std::shared_ptr<const stream::SecureStreamConfig> secure,
                                        std::size_t total, std::shared_ptr<Leg> leg) {
  leg->t->peer_seed = kHolderSeed;
  auto d = co_await client::request_connection(*s, lease_id, std::nullopt, 10s);
  if (!d) {
    leg->error = "connection request: " + d.error().message();
    leg->finished = true;
    co_return;
  }
  leg->code = d->code;
  if (d->code != ResponseCode::Accepted) {
    leg->finished = true;
    co_return;
  }
  std::unique_ptr<stream::ByteStream> st = std::move(d->stream);
  if (secure) {
    auto sec = co_await stream::async_secure_connect(std::move(st), *secure, lease_id, "http/1.1");
    if (!sec) {
      leg->error = "handshake: " + sec.error().message();
      leg->finished = true;
      co_return;
    }
    st = std::move(*sec);
  }
  co_await exchange(std::shared_ptr<stream::ByteStream>(std::move(st)), kDialerSeed, total, leg->t);
  leg->finished = true;
}

// The other end of each stream: a Transfer per stream in `got`, exchange()d with kHolderSeed.
using Transfers = std::vector<std::shared_ptr<Transfer>>;
asio::awaitable<void> exchange_with_dialer(std::unique_ptr<stream::ByteStream> s, std::size_t total,
                                           std::shared_ptr<Transfers> got) {
  auto t = std::make_shared<Transfer>();
  t->peer_seed = kDialerSeed;
  got->push_back(t);
  co_await exchange(std::shared_ptr<stream::ByteStream>(std::move(s)), kHolderSeed, total, t);
}
// A local TCP service (what `portal expose --target` forwards to): every connection exchanged.
asio::awaitable<void> serve(std::shared_ptr<transport::Listener> l, std::size_t total,
                            std::shared_ptr<Transfers> got) {
  for (;;) {
    auto s = co_await l->async_accept();
    if (!s) co_return;
    asio::co_spawn(co_await asio::this_coro::executor,
                   exchange_with_dialer(std::move(*s), total, got), asio::detached);
  }
}
// A TCP client of `portal connect --listen`: one connection, exchanged like a dialer.
asio::awaitable<void> connect_and_exchange(std::shared_ptr<transport::TransportFactory> tcp,
                                           transport::Uri at, std::size_t total,
                                           std::shared_ptr<Leg> leg) {
  leg->t->peer_seed = kHolderSeed;
  auto s = co_await tcp->async_connect(co_await asio::this_coro::executor, at, {});
  if (!s) {
    leg->error = "connect: " + s.error().message();
    leg->finished = true;
    co_return;
  }
  leg->code = ResponseCode::Accepted;
  co_await exchange(std::shared_ptr<stream::ByteStream>(std::move(*s)), kDialerSeed, total, leg->t);
  leg->finished = true;
}

class FleetForward : public FleetTest {
 protected:
  // A TCP service on loopback that exchanges `total` bytes with each connection (recorded in
  // `far`), published by `portal expose` on `relay` as "web" under identity `who`.
  struct Exposed {
    std::shared_ptr<transport::Listener> service;
    std::unique_ptr<Portal> portal;
  };
  Exposed expose_service(const std::string& relay, const identity::Credential& who,
                         std::size_t total, std::shared_ptr<Transfers> far) {
    Exposed e;
    auto listener =
        tcp()->listen(io_.get_executor(), *transport::parse_uri("tcp://127.0.0.1:0"), {});
    if (!listener) {
      ADD_FAILURE() << "service listener: " << listener.error().message();
      return e;
    }
    e.service = std::move(*listener);
    asio::co_spawn(io_, serve(e.service, total, std::move(far)), asio::detached);
    const auto key = dir_ / "expose.key";
    EXPECT_TRUE(platform::save_key_file(key, who));
    e.portal = std::make_unique<Portal>(
        std::vector<std::string>{"expose", "--relay", relay, "--target",
                                 "127.0.0.1:" + std::to_string(e.service->local_uri().port),
                                 "--name", "web", "--key", key.string()},
        "exposing ");
    return e;
  }

  // A relay with the fleet's short heartbeat.
  std::unique_ptr<RelayProcess> relay(const std::string& name, std::vector<std::string> peers,
                                      std::string peer_uri = {},
                                      std::string tcp_listen = "tcp://127.0.0.1:0") {
    FleetRelayOptions o;
    o.peers = std::move(peers);
    o.peer_uri = std::move(peer_uri);
    o.heartbeat = kHeartbeat;
    o.tcp_listen = std::move(tcp_listen);
    return FleetTest::relay(name, o);
  }

  // Waits (5 s at most) until the directory lists exactly the relays `names` as members and
  // `holder` as the only relay holding `lease_id`: forwarding can find them from then on.
  ::testing::AssertionResult fleet_ready(const std::vector<std::string>& names,
                                         const std::string& lease_id, const std::string& holder) {
    auto dir = open_directory();
    std::vector<std::string> want;
    for (const auto& n : names) want.push_back(relay_id(n));
    std::sort(want.begin(), want.end());
    std::vector<std::string> seen;
    if (!within(5s, [&] {
          seen = relays_of(members(*dir));
          return seen == want;
        })) {
      return ::testing::AssertionFailure()
             << "the directory lists " << seen.size() << " relays, not the " << want.size()
             << " started, 5 s after they started";
    }
    if (!within(5s, [&] {
          seen = relays_of(resolve(*dir, lease_id));
          return seen == std::vector<std::string>{relay_id(holder)};
        })) {
      return ::testing::AssertionFailure()
             << "lease " << lease_id << " is not published by relay " << holder
             << " alone 5 s after it was accepted (" << seen.size() << " holders)";
    }
    return ::testing::AssertionSuccess();
  }

  // The end-to-end dialer's config: the build's chacha20-poly1305, this test's identity.
  std::shared_ptr<const stream::SecureStreamConfig> secure_config() {
    auto p = host_->find_provider(plugin::Kind::Cipher, "chacha20-poly1305");
    if (!p) throw std::runtime_error("no chacha20-poly1305 cipher plugin");
    auto f = (*p)->factory<cipher::AeadFactory>();
    if (!f) throw std::runtime_error("the chacha20-poly1305 plugin has no AEAD factory");
    auto cfg = std::make_shared<stream::SecureStreamConfig>();
    cfg->credential = &dialer_;
    cfg->cipher = *f;
    return cfg;
  }

  std::shared_ptr<transport::TransportFactory> tcp() {
    auto tf = transport::resolve(*host_, "tcp://127.0.0.1:0");
    if (!tf) throw std::runtime_error("no tcp transport: " + tf.error().message());
    return *tf;
  }

  // Dials `lease_id` through `s` without exchanging data: the relay's answer (10 s at most).
  Leg dial(std::shared_ptr<mux::Session> s, const std::string& lease_id) {
    auto leg = std::make_shared<Leg>();
    asio::co_spawn(io_, dial_and_exchange(std::move(s), lease_id, nullptr, 0, leg), asio::detached);
    if (!within(15s, [&] { return leg->finished || leg->t->read_done; })) {
      leg->error = "no answer to the connection request within 15 s";
    }
    return *leg;
  }

  // Runs every leg until done or `bound`, then (when every leg was accepted) the far ends until
  // `far_count` of them have read everything; a failure says how far each got.
  ::testing::AssertionResult finish(const std::vector<std::shared_ptr<Leg>>& legs,
                                    const std::shared_ptr<Transfers>& far, std::size_t far_count,
                                    std::chrono::milliseconds bound) {
    const auto start = Clock::now();
    const auto report = [&](::testing::AssertionResult f) {
      for (std::size_t i = 0; i < legs.size(); ++i) {
        f << " dialer " << i << ": " << wire::to_string(legs[i]->code) << ", received "
          << legs[i]->t->received_bytes << (legs[i]->error.empty() ? "" : ", ") << legs[i]->error
          << (legs[i]->t->read_error.empty() ? "" : ", read: ") << legs[i]->t->read_error << ";";
      }
      f << " " << far->size() << " far end(s)";
      for (const auto& t : *far) f << ", received " << t->received_bytes;
      return f;
    };
    const auto legs_done = within(bound, [&] {
      return std::all_of(legs.begin(), legs.end(), [](const auto& l) { return l->done(); });
    });
    if (!legs_done) {
      return report(::testing::AssertionFailure() << "not done after " << bound.count() << " ms:");
    }
    const bool all_accepted = std::all_of(legs.begin(), legs.end(), [](const auto& l) {
      return l->code == ResponseCode::Accepted && l->error.empty();
    });
    if (!all_accepted) return report(::testing::AssertionFailure() << "a dial failed:");
    // A dialer that is done wrote and read everything: its far end was there long before.
    if (far->size() < far_count) {
      return report(::testing::AssertionFailure()
                    << "the dialers are done but only " << far->size() << " of " << far_count
                    << " connections reached the far end:");
    }
    const auto left = std::max(
        std::chrono::duration_cast<std::chrono::milliseconds>(bound - (Clock::now() - start)),
        std::chrono::milliseconds(1000));
    const auto far_done = within(left, [&] {
      return far->size() >= far_count &&
             std::all_of(far->begin(), far->end(), [](const auto& t) { return t->read_done; });
    });
    if (!far_done) {
      return report(::testing::AssertionFailure()
                    << "the far ends are not done " << left.count() << " ms after the dialers:");
    }
    std::cout << "[ fleet    ] done in "
              << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count()
              << " ms\n";
    return ::testing::AssertionSuccess();
  }

  // A lease holder of the test's own on `relay`: `who`'s lease "web", every forwarded request
  // ACCEPTED and exchanged (`total` bytes each way) into `got`. The number of requests seen.
  std::shared_ptr<int> holder(RelayProcess& relay, const identity::Credential& who,
                              std::size_t total, std::shared_ptr<Transfers> got) {
    auto s = session(relay.ws);
    const auto code = update(*s, who, "web");
    EXPECT_EQ(code, ResponseCode::Accepted) << relay.err();
    return hold(
        s, [](int) { return ResponseCode::Accepted; },
        [total, got](std::unique_ptr<stream::ByteStream> st) -> asio::awaitable<void> {
          return exchange_with_dialer(std::move(st), total, got);
        });
  }

  identity::Credential dialer_ = credential();
};

// Done when (1): `portal expose` on A, reached through B (over ws://) and C (over tcp://) at
// once, A's peer_uri a tcp:// address: 64 MiB each way on each, end to end encrypted between
// the test (dialing by lease ID) and `portal expose`, checksummed at both ends.
TEST_F(FleetForward, PortalExposeOnAIsReachedThroughBAndC) {
  const auto a_port = free_port();
  const std::string a_peer = "tcp://127.0.0.1:" + std::to_string(a_port);
  auto a = relay("a", {"b", "c"}, a_peer, a_peer);
  auto b = relay("b", {"a"});
  auto c = relay("c", {"a"});
  ASSERT_TRUE(a->alive() && b->alive() && c->alive());

  const std::size_t total = scaled(64u << 20, 1u << 20);
  auto far = std::make_shared<Transfers>();
  const auto who = credential();
  auto exposed = expose_service(a->tcp, who, total, far);
  ASSERT_TRUE(exposed.portal);
  const auto& expose = *exposed.portal;
  ASSERT_NE(expose.out().find(a->tcp + " (registered)"), std::string::npos)
      << expose.out() << expose.err();
  ASSERT_TRUE(fleet_ready({"a", "b", "c"}, who.id(), "a")) << a->err();

  const auto secure = secure_config();
  std::vector<std::shared_ptr<Leg>> legs = {std::make_shared<Leg>(), std::make_shared<Leg>()};
  asio::co_spawn(io_, dial_and_exchange(session(b->ws), who.id(), secure, total, legs[0]),
                 asio::detached);
  asio::co_spawn(io_, dial_and_exchange(session(c->tcp), who.id(), secure, total, legs[1]),
                 asio::detached);
  ASSERT_TRUE(finish(legs, far, 2, 180s)) << "B:\n"
                                          << b->err() << "C:\n"
                                          << c->err() << "A:\n"
                                          << a->err() << "expose:\n"
                                          << expose.err();
  for (std::size_t i = 0; i < legs.size(); ++i) {
    SCOPED_TRACE(i == 0 ? "through B" : "through C");
    EXPECT_EQ(legs[i]->code, ResponseCode::Accepted) << legs[i]->error;
    EXPECT_EQ(legs[i]->error, "");
  }
  ASSERT_EQ(far->size(), 2u) << "connections that reached the service behind `portal expose`";
  // Every dialer writes the same pattern, and so does the service: any pairing checks both.
  expect_exchanged(*legs[0]->t, *(*far)[0], total);
  expect_exchanged(*legs[1]->t, *(*far)[1], total);
  EXPECT_TRUE(a->alive() && b->alive() && c->alive());
  exposed.service->close();
}

// Done when (1), with the command line on both ends: `portal connect web` given relay B (or C)
// only reaches `portal expose` on A. 64 MiB each way through each, at once, checksummed by the
// test at the TCP ends (its service behind expose, its clients of connect's port).
TEST_F(FleetForward, PortalConnectThroughBAndCReachesPortalExposeOnA) {
  auto a = relay("a", {"b", "c"});
  auto b = relay("b", {"a"});
  auto c = relay("c", {"a"});
  ASSERT_TRUE(a->alive() && b->alive() && c->alive());

  const std::size_t total = scaled(64u << 20, 1u << 20);
  auto far = std::make_shared<Transfers>();
  const auto tcp_factory = tcp();
  const auto who = credential();
  auto exposed = expose_service(a->ws, who, total, far);
  ASSERT_TRUE(exposed.portal);
  const auto& expose = *exposed.portal;
  ASSERT_TRUE(fleet_ready({"a", "b", "c"}, who.id(), "a")) << a->err();

  Portal via_b({"connect", "web", "--relay", b->ws, "--listen", "127.0.0.1:0"}, "listening ");
  Portal via_c({"connect", "web", "--relay", c->tcp, "--listen", "127.0.0.1:0"}, "listening ");
  ASSERT_NE(via_b.port(), 0) << via_b.out() << via_b.err();
  ASSERT_NE(via_c.port(), 0) << via_c.out() << via_c.err();

  std::vector<std::shared_ptr<Leg>> legs = {std::make_shared<Leg>(), std::make_shared<Leg>()};
  for (std::size_t i = 0; i < legs.size(); ++i) {
    transport::Uri at = *transport::parse_uri("tcp://127.0.0.1:0");
    at.port = i == 0 ? via_b.port() : via_c.port();
    asio::co_spawn(io_, connect_and_exchange(tcp_factory, at, total, legs[i]), asio::detached);
  }
  ASSERT_TRUE(finish(legs, far, 2, 180s)) << "connect via B:\n"
                                          << via_b.err() << "connect via C:\n"
                                          << via_c.err() << "expose:\n"
                                          << expose.err() << "B:\n"
                                          << b->err() << "A:\n"
                                          << a->err();
  for (const auto& l : legs) EXPECT_EQ(l->error, "");
  ASSERT_EQ(far->size(), 2u) << "connections that reached the service behind `portal expose`:\n"
                             << via_b.err() << via_c.err();
  expect_exchanged(*legs[0]->t, *(*far)[0], total);
  expect_exchanged(*legs[1]->t, *(*far)[1], total);
  EXPECT_TRUE(a->alive() && b->alive() && c->alive());
  exposed.service->close();
}

// Done when (2): a dial through B for a lease that exists on no relay is refused at once, on the
// wire (INVALID_IDENTITY: no unexpired lease has that ID) and by `portal connect`.
TEST_F(FleetForward, UnknownLeaseThroughBIsRefused) {
  auto a = relay("a", {"b"});
  auto b = relay("b", {"a"});
  ASSERT_TRUE(a->alive() && b->alive());
  const auto x = credential();
  auto got = std::make_shared<Transfers>();
  auto seen = holder(*a, x, 1024, got);
  ASSERT_TRUE(fleet_ready({"a", "b"}, x.id(), "a"));
  auto sb = session(b->ws);
  // The fleet forwards: a lease that does exist is reached through B.
  const auto known = dial(sb, x.id());
  ASSERT_EQ(known.code, ResponseCode::Accepted)
      << "a lease held on A is not reached through B: " << known.error << "\nB:\n"
      << b->err() << "A:\n"
      << a->err();

  const auto nobody = credential();
  const auto start = Clock::now();
  const auto refused = dial(sb, nobody.id());
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  EXPECT_EQ(refused.error, "") << b->err();
  EXPECT_EQ(refused.code, ResponseCode::InvalidIdentity)
      << "B answered " << wire::to_string(refused.code) << " for a lease that exists nowhere";
  EXPECT_LT(took, 5s) << "B took " << took.count() << " ms to refuse a lease that exists nowhere";
  EXPECT_EQ(*seen, 1) << "the holder on A saw a request for another lease";

  // The command line: the connection to connect's port is closed, with the reason on stderr.
  Portal cli({"connect", nobody.id(), "--relay", b->ws, "--listen", "127.0.0.1:0"}, "listening ");
  ASSERT_NE(cli.port(), 0) << cli.out() << cli.err();
  transport::Uri at = *transport::parse_uri("tcp://127.0.0.1:0");
  at.port = cli.port();
  auto leg = std::make_shared<Leg>();
  asio::co_spawn(io_, connect_and_exchange(tcp(), at, 1024, leg), asio::detached);
  const std::string reason = "cannot connect to '" + nobody.id() + "'";
  EXPECT_TRUE(within(15s, [&] { return leg->t->read_done; }))
      << "`portal connect` kept a connection to a lease that exists nowhere open 15 s";
  EXPECT_EQ(leg->t->received_bytes, 0u);
  EXPECT_TRUE(within(5s, [&] { return cli.err().find(reason) != std::string::npos; }))
      << "no '" << reason << "' on stderr:\n"
      << cli.err();
  EXPECT_TRUE(a->alive() && b->alive());
}

// Done when (3): relays that are not each other's peers do not forward. D lists A as a peer but
// A does not list D: D's dial is refused and never reaches the holder. E lists no peer at all
// (A lists E): E does not forward either. B, listed both ways, does.
TEST_F(FleetForward, RelayOutsideThePeerListCannotForward) {
  auto a = relay("a", {"b", "e"});
  auto b = relay("b", {"a"});
  auto d = relay("d", {"a"});
  auto e = relay("e", {});
  ASSERT_TRUE(a->alive() && b->alive() && d->alive() && e->alive());
  const auto x = credential();
  auto got = std::make_shared<Transfers>();
  auto seen = holder(*a, x, 1024, got);
  ASSERT_TRUE(fleet_ready({"a", "b", "d", "e"}, x.id(), "a"));

  const auto via_b = dial(session(b->tcp), x.id());
  ASSERT_EQ(via_b.code, ResponseCode::Accepted)
      << "B, a peer both ways, did not reach the lease on A: " << via_b.error << "\nB:\n"
      << b->err() << "A:\n"
      << a->err();
  ASSERT_TRUE(within(5s, [&] { return *seen == 1; }));

  for (auto* r : {d.get(), e.get()}) {
    const char* name = r == d.get() ? "D (A does not list it)" : "E (lists no peer)";
    SCOPED_TRACE(name);
    const auto start = Clock::now();
    const auto refused = dial(session(r->ws), x.id());
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
    EXPECT_EQ(refused.error, "") << r->err();
    // D knows where the lease is but cannot reach it; E does not look past itself.
    EXPECT_EQ(refused.code, r == d.get() ? ResponseCode::Rejected : ResponseCode::InvalidIdentity)
        << name << " answered " << wire::to_string(refused.code) << "\n"
        << r->err() << "A:\n"
        << a->err();
    EXPECT_LT(took, 5s) << name << " took " << took.count() << " ms to refuse";
    std::cout << "[ fleet    ] " << name << " answered " << wire::to_string(refused.code) << " in "
              << took.count() << " ms\n";
  }
  // Give a forwarded request time to arrive, were one let through.
  pump(500ms);
  EXPECT_EQ(*seen, 1) << "a relay A does not accept as a peer reached its lease holder:\nA:\n"
                      << a->err();
  EXPECT_GE(refusals(*a, "peer_not_allowed"), 1) << metrics(*a);
  // D holds no session to A that A refused.
  std::string md;
  EXPECT_TRUE(within(5s,
                     [&] {
                       md = metrics(*d);
                       return metric_value(md, "portal_peer_sessions{direction=\"out\"}") == 0;
                     }))
      << "D still counts a peer session A refused:\n"
      << md;
  std::cout << "[ fleet    ] D's peer dials: ok "
            << metric_value(md, "portal_peer_dials_total{result=\"ok\"}") << ", failed "
            << metric_value(md, "portal_peer_dials_total{result=\"failed\"}") << "\n";
  EXPECT_EQ(metric_value(metrics(*a), "portal_peer_sessions{direction=\"in\"}"), 1)
      << "A keeps a session from a relay it does not list:\n"
      << metrics(*a);
  EXPECT_TRUE(a->alive() && b->alive() && d->alive() && e->alive());
}

// Done when (4): relay A killed in the middle of a transfer through B. The dialer's stream ends
// in an error within seconds (no hang, no clean end of stream for a cut transfer); A's lease and
// membership leave the directory within three heartbeats; B answers a new dial at once.
TEST_F(FleetForward, KillingTheHoldersRelayMidTransferFailsTheDialer) {
  auto a = relay("a", {"b"});
  auto b = relay("b", {"a"});
  ASSERT_TRUE(a->alive() && b->alive());
  const auto x = credential();
  const std::size_t total = std::size_t{1} << 30;  // far more than moves before the kill
  auto got = std::make_shared<Transfers>();
  auto seen = holder(*a, x, total, got);
  ASSERT_TRUE(fleet_ready({"a", "b"}, x.id(), "a"));
  // A's record of the lease lives three heartbeats at most, so that it is gone three heartbeats
  // after A's last refresh (ADR 0015 §2).
  auto dir = open_directory();
  {
    const auto r = resolve(*dir, x.id());
    ASSERT_EQ(r.records.size(), 1u);
    EXPECT_LE(r.records[0].ttl_left, 3 * kHeartbeat)
        << "A publishes its lease record for " << r.records[0].ttl_left.count()
        << " ms, more than three heartbeats (" << (3 * kHeartbeat).count() << " ms)";
  }

  auto sb = session(b->ws);
  auto leg = std::make_shared<Leg>();
  asio::co_spawn(io_, dial_and_exchange(sb, x.id(), nullptr, total, leg), asio::detached);
  ASSERT_TRUE(within(30s, [&] { return leg->t->received_bytes >= (8u << 20) || leg->done(); }))
      << "8 MiB did not arrive through B within 30 s: " << wire::to_string(leg->code) << " "
      << leg->error << "\nB:\n"
      << b->err();
  ASSERT_FALSE(leg->done()) << "the transfer ended before A was killed: "
                            << wire::to_string(leg->code) << " " << leg->error << " "
                            << leg->t->read_error;

  const auto killed = Clock::now();
  a->child().signal(SIGKILL);
  ASSERT_NE(a->child().wait(5000), -1) << "relay A did not die";
  const auto failed = within(10s, [&] { return leg->done(); });
  ASSERT_TRUE(failed) << "the dialer through B still runs 10 s after A died (received "
                      << leg->t->received_bytes << " bytes)\nB:\n"
                      << b->err();
  std::cout << "[ fleet    ] dialer through B ended " << failed->count()
            << " ms after A was killed: '" << leg->t->read_error << "' after "
            << leg->t->received_bytes << " bytes\n";
  EXPECT_LT(leg->t->received_bytes, total);
  EXPECT_NE(leg->t->read_error, "")
      << "a transfer cut by the holder's relay dying looks like a clean end of stream";

  // Records live three heartbeats after their last refresh; 300 ms for polling and scheduling.
  const auto bound = 3 * kHeartbeat + 300ms;
  const auto left = [&] {
    return std::max(
        std::chrono::duration_cast<std::chrono::milliseconds>(bound - (Clock::now() - killed)),
        0ms);
  };
  DirectoryStatus last = DirectoryStatus::Ok;
  std::int64_t ttl_left = -1;
  EXPECT_TRUE(within(left(),
                     [&] {
                       auto r = resolve(*dir, x.id());
                       last = r.status;
                       if (!r.records.empty()) ttl_left = r.records[0].ttl_left.count();
                       return last == DirectoryStatus::NotFound;
                     }))
      << "the lease of dead relay A still resolves (" << lease::to_string(last) << ", " << ttl_left
      << " ms left) " << bound.count() << " ms after the kill";
  std::cout << "[ fleet    ] A's lease record gone "
            << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - killed).count()
            << " ms after the kill\n";
  std::vector<std::string> live;
  EXPECT_TRUE(within(left(),
                     [&] {
                       live = relays_of(members(*dir));
                       return live == std::vector<std::string>{relay_id("b")};
                     }))
      << "the directory lists " << live.size() << " relays " << bound.count()
      << " ms after A was killed, not B alone";

  const auto start = Clock::now();
  const auto after = dial(sb, x.id());
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  EXPECT_EQ(after.error, "") << b->err();
  EXPECT_NE(after.code, ResponseCode::Accepted);
  EXPECT_NE(after.code, ResponseCode::Unknown);
  EXPECT_LT(took, 5s) << "B took " << took.count() << " ms to answer a dial to A's lost lease";
  EXPECT_EQ(*seen, 1);
  std::string m;
  EXPECT_TRUE(within(5s,
                     [&] {
                       m = metrics(*b);
                       return metric_value(m, "portal_peer_sessions{direction=\"out\"}") == 0 &&
                              metric_value(m, "portal_forwarded_streams") == 0;
                     }))
      << "B still counts a peer session or a forwarded stream to the dead relay A:\n"
      << m;
  EXPECT_TRUE(b->alive());
}

// Done when (5): B's /metrics show its peer session to A (one, reused by both dials) and the
// streams it forwarded; A's show the session from B.
TEST_F(FleetForward, MetricsShowThePeerSessionAndForwardedStreams) {
  auto a = relay("a", {"b"});
  auto b = relay("b", {"a"});
  ASSERT_TRUE(a->alive() && b->alive());
  const auto x = credential();
  const std::size_t total = 1u << 20;
  auto far = std::make_shared<Transfers>();
  holder(*a, x, total, far);
  ASSERT_TRUE(fleet_ready({"a", "b"}, x.id(), "a"));
  {
    const auto m = metrics(*b);
    EXPECT_EQ(metric_value(m, "portal_peer_sessions{direction=\"out\"}"), 0) << m;
    EXPECT_EQ(metric_value(m, "portal_forwarded_streams_total"), 0) << m;
  }

  auto sb = session(b->tcp);
  std::vector<std::shared_ptr<Leg>> legs = {std::make_shared<Leg>(), std::make_shared<Leg>()};
  for (auto& l : legs) {
    asio::co_spawn(io_, dial_and_exchange(sb, x.id(), nullptr, total, l), asio::detached);
  }
  ASSERT_TRUE(finish(legs, far, 2, 30s)) << "B:\n" << b->err() << "A:\n" << a->err();
  for (const auto& l : legs) EXPECT_EQ(l->code, ResponseCode::Accepted) << l->error;
  ASSERT_EQ(far->size(), 2u);
  expect_exchanged(*legs[0]->t, *(*far)[0], total);
  expect_exchanged(*legs[1]->t, *(*far)[1], total);

  const auto mb = metrics(*b);
  EXPECT_EQ(metric_value(mb, "portal_peer_sessions{direction=\"out\"}"), 1) << mb;
  EXPECT_EQ(metric_value(mb, "portal_peer_dials_total{result=\"ok\"}"), 1)
      << "two forwarded dials to A, one peer session expected:\n"
      << mb;
  EXPECT_EQ(metric_value(mb, "portal_forwarded_streams_total"), 2) << mb;
  const std::string a_id = relay_id("a");
  EXPECT_EQ(metric_value(mb, "portal_forwarded_streams_by_peer_total{relay=\"" + a_id + "\"}"), 2)
      << mb;
  EXPECT_EQ(metric_value(mb, "portal_peer_session_open{relay=\"" + a_id + "\",direction=\"out\"}"),
            1)
      << mb;
  const auto ma = metrics(*a);
  EXPECT_EQ(metric_value(ma, "portal_peer_sessions{direction=\"in\"}"), 1) << ma;
  EXPECT_EQ(metric_value(
                ma, "portal_peer_session_open{relay=\"" + relay_id("b") + "\",direction=\"in\"}"),
            1)
      << ma;
  EXPECT_EQ(metric_value(ma, "portal_peer_dials_total{result=\"ok\"}"), 0) << ma;
  // The splices ended with the exchanges: none is counted as running.
  std::string m;
  EXPECT_TRUE(within(5s,
                     [&] {
                       m = metrics(*b);
                       return metric_value(m, "portal_forwarded_streams") == 0;
                     }))
      << "B still counts forwarded streams running after both ended:\n"
      << m;
}

// A holder that refuses: its REJECTED reaches the dialer on B unchanged.
TEST_F(FleetForward, HoldersRefusalReachesTheDialerOnB) {
  auto a = relay("a", {"b"});
  auto b = relay("b", {"a"});
  ASSERT_TRUE(a->alive() && b->alive());
  const auto x = credential();
  auto sa = session(a->ws);
  ASSERT_EQ(update(*sa, x, "web"), ResponseCode::Accepted) << a->err();
  auto seen = hold(sa, ResponseCode::Rejected, nullptr);
  ASSERT_TRUE(fleet_ready({"a", "b"}, x.id(), "a"));
  const auto refused = dial(session(b->ws), x.id());
  EXPECT_EQ(refused.error, "") << b->err();
  EXPECT_EQ(refused.code, ResponseCode::Rejected) << b->err() << "A:\n" << a->err();
  EXPECT_EQ(*seen, 1);
}

// Relay A killed and started again (same key, new ports): B drops its dead peer session, learns
// A's new address from the directory and forwards again.
TEST_F(FleetForward, BReachesARestartedAgain) {
  auto a = relay("a", {"b"});
  auto b = relay("b", {"a"});
  ASSERT_TRUE(a->alive() && b->alive());
  const auto x = credential();
  auto got = std::make_shared<Transfers>();
  holder(*a, x, 1024, got);
  ASSERT_TRUE(fleet_ready({"a", "b"}, x.id(), "a"));
  auto sb = session(b->ws);
  ASSERT_EQ(dial(sb, x.id()).code, ResponseCode::Accepted) << b->err();

  a->child().signal(SIGKILL);
  ASSERT_NE(a->child().wait(5000), -1) << "relay A did not die";
  a = relay("a", {"b"});
  ASSERT_TRUE(a->alive());
  auto got2 = std::make_shared<Transfers>();
  auto seen = holder(*a, x, 1024, got2);
  ASSERT_TRUE(fleet_ready({"a", "b"}, x.id(), "a"));
  Leg again;
  const auto took = within(10s, [&] {
    again = dial(sb, x.id());
    return again.code == ResponseCode::Accepted;
  });
  ASSERT_TRUE(took) << "B does not reach A 10 s after A restarted: " << wire::to_string(again.code)
                    << " " << again.error << "\nB:\n"
                    << b->err() << "A:\n"
                    << a->err();
  std::cout << "[ fleet    ] B reached the restarted A after " << took->count() << " ms\n";
  EXPECT_EQ(*seen, 1);
  EXPECT_EQ(metric_value(metrics(*b), "portal_peer_sessions{direction=\"out\"}"), 1) << metrics(*b);
}

// Relay A stopped (SIGSTOP: its sockets stay open, nothing answers): a dial through B is refused
// when B's forward_timeout_ms (2 s here) runs out, as for a local holder that does not answer.
TEST_F(FleetForward, DialThroughBToAPausedRelayIsRefusedAtTheForwardTimeout) {
  auto a = relay("a", {"b"});
  FleetRelayOptions ob;
  ob.peers = {"a"};
  ob.heartbeat = kHeartbeat;
  ob.limits = R"({"forward_timeout_ms": 2000})";
  auto b = FleetTest::relay("b", ob);
  ASSERT_TRUE(a->alive() && b->alive());
  const auto x = credential();
  auto got = std::make_shared<Transfers>();
  holder(*a, x, 1024, got);
  ASSERT_TRUE(fleet_ready({"a", "b"}, x.id(), "a"));
  auto sb = session(b->ws);
  ASSERT_EQ(dial(sb, x.id()).code, ResponseCode::Accepted) << b->err();

  a->child().signal(SIGSTOP);
  const auto start = Clock::now();
  const auto stalled = dial(sb, x.id());
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  a->child().signal(SIGCONT);
  std::cout << "[ fleet    ] dial through B to paused A: " << wire::to_string(stalled.code) << " "
            << stalled.error << " after " << took.count() << " ms\n";
  EXPECT_EQ(stalled.error, "") << "B did not answer a dial to a paused peer:\nB:\n" << b->err();
  EXPECT_EQ(stalled.code, ResponseCode::Rejected);
  EXPECT_LT(took, 4s) << "B answered " << took.count()
                      << " ms after the dial (forward timeout 2 s)";
  EXPECT_TRUE(b->alive());
}

// Redis down: B cannot resolve a lease it does not hold; the dial is refused with a reason at
// once (ADR 0015 §5), and works again once Redis is back and A has republished.
TEST_F(FleetForward, DialThroughBWithoutTheDirectoryIsRefused) {
  auto a = relay("a", {"b"});
  auto b = relay("b", {"a"});
  ASSERT_TRUE(a->alive() && b->alive());
  const auto x = credential();
  auto got = std::make_shared<Transfers>();
  holder(*a, x, 1024, got);
  ASSERT_TRUE(fleet_ready({"a", "b"}, x.id(), "a"));
  auto sb = session(b->ws);

  ASSERT_TRUE(stop_redis_until_degraded(*b)) << "B";
  const auto start = Clock::now();
  const auto refused = dial(sb, x.id());
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  EXPECT_EQ(refused.error, "") << b->err();
  EXPECT_NE(refused.code, ResponseCode::Accepted);
  EXPECT_NE(refused.code, ResponseCode::Unknown);
  EXPECT_LT(took, 3s) << "B took " << took.count() << " ms to refuse without a directory";
  std::cout << "[ fleet    ] without Redis, B answered " << wire::to_string(refused.code) << " in "
            << took.count() << " ms\n";

  ASSERT_TRUE(redis_.start()) << "redis-server did not restart on port " << redis_.port();
  Leg again;
  EXPECT_TRUE(within(10s,
                     [&] {
                       again = dial(sb, x.id());
                       return again.code == ResponseCode::Accepted;
                     }))
      << "B does not reach A's lease 10 s after Redis returned: " << wire::to_string(again.code)
      << "\nB:\n"
      << b->err();
}

// Sixteen dials through B at once, before B has a session to A: one peer session is dialed and
// every dial waits for it and is forwarded on it.
TEST_F(FleetForward, ConcurrentFirstDialsShareOnePeerSession) {
  auto a = relay("a", {"b"});
  auto b = relay("b", {"a"});
  ASSERT_TRUE(a->alive() && b->alive());
  const auto x = credential();
  const std::size_t total = 64u << 10;
  auto far = std::make_shared<Transfers>();
  holder(*a, x, total, far);
  ASSERT_TRUE(fleet_ready({"a", "b"}, x.id(), "a"));
  auto sb = session(b->ws);
  std::vector<std::shared_ptr<Leg>> legs;
  for (int i = 0; i < 16; ++i) {
    legs.push_back(std::make_shared<Leg>());
    asio::co_spawn(io_, dial_and_exchange(sb, x.id(), nullptr, total, legs.back()), asio::detached);
  }
  ASSERT_TRUE(finish(legs, far, legs.size(), 30s)) << "B:\n" << b->err() << "A:\n" << a->err();
  for (std::size_t i = 0; i < legs.size(); ++i) {
    EXPECT_EQ(legs[i]->code, ResponseCode::Accepted) << i << " " << legs[i]->error;
    expect_exchanged(*legs[i]->t, *(*far)[i], total);
  }
  const auto mb = metrics(*b);
  EXPECT_EQ(metric_value(mb, "portal_peer_dials_total{result=\"ok\"}"), 1) << mb;
  EXPECT_EQ(metric_value(mb, "portal_peer_dials_total{result=\"failed\"}"), 0) << mb;
  EXPECT_EQ(metric_value(mb, "portal_forwarded_streams_total"), 16) << mb;
  EXPECT_EQ(metric_value(metrics(*a), "portal_peer_sessions{direction=\"in\"}"), 1);
}

}  // namespace
}  // namespace portal::test
