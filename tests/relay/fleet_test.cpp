// SPDX-License-Identifier: Apache-2.0
// A relay fleet with real processes (ADR 0015): a real redis-server and real portal-relay
// processes sharing it as their directory (plugin portal.directory.redis), each relay with its
// own identity key. Fleet-wide name uniqueness and replay protection, a killed relay's records
// expiring, and a Redis outage and restart.

#include <csignal>

#include "portal/client/client.hpp"
#include "portal/client/resolve.hpp"
#include "portal/config/client_config.hpp"
#include "portal/directory/directory.hpp"
#include "portal/platform/key_file.hpp"
#include "portal/wire/control.hpp"
#include "relay/bulk.hpp"
#include "relay/fleet_harness.hpp"
#include "support/close_after.hpp"
#include "support/redis_server.hpp"
#include "support/temp_dir.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace portal::test {
namespace {

using base::Bytes;
using lease::DirectoryOp;
using lease::DirectoryReply;
using lease::DirectoryRequest;
using lease::DirectoryStatus;
using wire::ResponseCode;
using namespace std::chrono_literals;

constexpr auto kHeartbeat = 500ms;

// Writes `request` (one whole packet, length prefix included) on a new stream of `s`,
// half-closes, and reads until the relay ends the stream (5 s at most): the code of the first
// LeaseUpdateResponse, or nothing when none arrived. Named coroutine, arguments by value.
asio::awaitable<std::optional<ResponseCode>> send_raw(std::shared_ptr<mux::Session> s,
                                                      Bytes request) {
  auto st = co_await s->async_open();
  if (!st) co_return std::nullopt;
  std::shared_ptr<stream::ByteStream> stream(std::move(*st));
  auto timer = co_await test::close_after(stream, 5s);
  Bytes got;
  if (co_await stream->async_write(request)) {
    (void)co_await stream->async_shutdown_write();
    Bytes buf(4096);
    for (;;) {
      auto n = co_await stream->async_read_some(buf);
      if (!n || *n == 0) break;
      got.insert(got.end(), buf.begin(), buf.begin() + static_cast<long>(*n));
    }
  }
  timer->cancel();
  stream->close();
  if (got.size() < 4) co_return std::nullopt;
  const std::size_t n = base::load_be32(got.data());
  if (n > got.size() - 4) co_return std::nullopt;
  auto p = wire::decode_packet(base::ByteSpan(got).subspan(4, n));
  if (!p || p->type != wire::PacketType::LeaseUpdateResponse) co_return std::nullopt;
  auto code = wire::decode_response(p->payload);
  if (!code) co_return std::nullopt;
  co_return *code;
}

// A copy of `c` (a Credential is move-only).
identity::Credential credential_copy(const identity::Credential& c) {
  return *identity::Credential::from_seed(c.seed().span());
}

// Echoes every connection `l` accepts until it closes.
asio::awaitable<void> echo_all(std::shared_ptr<client::Listener> l) {
  for (;;) {
    auto s = co_await l->accept();
    if (!s) co_return;
    std::shared_ptr<stream::ByteStream> one(std::move(*s));
    asio::co_spawn(
        co_await asio::this_coro::executor,
        [](std::shared_ptr<stream::ByteStream> st) -> asio::awaitable<void> {
          Bytes buf(4096);
          for (;;) {
            auto n = co_await st->async_read_some(buf);
            if (!n || *n == 0) break;
            if (!co_await st->async_write(base::ByteSpan(buf.data(), *n))) break;
          }
          (void)co_await st->async_shutdown_write();
        }(one),
        asio::detached);
  }
}

// Writes `text` on `s`, half-closes and reads until the end: what came back.
asio::awaitable<std::string> echo_once(std::unique_ptr<stream::SecureStream> s, std::string text) {
  std::string got;
  if (!co_await s->async_write(
          base::ByteSpan(reinterpret_cast<const base::Byte*>(text.data()), text.size()))) {
    co_return got;
  }
  (void)co_await s->async_shutdown_write();
  Bytes buf(256);
  for (;;) {
    auto n = co_await s->async_read_some(buf);
    if (!n || *n == 0) break;
    got.append(reinterpret_cast<const char*>(buf.data()), *n);
  }
  co_return got;
}

// The fleet fixture (relay/fleet_harness.hpp) with these tests' relays: no peers, a placeholder
// peering URI each, a 500 ms heartbeat.
class Fleet : public FleetTest {
 protected:
  using FleetTest::relay;
  using FleetTest::relay_id;
  // A relay that forwards to the relays `peers` (by name) and is dialed at its first listener
  // (ws://).
  static FleetRelayOptions peering(std::vector<std::string> peers) {
    FleetRelayOptions o;
    o.peers = std::move(peers);
    o.heartbeat = kHeartbeat;
    return o;
  }
  std::unique_ptr<RelayProcess> relay(const std::string& name) {
    FleetRelayOptions o;
    o.peer_uri = "tcp://127.0.0.1:1/" + name;
    o.heartbeat = kHeartbeat;
    return FleetTest::relay(name, o);
  }
  // The relay's identity ID (its directory records are keyed by it), from its RelayInfo.
  std::string relay_id(mux::Session& s) {
    auto i = info(s);
    if (!i.identity) throw std::runtime_error("RelayInfo without the relay's identity");
    return i.identity->id;
  }

