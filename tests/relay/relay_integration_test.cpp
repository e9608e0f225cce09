// SPDX-License-Identifier: Apache-2.0
// The real portal-relay binary, driven by the framework's client control core over the real ws
// and tcp transports and yamux: leases, connections, the splice, every limit and refusal, the
// section 13.1 inputs, HTTP and shutdown.

#include <csignal>

#include "portal/crypto/sha256.hpp"
#include "portal/handshake/messages.hpp"
#include "relay/bulk.hpp"
#include "relay/relay_harness.hpp"

#include <sys/resource.h>
#include <sys/stat.h>

#include <boost/asio/ip/tcp.hpp>
#include <fstream>
#include <sstream>
#include <thread>
#include "support/close_after.hpp"
#include "support/pki.hpp"
#include "support/scale.hpp"
#include "support/temp_dir.hpp"

namespace portal::test {
namespace {

using base::Bytes;
using wire::ResponseCode;
using namespace std::chrono_literals;

// --- raw control exchanges -------------------------------------------------------------------

struct RawAnswer {
  Bytes bytes;         ///< everything the relay sent before the stream ended
  bool error = false;  ///< the stream ended with an error (reset) rather than EOF
};

// Writes `request` on a new stream, half-closes, and reads until the stream ends (5 s at most).
asio::awaitable<RawAnswer> raw(mux::Session& s, Bytes request, bool half_close = true) {
  RawAnswer out;
  auto st = co_await s.async_open();
  if (!st) {
    out.error = true;
    co_return out;
  }
  std::shared_ptr<stream::ByteStream> stream(std::move(*st));
  auto timer = co_await test::close_after(stream, 5s);
  if (!co_await stream->async_write(request)) out.error = true;
  if (half_close) (void)co_await stream->async_shutdown_write();
  Bytes buf(4096);
  for (;;) {
    auto n = co_await stream->async_read_some(buf);
    if (!n) {
      out.error = true;
      break;
    }
    if (*n == 0) break;
    out.bytes.insert(out.bytes.end(), buf.begin(), buf.begin() + static_cast<long>(*n));
  }
  timer->cancel();
  stream->close();
  co_return out;
}

// The answers in `bytes`: (packet type, code) per packet; code Unknown for RelayInfo.
std::vector<std::pair<wire::PacketType, ResponseCode>> answers(const Bytes& bytes) {
  std::vector<std::pair<wire::PacketType, ResponseCode>> out;
  std::size_t pos = 0;
  while (pos + 4 <= bytes.size()) {
    const std::size_t n = base::load_be32(bytes.data() + pos);
    if (pos + 4 + n > bytes.size()) break;
    auto p = wire::decode_packet(base::ByteSpan(bytes).subspan(pos + 4, n));
    if (!p) break;
    ResponseCode code = ResponseCode::Unknown;
    if (p->type != wire::PacketType::RelayInfoResponse) {
      auto c = wire::decode_response(p->payload);
      if (c) code = *c;
    }
    out.emplace_back(p->type, code);
    pos += 4 + n;
  }
  return out;
}

Bytes packet(wire::PacketType type, Bytes payload) {
  return wire::encode_packet_wire(wire::Packet{type, std::move(payload)});
}

Bytes concat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// --- fixtures ------------------------------------------------------------------------------

class RelayIntegration : public RelayClientTest {};

class RelayIntegrationBothTransports : public RelayClientTest,
                                       public ::testing::WithParamInterface<const char*> {};

// Register, renew, resolve by name, delete, over ws:// and over tcp://.
TEST_P(RelayIntegrationBothTransports, LeaseLifecycle) {
  RelayProcess relay;
  const std::string uri = std::string(GetParam()) == "ws" ? relay.ws : relay.tcp;
  auto s = session(uri);
  auto me = credential();
  EXPECT_EQ(update(*s, me, "Printer-2"), ResponseCode::Accepted);
  auto i = info(*s);
  ASSERT_EQ(i.leases.size(), 1u);
  EXPECT_EQ(i.leases[0].identity->id, me.id());
  EXPECT_EQ(i.leases[0].name, "Printer-2");
  EXPECT_EQ(i.leases[0].alpn, std::vector<std::string>{"http/1.1"});
  ASSERT_TRUE(i.identity);
  EXPECT_TRUE(identity::validate(*i.identity));

  // Renewal, with a new name and ALPN list: the entry is replaced.
  EXPECT_EQ(update(*s, me, "printer-3", {"h2", "http/1.1"}), ResponseCode::Accepted);
  i = info(*s);
  ASSERT_EQ(i.leases.size(), 1u);
  EXPECT_EQ(i.leases[0].name, "printer-3");

  // Resolution by name (§6.8: clients resolve, case-insensitively) from another connection.
  auto other = session(relay.ws);
  bool found = false;
  for (const auto& l : info(*other).leases) {
    if (l.name == "printer-3" && l.identity && l.identity->id == me.id()) found = true;
  }
  EXPECT_TRUE(found);

  auto del =
      run(client::delete_lease(*s, me, base::OsRandom::instance(), base::SystemClock::instance()));
  ASSERT_TRUE(del);
  EXPECT_EQ(*del, ResponseCode::Accepted);
  EXPECT_TRUE(info(*s).leases.empty());
  del =
      run(client::delete_lease(*s, me, base::OsRandom::instance(), base::SystemClock::instance()));
  ASSERT_TRUE(del);
  EXPECT_EQ(*del, ResponseCode::InvalidIdentity);
  EXPECT_TRUE(relay.alive());
}

INSTANTIATE_TEST_SUITE_P(Transports, RelayIntegrationBothTransports,
                         ::testing::Values("ws", "tcp"));

// A connection request is forwarded and spliced; 256 MiB each way (scaled) with checksums.
// identity_key_file: created (0600) at the first start, the same identity at the next; a check
// leaves a missing file alone; a file that others can read is refused.
TEST(RelayIdentityFile, CreatedAtFirstStartThenKeptAndNeverLoosened) {
  TempDir dir;
  const auto key = dir / "relay.key";
  const std::string config = R"({"identity_key_file": ")" + key.string() + R"("})";
  const auto cfg = dir / "relay.json";
  std::ofstream(cfg) << config;
  const auto check = run_process({bin_path("portal-relay"), "--check-config", cfg.string(),
                                  "--plugin-dir", PORTAL_BUILD_PLUGIN_DIR});
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
  EXPECT_FALSE(std::filesystem::exists(key)) << "a config check must not create the key";

  auto id_in = [](const std::string& log, const std::string& word) {
    const auto at = log.find("identity ");
    if (at == std::string::npos || log.find(word, at) == std::string::npos) return std::string();
    return log.substr(at + 9, 26);
  };
  std::string first;
  {
    RelayProcess relay(config);
    ASSERT_TRUE(relay.alive()) << relay.err();
    first = id_in(relay.err(), "created in " + key.string());
    ASSERT_EQ(first.size(), 26u) << relay.err();
  }
  struct stat st {};
  ASSERT_EQ(::stat(key.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  {
    RelayProcess relay(config);
    ASSERT_TRUE(relay.alive()) << relay.err();
    EXPECT_EQ(id_in(relay.err(), "from " + key.string()), first) << relay.err();
  }
  ASSERT_EQ(::chmod(key.c_str(), 0644), 0);
  const auto refused =
      run_process({bin_path("portal-relay"), "--config", cfg.string(), "--listen",
                   "ws://127.0.0.1:0/relay", "--plugin-dir", PORTAL_BUILD_PLUGIN_DIR});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("identity_key_file: " + key.string()), std::string::npos)
      << refused.err;
  ::stat(key.c_str(), &st);
  EXPECT_EQ(st.st_mode & 0777, 0644u) << "the relay must not touch a key it refuses";
}

TEST_F(RelayIntegration, SplicesBulkDataBothWaysWithChecksums) {
  RelayProcess relay;
  auto holder = session(relay.ws);
  auto dialer = session(relay.tcp);
  auto me = credential();
  ASSERT_EQ(update(*holder, me, "bulk"), ResponseCode::Accepted);
  const std::size_t total = scaled(std::size_t{256} << 20, 1 << 20);
  auto at_holder = std::make_shared<Transfer>();
  at_holder->peer_seed = 1;
  hold(holder, ResponseCode::Accepted,
       [total, at_holder](std::unique_ptr<stream::ByteStream> s) -> asio::awaitable<void> {
         co_await exchange(std::shared_ptr<stream::ByteStream>(std::move(s)), 2, total, at_holder);
       });
  auto dialed = run(client::request_connection(*dialer, me.id()));
  ASSERT_TRUE(dialed) << dialed.error().message();
  ASSERT_EQ(dialed->code, ResponseCode::Accepted);
  ASSERT_TRUE(dialed->stream);
  auto at_dialer = std::make_shared<Transfer>();
  at_dialer->peer_seed = 2;
  std::shared_ptr<stream::ByteStream> s(std::move(dialed->stream));
  asio::co_spawn(io_, exchange(s, 1, total, at_dialer), asio::detached);
  const auto deadline = std::chrono::steady_clock::now() + 600s;
  while (!(at_dialer->read_done && at_holder->read_done) &&
         std::chrono::steady_clock::now() < deadline) {
    pump(50ms);
  }
  ASSERT_TRUE(at_dialer->read_done && at_holder->read_done);
  expect_exchanged(*at_holder, *at_dialer, total);
  EXPECT_NE(at_dialer->sent, at_holder->sent);
  // The relay counted every spliced byte, per direction.
  const auto metrics =
      run_process({"/usr/bin/curl", "-sS", "--max-time", "10", relay.http + "/metrics"}).out;
  EXPECT_NE(metrics.find("portal_relayed_bytes_total{direction=\"to_holder\"} " +
                         std::to_string(total) + "\n"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("portal_relayed_bytes_total{direction=\"to_dialer\"} " +
                         std::to_string(total) + "\n"),
            std::string::npos)
      << metrics;
}

// noindex: /robots.txt disallows everything and every answer carries X-Robots-Tag; without it,
// neither.
TEST_F(RelayIntegration, NoindexAsksRobotsToStayAway) {
  RelayProcess on(R"({"noindex": true})");
  EXPECT_EQ(curl(on.http + "/robots.txt"), "User-agent: *\nDisallow: /\n");
  for (const char* path : {"/", "/healthz", "/api/relay", "/robots.txt"}) {
    const auto head = curl(on.http + path, {"-sS", "-o", "/dev/null", "-D", "-"});
    EXPECT_NE(head.find("X-Robots-Tag: noindex, nofollow"), std::string::npos) << path << head;
  }
  RelayProcess off;
  EXPECT_EQ(curl(off.http + "/", {"-sS", "-o", "/dev/null", "-D", "-"}).find("X-Robots-Tag"),
            std::string::npos);
  EXPECT_EQ(curl(off.http + "/robots.txt", {"-sS", "-o", "/dev/null", "-w", "%{http_code}"}),
            "404");
}

// access.mode "allowlist" (ADR 0017): an allow-listed identity registers and is dialed; another
// is refused, and the refusal is counted.
TEST_F(RelayIntegration, AnAllowlistAdmitsOnlyListedIdentities) {
  const auto listed = credential();
  const auto stranger = credential();
  RelayProcess relay(R"({"access": {"mode": "allowlist", "allowed_ids": [")" + listed.id() +
                     R"("]}})");
  auto s = session(relay.tcp);
  EXPECT_EQ(update(*s, listed, "listed"), ResponseCode::Accepted);
  EXPECT_EQ(update(*s, stranger, "stranger"), ResponseCode::Rejected);
  const auto m = curl(relay.http + "/metrics");
  EXPECT_EQ(metric_value(m, "portal_refusals_total{limit=\"not_allowed\"}"), 1) << m;
  const auto names = info(*s).leases;
  ASSERT_EQ(names.size(), 1u);
  EXPECT_EQ(names[0].name, "listed");
}

TEST_F(RelayIntegration, ConnectionRefusals) {
  RelayProcess relay(R"({"limits": {"forward_timeout_ms": 300}})");
  auto dialer = session(relay.tcp);
  auto nobody = credential();
  // Unknown lease: INVALID_IDENTITY.
  auto d = run(client::request_connection(*dialer, nobody.id()));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->code, ResponseCode::InvalidIdentity);

  // The holder refuses: its code is relayed.
  auto refusing = session(relay.ws);
  auto a = credential();
  ASSERT_EQ(update(*refusing, a, "refusing"), ResponseCode::Accepted);
  auto seen = hold(refusing, ResponseCode::Rejected, nullptr);
  d = run(client::request_connection(*dialer, a.id()));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->code, ResponseCode::Rejected);
  EXPECT_EQ(*seen, 1);

  // The holder never answers: REJECTED once the forward timeout passes.
  auto silent = session(relay.ws);
  auto b = credential();
  ASSERT_EQ(update(*silent, b, "silent"), ResponseCode::Accepted);
  std::vector<std::unique_ptr<stream::ByteStream>> parked;
  asio::co_spawn(
      io_,
      [silent, &parked]() -> asio::awaitable<void> {
        auto st = co_await silent->async_accept();
        if (st) parked.push_back(std::move(*st));  // read nothing, answer nothing
      },
      asio::detached);
  d = run(client::request_connection(*dialer, b.id()));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->code, ResponseCode::Rejected);
  EXPECT_TRUE(relay.alive());
}