  // A signed LeaseUpdateRequest for `who` named `name`, as a raw v1 client would write it.
  static Bytes signed_update(const identity::Credential& who, const std::string& name) {
    wire::Lease lease;
    lease.name = name;
    lease.alpn = {"http/1.1"};
    lease.expires = base::unix_seconds(base::SystemClock::instance().system_now()) + 30;
    auto req =
        control::ClientRequest::lease_update(who, std::move(lease), base::OsRandom::instance(),
                                             base::SystemClock::instance().system_now());
    if (!req) throw std::runtime_error("lease_update: " + req.error().message());
    const auto out = req->pending_output();
    return {out.begin(), out.end()};
  }
};

// A name is unique in the fleet, case-folded: another identity cannot take "WEB" on B while X
// holds "web" on A; X itself may hold "web" on both.
TEST_F(Fleet, NameIsUniqueAcrossRelaysIgnoringCase) {
  auto a = relay("a");
  auto b = relay("b");
  ASSERT_TRUE(a->alive() && b->alive());
  auto sa = session(a->ws);
  auto sb = session(b->ws);
  const auto x = credential();
  const auto y = credential();

  ASSERT_EQ(update(*sa, x, "web"), ResponseCode::Accepted) << a->err();
  EXPECT_EQ(update(*sb, y, "WEB"), ResponseCode::Rejected)
      << "B accepted a name another identity holds on A:\n"
      << b->err();
  EXPECT_EQ(refusals(*b, "name_taken_ignoring_case"), 1) << metrics(*b);
  EXPECT_NE(b->err().find("name taken in the fleet"), std::string::npos) << b->err();

  EXPECT_EQ(update(*sb, x, "web"), ResponseCode::Accepted)
      << "the holder of a name must be able to hold it on several relays:\n"
      << b->err();
  // Both relays published X's lease.
  auto dir = open_directory();
  std::vector<std::string> both = {relay_id(*sa), relay_id(*sb)};
  std::sort(both.begin(), both.end());
  std::vector<std::string> seen;
  EXPECT_TRUE(within(5s,
                     [&] {
                       seen = relays_of(resolve(*dir, x.id()));
                       return seen == both;
                     }))
      << "Resolve(X) gave " << seen.size() << " holders, expected A and B";

  // X's connections end: both relays withdraw its lease at once. Names are not released (X may
  // still hold one on another relay): the claim lapses within three heartbeats, then Y may
  // take the name.
  sa->close();
  sb->close();
  DirectoryStatus status = DirectoryStatus::Ok;
  EXPECT_TRUE(within(2s,
                     [&] {
                       status = resolve(*dir, x.id()).status;
                       return status == DirectoryStatus::NotFound;
                     }))
      << "X's lease is still in the directory after its connections closed ("
      << lease::to_string(status) << ")";
  auto sy = session(b->tcp);
  const auto freed =
      within(3 * kHeartbeat + 1s, [&] { return update(*sy, y, "WEB") == ResponseCode::Accepted; });
  EXPECT_TRUE(freed) << "the name X gave up is still taken in the fleet "
                     << (3 * kHeartbeat + 1s).count() << " ms later:\n"
                     << b->err();
  if (freed) std::cout << "[ fleet    ] name free again after " << freed->count() << " ms\n";
  EXPECT_TRUE(a->alive() && b->alive());
}

// The exact bytes of a signed request A accepted are refused on B as a replay.
TEST_F(Fleet, ReplayedSignedRequestIsRefusedOnAnotherRelay) {
  auto a = relay("a");
  auto b = relay("b");
  ASSERT_TRUE(a->alive() && b->alive());
  auto sa = session(a->ws);
  auto sb = session(b->tcp);
  const auto x = credential();
  const Bytes captured = signed_update(x, "printer");

  auto first = run(send_raw(sa, captured), 15s);
  ASSERT_TRUE(first) << "no LeaseUpdateResponse from A:\n" << a->err();
  ASSERT_EQ(*first, ResponseCode::Accepted) << a->err();

  auto replayed = run(send_raw(sb, captured), 15s);
  ASSERT_TRUE(replayed) << "no LeaseUpdateResponse from B:\n" << b->err();
  EXPECT_EQ(*replayed, ResponseCode::Rejected) << "B accepted a replay of A's request";
  EXPECT_EQ(refusals(*b, "replayed"), 1) << metrics(*b);
  EXPECT_NE(b->err().find("replayed (nonce already seen in the fleet)"), std::string::npos)
      << b->err();
  EXPECT_TRUE(info(*sb).leases.empty()) << "B lists a lease it refused";
}

// A relay killed with SIGKILL withdraws nothing; its records expire within three heartbeats.
TEST_F(Fleet, KilledRelaysRecordsExpireWithinThreeHeartbeats) {
  auto a = relay("a");
  ASSERT_TRUE(a->alive());
  auto sa = session(a->ws);
  const std::string a_id = relay_id(*sa);
  const auto x = credential();
  ASSERT_EQ(update(*sa, x, "camera"), ResponseCode::Accepted) << a->err();

  auto dir = open_directory();
  auto before = resolve(*dir, x.id());
  ASSERT_EQ(before.status, DirectoryStatus::Ok) << "X's lease on A is not in the directory";
  ASSERT_EQ(relays_of(before), std::vector<std::string>{a_id});
  EXPECT_FALSE(before.records[0].value.empty());
  auto m = members(*dir);
  ASSERT_EQ(m.status, DirectoryStatus::Ok);
  EXPECT_EQ(relays_of(m), std::vector<std::string>{a_id});

  const auto killed = Clock::now();
  a->child().signal(SIGKILL);
  ASSERT_NE(a->child().wait(5000), -1) << "relay A did not die";
  // Three heartbeats after its last write at the latest; 500 ms for polling and scheduling.
  const auto bound = 3 * kHeartbeat + 500ms;
  DirectoryStatus last = DirectoryStatus::Ok;
  auto took = within(bound, [&] {
    last = resolve(*dir, x.id()).status;
    return last == DirectoryStatus::NotFound;
  });
  ASSERT_TRUE(took) << "X's lease record of the dead relay A still resolves ("
                    << lease::to_string(last) << ") " << bound.count() << " ms after the kill";
  std::cout << "[ fleet    ] A's record gone " << took->count() << " ms after the kill\n";
  const auto left = std::max(
      std::chrono::duration_cast<std::chrono::milliseconds>(bound - (Clock::now() - killed)), 0ms);
  auto gone = within(left, [&] {
    auto r = members(*dir);
    return r.status == DirectoryStatus::NotFound || r.records.empty();
  });
  EXPECT_TRUE(gone) << "the dead relay A is still a member " << bound.count()
                    << " ms after the kill";
}

// Redis down: B says degraded, refuses new leases, keeps renewing the ones it holds on the same
// connection. Redis back (empty, same port): B recovers, accepts again and republishes.
TEST_F(Fleet, RedisOutageThenRestart) {
  auto b = relay("b");
  ASSERT_TRUE(b->alive());
  auto sb = session(b->ws);
  const std::string b_id = relay_id(*sb);
  const auto x = credential();
  ASSERT_EQ(update(*sb, x, "web"), ResponseCode::Accepted) << b->err();
  EXPECT_NE(healthz(*b).find("\"ok\""), std::string::npos);
  {
    const auto m = metrics(*b);
    EXPECT_EQ(metric_value(m, "portal_directory_available"), 1) << m;
    EXPECT_EQ(metric_value(m, "portal_directory_connected"), 1) << m;
    // At least the lease's own claim (the heartbeat's refreshes may have added more).
    EXPECT_GE(metric_value(m, "portal_directory_replies_total{op=\"claim_name\",status=\"ok\"}"), 1)
        << m;
    EXPECT_NE(m.find("portal_directory_latency_seconds "), std::string::npos) << m;
  }
  auto dir = open_directory();
  ASSERT_EQ(relays_of(resolve(*dir, x.id())), std::vector<std::string>{b_id});

  std::chrono::milliseconds noticed{0};
  ASSERT_TRUE(stop_redis_until_degraded(*b, &noticed)) << "B";
  std::string health;
  std::cout << "[ fleet    ] B degraded " << noticed.count() << " ms after Redis died\n";
  const auto m = metrics(*b);
  EXPECT_EQ(metric_value(m, "portal_directory_available"), 0) << m;
  // A 200 all the same: an orchestrator must not restart the relay for a directory outage.
  const auto code = curl(b->http + "/healthz", {"-o", "/dev/null", "-w", "%{http_code}"});
  EXPECT_EQ(code, "200");

  const auto y = credential();
  auto sy = session(b->tcp);
  EXPECT_EQ(update(*sy, y, "mail"), ResponseCode::Rejected) << "a new lease without Redis";
  EXPECT_EQ(refusals(*b, "directory_unavailable"), 1) << metrics(*b);
  // X renews on the connection that holds the lease, with the same name: accepted.
  EXPECT_EQ(update(*sb, x, "web"), ResponseCode::Accepted) << b->err();
  // A rename is not a renewal.
  EXPECT_EQ(update(*sb, x, "web2"), ResponseCode::Rejected);
  EXPECT_EQ(refusals(*b, "directory_unavailable"), 2) << metrics(*b);
  EXPECT_EQ(info(*sb).leases.size(), 1u);

  ASSERT_TRUE(redis_.start()) << "redis-server did not restart on port " << redis_.port();
  // Reconnect (reconnect_ms 50) and the next heartbeat: well within 5 s.
  auto back = within(5s, [&] {
    health = healthz(*b);
    return health.find("\"ok\"") != std::string::npos;
  });
  ASSERT_TRUE(back) << "B's /healthz still says " << health << " 5 s after Redis returned";
  std::cout << "[ fleet    ] B ok again " << back->count() << " ms after Redis returned\n";
  EXPECT_EQ(metric_value(metrics(*b), "portal_directory_available"), 1);

  // The restarted Redis is empty: B republishes X's lease and its name claim by itself, within
  // a few heartbeats (records are refreshed once older than half their TTL).
  DirectoryReply by_id;
  auto republished = within(4 * kHeartbeat, [&] {
    by_id = resolve(*dir, x.id());
    return relays_of(by_id) == std::vector<std::string>{b_id};
  });
  EXPECT_TRUE(republished) << "X's lease on B is not back in the directory "
                           << (4 * kHeartbeat).count() << " ms after B saw Redis again ("
                           << lease::to_string(by_id.status) << ")";
  if (republished) {
    std::cout << "[ fleet    ] republished " << republished->count() << " ms after ok\n";
  }
  auto claimed = within(4 * kHeartbeat, [&] {
    auto r = resolve(*dir, "web", true);
    return r.status == DirectoryStatus::Ok && r.records.size() == 1 && r.records[0].key == x.id();
  });
  EXPECT_TRUE(claimed) << "B did not reclaim X's name 'web' after Redis returned";

  EXPECT_EQ(update(*sy, y, "mail"), ResponseCode::Accepted) << b->err();
  EXPECT_TRUE(b->alive());
}

// A renewal B accepted on its local replay cache alone while Redis was down is still a replay
// elsewhere once Redis is back: B records its nonce in the directory when it returns.
TEST_F(Fleet, RenewalAcceptedDuringOutageCannotBeReplayedAfterwards) {
  auto a = relay("a");
  auto b = relay("b");
  ASSERT_TRUE(a->alive() && b->alive());
  auto sa = session(a->ws);
  auto sb = session(b->ws);
  const auto x = credential();
  auto first = run(send_raw(sb, signed_update(x, "web")), 15s);
  ASSERT_TRUE(first && *first == ResponseCode::Accepted) << b->err();

  ASSERT_TRUE(stop_redis_until_degraded(*b)) << "B";
  std::string health;
  // The renewal, on the connection that holds the lease: accepted without the directory.
  const Bytes renewal = signed_update(x, "web");
  auto renewed = run(send_raw(sb, renewal), 15s);
  ASSERT_TRUE(renewed && *renewed == ResponseCode::Accepted) << b->err();

  ASSERT_TRUE(redis_.start()) << "redis-server did not restart on port " << redis_.port();
  for (auto* r : {a.get(), b.get()}) {
    ASSERT_TRUE(within(5s,
                       [&] {
                         health = healthz(*r);
                         return health.find("\"ok\"") != std::string::npos;
                       }))
        << "a relay's /healthz still says " << health << " 5 s after Redis returned";
  }
  // Two heartbeats for B to catch up; still well inside the request's clock window (30 s).
  pump(2 * kHeartbeat);
  auto replayed = run(send_raw(sa, renewal), 15s);
  ASSERT_TRUE(replayed) << "no LeaseUpdateResponse from A:\n" << a->err();
  EXPECT_EQ(*replayed, ResponseCode::Rejected)
      << "A accepted a replay of the renewal B accepted while Redis was down";
  EXPECT_EQ(refusals(*a, "replayed"), 1) << metrics(*a);
}

// A dialer on relay B reaches a lease held on relay A (ADR 0015 §4): B resolves it in the
// directory, opens an authenticated peer session to A, forwards the request and splices; bulk
// data crosses both relays unchanged. A relay that is not on A's allow-list cannot.
TEST_F(Fleet, DialOnOneRelayReachesLeaseHeldOnAnother) {
  auto a = relay("a", peering({"b"}));
  auto b = relay("b", peering({"a"}));
  auto c = relay("c", peering({"a"}));  // A does not list C
  ASSERT_TRUE(a->alive() && b->alive() && c->alive()) << a->err() << b->err() << c->err();
  auto holder = session(a->tcp);
  auto me = credential();
  ASSERT_EQ(update(*holder, me, "across"), ResponseCode::Accepted);
  const std::size_t total = std::size_t{16} << 20;
  auto at_holder = std::make_shared<Transfer>();
  at_holder->peer_seed = 1;
  hold(holder, ResponseCode::Accepted,
       [total, at_holder](std::unique_ptr<stream::ByteStream> s) -> asio::awaitable<void> {
         co_await exchange(std::shared_ptr<stream::ByteStream>(std::move(s)), 2, total, at_holder);
       });
  // B learns A's peering address from the membership its heartbeat reads.
  pump(kHeartbeat * 3);
  auto dialer = session(b->tcp);
  auto dialed = run(client::request_connection(*dialer, me.id()), 20s);
  ASSERT_TRUE(dialed) << dialed.error().message();
  ASSERT_EQ(dialed->code, ResponseCode::Accepted) << b->err() << a->err();
  ASSERT_TRUE(dialed->stream);
  auto at_dialer = std::make_shared<Transfer>();
  at_dialer->peer_seed = 2;
  std::shared_ptr<stream::ByteStream> s(std::move(dialed->stream));
  asio::co_spawn(io_, exchange(s, 1, total, at_dialer), asio::detached);
  const auto deadline = Clock::now() + 120s;
  while (!(at_dialer->read_done && at_holder->read_done) && Clock::now() < deadline) pump(50ms);
  ASSERT_TRUE(at_dialer->read_done && at_holder->read_done) << "transfer did not end in 120 s";
  expect_exchanged(*at_holder, *at_dialer, total);
  const auto a_id = relay_id("a");
  const auto mb = metrics(*b);
  EXPECT_EQ(metric_value(mb, "portal_peer_sessions{direction=\"out\"}"), 1) << mb;
  EXPECT_EQ(metric_value(mb, "portal_forwarded_streams_total"), 1) << mb;
  EXPECT_EQ(metric_value(mb, "portal_forwarded_streams_by_peer_total{relay=\"" + a_id + "\"}"), 1);
  EXPECT_EQ(metric_value(mb, "portal_peer_session_open{relay=\"" + a_id + "\",direction=\"out\"}"),
            1);
  EXPECT_EQ(metric_value(metrics(*a), "portal_peer_sessions{direction=\"in\"}"), 1);

  // C lists A, but A does not list C: A refuses C's peer session, and C's dialer is refused.
  auto dialer_c = session(c->tcp);
  auto refused = run(client::request_connection(*dialer_c, me.id()), 20s);
  ASSERT_TRUE(refused) << refused.error().message();
  EXPECT_EQ(refused->code, ResponseCode::Rejected);
  EXPECT_GE(refusals(*a, "peer_not_allowed"), 1);
  // A lease that exists nowhere: INVALID_IDENTITY from B, at once.
  auto nobody = credential();
  auto none = run(client::request_connection(*dialer, nobody.id()), 20s);
  ASSERT_TRUE(none) << none.error().message();
  EXPECT_EQ(none->code, ResponseCode::InvalidIdentity);
}

// Peering without a directory is a configuration error, named by its key.
TEST_F(Fleet, PeersNeedADirectory) {
  std::ofstream(dir_ / "peers.json")
      << R"({"fleet": {"peers": [")" << credential().id() << R"("]}})";
  const auto r =
      run_process({bin_path("portal-relay"), "--listen", "tcp://127.0.0.1:0", "--plugin-dir",
                   PORTAL_BUILD_PLUGIN_DIR, "--check-config", (dir_ / "peers.json").string()});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE((r.out + r.err).find("fleet.peers: needs a directory"), std::string::npos)
      << r.out << r.err;
}

// With peers configured a relay reads the first bytes of each connection to tell a peer from a
// client: a connection that starts like the peer magic and stops is closed at the first-frame
// timeout, one with a wrong magic at once, and a relay that is not a peer gets nothing.
TEST_F(Fleet, FirstBytesAreBoundedWhenPeering) {
  auto o = peering({"stranger"});  // a peer that never starts
  o.limits = R"({"first_frame_timeout_ms": 500})";
  auto relay_a = relay("a", o);
  RelayProcess& a = *relay_a;
  ASSERT_TRUE(a.alive()) << a.err();
  const auto port = transport::parse_uri(a.tcp)->port;
  const auto closed_after =
      [&](const std::string& first) -> std::optional<std::chrono::milliseconds> {
    asio::io_context io;
    asio::ip::tcp::socket sock(io);
    sock.connect({asio::ip::make_address("127.0.0.1"), port});
    asio::write(sock, asio::buffer(first));
    const auto start = Clock::now();
    char buf[64];
    boost::system::error_code ec;
    sock.read_some(asio::buffer(buf), ec);  // the relay sends nothing before closing
    if (!ec) return std::nullopt;
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  };
  const auto stalled = closed_after("PORT");
  ASSERT_TRUE(stalled.has_value());
  EXPECT_GE(stalled->count(), 400);
  EXPECT_LT(stalled->count(), 5000);
  const auto wrong = closed_after("PORTAL-PEER/2\n");
  ASSERT_TRUE(wrong.has_value());
  EXPECT_LT(wrong->count(), 400);
  EXPECT_TRUE(a.alive());
  // A client is still served.
  auto s = session(a.tcp);
  EXPECT_TRUE(info(*s).identity.has_value());
}

// ADR 0016: B's RelayInfo does not list a lease held on A, but B answers a lookup for it through
// the directory (the record verified on B), by name in any case and by ID; the SDK, connected to
// B only, finds it there.
TEST_F(Fleet, ALeaseHeldOnAnotherRelayIsFoundByLookupAndDialed) {
  auto a = relay("a", peering({"b"}));
  auto b = relay("b", peering({"a"}));
  ASSERT_TRUE(a->alive() && b->alive()) << a->err() << b->err();
  auto sb = session(b->tcp);

  // The lease holder: the SDK on A, echoing every connection.
  config::ClientConfig cfg;
  cfg.plugin_dirs = {PORTAL_BUILD_PLUGIN_DIR};
  std::string error;
  auto stack = client::assemble(cfg, error);
  ASSERT_TRUE(stack) << error;
  const auto x = credential();
  const std::string x_id = x.id();
  client::Options on_a;
  on_a.relays = {a->ws};
  std::string detail;
  auto holder = run(
      client::Client::connect(io_.get_executor(), credential_copy(x), stack, on_a, &detail), 15s);
  ASSERT_TRUE(holder) << holder.error().message() << " " << detail;
  auto listener = run((*holder)->listen("Lookup-App", {"test/1"}), 15s);
  ASSERT_TRUE(listener) << listener.error().message();
  asio::co_spawn(io_, echo_all(*listener), asio::detached);

  const auto listed = info(*sb);
  EXPECT_TRUE(listed.leases.empty());
  EXPECT_TRUE(client::supports_lookup(listed));

  // The record is published right after the answer: poll for it.
  const auto lookup = [&](const std::string& target) {
    auto r = run(client::lease_lookup(*sb, target, 5s), 15s);
    if (!r) throw std::runtime_error("lease lookup: " + r.error().message());
    return *r;
  };
  wire::LeaseLookupResponse got;
  EXPECT_TRUE(within(5s,
                     [&] {
                       got = lookup("lookup-APP");
                       return got.code == ResponseCode::Accepted;
                     }))
      << "B did not find A's lease: " << wire::to_string(got.code) << "\n"
      << b->err();
  ASSERT_EQ(got.leases.size(), 1u);
  ASSERT_TRUE(got.leases[0].identity);
  EXPECT_EQ(got.leases[0].identity->id, x_id);
  EXPECT_EQ(got.leases[0].name, "Lookup-App");
  std::string lower = x_id;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  const auto by_id = lookup(lower);
  EXPECT_EQ(by_id.code, ResponseCode::Accepted);
  EXPECT_EQ(by_id.leases, got.leases);
  EXPECT_EQ(lookup("nobody-here").code, ResponseCode::InvalidIdentity);
  EXPECT_EQ(
      metric_value(metrics(*b), "portal_requests_total{type=\"lease_lookup\",result=\"accepted\"}"),
      2)
      << metrics(*b);
  EXPECT_LE(refusals(*b, "unverified_record"), 0) << metrics(*b);  // absent or zero

  // The SDK connected to B only: RelayInfo does not list the lease, the lookup does, and B
  // forwards the dial to A.
  client::Options on_b;
  on_b.relays = {b->ws};
  auto c =
      run(client::Client::connect(io_.get_executor(), credential(), stack, on_b, &detail), 15s);
  ASSERT_TRUE(c) << c.error().message() << " " << detail;
  auto found = run((*c)->lookup("LOOKUP-app"), 15s);
  ASSERT_TRUE(found) << found.error().message();
  EXPECT_EQ(found->relay, b->ws);
  ASSERT_TRUE(found->lease.identity);
  EXPECT_EQ(found->lease.identity->id, x_id);
  auto dialed = run((*c)->dial("LOOKUP-app", "test/1", &detail), 20s);
  ASSERT_TRUE(dialed) << dialed.error().message() << " " << detail << b->err();
  const std::string hello = "through two relays";
  auto echoed = run(echo_once(std::move(*dialed), hello), 15s);
  EXPECT_EQ(echoed, hello);
  EXPECT_EQ(metric_value(metrics(*b), "portal_forwarded_streams_total"), 1);
  for (auto* cl : {&*c, &*holder}) {
    (void)run(
        [](std::shared_ptr<client::Client> one) -> asio::awaitable<bool> {
          co_await one->close();
          co_return true;
        }(*cl),
        15s);
  }
  EXPECT_TRUE(a->alive() && b->alive());
}

}  // namespace
}  // namespace portal::test