TEST_F(RelayIntegration, SignedRequestChecks) {
  RelayProcess relay;
  auto s = session(relay.tcp);
  auto me = credential();
  const auto now = base::SystemClock::instance().system_now();
  wire::Lease lease;
  lease.name = "signed";
  lease.alpn = {"http/1.1"};
  lease.expires = base::unix_seconds(now) + 30;

  // Outside the ±30 s window: REJECTED.
  auto stale =
      control::ClientRequest::lease_update(me, lease, base::OsRandom::instance(), now - 31s);
  ASSERT_TRUE(stale);
  auto r = run(raw(*s, base::to_bytes(stale->pending_output())));
  ASSERT_EQ(answers(r.bytes).size(), 1u);
  EXPECT_EQ(answers(r.bytes)[0].second, ResponseCode::Rejected);

  // Accepted once, then the same bytes again: a replay, REJECTED.
  auto fresh = control::ClientRequest::lease_update(me, lease, base::OsRandom::instance(), now);
  ASSERT_TRUE(fresh);
  const Bytes bytes = base::to_bytes(fresh->pending_output());
  r = run(raw(*s, bytes));
  ASSERT_EQ(answers(r.bytes).size(), 1u);
  EXPECT_EQ(answers(r.bytes)[0].second, ResponseCode::Accepted);
  r = run(raw(*s, bytes));
  ASSERT_EQ(answers(r.bytes).size(), 1u);
  EXPECT_EQ(answers(r.bytes)[0].second, ResponseCode::Rejected);

  // A bad signature (last byte of the packet is in the signature): INVALID_IDENTITY, not silence.
  auto forged = control::ClientRequest::lease_update(me, lease, base::OsRandom::instance(), now);
  ASSERT_TRUE(forged);
  Bytes f = base::to_bytes(forged->pending_output());
  f.back() ^= 0x01;
  r = run(raw(*s, f));
  ASSERT_EQ(answers(r.bytes).size(), 1u);
  EXPECT_EQ(answers(r.bytes)[0].second, ResponseCode::InvalidIdentity);

  // Names: the SDK rule (INVALID_NAME), and the conflict rule against another identity.
  EXPECT_EQ(update(*s, credential(), "no spaces"), ResponseCode::InvalidName);
  EXPECT_EQ(update(*s, credential(), "signed"), ResponseCode::Rejected);
  // Stricter than v1's byte-exact rule: equal under case folding is taken too, and the holder
  // keeps its name.
  EXPECT_EQ(update(*s, credential(), "Signed"), ResponseCode::Rejected);
  EXPECT_EQ(update(*s, credential(), "SIGNED"), ResponseCode::Rejected);
  const auto listed = info(*s).leases;
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].name, "signed");
  EXPECT_EQ(listed[0].identity->id, me.id());
  const std::string metrics = curl(relay.http + "/metrics");
  EXPECT_EQ(metric_value(metrics, R"(portal_refusals_total{limit="name_taken_ignoring_case"})"), 2)
      << metrics;
  EXPECT_EQ(metric_value(metrics, R"(portal_refusals_total{limit="name_taken"})"), 1);
  EXPECT_EQ(metric_value(metrics, R"(portal_refusals_total{limit="replayed"})"), 1);
  EXPECT_EQ(metric_value(metrics, R"(portal_refusals_total{limit="clock_skew"})"), 1);
  EXPECT_NE(relay.err().find("name_taken_ignoring_case ('Signed' is held by " + me.id()),
            std::string::npos)
      << relay.err();
  EXPECT_TRUE(relay.alive());
}

// §13.1: every input that crashes the original relay gets an answer or a closed stream; the
// relay keeps serving, and a fresh client is served afterwards.
TEST_F(RelayIntegration, Section13InputsLeaveTheRelayServing) {
  RelayProcess relay;
  auto s = session(relay.ws);
  auto me = credential();
  ASSERT_EQ(update(*s, me, "survivor"), ResponseCode::Accepted);

  // 1. A length above 2^26 (and above the 64 KiB limit): the stream is closed, no answer.
  auto r = run(raw(*s, Bytes{0x04, 0x00, 0x00, 0x01}, false));
  EXPECT_TRUE(r.bytes.empty());
  // 1b. Just above the relay's 64 KiB limit, checked before allocating.
  r = run(raw(*s, Bytes{0x00, 0x01, 0x00, 0x01}, false));
  EXPECT_TRUE(r.bytes.empty());

  // 2. A LeaseUpdateRequest without a lease: INVALID_IDENTITY.
  const Bytes empty_update = handshake::encode(
      handshake::SignedPayload{wire::encode(wire::LeaseUpdateRequest{}), Bytes(64, 0)});
  r = run(raw(*s, packet(wire::PacketType::LeaseUpdateRequest, empty_update)));
  ASSERT_EQ(answers(r.bytes).size(), 1u);
  EXPECT_EQ(answers(r.bytes)[0].second, ResponseCode::InvalidIdentity);

  // 3. A ConnectionRequest without client_identity, for a live lease and for an unknown one.
  wire::ConnectionRequest cr;
  cr.lease_id = credential().id();
  r = run(raw(*s, packet(wire::PacketType::ConnectionRequest, wire::encode(cr))));
  ASSERT_EQ(answers(r.bytes).size(), 1u);
  EXPECT_EQ(answers(r.bytes)[0].second, ResponseCode::InvalidIdentity);

  // 4. A RelayInfoRequest with a non-empty, well-formed payload: answered.
  r = run(raw(*s, packet(wire::PacketType::RelayInfoRequest, Bytes{0x0a, 0x01, 0x41})));
  ASSERT_EQ(answers(r.bytes).size(), 1u);
  EXPECT_EQ(answers(r.bytes)[0].first, wire::PacketType::RelayInfoResponse);

  // Other malformed input: garbage protobuf, a response type, a truncated signed payload.
  r = run(raw(*s, Bytes{0x00, 0x00, 0x00, 0x03, 0xff, 0xff, 0xff}));
  EXPECT_TRUE(answers(r.bytes).empty());
  r = run(raw(*s, packet(wire::PacketType::ConnectionResponse,
                         wire::encode_response(ResponseCode::Accepted))));
  EXPECT_TRUE(answers(r.bytes).empty());
  r = run(raw(*s, packet(wire::PacketType::LeaseDeleteRequest, Bytes{0x0a, 0x05, 0x01})));
  ASSERT_EQ(answers(r.bytes).size(), 1u);
  EXPECT_EQ(answers(r.bytes)[0].second, ResponseCode::InvalidIdentity);

  // Several requests on one stream (§4.1): all answered in order.
  r = run(raw(*s, concat(packet(wire::PacketType::RelayInfoRequest, {}),
                         packet(wire::PacketType::ConnectionRequest, wire::encode(cr)))));
  ASSERT_EQ(answers(r.bytes).size(), 2u);

  // The same session and a fresh client are still served; the lease is intact.
  EXPECT_EQ(info(*s).leases.size(), 1u);
  auto fresh = session(relay.tcp);
  EXPECT_EQ(info(*fresh).leases.size(), 1u);
  EXPECT_TRUE(relay.alive());
}

TEST_F(RelayIntegration, DisconnectDropsTheLeasesOfThatConnection) {
  RelayProcess relay;
  auto holder = session(relay.ws);
  auto watcher = session(relay.tcp);
  auto a = credential();
  auto b = credential();
  ASSERT_EQ(update(*holder, a, "a"), ResponseCode::Accepted);
  ASSERT_EQ(update(*holder, b, "b"), ResponseCode::Accepted);
  ASSERT_EQ(info(*watcher).leases.size(), 2u);
  holder->close();
  std::size_t left = 2;
  for (int i = 0; i < 100 && left != 0; ++i) {
    pump(20ms);
    left = info(*watcher).leases.size();
  }
  EXPECT_EQ(left, 0u);
  // The lease moved to another connection survives the first one's end (§13.6 item 25).
  auto c1 = session(relay.ws);
  auto c2 = session(relay.ws);
  auto moved = credential();
  ASSERT_EQ(update(*c1, moved, "moved"), ResponseCode::Accepted);
  ASSERT_EQ(update(*c2, moved, "moved"), ResponseCode::Accepted);
  c1->close();
  pump(300ms);
  EXPECT_EQ(info(*watcher).leases.size(), 1u);
}

// --- limits -------------------------------------------------------------------------------

TEST_F(RelayIntegration, LeasesPerConnectionLimit) {
  RelayProcess relay(R"({"limits": {"max_leases_per_connection": 2}})");
  auto s = session(relay.tcp);
  auto a = credential();
  EXPECT_EQ(update(*s, a, "one"), ResponseCode::Accepted);
  EXPECT_EQ(update(*s, credential(), "two"), ResponseCode::Accepted);
  EXPECT_EQ(update(*s, credential(), "three"), ResponseCode::Rejected);
  EXPECT_EQ(update(*s, a, "one"), ResponseCode::Accepted);  // renewals still pass
  auto other = session(relay.tcp);
  EXPECT_EQ(update(*other, credential(), "three"), ResponseCode::Accepted);
}

TEST_F(RelayIntegration, ConnectionsPerAddressLimit) {
  RelayProcess relay(R"({"limits": {"max_connections_per_ip": 2}})");
  auto a = session(relay.tcp);
  auto b = session(relay.ws);
  EXPECT_EQ(info(*a).leases.size(), 0u);
  EXPECT_EQ(info(*b).leases.size(), 0u);
  auto c = session(relay.tcp);  // the relay closes it at once
  auto r = run(client::relay_info(*c), 10s);
  EXPECT_FALSE(r);
  a->close();
  pump(300ms);
  auto d = session(relay.tcp);
  EXPECT_TRUE(run(client::relay_info(*d), 10s));
}

// A connection counts against its address from accept on: a plain TCP connection to the ws
// port that has not upgraded (or not even sent a request) holds a slot, on every listener.
TEST_F(RelayIntegration, ConnectionsPerAddressCountFromAcceptOn) {
  RelayProcess relay(R"({"limits": {"max_connections_per_ip": 2}})");
  const auto ws_port = transport::parse_uri(relay.ws)->port;
  asio::io_context raw_io;
  asio::ip::tcp::socket p1(raw_io), p2(raw_io);
  p1.connect({asio::ip::make_address("127.0.0.1"), ws_port});
  p2.connect({asio::ip::make_address("127.0.0.1"), ws_port});
  std::this_thread::sleep_for(300ms);  // accepted (and counted) by the relay
  auto over_tcp = session(relay.tcp);
  EXPECT_FALSE(run(client::relay_info(*over_tcp), 10s));
  EXPECT_FALSE(run(connect(relay.ws), 10s));
  p1.close();
  p2.close();
  std::this_thread::sleep_for(300ms);
  auto ok = session(relay.ws);
  EXPECT_TRUE(run(client::relay_info(*ok), 10s));
  const auto metrics = curl(relay.http + "/metrics");
  EXPECT_GE(metric_value(metrics, R"(portal_refusals_total{limit="connections_per_ip"})"), 2)
      << metrics;
}

// The cap is checked and counted in one step: forwards that wait for the holder at the same
// time cannot overshoot it.
TEST_F(RelayIntegration, StreamsPerLeaseCapHoldsUnderConcurrentForwards) {
  RelayProcess relay(R"({"limits": {"max_streams_per_lease": 2}})");
  auto holder = session(relay.ws);
  auto dialer = session(relay.tcp);
  auto me = credential();
  ASSERT_EQ(update(*holder, me, "concurrent"), ResponseCode::Accepted);
  auto kept = std::make_shared<std::vector<std::unique_ptr<stream::ByteStream>>>();
  auto seen = hold(
      holder, [](int) { return ResponseCode::Accepted; }, keep_in(kept), 300ms);
  auto accepted = std::make_shared<int>(0);
  auto rejected = std::make_shared<int>(0);
  auto streams = std::make_shared<std::vector<std::unique_ptr<stream::ByteStream>>>();
  for (int i = 0; i < 6; ++i) {
    asio::co_spawn(io_, dial_and_count(dialer, me.id(), accepted, rejected, streams),
                   asio::detached);
  }
  for (int i = 0; i < 250 && *accepted + *rejected < 6; ++i) pump(20ms);
  EXPECT_EQ(*accepted, 2);
  EXPECT_EQ(*rejected, 4);
  // The slots were taken before forwarding: the holder was asked only for what fits.
  EXPECT_EQ(*seen, 2);
}

// One dialer cannot take all of a lease's slots: spliced streams are capped per dialer session
// and per dialer address (client_identity is not authenticated, so it cannot be the key).
TEST_F(RelayIntegration, SplicedStreamsAreCappedPerDialer) {
  RelayProcess relay(R"({"limits": {"max_spliced_per_dialer_session": 2,
                                    "max_spliced_per_dialer_ip": 3}})");
  auto holder = session(relay.ws);
  auto me = credential();
  ASSERT_EQ(update(*holder, me, "shared"), ResponseCode::Accepted);
  auto kept = std::make_shared<std::vector<std::unique_ptr<stream::ByteStream>>>();
  (void)hold(holder, ResponseCode::Accepted, keep_in(kept));
  std::vector<std::unique_ptr<stream::ByteStream>> open;
  auto dial = [&](mux::Session& from) {
    auto d = run(client::request_connection(from, me.id()));
    if (!d) throw std::runtime_error("connection request: " + d.error().message());
    if (d->code == ResponseCode::Accepted) open.push_back(std::move(d->stream));
    return d->code;
  };
  auto first = session(relay.tcp);
  EXPECT_EQ(dial(*first), ResponseCode::Accepted);
  EXPECT_EQ(dial(*first), ResponseCode::Accepted);
  EXPECT_EQ(dial(*first), ResponseCode::Rejected);  // the session's cap
  auto second = session(relay.tcp);
  EXPECT_EQ(dial(*second), ResponseCode::Accepted);
  EXPECT_EQ(dial(*second), ResponseCode::Rejected);  // the address's cap (3 in all)
  // A finished splice frees its slots.
  open.front()->close();
  open.erase(open.begin());
  kept->clear();
  pump(300ms);
  EXPECT_EQ(dial(*first), ResponseCode::Accepted);
  const auto metrics = curl(relay.http + "/metrics");
  EXPECT_EQ(metric_value(metrics, R"(portal_refusals_total{limit="spliced_per_dialer_session"})"),
            1)
      << metrics;
  EXPECT_EQ(metric_value(metrics, R"(portal_refusals_total{limit="spliced_per_dialer_ip"})"), 1);
}

// Whatever codes a lease holder invents, the metrics keep one "other" series for them.
TEST_F(RelayIntegration, UnknownAnswerCodesAreOneMetricsSeries) {
  RelayProcess relay;
  auto holder = session(relay.ws);
  auto dialer = session(relay.tcp);
  auto me = credential();
  ASSERT_EQ(update(*holder, me, "inventive"), ResponseCode::Accepted);
  auto kept = std::make_shared<std::vector<std::unique_ptr<stream::ByteStream>>>();
  (void)hold(
      holder, [](int n) { return static_cast<ResponseCode>(100 + n); }, keep_in(kept));
  for (int i = 0; i < 10; ++i) {
    auto d = run(client::request_connection(*dialer, me.id()));
    ASSERT_TRUE(d);
    EXPECT_EQ(static_cast<int>(d->code), 100 + i);  // passed through to the dialer, as in v1
  }
  const auto metrics = curl(relay.http + "/metrics");
  std::size_t series = 0;
  for (std::size_t at = metrics.find("type=\"connection\",result=\"other\"");
       at != std::string::npos; at = metrics.find("type=\"connection\",result=\"other\"", at + 1)) {
    ++series;
  }
  EXPECT_EQ(series, 1u) << metrics;
  EXPECT_EQ(metric_value(metrics, R"(portal_requests_total{type="connection",result="other"})"), 10)
      << metrics;
}

// WebSocket upgrades with an X-Forwarded-For header each (python3-websockets); prints
// "open" or "refused" for each, in order, then closes the open ones.
std::string upgrades_with_forwarded_for(const std::string& url,
                                        const std::vector<std::string>& forwarded_for) {
  std::string hops;
  for (const auto& f : forwarded_for) hops += (hops.empty() ? "" : ",") + f;
  const std::string script = R"(
import asyncio, sys, websockets
async def main(url, hops):
    kept, out = [], []
    for hop in hops.split(","):
        try:
            kept.append(await websockets.connect(url, extra_headers={"X-Forwarded-For": hop},
                                                 open_timeout=5))
            out.append("open")
        except Exception:
            out.append("refused")
    print(" ".join(out), flush=True)
    for ws in kept:
        ws.transport.close()
asyncio.run(main(sys.argv[1], sys.argv[2]))
)";
  const auto r = run_process({"/usr/bin/python3", "-c", script, url, hops});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out;
}

// Behind a trusted proxy the client is the X-Forwarded-For hop: per-IP limits count it, and the
// log names it. From anyone else the header is ignored.
TEST_F(RelayIntegration, ATrustedProxysForwardedForNamesTheClient) {
  RelayProcess relay(
      R"({"trusted_proxies": ["127.0.0.1/32"], "limits": {"max_connections_per_ip": 2}})");
  EXPECT_EQ(upgrades_with_forwarded_for(
                relay.ws, {"198.51.100.7", "198.51.100.7", "198.51.100.7", "198.51.100.8"}),
            "open open refused open\n");
  EXPECT_NE(relay.err().find("opened from 198.51.100.7 via ws"), std::string::npos) << relay.err();
  EXPECT_NE(relay.err().find("connection from 198.51.100.7 via ws refused"), std::string::npos)
      << relay.err();
  // Plain HTTP through the proxy is not counted against it (more than 2 at once would be).
  for (int i = 0; i < 4; ++i)
    EXPECT_NE(curl(relay.http + "/healthz").find("ok"), std::string::npos);

  RelayProcess untrusted(
      R"({"trusted_proxies": ["10.0.0.1"], "limits": {"max_connections_per_ip": 2}})");
  EXPECT_EQ(upgrades_with_forwarded_for(untrusted.ws, {"198.51.100.7", "198.51.100.8", "1.2.3.4"}),
            "open open refused\n");
  EXPECT_EQ(untrusted.err().find("198.51.100"), std::string::npos) << untrusted.err();
}

// A load balancer in TCP mode (tests/relay/proxy_client.py, independent of the project's code)
// in front of each of `uris`: one word per probe, in order.
std::string through_proxy(const std::string& uri, const std::string& ca,
                          const std::vector<std::string>& probes) {
  std::vector<std::string> argv{"/usr/bin/python3", PORTAL_PROXY_CLIENT, uri, ca};
  argv.insert(argv.end(), probes.begin(), probes.end());
  const auto r = run_process(argv);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out;
}

// On listeners with proxy_protocol, a trusted proxy's PROXY header (v1 or v2, before TLS) names
// the client, who is admitted and counted in its place, on all four schemes: the third
// connection from one client is refused by its own per-IP limit, not the proxy's. A header that
// names no client (v2 LOCAL, v1 UNKNOWN) is the proxy's own connection. A malformed header, or
// none within the timeout, closes the connection with one line. Peers that are not trusted are
// read as usual: a PROXY header from them is not believed.
TEST_F(RelayIntegration, APROXYHeaderFromATrustedProxyNamesTheClient) {
  test::TestPki pki;
  const std::string files = R"("cert_file": ")" + pki / "relay.pem" + R"(", "key_file": ")" +
                            pki / "relay.key" + R"(", )";
  const std::string proxied = R"("proxy_protocol": "true", "proxy_header_timeout_ms": "500"})";
  const std::string ws_proxied = R"("proxy_protocol": "true", "header_timeout_ms": "1500"})";
  const std::string transports = R"("transports": {"tcp": {)" + proxied + R"(, "tls": {)" + files +
                                 proxied + R"(, "ws": {)" + ws_proxied + R"(, "wss": {)" + files +
                                 ws_proxied + "}";
  const std::string limits = R"("limits": {"max_connections_per_ip": 2})";
  // "pause": past the relay's once-a-second line (shared by all listeners) before the next one.
  const std::vector<std::string> probes{
      "pause",    "v1:198.51.100.7", "v2:198.51.100.7", "v1:198.51.100.7", "v2:2001:db8::7",
      "v2-local", "xff-unknown",     "silent",          "pause",           "garbage"};
  // max_connections_per_ip 2: the third from 198.51.100.7 is refused; the v2 LOCAL and the
  // UNKNOWN one are the proxy's own two.
  const std::string expected = "open open closed open open open dropped closed\n";
  for (const auto& [first, second] : {std::pair{"ws://127.0.0.1:0/relay", "tcp://127.0.0.1:0"},
                                      std::pair{"wss://127.0.0.1:0/relay", "tls://127.0.0.1:0"}}) {
    RelayProcess relay(R"({"trusted_proxies": ["127.0.0.1"], )" + transports + ", " + limits + "}",
                       first, second);
    for (const auto& uri : {relay.tcp, relay.ws}) {
      SCOPED_TRACE(uri);
      const std::string scheme = uri.substr(0, uri.find(':'));
      EXPECT_EQ(through_proxy(uri, pki / "ca.pem", probes), expected) << relay.err();
      const auto err = relay.err();
      EXPECT_NE(err.find("opened from 198.51.100.7 via " + scheme), std::string::npos) << err;
      EXPECT_NE(err.find("connection from 198.51.100.7 via " + scheme + " refused"),
                std::string::npos)
          << err;
      // Counted under its /64 (limits.ipv6_prefix), logged with its own address too.
      EXPECT_NE(
          err.find("opened from 2001:db8::7 (counted as 2001:db8:0:0:0:0:0:0/64) via " + scheme),
          std::string::npos)
          << err;
      EXPECT_EQ(err.find("203.0.113.9"), std::string::npos) << err;  // not believed
      EXPECT_NE(err.find(scheme +
                         " connection from the proxy 127.0.0.1 closed: no complete PROXY "
                         "header within " +
                         std::string(scheme[0] == 'w' ? "1500" : "500") + " ms of accept"),
                std::string::npos)
          << err;
      EXPECT_NE(err.find(scheme + " connection from the proxy 127.0.0.1 closed: not a PROXY "
                                  "protocol header"),
                std::string::npos)
          << err;
    }
    EXPECT_TRUE(relay.alive());
  }

  // Not from a trusted proxy: no header is expected, and one is not believed.
  RelayProcess untrusted(R"({"trusted_proxies": ["10.0.0.1"], )" + transports + "}",
                         "wss://127.0.0.1:0/relay", "tls://127.0.0.1:0");
  for (const auto& uri : {untrusted.tcp, untrusted.ws}) {
    EXPECT_EQ(through_proxy(uri, pki / "ca.pem", {"none", "v1:198.51.100.7", "none"}),
              "open closed open\n")
        << uri << untrusted.err();
  }
  EXPECT_EQ(untrusted.err().find("198.51.100"), std::string::npos) << untrusted.err();

  // The setting without any trusted proxy is a configuration error, not a silent no-op.
  TempDir dir;
  std::ofstream(dir / "relay.json") << R"({"transports": {"tcp": {"proxy_protocol": "true"}}})";
  const auto r =
      run_process({bin_path("portal-relay"), "--listen", "tcp://127.0.0.1:0", "--plugin-dir",
                   PORTAL_BUILD_PLUGIN_DIR, "--check-config", (dir / "relay.json").string()});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE((r.out + r.err).find("proxy_protocol needs trusted_proxies"), std::string::npos)
      << r.out << r.err;
}

// The relay raises its soft descriptor limit to the hard one at start, and says so.
TEST_F(RelayIntegration, RaisesTheDescriptorLimitAtStart) {
  struct rlimit rl {};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &rl), 0);
  ASSERT_GT(rl.rlim_max, 64u) << "the hard descriptor limit here is too low to test this";
  RelayProcess relay("{}", "ws://127.0.0.1:0/relay", "tcp://127.0.0.1:0", "ulimit -Sn 64");
  const std::string hard =
      rl.rlim_max == RLIM_INFINITY ? std::string("unlimited") : std::to_string(rl.rlim_max);
  EXPECT_NE(relay.err().find("descriptor limit raised from 64 to " + hard), std::string::npos)
      << relay.err();
  std::ifstream limits("/proc/" + std::to_string(relay.child().pid()) + "/limits");
  const std::string text{std::istreambuf_iterator<char>(limits), std::istreambuf_iterator<char>()};
  const auto line = text.find("Max open files");
  ASSERT_NE(line, std::string::npos);
  std::istringstream fields(text.substr(line + std::string("Max open files").size()));
  std::string soft;
  fields >> soft;
  EXPECT_EQ(soft, hard);
  auto s = session(relay.tcp);
  EXPECT_TRUE(run(client::relay_info(*s)));
}

TEST_F(RelayIntegration, RelayedStreamsPerLeaseLimit) {
  RelayProcess relay(R"({"limits": {"max_streams_per_lease": 2}})");
  auto holder = session(relay.ws);
  auto dialer = session(relay.tcp);
  auto me = credential();
  ASSERT_EQ(update(*holder, me, "capped"), ResponseCode::Accepted);
  std::vector<std::shared_ptr<stream::ByteStream>> kept;
  hold(holder, ResponseCode::Accepted,
       [&kept](std::unique_ptr<stream::ByteStream> s) -> asio::awaitable<void> {
         kept.emplace_back(std::move(s));
         co_return;
       });
  std::vector<std::unique_ptr<stream::ByteStream>> open;
  for (int i = 0; i < 2; ++i) {
    auto d = run(client::request_connection(*dialer, me.id()));
    ASSERT_TRUE(d);
    ASSERT_EQ(d->code, ResponseCode::Accepted);
    open.push_back(std::move(d->stream));
  }
  auto d = run(client::request_connection(*dialer, me.id()));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->code, ResponseCode::Rejected);
  // One ends: a new one is accepted again.
  open[0]->close();
  kept.clear();
  pump(300ms);
  d = run(client::request_connection(*dialer, me.id()));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->code, ResponseCode::Accepted);
}

// Waits until `s` reads end-of-stream or an error (true), or `limit` passes (false).
asio::awaitable<bool> closed_within(std::shared_ptr<stream::ByteStream> s,
                                    std::chrono::milliseconds limit) {
  auto ex = co_await asio::this_coro::executor;
  auto timer = std::make_shared<asio::steady_timer>(ex, limit);
  auto fired = std::make_shared<bool>(false);
  asio::co_spawn(
      ex,
      [](std::shared_ptr<asio::steady_timer> t, std::shared_ptr<stream::ByteStream> victim,
         std::shared_ptr<bool> f) -> asio::awaitable<void> {
        auto [ec] = co_await t->async_wait(asio::as_tuple(asio::use_awaitable));
        if (!ec) {
          *f = true;
          victim->close();
        }
      }(timer, s, fired),
      asio::detached);
  Bytes buf(64);
  for (;;) {
    auto n = co_await s->async_read_some(buf);
    if (!n || *n == 0) break;
  }
  timer->cancel();
  co_return !*fired;
}

// Streams that are open but not spliced are limited per session, and each must bring a
// complete packet in time: an open stream is not a place to park.
TEST_F(RelayIntegration, ControlStreamsAreCappedAndMustSpeakInTime) {
  RelayProcess relay(
      R"({"limits": {"max_control_streams_per_session": 4, "first_packet_timeout_ms": 600}})");
  auto s = session(relay.tcp);
  std::vector<std::shared_ptr<stream::ByteStream>> parked;
  for (int i = 0; i < 6; ++i) {
    auto st = run(s->async_open());
    ASSERT_TRUE(st);
    // One byte of a length prefix: the relay has read something, but no complete packet. (A
    // stream past the cap may already be reset when this is written.)
    const bool written = static_cast<bool>(run((*st)->async_write(Bytes{0})));
    if (i < 4) {
      ASSERT_TRUE(written) << i;
    }
    parked.emplace_back(std::move(*st));
    pump(50ms);
  }
  // The two past the cap are reset at once; the four others when their time is up.
  EXPECT_TRUE(run(closed_within(parked[4], 300ms)));
  EXPECT_TRUE(run(closed_within(parked[5], 300ms)));
  for (std::size_t i = 0; i < 4; ++i) EXPECT_TRUE(run(closed_within(parked[i], 5s))) << i;
  // The session itself serves on.
  EXPECT_TRUE(run(client::relay_info(*s), 10s));
  const auto metrics = curl(relay.http + "/metrics");
  EXPECT_EQ(metric_value(metrics, R"(portal_refusals_total{limit="control_streams_per_session"})"),
            2)
      << metrics;
  EXPECT_EQ(metric_value(metrics, R"(portal_refusals_total{limit="first_packet_timeout"})"), 4);
}

TEST_F(RelayIntegration, FirstFrameTimeoutCoversTheWebSocketUpgrade) {
  RelayProcess relay(R"({"limits": {"first_frame_timeout_ms": 300}})");
  // A transport that never sends a mux frame, over tcp and over ws (upgrade done, then silence).
  for (const auto& uri : {relay.tcp, relay.ws}) {
    auto tf = transport::resolve(*host_, uri);
    ASSERT_TRUE(tf);
    auto st = run((*tf)->async_connect(io_.get_executor(), *transport::parse_uri(uri), {}));
    ASSERT_TRUE(st) << uri;
    std::shared_ptr<stream::ByteStream> s(std::move(*st));
    EXPECT_TRUE(run(closed_within(s, 5s))) << uri;
  }
  auto ok = session(relay.tcp);
  EXPECT_TRUE(run(client::relay_info(*ok)));
}

TEST_F(RelayIntegration, SessionIdleTimeoutCountsAnyFrame) {
  RelayProcess relay(R"({"limits": {"session_idle_timeout_ms": 400}})");
  // Keepalive off: after one request the session goes quiet and the relay ends it.
  auto quiet = session(relay.tcp, {{"enable_keepalive", "false"}});
  ASSERT_TRUE(run(client::relay_info(*quiet)));
  // Keepalive pings every 100 ms keep the other one alive.
  auto pinging = session(relay.tcp, {{"keepalive_interval_ms", "100"}});
  ASSERT_TRUE(run(client::relay_info(*pinging)));
  bool closed = false;
  asio::co_spawn(
      io_,
      [quiet, &closed]() -> asio::awaitable<void> {
        (void)co_await quiet->async_wait_closed();
        closed = true;
      },
      asio::detached);
  for (int i = 0; i < 150 && !closed; ++i) pump(20ms);
  EXPECT_TRUE(closed);
  pump(600ms);
  EXPECT_TRUE(pinging->is_open());
  EXPECT_TRUE(run(client::relay_info(*pinging)));
}

// --- HTTP ---------------------------------------------------------------------------------

TEST_F(RelayIntegration, HttpSurfaceWithCurl) {
  RelayProcess relay;
  auto s = session(relay.ws);
  auto me = credential();
  ASSERT_EQ(update(*s, me, "web", {"<script>alert(1)</script>", "http/1.1"}),
            ResponseCode::Accepted);

  EXPECT_EQ(curl(relay.http + "/healthz"), R"({"status":"ok"})");

  const std::string metrics = curl(relay.http + "/metrics");
  EXPECT_NE(metrics.find("\nportal_leases 1\n"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("\nportal_connections 1\n"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("portal_requests_total{type=\"lease_update\",result=\"accepted\"} 1"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("portal_plugin_info{id=\"portal.mux.yamux\",kind=\"mux\""),
            std::string::npos);
  EXPECT_NE(metrics.find("portal_relayed_bytes_total{direction=\"to_holder\"}"), std::string::npos);
  // Every metric name starts with portal_.
  std::size_t pos = 0;
  while (pos < metrics.size()) {
    const auto end = metrics.find('\n', pos);
    const std::string line = metrics.substr(pos, end - pos);
    if (!line.empty() && line[0] != '#') {
      EXPECT_EQ(line.rfind("portal_", 0), 0u) << line;
    }
    pos = end + 1;
  }

  const std::string page = curl(relay.http + "/");
  EXPECT_NE(page.find(me.id()), std::string::npos);
  EXPECT_NE(page.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos) << page;
  EXPECT_EQ(page.find("<script>"), std::string::npos);

  const std::string leases = curl(relay.http + "/api/leases");
  EXPECT_NE(leases.find("\"id\":\"" + me.id() + "\""), std::string::npos) << leases;
  EXPECT_NE(leases.find("\"name\":\"web\""), std::string::npos);
  // No internal connection IDs: they would let anyone link the leases of one client.
  EXPECT_EQ(leases.find("\"connection\""), std::string::npos) << leases;
  const std::string info_json = curl(relay.http + "/api/relay");
  EXPECT_NE(info_json.find("\"wire_protocol\":\"portal-v1\""), std::string::npos) << info_json;

  EXPECT_EQ(curl(relay.http + "/no/such/page", {"-o", "/dev/null", "-w", "%{http_code}"}), "404");
  EXPECT_EQ(curl(relay.http + "/metrics", {"-X", "POST", "-o", "/dev/null", "-w", "%{http_code}"}),
            "405");
}

TEST_F(RelayIntegration, GracefulShutdownOnSigterm) {
  RelayProcess relay(R"({"limits": {"drain_timeout_ms": 2000}})");
  auto s = session(relay.ws);
  ASSERT_EQ(update(*s, credential(), "leaving"), ResponseCode::Accepted);
  bool closed = false;
  asio::co_spawn(
      io_,
      [s, &closed]() -> asio::awaitable<void> {
        (void)co_await s->async_wait_closed();
        closed = true;
      },
      asio::detached);
  relay.child().signal(SIGTERM);
  for (int i = 0; i < 250 && !closed; ++i) pump(20ms);
  EXPECT_TRUE(closed);  // GO_AWAY, then the session ended
  EXPECT_EQ(relay.child().wait(10'000), 0) << relay.err();
  EXPECT_NE(relay.err().find("stopped"), std::string::npos) << relay.err();
}

}  // namespace
}  // namespace portal::test
