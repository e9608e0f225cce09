// SPDX-License-Identifier: Apache-2.0
// The sans-IO relay core in virtual time: v1 client cores (lease registration, RelayInfo, a
// dialer's ConnectionRequest, a holder's IncomingConnection) exchange bytes with the core in
// memory, and a manual clock moves every timer. No socket, no thread, no sleep.
#include "portal/relay/core.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>

#include "portal/base/random.hpp"
#include "portal/lease/memory_directory.hpp"
#include "portal/lease/name.hpp"

namespace portal::relay {
namespace {

using namespace std::chrono_literals;
using base::Bytes;
using wire::ResponseCode;

constexpr std::int64_t kT = 1'762'473'600;

identity::Credential credential(std::uint8_t n) {
  Bytes seed(32, n);
  return *identity::Credential::from_seed(seed);
}

// The relay core with a manual clock, an in-memory log and the actions it asked for.
struct Harness {
  base::ManualClock clock{base::Clock::SystemTime{std::chrono::seconds{kT}}};
  identity::Credential relay_id = credential(200);
  config::RelayLimits limits;
  FleetOptions fleet;
  AccessMode access = AccessMode::Open;
  std::set<std::string> allowed_ids;
  std::vector<Ban> bans;
  std::vector<std::string> log;
  std::vector<Action> actions;
  std::unique_ptr<Core> core;
  base::OsRandom random;

  Core& c() {
    if (!core) {
      CoreOptions o;
      o.limits = limits;
      o.advertise = {"ws://localhost:4017/relay"};
      o.fleet = fleet;
      o.access = access;
      o.allowed_ids = allowed_ids;
      o.bans = bans;
      o.log = [this](base::LogLevel, const std::string& line) { log.push_back(line); };
      core = std::make_unique<Core>(relay_id, o, now());
    }
    return *core;
  }
  Now now() const { return now_of(clock); }
  void collect() {
    for (auto& a : c().take_actions()) actions.push_back(a);
  }
  // Moves virtual time and fires what is due.
  void advance(std::chrono::milliseconds d) {
    clock.advance(d);
    c().tick(now());
    collect();
  }
  bool asked(Action::Kind kind, std::uint64_t id) const {
    return std::any_of(actions.begin(), actions.end(),
                       [&](const Action& a) { return a.kind == kind && a.id == id; });
  }
  std::uint64_t refusals(const std::string& limit) {
    const auto& r = c().metrics().refusals;
    const auto it = r.find(limit);
    return it == r.end() ? 0 : it->second;
  }

  // An admitted connection that sent its first frame.
  ConnectionId connect(const std::string& address = "192.0.2.1") {
    EXPECT_TRUE(c().take_address(address, "ws", now()));
    const auto id = c().connection_opened(address, "ws", now().steady, now());
    c().connection_received(id, 12, now());
    collect();
    return id;
  }

  // Moves bytes between a client-side core and a core stream, both ways, until neither has
  // anything for the other (a memory pipe with no delay).
  template <class Client>
  void pump(StreamId s, Client& client) {
    Bytes to_relay;
    for (int round = 0; round < 1000; ++round) {
      bool moved = false;
      if (const auto out = client.pending_output(); !out.empty()) {
        to_relay.insert(to_relay.end(), out.begin(), out.end());
        client.consume_output(out.size());
        moved = true;
      }
      if (!to_relay.empty() && c().step(s) == Step::Read) {
        const auto n = c().stream_input(s, to_relay, now());
        base::erase_front(to_relay, n);
        moved = moved || n > 0;
      }
      if (const auto back = c().stream_output(s); !back.empty()) {
        const Bytes copy(back.begin(), back.end());
        c().stream_consumed(s, copy.size());
        (void)client.handle_input(copy);
        moved = true;
      }
      collect();
      if (!moved) return;
    }
    ADD_FAILURE() << "pump did not settle";
  }

  // One request on a new stream of `conn`; returns the stream.
  StreamId request(ConnectionId conn, control::ClientRequest& req) {
    const auto s = c().stream_accepted(conn, now());
    EXPECT_TRUE(s.has_value());
    pump(*s, req);
    return *s;
  }

  // A signed LeaseUpdateRequest of `who` for `name`, expiring in 30 s.
  control::ClientRequest signed_lease(const identity::Credential& who, const std::string& name,
                                      const std::string& metadata = {}) {
    wire::Lease lease;
    lease.name = name;
    lease.alpn = {"http/1.1"};
    lease.metadata = metadata;
    lease.expires = base::unix_seconds(clock.system_now()) + 30;
    auto req = control::ClientRequest::lease_update(who, lease, random, clock.system_now());
    EXPECT_TRUE(req.has_value());
    return std::move(*req);
  }

  ResponseCode register_lease(ConnectionId conn, const identity::Credential& who,
                              const std::string& name, const std::string& metadata = {}) {
    auto req = signed_lease(who, name, metadata);
    const auto s = request(conn, req);
    EXPECT_TRUE(req.done());
    c().stream_closed(s);
    return req.code();
  }
};

// The forward of a ConnectionRequest, up to the holder stream's request.
struct Dial {
  StreamId dialer = 0;
  StreamId holder = 0;
  control::ClientRequest request;
  control::IncomingConnection incoming;
};

Dial dial(Harness& h, ConnectionId from, const std::string& lease_id) {
  Dial d{0, 0, control::ClientRequest::connection(lease_id, std::nullopt), {}};
  d.dialer = h.request(from, d.request);
  if (h.c().step(d.dialer) != Step::Forward) return d;
  d.holder = h.c().holder_opened(d.dialer, h.now());
  h.pump(d.holder, d.incoming);
  return d;
}

// The holder answers and the core splices (or not).
void answer(Harness& h, Dial& d, ResponseCode code) {
  ASSERT_TRUE(d.incoming.has_request());
  ASSERT_TRUE(d.incoming.answer(code));
  h.pump(d.holder, d.incoming);
  h.pump(d.dialer, d.request);
}

// access.mode "allowlist" (ADR 0017): a listed identity registers, another is refused before
// the replay cache, and dials to listed leases work as always.
TEST(RelayCore, AnAllowlistAdmitsOnlyListedIdentities) {
  Harness h;
  const auto listed = credential(1);
  const auto stranger = credential(2);
  h.access = AccessMode::Allowlist;
  h.allowed_ids = std::set<std::string>{listed.id()};
  EXPECT_EQ(h.register_lease(h.connect(), listed, "web"), ResponseCode::Accepted);
  EXPECT_EQ(h.register_lease(h.connect("192.0.2.2"), stranger, "other"), ResponseCode::Rejected);
  EXPECT_EQ(h.refusals("not_allowed"), 1u);
  EXPECT_EQ(h.c().leases().size(), 1u);
  auto d = dial(h, h.connect("192.0.2.3"), listed.id());
  EXPECT_NE(d.holder, 0u);
}

// A reloaded allow list (set_allowed_ids) drops the leases of identities it no longer lists at
// once; the connection stays, and their renewals are refused.
TEST(RelayCore, AShorterAllowlistDropsTheLeasesItNoLongerLists) {
  Harness h;
  const auto a = credential(1);
  const auto b = credential(2);
  h.access = AccessMode::Allowlist;
  h.allowed_ids = {a.id(), b.id()};
  const auto ca = h.connect("192.0.2.1");
  const auto cb = h.connect("192.0.2.2");
  ASSERT_EQ(h.register_lease(ca, a, "a"), ResponseCode::Accepted);
  ASSERT_EQ(h.register_lease(cb, b, "b"), ResponseCode::Accepted);
  EXPECT_TRUE(h.c().set_allowed_ids({a.id()}, h.now()));
  h.collect();
  EXPECT_NE(h.c().leases().entry(a.id()), nullptr);
  EXPECT_EQ(h.c().leases().entry(b.id()), nullptr);
  EXPECT_FALSE(h.asked(Action::Kind::CloseConnection, cb));
  EXPECT_EQ(h.register_lease(cb, b, "b"), ResponseCode::Rejected);
  EXPECT_EQ(h.refusals("not_allowed"), 1u);
  // Beyond the bound nothing changes.
  std::set<std::string> many;
  for (std::size_t i = 0; i <= kMaxAllowedIds; ++i) many.insert(std::to_string(i));
  EXPECT_FALSE(h.c().set_allowed_ids(std::move(many), h.now()));
  EXPECT_TRUE(h.c().allowed(a.id()));
}

// Approval mode (ADR 0017 §2): an unknown identity is REJECTED and waits in pending() with its
// attempts, until approve(); then its next registration is accepted.
TEST(RelayCore, ApprovalHoldsANewIdentityUntilApproved) {
  Harness h;
  const auto known = credential(1);
  const auto fresh = credential(2);
  h.access = AccessMode::Approval;
  h.allowed_ids = {known.id()};
  EXPECT_EQ(h.register_lease(h.connect("192.0.2.1"), known, "known"), ResponseCode::Accepted);
  const auto c = h.connect("192.0.2.9");
  EXPECT_EQ(h.register_lease(c, fresh, "new"), ResponseCode::Rejected);
  h.clock.advance(std::chrono::seconds(2));
  EXPECT_EQ(h.register_lease(c, fresh, "newer"), ResponseCode::Rejected);
  EXPECT_EQ(h.refusals("pending_approval"), 2u);
  auto p = h.c().pending();
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].id, fresh.id());
  EXPECT_EQ(p[0].name, "newer");
  EXPECT_EQ(p[0].address, "192.0.2.9");
  EXPECT_EQ(p[0].attempts, 2u);
  EXPECT_EQ(p[0].last - p[0].first, 2);
  EXPECT_FALSE(h.c().approve("not an id", h.now()));
  std::string lower = fresh.id();
  for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  EXPECT_TRUE(h.c().approve(lower, h.now()));  // any letter case
  EXPECT_TRUE(h.c().pending().empty());
  EXPECT_EQ(h.c().approved().count(fresh.id()), 1u);
  EXPECT_EQ(h.register_lease(c, fresh, "newer"), ResponseCode::Accepted);
}

// The pending table is bounded: the oldest waiting identity makes room for a new one.
TEST(RelayCore, PendingApprovalsAreBounded) {
  Harness h;
  h.access = AccessMode::Approval;
  const auto c = h.connect();
  for (std::size_t i = 0; i < kMaxPending + 5; ++i) {
    Bytes seed(32, 0);
    seed[0] = static_cast<std::uint8_t>(i & 0xff);
    seed[1] = static_cast<std::uint8_t>(i >> 8);
    seed[2] = 7;
    const auto who = *identity::Credential::from_seed(seed);
    ASSERT_EQ(h.register_lease(c, who, "n"), ResponseCode::Rejected);
  }
  EXPECT_EQ(h.c().pending().size(), kMaxPending);
}

// An identity ban drops the live lease at once and closes its connection; renewals and new
// registrations are refused ("banned"); unban lets it back.
TEST(RelayCore, AnIdentityBanDropsTheLeaseAndClosesItsConnection) {
  Harness h;
  const auto bad = credential(1);
  const auto good = credential(2);
  const auto cb = h.connect("192.0.2.1");
  const auto cg = h.connect("192.0.2.2");
  ASSERT_EQ(h.register_lease(cb, bad, "bad"), ResponseCode::Accepted);
  ASSERT_EQ(h.register_lease(cg, good, "good"), ResponseCode::Accepted);
  std::string lower = bad.id();
  for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  EXPECT_EQ(h.c().ban(Ban{Ban::Kind::Identity, lower, 0, "abuse"}, h.now()), "");
  h.collect();
  EXPECT_TRUE(h.asked(Action::Kind::CloseConnection, cb));
  EXPECT_FALSE(h.asked(Action::Kind::CloseConnection, cg));
  EXPECT_EQ(h.c().leases().entry(bad.id()), nullptr);
  ASSERT_EQ(h.c().bans().size(), 1u);
  EXPECT_EQ(h.c().bans()[0].value, bad.id());  // normalised
  EXPECT_EQ(h.c().bans()[0].since, kT);
  EXPECT_EQ(h.register_lease(h.connect("192.0.2.3"), bad, "bad"), ResponseCode::Rejected);
  EXPECT_EQ(h.refusals("banned"), 1u);
  EXPECT_FALSE(h.c().allowed(bad.id()));
  // The same ban twice is one ban; an invalid value is refused with a reason.
  EXPECT_EQ(h.c().ban(Ban{Ban::Kind::Identity, bad.id(), 0, {}}, h.now()), "");
  EXPECT_EQ(h.c().bans().size(), 1u);
  EXPECT_NE(h.c().ban(Ban{Ban::Kind::Identity, "nope", 0, {}}, h.now()), "");
  EXPECT_TRUE(h.c().unban(Ban::Kind::Identity, lower, h.now()));
  EXPECT_FALSE(h.c().unban(Ban::Kind::Identity, lower, h.now()));
  EXPECT_EQ(h.register_lease(h.connect("192.0.2.4"), bad, "bad"), ResponseCode::Accepted);
}

// A name-pattern ban matches under case folding with '*' globs, and applies to live leases and
// new registrations alike.
TEST(RelayCore, ANamePatternBanMatchesCaseFoldedGlobs) {
  EXPECT_TRUE(name_matches("paypal*", "paypal-login"));
  EXPECT_TRUE(name_matches("*pal*", "paypal"));
  EXPECT_TRUE(name_matches("a*b*c", "aXXbYYc"));
  EXPECT_FALSE(name_matches("a*b*c", "aXXbYY"));
  EXPECT_TRUE(name_matches("*", ""));
  EXPECT_FALSE(name_matches("web", "webs"));
  Harness h;
  const auto a = credential(1);
  const auto b = credential(2);
  const auto ca = h.connect("192.0.2.1");
  ASSERT_EQ(h.register_lease(ca, a, "PayPal-Login"), ResponseCode::Accepted);
  ASSERT_EQ(h.register_lease(h.connect("192.0.2.2"), b, "docs"), ResponseCode::Accepted);
  EXPECT_EQ(h.c().ban(Ban{Ban::Kind::Name, "paypal*", 0, {}}, h.now()), "");
  h.collect();
  EXPECT_TRUE(h.asked(Action::Kind::CloseConnection, ca));
  EXPECT_EQ(h.c().leases().entry(a.id()), nullptr);
  EXPECT_NE(h.c().leases().entry(b.id()), nullptr);
  EXPECT_EQ(h.register_lease(h.connect("192.0.2.3"), b, "PAYPALS"), ResponseCode::Rejected);
  EXPECT_EQ(h.refusals("banned"), 1u);
  EXPECT_NE(h.c().ban(Ban{Ban::Kind::Name, std::string(200, 'x'), 0, {}}, h.now()), "");
}

// An address ban closes that range's connections at once and refuses its new ones.
TEST(RelayCore, AnAddressBanClosesAndRefusesTheRange) {
  Harness h;
  const auto in = h.connect("198.51.100.7");
  const auto out = h.connect("192.0.2.1");
  EXPECT_EQ(h.c().ban(Ban{Ban::Kind::Address, "198.51.100.0/24", 0, {}}, h.now()), "");
  h.collect();
  EXPECT_TRUE(h.asked(Action::Kind::CloseConnection, in));
  EXPECT_FALSE(h.asked(Action::Kind::CloseConnection, out));
  EXPECT_FALSE(h.c().take_address("198.51.100.9", "ws", h.now()));
  EXPECT_TRUE(h.c().take_address("192.0.2.5", "ws", h.now()));
  EXPECT_EQ(h.refusals("banned"), 1u);
  EXPECT_NE(h.c().ban(Ban{Ban::Kind::Address, "198.51.100.0/33", 0, {}}, h.now()), "");
  EXPECT_TRUE(h.c().unban(Ban::Kind::Address, "198.51.100.0/24", h.now()));
  EXPECT_TRUE(h.c().take_address("198.51.100.9", "ws", h.now()));
}

// An address ban is kept in one spelling per range: the same range typed differently is one
// ban, and any spelling of it lifts it.
TEST(RelayCore, AddressBansHaveOneSpellingPerRange) {
  auto canonical = [](std::string value) {
    Ban b{Ban::Kind::Address, std::move(value), 0, {}};
    const auto problem = normalize_ban(b);
    return problem.empty() ? b.value : "error: " + problem;
  };
  EXPECT_EQ(canonical("192.0.2.7"), "192.0.2.7");
  EXPECT_EQ(canonical("192.0.2.7/32"), "192.0.2.7");
  EXPECT_EQ(canonical("192.0.2.7/24"), "192.0.2.0/24");   // the network
  EXPECT_EQ(canonical("::ffff:192.0.2.7"), "192.0.2.7");  // IPv4-mapped is IPv4
  EXPECT_EQ(canonical("2001:DB8::1"), "2001:db8:0:0:0:0:0:1");
  EXPECT_EQ(canonical("2001:db8:0::1/128"), "2001:db8:0:0:0:0:0:1");
  EXPECT_EQ(canonical("2001:db8:1:2:3::/48"), "2001:db8:1:0:0:0:0:0/48");
  EXPECT_EQ(canonical("::/0"), "0:0:0:0:0:0:0:0/0");
  EXPECT_EQ(canonical("2001:db8::/129").substr(0, 6), "error:");
  EXPECT_EQ(canonical("192.0.2.1/x").substr(0, 6), "error:");

  Harness h;
  EXPECT_EQ(h.c().ban(Ban{Ban::Kind::Address, "2001:db8::5", 0, {}}, h.now()), "");
  EXPECT_EQ(h.c().ban(Ban{Ban::Kind::Address, "2001:0db8:0::5/128", 0, {}}, h.now()), "");
  ASSERT_EQ(h.c().bans().size(), 1u);
  EXPECT_EQ(h.c().bans()[0].value, "2001:db8:0:0:0:0:0:5");
  EXPECT_TRUE(h.c().unban(Ban::Kind::Address, "2001:DB8::5", h.now()));
  EXPECT_TRUE(h.c().bans().empty());
}

// Bans from the options (a bans file) are in force from the start; the table is bounded.
TEST(RelayCore, BansFromTheOptionsApplyAndTheListIsBounded) {
  Harness h;
  const auto a = credential(1);
  h.bans = {Ban{Ban::Kind::Identity, a.id(), 5, {}}};
  EXPECT_EQ(h.register_lease(h.connect(), a, "a"), ResponseCode::Rejected);
  EXPECT_EQ(h.refusals("banned"), 1u);
  for (std::size_t i = 1; i < kMaxBans; ++i) {
    ASSERT_EQ(h.c().ban(Ban{Ban::Kind::Name, "n" + std::to_string(i), 0, {}}, h.now()), "");
  }
  EXPECT_NE(h.c().ban(Ban{Ban::Kind::Name, "one-more", 0, {}}, h.now()), "");
  EXPECT_EQ(h.c().bans().size(), kMaxBans);
}

// drop_lease() drops a lease and closes its connection; lease_traffic() counts what the lease
// relayed, and forgets it once the lease and its splices are gone.
TEST(RelayCore, DropLeaseAndLeaseTraffic) {
  Harness h;
  const auto holder = credential(1);
  const auto hc = h.connect("192.0.2.1");
  ASSERT_EQ(h.register_lease(hc, holder, "web"), ResponseCode::Accepted);
  auto d = dial(h, h.connect("192.0.2.2"), holder.id());
  answer(h, d, ResponseCode::Accepted);
  ASSERT_EQ(h.c().step(d.dialer), Step::Splice);
  h.c().spliced_moved(d.dialer, true, 100, h.now());
  h.c().spliced_moved(d.dialer, false, 40, h.now());
  auto t = h.c().lease_traffic(holder.id());
  EXPECT_EQ(t.streams, 1u);
  EXPECT_EQ(t.streams_total, 1u);
  EXPECT_EQ(t.bytes_to_holder, 100u);
  EXPECT_EQ(t.bytes_to_dialer, 40u);
  EXPECT_EQ(h.c().connection_address(hc), "192.0.2.1");
  EXPECT_FALSE(h.c().drop_lease(credential(9).id(), h.now()));
  EXPECT_TRUE(h.c().drop_lease(holder.id(), h.now()));
  h.collect();
  EXPECT_TRUE(h.asked(Action::Kind::CloseConnection, hc));
  EXPECT_EQ(h.c().leases().entry(holder.id()), nullptr);
  EXPECT_EQ(h.c().lease_traffic(holder.id()).bytes_to_holder, 100u);  // its splice still runs
  h.c().splice_ended(d.dialer);
  EXPECT_EQ(h.c().lease_traffic(holder.id()).bytes_to_holder, 0u);  // forgotten
}

TEST(RelayCore, RegistersALeaseAndListsItInRelayInfo) {
  Harness h;
  const auto holder = credential(1);
  const auto c = h.connect();
  EXPECT_EQ(h.register_lease(c, holder, "web"), ResponseCode::Accepted);
  auto info = control::ClientRequest::relay_info();
  const auto s = h.request(h.connect("192.0.2.2"), info);
  ASSERT_TRUE(info.done());
  ASSERT_EQ(info.relay_info_response()->leases.size(), 1u);
  EXPECT_EQ(info.relay_info_response()->leases[0].name, "web");
  EXPECT_EQ(h.c().step(s), Step::Read);  // more requests may follow on the stream
  h.c().stream_eof(s, h.now());
  EXPECT_EQ(h.c().step(s), Step::Finish);
}

TEST(RelayCore, ForwardsAConnectionRequestAndSplicesOnAccepted) {
  Harness h;
  const auto holder = credential(1);
  const auto hc = h.connect("192.0.2.1");
  ASSERT_EQ(h.register_lease(hc, holder, "web"), ResponseCode::Accepted);
  const auto dc = h.connect("192.0.2.2");
  auto d = dial(h, dc, holder.id());
  EXPECT_EQ(h.c().forward_target(d.dialer), hc);
  ASSERT_NE(d.holder, 0u);
  EXPECT_EQ(h.c().step(d.dialer), Step::Wait);
  ASSERT_TRUE(d.incoming.has_request());
  EXPECT_EQ(d.incoming.request()->lease_id, holder.id());
  answer(h, d, ResponseCode::Accepted);
  EXPECT_TRUE(d.request.done());
  EXPECT_EQ(d.request.code(), ResponseCode::Accepted);
  EXPECT_EQ(h.c().step(d.dialer), Step::Splice);
  EXPECT_EQ(h.c().step(d.holder), Step::Splice);
  EXPECT_EQ(h.c().splice_peer(d.dialer), d.holder);
  EXPECT_EQ(h.c().stats().relayed_streams, 1u);
  EXPECT_EQ(h.c().relayed_streams(holder.id()), 1u);
  h.c().spliced_moved(d.dialer, true, 100, h.now());
  h.c().spliced_moved(d.dialer, false, 40, h.now());
  EXPECT_EQ(h.c().stats().bytes_to_holder, 100u);
  EXPECT_EQ(h.c().stats().bytes_to_dialer, 40u);
  h.c().splice_ended(d.dialer);
  h.c().stream_closed(d.dialer);
  h.c().stream_closed(d.holder);
  EXPECT_EQ(h.c().stats().relayed_streams, 0u);
  EXPECT_EQ(h.c().relayed_streams(holder.id()), 0u);
  EXPECT_EQ(h.c().streams(), 0u);
}

TEST(RelayCore, AHolderRefusalReachesTheDialerAndTheStreamStaysUsable) {
  Harness h;
  const auto holder = credential(1);
  const auto hc = h.connect();
  ASSERT_EQ(h.register_lease(hc, holder, "web"), ResponseCode::Accepted);
  auto d = dial(h, h.connect("192.0.2.2"), holder.id());
  answer(h, d, ResponseCode::Rejected);
  EXPECT_EQ(d.request.code(), ResponseCode::Rejected);
  EXPECT_EQ(h.c().step(d.dialer), Step::Read);
  EXPECT_EQ(h.c().step(d.holder), Step::Abort);
  EXPECT_EQ(h.c().relayed_streams(holder.id()), 0u);
}

TEST(RelayCore, AnUnknownLeaseIsInvalidIdentityWithoutAForward) {
  Harness h;
  auto d = dial(h, h.connect(), credential(9).id());
  EXPECT_EQ(d.holder, 0u);
  EXPECT_EQ(d.request.code(), ResponseCode::InvalidIdentity);
}

TEST(RelayCore, AHolderThatDoesNotAnswerInTimeGetsTheDialerRejected) {
  Harness h;
  h.limits.forward_timeout_ms = 5'000;
  const auto holder = credential(1);
  ASSERT_EQ(h.register_lease(h.connect(), holder, "web"), ResponseCode::Accepted);
  auto d = dial(h, h.connect("192.0.2.2"), holder.id());
  ASSERT_NE(d.holder, 0u);
  h.advance(4'999ms);
  EXPECT_EQ(h.c().step(d.dialer), Step::Wait);
  h.advance(1ms);
  EXPECT_TRUE(h.asked(Action::Kind::ResetStream, d.holder));
  h.pump(d.dialer, d.request);
  EXPECT_EQ(d.request.code(), ResponseCode::Rejected);
  EXPECT_EQ(h.c().relayed_streams(holder.id()), 0u);
  // The holder's late answer changes nothing.
  ASSERT_TRUE(d.incoming.answer(ResponseCode::Accepted));
  h.pump(d.holder, d.incoming);
  EXPECT_NE(h.c().step(d.dialer), Step::Splice);
}

TEST(RelayCore, AHolderConnectionClosingDuringAForwardRejectsTheDialer) {
  Harness h;
  const auto holder = credential(1);
  const auto hc = h.connect();
  ASSERT_EQ(h.register_lease(hc, holder, "web"), ResponseCode::Accepted);
  auto d = dial(h, h.connect("192.0.2.2"), holder.id());
  h.c().connection_closed(hc, {}, h.now());
  h.c().stream_failed(d.holder, h.now());
  h.pump(d.dialer, d.request);
  EXPECT_EQ(d.request.code(), ResponseCode::Rejected);
  EXPECT_EQ(h.c().leases().size(), 0u);  // §6.6: the holder's leases went with it
}

TEST(RelayCore, FirstFrameAndIdleTimeoutsCloseConnectionsInVirtualTime) {
  Harness h;
  h.limits.first_frame_timeout_ms = 10'000;
  h.limits.session_idle_timeout_ms = 90'000;
  ASSERT_TRUE(h.c().take_address("192.0.2.1", "ws", h.now()));
  const auto silent = h.c().connection_opened("192.0.2.1", "ws", h.now().steady, h.now());
  const auto talker = h.connect("192.0.2.2");
  h.advance(9'999ms);
  EXPECT_FALSE(h.asked(Action::Kind::CloseConnection, silent));
  h.advance(1ms);
  EXPECT_TRUE(h.asked(Action::Kind::CloseConnection, silent));
  EXPECT_EQ(h.refusals("first_frame_timeout"), 1u);
  // Traffic moves the idle deadline; silence past it closes.
  h.advance(70'000ms);
  h.c().connection_received(talker, 40, h.now());
  h.advance(80'000ms);
  EXPECT_FALSE(h.asked(Action::Kind::CloseConnection, talker));
  h.advance(10'000ms);
  EXPECT_TRUE(h.asked(Action::Kind::CloseConnection, talker));
  EXPECT_EQ(h.refusals("session_idle_timeout"), 1u);
}

TEST(RelayCore, AStreamWithoutACompletePacketIsResetAfterTheFirstPacketTimeout) {
  Harness h;
  h.limits.first_packet_timeout_ms = 10'000;
  const auto c = h.connect();
  const auto parked = *h.c().stream_accepted(c, h.now());
  const Bytes prefix{0, 0, 0, 9};  // a length prefix and nothing more
  EXPECT_EQ(h.c().stream_input(parked, prefix, h.now()), prefix.size());
  auto info = control::ClientRequest::relay_info();
  const auto answered = h.request(c, info);
  h.advance(10'000ms);
  EXPECT_TRUE(h.asked(Action::Kind::ResetStream, parked));
  EXPECT_EQ(h.c().step(parked), Step::Abort);
  EXPECT_FALSE(h.asked(Action::Kind::ResetStream, answered));
  EXPECT_EQ(h.refusals("first_packet_timeout"), 1u);
}

TEST(RelayCore, OpenControlStreamsAreLimitedPerSessionAndPerAddress) {
  Harness h;
  h.limits.max_control_streams_per_session = 3;
  h.limits.max_control_streams_per_ip = 5;
  const auto a = h.connect("192.0.2.1");
  std::vector<StreamId> open;
  for (int i = 0; i < 3; ++i) open.push_back(*h.c().stream_accepted(a, h.now()));
  EXPECT_FALSE(h.c().stream_accepted(a, h.now()));
  EXPECT_EQ(h.refusals("control_streams_per_session"), 1u);
  // A second session of the same address gets the rest of the address's budget.
  const auto b = h.connect("192.0.2.1");
  EXPECT_TRUE(h.c().stream_accepted(b, h.now()));
  EXPECT_TRUE(h.c().stream_accepted(b, h.now()));
  EXPECT_FALSE(h.c().stream_accepted(b, h.now()));
  EXPECT_EQ(h.refusals("control_streams_per_ip"), 1u);
  // Another address is not affected; a closed stream gives its slot back.
  EXPECT_TRUE(h.c().stream_accepted(h.connect("192.0.2.9"), h.now()));
  h.c().stream_closed(open[0]);
  EXPECT_TRUE(h.c().stream_accepted(a, h.now()));
}

TEST(RelayCore, OneDialerCannotTakeAllOfALeasesSlots) {
  Harness h;
  h.limits.max_streams_per_lease = 4;
  h.limits.max_spliced_per_dialer_session = 2;
  h.limits.max_spliced_per_dialer_ip = 3;
  const auto holder = credential(1);
  ASSERT_EQ(h.register_lease(h.connect("192.0.2.1"), holder, "web"), ResponseCode::Accepted);
  const auto hoarder = h.connect("198.51.100.1");
  std::vector<Dial> kept;
  for (int i = 0; i < 2; ++i) {
    kept.push_back(dial(h, hoarder, holder.id()));
    answer(h, kept.back(), ResponseCode::Accepted);
    ASSERT_EQ(kept.back().request.code(), ResponseCode::Accepted);
  }
  auto third = dial(h, hoarder, holder.id());
  EXPECT_EQ(third.request.code(), ResponseCode::Rejected);
  EXPECT_EQ(h.refusals("spliced_per_dialer_session"), 1u);
  // A second session of the same address: one more, then the address cap.
  const auto again = h.connect("198.51.100.1");
  kept.push_back(dial(h, again, holder.id()));
  answer(h, kept.back(), ResponseCode::Accepted);
  EXPECT_EQ(kept.back().request.code(), ResponseCode::Accepted);
  auto fourth = dial(h, again, holder.id());
  EXPECT_EQ(fourth.request.code(), ResponseCode::Rejected);
  EXPECT_EQ(h.refusals("spliced_per_dialer_ip"), 1u);
  // Another dialer still gets the lease's last slot, and then the lease cap applies.
  auto fresh = dial(h, h.connect("203.0.113.7"), holder.id());
  answer(h, fresh, ResponseCode::Accepted);
  EXPECT_EQ(fresh.request.code(), ResponseCode::Accepted);
  auto over = dial(h, h.connect("203.0.113.8"), holder.id());
  EXPECT_EQ(over.request.code(), ResponseCode::Rejected);
  EXPECT_EQ(h.refusals("streams_per_lease"), 1u);
}

TEST(RelayCore, IdleSplicedStreamsAreClosedSoTheyCannotLockALeaseOut) {
  Harness h;
  h.limits.spliced_idle_timeout_ms = 60'000;
  const auto holder = credential(1);
  ASSERT_EQ(h.register_lease(h.connect(), holder, "web"), ResponseCode::Accepted);
  auto idle = dial(h, h.connect("192.0.2.2"), holder.id());
  answer(h, idle, ResponseCode::Accepted);
  auto busy = dial(h, h.connect("192.0.2.3"), holder.id());
  answer(h, busy, ResponseCode::Accepted);
  for (int i = 0; i < 6; ++i) {
    h.advance(15'000ms);
    h.c().spliced_moved(busy.dialer, i % 2 == 0, 10, h.now());
  }
  EXPECT_TRUE(h.asked(Action::Kind::ResetStream, idle.dialer));
  EXPECT_TRUE(h.asked(Action::Kind::ResetStream, idle.holder));
  EXPECT_FALSE(h.asked(Action::Kind::ResetStream, busy.dialer));
  EXPECT_EQ(h.refusals("spliced_idle_timeout"), 1u);
}

TEST(RelayCore, RelayInfoIsRateLimitedPerSessionAndPerAddress) {
  Harness h;
  // A small table's answer costs the floor of 1 KiB.
  h.limits.relay_info_kib_per_minute_per_session = 3;
  h.limits.relay_info_kib_per_minute_per_ip = 4;
  const auto a = h.connect("192.0.2.1");
  auto ask = [&](ConnectionId c) {
    auto info = control::ClientRequest::relay_info();
    const auto s = h.request(c, info);
    return std::pair{info.done(), h.c().step(s)};
  };
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(ask(a).first);
  const auto refused = ask(a);
  EXPECT_FALSE(refused.first);
  EXPECT_EQ(refused.second, Step::Abort);
  EXPECT_EQ(h.refusals("relay_info_per_session"), 1u);
  // The address has one left, for another session.
  const auto b = h.connect("192.0.2.1");
  EXPECT_TRUE(ask(b).first);
  EXPECT_FALSE(ask(b).first);
  EXPECT_EQ(h.refusals("relay_info_per_ip"), 1u);
  // Bytes come back with time: 4 KiB a minute is 1 KiB every 15 s.
  h.advance(20'000ms);
  EXPECT_TRUE(ask(b).first);
  EXPECT_TRUE(ask(h.connect("192.0.2.200")).first);  // other addresses were never limited
}

// The limit is on bytes: a bigger table buys fewer answers.
TEST(RelayCore, ARelayInfoAnswerCostsItsSize) {
  Harness h;
  h.limits.relay_info_kib_per_minute_per_session = 10;
  h.limits.relay_info_kib_per_minute_per_ip = 0;
  ASSERT_EQ(h.register_lease(h.connect(), credential(1), "big", std::string(3000, 'm')),
            ResponseCode::Accepted);
  const auto c = h.connect("192.0.2.2");
  int answered = 0;
  for (int i = 0; i < 5; ++i) {
    auto info = control::ClientRequest::relay_info();
    (void)h.request(c, info);
    answered += info.done() ? 1 : 0;
  }
  EXPECT_EQ(answered, 3);  // about 3.1 KiB each
  EXPECT_EQ(h.refusals("relay_info_per_session"), 2u);
}

TEST(RelayCore, LeasesAreLimitedPerAddressButRenewalsAreNot) {
  Harness h;
  h.limits.max_leases_per_ip = 2;
  const auto a = h.connect("192.0.2.1");
  const auto b = h.connect("192.0.2.1");
  EXPECT_EQ(h.register_lease(a, credential(1), "one"), ResponseCode::Accepted);
  EXPECT_EQ(h.register_lease(b, credential(2), "two"), ResponseCode::Accepted);
  EXPECT_EQ(h.register_lease(b, credential(3), "three"), ResponseCode::Rejected);
  EXPECT_EQ(h.refusals("leases_per_ip"), 1u);
  h.advance(5'000ms);
  EXPECT_EQ(h.register_lease(a, credential(1), "one"), ResponseCode::Accepted);
  EXPECT_EQ(h.register_lease(h.connect("192.0.2.2"), credential(3), "three"),
            ResponseCode::Accepted);
}

TEST(RelayCore, ConnectionsAreLimitedPerAddress) {
  Harness h;
  h.limits.max_connections_per_ip = 2;
  EXPECT_TRUE(h.c().take_address("192.0.2.1", "ws", h.now()));
  EXPECT_TRUE(h.c().take_address("192.0.2.1", "ws", h.now()));
  EXPECT_FALSE(h.c().take_address("192.0.2.1", "ws", h.now()));
  EXPECT_EQ(h.refusals("connections_per_ip"), 1u);
  h.c().release_address("192.0.2.1");
  EXPECT_TRUE(h.c().take_address("192.0.2.1", "ws", h.now()));
}

// IPv6 clients are counted per network (limits.ipv6_prefix, /64 by default): the addresses of
// one /64 share one budget; IPv4 and IPv4-mapped addresses stay apart. An address ban is
// checked against the network.
TEST(RelayCore, IPv6ClientsAreCountedPerPrefix) {
  EXPECT_EQ(accounting_address("2001:db8:1:2:aaaa::1", "#0", 64), "2001:db8:1:2:0:0:0:0/64");
  EXPECT_EQ(accounting_address("2001:db8:1:2:ffff:ffff:ffff:ffff", "#0", 64),
            "2001:db8:1:2:0:0:0:0/64");
  EXPECT_EQ(accounting_address("2001:db8:1:3::1", "#0", 48), "2001:db8:1:0:0:0:0:0/48");
  EXPECT_EQ(accounting_address("2001:db8:1:2::1", "#0", 61), "2001:db8:1:0:0:0:0:0/61");
  EXPECT_EQ(accounting_address("::ffff:192.0.2.1", "#0", 64), "192.0.2.1");  // dual stack
  EXPECT_EQ(accounting_address("::ffff:192.0.2.1", "#0", 128), "192.0.2.1");
  EXPECT_EQ(accounting_address("192.0.2.1", "#0", 64), "192.0.2.1");
  Harness h;
  h.limits.max_connections_per_ip = 2;
  const auto a = accounting_address("2001:db8:1:2::a", "#0", 64);
  const auto b = accounting_address("2001:db8:1:2::b", "#0", 64);
  const auto other = accounting_address("2001:db8:1:3::a", "#0", 64);
  EXPECT_TRUE(h.c().take_address(a, "ws", h.now()));
  EXPECT_TRUE(h.c().take_address(b, "ws", h.now()));
  EXPECT_FALSE(h.c().take_address(a, "ws", h.now()));  // the /64's budget is spent
  EXPECT_TRUE(h.c().take_address(other, "ws", h.now()));
  // Counted under its network, a connection still shows its own address (logs, admin API).
  const auto shown = h.c().connection_opened(a, "ws", h.now().steady, h.now(), "2001:db8:1:2::a");
  EXPECT_EQ(h.c().connection_address(shown), "2001:db8:1:2::a");
  EXPECT_EQ(h.c().connection_address(h.connect("192.0.2.7")), "192.0.2.7");
  EXPECT_EQ(h.c().ban(Ban{Ban::Kind::Address, "2001:db8:1:3::/64", 0, {}}, h.now()), "");
  EXPECT_FALSE(h.c().take_address(other, "ws", h.now()));
  EXPECT_EQ(h.refusals("banned"), 1u);
}

// Peers without an IP address (Unix sockets) are counted in one bucket per listener: they share
// its budget, which is apart from other listeners' and from every IP address.
TEST(RelayCore, PeersWithoutAnAddressAreCountedPerListener) {
  EXPECT_EQ(accounting_address("192.0.2.1", "#0 tcp://127.0.0.1:4027"), "192.0.2.1");
  EXPECT_EQ(accounting_address("2001:db8::1", "#0 tcp://[::]:4027"), "2001:db8::1");
  EXPECT_EQ(accounting_address("2001:db8::1", "#0 tcp://[::]:4027", 128), "2001:db8::1");
  EXPECT_EQ(accounting_address("", "#1 unix:///run/a.sock"), "listener #1 unix:///run/a.sock");
  EXPECT_EQ(accounting_address("relay.sock", "#1 unix:///run/a.sock"),
            "listener #1 unix:///run/a.sock");  // not an IP address: the listener's bucket
  Harness h;
  h.limits.max_connections_per_ip = 2;
  h.limits.max_leases_per_ip = 1;
  const auto a = accounting_address("", "#1 unix:///run/a.sock");
  const auto b = accounting_address("", "#2 unix:///run/b.sock");
  const auto first = h.connect(a);
  (void)h.connect(a);
  EXPECT_FALSE(h.c().take_address(a, "unix", h.now()));  // the listener's budget is spent
  EXPECT_EQ(h.refusals("connections_per_ip"), 1u);
  EXPECT_NE(std::find_if(h.log.begin(), h.log.end(),
                         [](const std::string& l) {
                           return l.find(
                                      "connection from listener #1 unix:///run/a.sock via "
                                      "unix refused") != std::string::npos;
                         }),
            h.log.end());
  (void)h.connect(b);  // another listener, another bucket
  (void)h.connect("192.0.2.1");
  // The other per-IP limits use the same bucket: one lease for all of the listener's peers.
  EXPECT_EQ(h.register_lease(first, credential(1), "one"), ResponseCode::Accepted);
  EXPECT_EQ(h.register_lease(h.connect("192.0.2.9"), credential(2), "two"), ResponseCode::Accepted);
  h.c().release_address(a);
  const auto again = h.connect(a);
  EXPECT_EQ(h.register_lease(again, credential(3), "three"), ResponseCode::Rejected);
  EXPECT_EQ(h.refusals("leases_per_ip"), 1u);
}

TEST(RelayCore, TheSweepRemovesExpiredLeases) {
  Harness h;
  const auto c = h.connect();
  ASSERT_EQ(h.register_lease(c, credential(1), "web"), ResponseCode::Accepted);
  EXPECT_EQ(h.c().leases().size(), 1u);
  for (int i = 0; i < 4; ++i) {
    h.advance(15'000ms);
    h.c().connection_received(c, 12, h.now());  // the session itself stays alive
  }
  EXPECT_EQ(h.c().leases().size(), 0u);
  EXPECT_NE(std::find_if(h.log.begin(), h.log.end(),
                         [](const std::string& l) { return l.find("expired") != l.npos; }),
            h.log.end());
}

TEST(RelayCore, RefusalLogLinesAreRateLimitedAndCountTheOnesLeftOut) {
  Harness h;
  h.limits.max_connections_per_ip = 1;
  ASSERT_TRUE(h.c().take_address("192.0.2.1", "ws", h.now()));
  for (int i = 0; i < 100; ++i) EXPECT_FALSE(h.c().take_address("192.0.2.1", "ws", h.now()));
  EXPECT_EQ(h.refusals("connections_per_ip"), 100u);
  const auto lines = [&] {
    return std::count_if(h.log.begin(), h.log.end(), [](const std::string& l) {
      return l.find("connections_per_ip") != l.npos;
    });
  };
  EXPECT_EQ(lines(), 1);
  h.advance(1'000ms);
  EXPECT_FALSE(h.c().take_address("192.0.2.1", "ws", h.now()));
  EXPECT_EQ(lines(), 2);
  EXPECT_NE(h.log.back().find("99 more not logged"), std::string::npos) << h.log.back();
}

TEST(RelayCore, StateIsReleasedWhenStreamsAndConnectionsEnd) {
  Harness h;
  const auto baseline = h.c().timers();  // the sweep
  for (int round = 0; round < 200; ++round) {
    const auto c = h.connect("192.0.2." + std::to_string(round % 50));
    for (int i = 0; i < 5; ++i) {
      const auto s = *h.c().stream_accepted(c, h.now());
      h.c().stream_failed(s, h.now());
      h.c().stream_closed(s);
    }
    h.c().connection_closed(c, {}, h.now());
    for (int i = 0; i < 1; ++i) h.c().release_address("192.0.2." + std::to_string(round % 50));
  }
  EXPECT_EQ(h.c().connections(), 0u);
  EXPECT_EQ(h.c().streams(), 0u);
  EXPECT_EQ(h.c().timers(), baseline);
}

TEST(RelayCore, AMalformedControlPacketAbortsTheStreamAndIsCounted) {
  Harness h;
  const auto s = *h.c().stream_accepted(h.connect(), h.now());
  const Bytes junk{0, 0, 0, 3, 0xff, 0xff, 0xff};
  (void)h.c().stream_input(s, junk, h.now());
  EXPECT_EQ(h.c().step(s), Step::Abort);
  EXPECT_EQ(h.c().metrics().control_errors.at("malformed"), 1u);
}

// A stream's bytes can still arrive after its session ended (the mux had buffered them).
TEST(RelayCore, AConnectionRequestFromAClosedSessionIsRefusedWithoutAForward) {
  Harness h;
  const auto holder = credential(1);
  ASSERT_EQ(h.register_lease(h.connect(), holder, "web"), ResponseCode::Accepted);
  const auto dc = h.connect("192.0.2.2");
  const auto s = *h.c().stream_accepted(dc, h.now());
  h.c().connection_closed(dc, {}, h.now());
  auto req = control::ClientRequest::connection(holder.id(), std::nullopt);
  h.pump(s, req);
  EXPECT_EQ(h.c().step(s), Step::Abort);
  EXPECT_EQ(h.c().relayed_streams(holder.id()), 0u);
  h.c().stream_closed(s);
  EXPECT_EQ(h.c().streams(), 0u);
}

// A lease moved from another address's session counts against the new address.
TEST(RelayCore, MovingLeasesBetweenAddressesCannotBypassTheAddressLimit) {
  Harness h;
  h.limits.max_leases_per_ip = 1;
  const auto a = h.connect("192.0.2.1");
  const auto b = h.connect("192.0.2.2");
  EXPECT_EQ(h.register_lease(a, credential(1), "one"), ResponseCode::Accepted);
  EXPECT_EQ(h.register_lease(a, credential(2), "two"), ResponseCode::Rejected);
  EXPECT_EQ(h.register_lease(b, credential(2), "two"), ResponseCode::Accepted);
  h.advance(1'000ms);
  EXPECT_EQ(h.register_lease(a, credential(2), "two"), ResponseCode::Rejected);  // a move to a
  EXPECT_EQ(h.refusals("leases_per_ip"), 2u);
  // Between two sessions of one address, a lease moves freely.
  const auto a2 = h.connect("192.0.2.1");
  EXPECT_EQ(h.register_lease(a2, credential(1), "one"), ResponseCode::Accepted);
}

// The address's RelayInfo bucket outlives its connections: reconnecting does not refill it.
TEST(RelayCore, ReconnectingDoesNotRefillTheAddressRelayInfoBucket) {
  Harness h;
  h.limits.relay_info_kib_per_minute_per_session = 0;
  h.limits.relay_info_kib_per_minute_per_ip = 2;
  int answered = 0;
  for (int i = 0; i < 5; ++i) {
    const auto c = h.connect("192.0.2.1");
    auto info = control::ClientRequest::relay_info();
    const auto s = h.request(c, info);
    answered += info.done() ? 1 : 0;
    h.c().stream_closed(s);
    h.c().connection_closed(c, {}, h.now());
    h.c().release_address("192.0.2.1");
  }
  EXPECT_EQ(answered, 2);
  EXPECT_EQ(h.refusals("relay_info_per_ip"), 3u);
  // Full again after a minute.
  h.advance(60'000ms);
  auto info = control::ClientRequest::relay_info();
  (void)h.request(h.connect("192.0.2.1"), info);
  EXPECT_TRUE(info.done());
}

// A forward that ends while the driver still waits to open the holder stream wakes it.
TEST(RelayCore, AForwardThatTimesOutBeforeTheHolderStreamOpensWakesTheDriver) {
  Harness h;
  h.limits.forward_timeout_ms = 1'000;
  const auto holder = credential(1);
  ASSERT_EQ(h.register_lease(h.connect(), holder, "web"), ResponseCode::Accepted);
  auto req = control::ClientRequest::connection(holder.id(), std::nullopt);
  const auto s = h.request(h.connect("192.0.2.2"), req);
  ASSERT_EQ(h.c().step(s), Step::Forward);
  h.advance(1'000ms);
  EXPECT_TRUE(h.asked(Action::Kind::Wake, s));
  EXPECT_EQ(h.c().step(s), Step::Read);
  EXPECT_EQ(h.c().holder_opened(s, h.now()), 0u);  // too late: no holder stream
  h.pump(s, req);
  EXPECT_EQ(req.code(), ResponseCode::Rejected);
}

// ---- a relay of a fleet (FleetOptions::directory; ADR 0015) -------------------------------------

// The harness's steady clock in milliseconds: the time scale a MemoryDirectory is given.
std::int64_t steady_ms(const Harness& h) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(h.now().steady.time_since_epoch())
      .count();
}

// Answers the core's directory requests with `answer` and hands the replies back, until none is
// left; returns what was answered.
std::vector<lease::DirectoryRequest> carry(
    Harness& h,
    const std::function<lease::DirectoryReply(const lease::DirectoryRequest&)>& answer) {
  std::vector<lease::DirectoryRequest> all;
  for (auto q = h.c().take_directory_requests(); !q.empty(); q = h.c().take_directory_requests()) {
    for (const auto& r : q) {
      all.push_back(r);
      h.c().directory_reply(answer(r), h.now());
      h.collect();
    }
  }
  return all;
}

// The requests carried to `dir`.
std::vector<lease::DirectoryRequest> carry(Harness& h, lease::MemoryDirectory& dir) {
  return carry(h, [&](const lease::DirectoryRequest& r) { return dir.apply(r, steady_ms(h)); });
}

// Every request answered `status` (the directory is away).
std::vector<lease::DirectoryRequest> fail_all(Harness& h, lease::DirectoryStatus status) {
  return carry(h, [status](const lease::DirectoryRequest& r) {
    lease::DirectoryReply reply;
    reply.ticket = r.ticket;
    reply.status = status;
    return reply;
  });
}

std::vector<lease::DirectoryOp> ops(const std::vector<lease::DirectoryRequest>& rs) {
  std::vector<lease::DirectoryOp> out;
  for (const auto& r : rs) out.push_back(r.op);
  return out;
}

using Op = lease::DirectoryOp;

TEST(RelayCoreFleet, ASignedRequestWaitsForTheDirectoryAndIsWokenByItsReplies) {
  Harness h;
  h.fleet.directory = true;
  h.fleet.heartbeat = 1000ms;
  h.fleet.peer_uri = "tcp://10.0.0.1:4027";
  lease::MemoryDirectory dir;
  h.advance(0ms);  // the first heartbeat at once
  auto first = carry(h, dir);
  ASSERT_EQ(ops(first), std::vector<Op>{Op::Heartbeat});
  EXPECT_EQ(first[0].relay, h.relay_id.id());
  EXPECT_EQ(std::string(first[0].value.begin(), first[0].value.end()), "tcp://10.0.0.1:4027");
  EXPECT_EQ(first[0].ttl, 3000ms);

  const auto holder = credential(1);
  const auto conn = h.connect();
  auto req = h.signed_lease(holder, "Web");
  const auto s = h.request(conn, req);
  EXPECT_EQ(h.c().step(s), Step::Wait);  // nothing answered before the directory
  EXPECT_FALSE(req.done());
  const auto checks = carry(h, dir);
  EXPECT_EQ(ops(checks), (std::vector<Op>{Op::CheckNonce, Op::ClaimName, Op::PublishLease}));
  EXPECT_EQ(checks[1].key, lease::fold_name("Web"));
  EXPECT_TRUE(h.asked(Action::Kind::Wake, s));
  EXPECT_EQ(h.c().step(s), Step::Read);
  h.pump(s, req);
  ASSERT_TRUE(req.done());
  EXPECT_EQ(req.code(), ResponseCode::Accepted);
  const auto& m = h.c().metrics().directory;
  EXPECT_EQ(m.at({"check_nonce", "ok"}), 1u);
  EXPECT_EQ(m.at({"claim_name", "ok"}), 1u);
  EXPECT_TRUE(h.c().stats().directory_available);

  // The heartbeat refreshes the record and the claim once half their life has passed.
  h.advance(1000ms);
  EXPECT_EQ(ops(carry(h, dir)), std::vector<Op>{Op::Heartbeat});
  h.advance(1000ms);
  EXPECT_EQ(ops(carry(h, dir)), (std::vector<Op>{Op::Heartbeat, Op::PublishLease, Op::ClaimName}));

  // The connection goes: its lease is withdrawn from the directory.
  h.c().connection_closed(conn, {}, h.now());
  const auto gone = carry(h, dir);
  ASSERT_EQ(ops(gone), std::vector<Op>{Op::WithdrawLease});
  EXPECT_EQ(gone[0].key, holder.id());
  EXPECT_EQ(gone[0].relay, h.relay_id.id());
}

TEST(RelayCoreFleet, ADirectoryThatNeverAnswersTimesOutAndTheRequestIsRefused) {
  Harness h;
  h.fleet.directory = true;
  h.fleet.reply_timeout = 2000ms;
  h.fleet.heartbeat = 60'000ms;
  (void)h.c();
  const auto holder = credential(1);
  const auto conn = h.connect();
  auto req = h.signed_lease(holder, "web");
  const auto s = h.request(conn, req);
  ASSERT_EQ(h.c().step(s), Step::Wait);
  EXPECT_EQ(h.c().take_directory_requests().size(), 2u);  // nonce and name: never answered
  h.advance(1999ms);
  EXPECT_EQ(h.c().step(s), Step::Wait);
  h.advance(1ms);
  EXPECT_TRUE(h.asked(Action::Kind::Wake, s));
  h.pump(s, req);
  ASSERT_TRUE(req.done());
  EXPECT_EQ(req.code(), ResponseCode::Rejected);
  EXPECT_EQ(h.refusals("directory_unavailable"), 1u);
  EXPECT_FALSE(h.c().stats().directory_available);
  EXPECT_EQ(h.c().metrics().directory.at({"check_nonce", "timed_out"}), 1u);
  EXPECT_EQ(h.c().leases().size(), 0u);
  // A late reply is counted and dropped.
  lease::DirectoryReply late;
  late.ticket = 2;
  late.status = lease::DirectoryStatus::Ok;
  h.c().directory_reply(late, h.now());
  EXPECT_EQ(h.c().metrics().directory.at({"unknown", "ok"}), 1u);
}

// A renewal accepted on the local replay cache alone while the directory was down: its nonce is
// recorded in the directory once it answers again, so replaying it on another relay is refused.
TEST(RelayCoreFleet, ANonceTheDirectoryMissedIsRecordedWhenItReturns) {
  Harness h;
  h.fleet.directory = true;
  h.fleet.heartbeat = 1000ms;
  lease::MemoryDirectory dir;
  h.advance(0ms);
  carry(h, dir);
  const auto holder = credential(1);
  const auto conn = h.connect();
  auto first = h.signed_lease(holder, "web");
  const auto s1 = h.request(conn, first);
  carry(h, dir);
  h.pump(s1, first);
  ASSERT_EQ(first.code(), ResponseCode::Accepted);

  // The directory goes away; the renewal on the same connection is accepted all the same.
  auto renewal = h.signed_lease(holder, "web");
  const auto s2 = h.request(conn, renewal);
  const auto down = fail_all(h, lease::DirectoryStatus::Unavailable);
  ASSERT_FALSE(down.empty());
  ASSERT_EQ(down[0].op, Op::CheckNonce);
  const auto missed = down[0];
  h.pump(s2, renewal);
  ASSERT_EQ(renewal.code(), ResponseCode::Accepted);
  EXPECT_FALSE(h.c().stats().directory_available);

  // Still down at the next heartbeat: nothing is retried while it is unreachable.
  h.advance(1000ms);
  for (const auto& r : fail_all(h, lease::DirectoryStatus::TimedOut)) {
    EXPECT_NE(r.op, Op::CheckNonce);
  }
  // Back: the heartbeat's answer brings the missed nonce, for the rest of its clock window.
  h.advance(1000ms);
  const auto back = carry(h, dir);
  EXPECT_TRUE(h.c().stats().directory_available);
  const auto again =
      std::find_if(back.begin(), back.end(), [](const auto& r) { return r.op == Op::CheckNonce; });
  ASSERT_NE(again, back.end()) << "the missed nonce was not recorded";
  EXPECT_EQ(again->key, holder.id());
  EXPECT_EQ(again->value, missed.value);
  EXPECT_LE(again->ttl, missed.ttl - 2000ms);
  EXPECT_GE(again->ttl, 1000ms);
  // Another relay checking the same request now finds it seen.
  lease::DirectoryRequest replay = missed;
  replay.ticket = 999;
  EXPECT_EQ(dir.apply(replay, 2000).status, lease::DirectoryStatus::Conflict);
  // Recorded once: the next heartbeats do not send it again.
  h.advance(1000ms);
  for (const auto& r : carry(h, dir)) EXPECT_NE(r.op, Op::CheckNonce);
}

TEST(RelayCoreFleet, WhenTheDirectoryReturnsEveryRecordIsRepublishedAtOnce) {
  Harness h;
  h.fleet.directory = true;
  h.fleet.heartbeat = 1000ms;
  lease::MemoryDirectory dir;
  h.advance(0ms);
  (void)carry(h, dir);
  // A lease registered through the directory.
  const auto x = credential(1);
  auto rx = h.signed_lease(x, "web");
  const auto sx = h.request(h.connect(), rx);
  (void)carry(h, dir);
  h.pump(sx, rx);
  ASSERT_EQ(rx.code(), ResponseCode::Accepted);

  // The directory goes away (the heartbeat's reply says so), then comes back empty.
  h.advance(1000ms);
  (void)fail_all(h, lease::DirectoryStatus::Unavailable);
  ASSERT_FALSE(h.c().stats().directory_available);
  lease::MemoryDirectory restarted;
  // The next request it answers (another identity's lease) shows it is back: x's record and name
  // go out again at once, though they are younger than half their life.
  const auto y = credential(2);
  auto ry = h.signed_lease(y, "api");
  (void)h.request(h.connect("192.0.2.2"), ry);
  const auto sent = carry(h, restarted);
  EXPECT_TRUE(h.c().stats().directory_available);
  const auto has = [&](Op op, const std::string& key) {
    return std::any_of(sent.begin(), sent.end(),
                       [&](const auto& q) { return q.op == op && q.key == key; });
  };
  EXPECT_TRUE(has(Op::PublishLease, x.id()));
  EXPECT_TRUE(has(Op::ClaimName, lease::fold_name("web")));
  EXPECT_TRUE(has(Op::PublishLease, y.id()));
  lease::DirectoryRequest resolve;
  resolve.op = Op::Resolve;
  resolve.key = x.id();
  EXPECT_EQ(restarted.apply(resolve, steady_ms(h)).status, lease::DirectoryStatus::Ok);
}

TEST(RelayCoreFleet, ALeaseAnsweredAfterItsConnectionClosedIsNotKept) {
  Harness h;
  h.fleet.directory = true;
  h.fleet.heartbeat = 60'000ms;
  lease::MemoryDirectory dir;
  (void)h.c();
  const auto holder = credential(1);
  const auto conn = h.connect();
  auto req = h.signed_lease(holder, "web");
  const auto s = h.request(conn, req);
  ASSERT_EQ(h.c().step(s), Step::Wait);
  h.c().connection_closed(conn, {}, h.now());
  const auto sent = carry(h, dir);
  EXPECT_EQ(h.c().leases().size(), 0u);
  ASSERT_FALSE(sent.empty());
  EXPECT_EQ(sent.back().op, Op::WithdrawLease);
  EXPECT_EQ(sent.back().key, holder.id());
}

TEST(RelayCoreFleet, WithoutADirectoryNothingIsEmitted) {
  Harness h;
  const auto conn = h.connect();
  EXPECT_EQ(h.register_lease(conn, credential(1), "web"), ResponseCode::Accepted);
  h.advance(60'000ms);
  h.c().connection_closed(conn, {}, h.now());
  EXPECT_TRUE(h.c().take_directory_requests().empty());
  EXPECT_TRUE(h.c().metrics().directory.empty());
}

// ---- forwarding to a lease held on a peer relay (ADR 0015 §3-4) --------------------------------

// The payload of `req`'s one packet (the signed LeaseUpdateRequest, as the directory stores it).
Bytes payload_of(const control::ClientRequest& req) {
  const auto out = req.pending_output();
  auto p = wire::decode_packet(out.subspan(4));
  EXPECT_TRUE(p.has_value());
  return p ? p->payload : Bytes{};
}

// A fleet of this relay and peer relay `peer` (allowed), whose heartbeat and lease record of
// `holder` are in `dir` as that relay would have written them.
struct PeerFleet {
  Harness h;
  lease::MemoryDirectory dir;
  identity::Credential peer = credential(150);
  identity::Credential holder = credential(1);
  std::string uri = "tcp://10.0.0.2:4027";

  explicit PeerFleet(bool allowed = true) {
    h.fleet.directory = true;
    h.fleet.heartbeat = 1000ms;
    if (allowed) h.fleet.peers = {peer.id()};
    h.fleet.peers.push_back(credential(151).id());  // another listed relay, with no records
  }
  void write(lease::DirectoryOp op, const std::string& key, Bytes value) {
    lease::DirectoryRequest r;
    r.op = op;
    r.key = key;
    r.relay = peer.id();
    r.value = std::move(value);
    r.ttl = 3000ms;
    EXPECT_EQ(dir.apply(r, steady_ms(h)).status, lease::DirectoryStatus::Ok);
  }
  // The peer's heartbeat and its record of `who`'s lease (signed by `signer`).
  void publish(const identity::Credential& who, const identity::Credential& signer) {
    write(lease::DirectoryOp::Heartbeat, "", Bytes(uri.begin(), uri.end()));
    auto req = h.signed_lease(signer, "web");
    write(lease::DirectoryOp::PublishLease, who.id(), payload_of(req));
  }
  // Starts the core; its first heartbeat reads the membership.
  void start() {
    h.advance(0ms);
    carry(h, dir);
  }
};

TEST(RelayCoreFleet, ALeaseHeldOnAPeerIsResolvedDialedAndForwardedOverOneSession) {
  PeerFleet f;
  f.publish(f.holder, f.holder);
  f.start();
  auto& h = f.h;
  EXPECT_TRUE(h.c().peering());
  const auto conn = h.connect();
  auto first = dial(h, conn, f.holder.id());
  EXPECT_EQ(h.c().step(first.dialer), Step::Wait);  // resolving
  const auto asked = carry(h, f.dir);
  ASSERT_EQ(ops(asked), std::vector<Op>{Op::Resolve});
  EXPECT_EQ(asked[0].key, f.holder.id());
  const auto dials = h.c().take_peer_dials();
  ASSERT_EQ(dials.size(), 1u);
  EXPECT_EQ(dials[0].relay, f.peer.id());
  EXPECT_EQ(dials[0].uri, f.uri);
  EXPECT_EQ(h.c().step(first.dialer), Step::Wait);  // until the session is up

  const auto pc = h.c().peer_connected(f.peer.id(), f.uri, "tcp", h.now());
  h.collect();
  EXPECT_TRUE(h.asked(Action::Kind::Wake, first.dialer));
  ASSERT_EQ(h.c().step(first.dialer), Step::Forward);
  EXPECT_EQ(h.c().forward_target(first.dialer), pc);
  first.holder = h.c().holder_opened(first.dialer, h.now());
  h.pump(first.holder, first.incoming);
  ASSERT_TRUE(first.incoming.has_request());  // the peer relay receives the dialer's request
  answer(h, first, ResponseCode::Accepted);
  EXPECT_EQ(first.request.code(), ResponseCode::Accepted);
  EXPECT_EQ(h.c().step(first.dialer), Step::Splice);
  EXPECT_EQ(h.c().stats().forwarded_streams, 1u);
  EXPECT_EQ(h.c().stats().peer_sessions_out, 1u);

  // The next dial reuses the route and the session: no lookup, no dial.
  auto second = dial(h, h.connect("192.0.2.9"), f.holder.id());
  EXPECT_TRUE(h.c().take_directory_requests().empty());
  EXPECT_TRUE(h.c().take_peer_dials().empty());
  EXPECT_NE(second.holder, 0u);
  EXPECT_TRUE(second.incoming.has_request());
  EXPECT_EQ(h.c().metrics().route_cache.at("hit"), 1u);
  // A second later the route is looked up again, over the same session.
  h.advance(1000ms);
  carry(h, f.dir);
  auto later = dial(h, h.connect("192.0.2.8"), f.holder.id());
  EXPECT_EQ(ops(carry(h, f.dir)), std::vector<Op>{Op::Resolve});
  EXPECT_TRUE(h.c().take_peer_dials().empty());
  EXPECT_EQ(h.c().step(later.dialer), Step::Forward);
  EXPECT_EQ(h.c().forward_target(later.dialer), pc);
  EXPECT_EQ(h.c().metrics().route_cache.at("miss"), 2u);
  // The peer no longer holds it (it moved): the answer goes to the dialer and the route goes.
  later.holder = h.c().holder_opened(later.dialer, h.now());
  h.pump(later.holder, later.incoming);
  answer(h, later, ResponseCode::InvalidIdentity);
  EXPECT_EQ(later.request.code(), ResponseCode::InvalidIdentity);
  auto after = dial(h, h.connect("192.0.2.7"), f.holder.id());
  EXPECT_EQ(ops(carry(h, f.dir)), std::vector<Op>{Op::Resolve});
  EXPECT_EQ(h.c().metrics().route_cache.at("miss"), 3u);

  // The session goes: the next dial opens a new one.
  h.c().connection_closed(pc, {}, h.now());
  EXPECT_EQ(h.c().stats().peer_sessions_out, 0u);
  auto third = dial(h, h.connect("192.0.2.10"), f.holder.id());
  carry(h, f.dir);
  EXPECT_EQ(h.c().take_peer_dials().size(), 1u);
  h.c().peer_dial_failed(f.peer.id(), "connection refused", h.now());
  h.collect();
  EXPECT_TRUE(h.asked(Action::Kind::Wake, third.dialer));
  h.pump(third.dialer, third.request);
  EXPECT_EQ(third.request.code(), ResponseCode::Rejected);
  EXPECT_EQ(h.c().metrics().peer_dials.at("failed"), 1u);
}

TEST(RelayCoreFleet, ARecordThatDoesNotVerifyOrSitsOnAnUnlistedRelayIsNotForwardedTo) {
  for (const bool allowed : {true, false}) {
    PeerFleet f(allowed);
    // Allowed peer, forged record (signed by another identity); or a good record on a relay
    // that is not on the allow-list.
    const auto forger = credential(2);
    f.publish(f.holder, allowed ? forger : f.holder);
    f.start();
    auto& h = f.h;
    auto d = dial(h, h.connect(), f.holder.id());
    carry(h, f.dir);
    EXPECT_TRUE(h.c().take_peer_dials().empty()) << allowed;
    h.pump(d.dialer, d.request);
    EXPECT_EQ(d.request.code(), ResponseCode::InvalidIdentity) << allowed;
    if (allowed) {
      EXPECT_TRUE(std::any_of(h.log.begin(), h.log.end(), [](const std::string& l) {
        return l.find("does not verify") != std::string::npos;
      }));
    }
  }
}

TEST(RelayCoreFleet, WithTheDirectoryDownALeaseElsewhereIsRefusedAtOnce) {
  PeerFleet f;
  f.start();
  auto& h = f.h;
  h.advance(1000ms);
  fail_all(h, lease::DirectoryStatus::Unavailable);
  ASSERT_FALSE(h.c().stats().directory_available);
  auto remote = dial(h, h.connect(), f.holder.id());
  EXPECT_TRUE(h.c().take_directory_requests().empty());
  h.pump(remote.dialer, remote.request);
  EXPECT_EQ(remote.request.code(), ResponseCode::Rejected);
}

TEST(RelayCoreFleet, APeerSessionIsAcceptedOnlyFromAListedRelayAndOnlyForwardsToLocalLeases) {
  PeerFleet f;
  f.start();
  auto& h = f.h;
  const auto stranger = h.connect("192.0.2.50");
  EXPECT_FALSE(h.c().peer_accepted(stranger, credential(77).id(), h.now()));
  EXPECT_EQ(h.refusals("peer_not_allowed"), 1u);

  const auto local = credential(3);
  const auto holder_conn = h.connect("192.0.2.3");
  auto reg = h.signed_lease(local, "here");
  const auto rs = h.request(holder_conn, reg);
  carry(h, f.dir);
  h.pump(rs, reg);
  ASSERT_EQ(reg.code(), ResponseCode::Accepted);

  const auto pc = h.connect("192.0.2.60");
  ASSERT_TRUE(h.c().peer_accepted(pc, f.peer.id(), h.now()));
  EXPECT_EQ(h.c().stats().peer_sessions_in, 1u);
  // A peer asks for a lease held here: forwarded to its holder as any dialer's request.
  auto d = dial(h, pc, local.id());
  EXPECT_NE(d.holder, 0u);
  EXPECT_TRUE(d.incoming.has_request());
  // For a lease not held here it never resolves (no request goes round the fleet).
  auto elsewhere = dial(h, pc, f.holder.id());
  EXPECT_TRUE(h.c().take_directory_requests().empty());
  EXPECT_EQ(elsewhere.request.code(), ResponseCode::InvalidIdentity);
  // And it may not register leases.
  auto sneaky = h.signed_lease(credential(4), "sneaky");
  const auto ss = h.c().stream_accepted(pc, h.now());
  ASSERT_TRUE(ss.has_value());
  h.pump(*ss, sneaky);
  EXPECT_EQ(h.c().step(*ss), Step::Abort);
  EXPECT_EQ(h.c().metrics().control_errors.at("unexpected_packet"), 1u);
  h.c().connection_closed(pc, {}, h.now());
  EXPECT_EQ(h.c().stats().peer_sessions_in, 0u);
}

TEST(RelayCoreFleet, ARelayThatJoinedSinceTheLastHeartbeatIsLookedUpOnceMore) {
  PeerFleet f;
  f.start();  // the membership is read before the peer's heartbeat
  f.publish(f.holder, f.holder);
  auto& h = f.h;
  auto d = dial(h, h.connect(), f.holder.id());
  const auto asked = carry(h, f.dir);
  EXPECT_EQ(ops(asked), (std::vector<Op>{Op::Resolve, Op::Members}));
  const auto dials = h.c().take_peer_dials();
  ASSERT_EQ(dials.size(), 1u);
  EXPECT_EQ(dials[0].uri, f.uri);

  // Still unknown after the second read: refused.
  PeerFleet g;
  g.start();
  auto req = g.h.signed_lease(g.holder, "web");
  g.write(Op::PublishLease, g.holder.id(), payload_of(req));  // a record, but no heartbeat
  auto e = dial(g.h, g.h.connect(), g.holder.id());
  EXPECT_EQ(ops(carry(g.h, g.dir)), (std::vector<Op>{Op::Resolve, Op::Members}));
  EXPECT_TRUE(g.h.c().take_peer_dials().empty());
  g.h.pump(e.dialer, e.request);
  EXPECT_EQ(e.request.code(), ResponseCode::Rejected);
}

// --- Bandwidth (ADR 0017 §4) -------------------------------------------------------------------

// A splice gets its lease's buckets (one per direction, shared by the lease's splices) and the
// relay's, at the configured rates; they go with the lease's last splice.
TEST(RelayCoreRate, ASpliceGetsItsLeasesAndTheRelaysBucketsPerDirection) {
  Harness h;
  h.limits.lease_bytes_per_second = 1'000'000;
  h.limits.relay_bytes_per_second = 5'000'000;
  const auto holder = credential(1);
  const auto other = credential(2);
  const auto hc = h.connect();
  ASSERT_EQ(h.register_lease(hc, holder, "web"), ResponseCode::Accepted);
  ASSERT_EQ(h.register_lease(h.connect("192.0.2.9"), other, "other"), ResponseCode::Accepted);
  auto a = dial(h, h.connect("192.0.2.2"), holder.id());
  EXPECT_EQ(h.c().splice_rate(a.dialer, true).lease, nullptr);  // not spliced yet
  answer(h, a, ResponseCode::Accepted);
  auto b = dial(h, h.connect("192.0.2.3"), holder.id());
  answer(h, b, ResponseCode::Accepted);
  auto c = dial(h, h.connect("192.0.2.4"), other.id());
  answer(h, c, ResponseCode::Accepted);
  const auto a_up = h.c().splice_rate(a.dialer, true);
  const auto a_down = h.c().splice_rate(a.dialer, false);
  ASSERT_NE(a_up.lease, nullptr);
  ASSERT_NE(a_up.relay, nullptr);
  EXPECT_EQ(a_up.lease->rate(), 1'000'000u);
  EXPECT_EQ(a_up.relay->rate(), 5'000'000u);
  EXPECT_NE(a_up.lease, a_down.lease);  // each direction has its own
  EXPECT_NE(a_up.relay, a_down.relay);
  EXPECT_EQ(h.c().splice_rate(b.dialer, true).lease, a_up.lease);  // the lease's, shared
  EXPECT_NE(h.c().splice_rate(c.dialer, true).lease, a_up.lease);  // another lease's
  EXPECT_EQ(h.c().splice_rate(c.dialer, true).relay, a_up.relay);  // the relay's, shared
  h.c().splice_ended(a.dialer);
  EXPECT_EQ(h.c().splice_rate(a.dialer, true).lease, nullptr);
  EXPECT_EQ(h.c().splice_rate(b.dialer, true).lease, a_up.lease);
  h.c().splice_ended(b.dialer);
  // The lease's last splice ended: its next one gets new buckets.
  auto d = dial(h, h.connect("192.0.2.5"), holder.id());
  answer(h, d, ResponseCode::Accepted);
  EXPECT_NE(h.c().splice_rate(d.dialer, true).lease, a_up.lease);
}

TEST(RelayCoreRate, ALeasesLimitChangesItsRunningSplicesAndGoesBackToTheDefault) {
  Harness h;
  h.limits.lease_bytes_per_second = 1'000'000;
  const auto holder = credential(1);
  ASSERT_EQ(h.register_lease(h.connect(), holder, "web"), ResponseCode::Accepted);
  auto a = dial(h, h.connect("192.0.2.2"), holder.id());
  answer(h, a, ResponseCode::Accepted);
  const auto up = h.c().splice_rate(a.dialer, true);
  const auto down = h.c().splice_rate(a.dialer, false);
  EXPECT_EQ(up.relay->rate(), 0u);  // no relay limit configured
  EXPECT_EQ(h.c().lease_rate(holder.id()), 1'000'000u);
  ASSERT_TRUE(h.c().set_lease_rate(holder.id(), 20'000, h.now()));
  EXPECT_EQ(h.c().lease_rate(holder.id()), 20'000u);
  EXPECT_EQ(up.lease->rate(), 20'000u);
  EXPECT_EQ(down.lease->rate(), 20'000u);
  ASSERT_TRUE(h.c().set_lease_rate(holder.id(), 0, h.now()));  // back to the default
  EXPECT_EQ(h.c().lease_rate(holder.id()), 1'000'000u);
  EXPECT_EQ(up.lease->rate(), 1'000'000u);
  // A limit set before a splice applies to it from its start.
  const auto later = credential(3);
  ASSERT_TRUE(h.c().set_lease_rate(later.id(), 7'000, h.now()));
  ASSERT_EQ(h.register_lease(h.connect("192.0.2.7"), later, "later"), ResponseCode::Accepted);
  auto b = dial(h, h.connect("192.0.2.8"), later.id());
  answer(h, b, ResponseCode::Accepted);
  EXPECT_EQ(h.c().splice_rate(b.dialer, false).lease->rate(), 7'000u);
}

// limits.lease_bytes_per_second_by_id: a configured limit of its own, which set_lease_rate()
// overrides and 0 returns to.
TEST(RelayCoreRate, AConfiguredLimitByIdentityComesBeforeTheDefault) {
  Harness h;
  const auto special = credential(4);
  h.limits.lease_bytes_per_second = 50'000;
  h.limits.lease_bytes_per_second_by_id[special.id()] = 9'000;
  EXPECT_EQ(h.c().lease_rate(special.id()), 9'000u);
  EXPECT_EQ(h.c().lease_rate(credential(5).id()), 50'000u);
  ASSERT_TRUE(h.c().set_lease_rate(special.id(), 100'000, h.now()));
  EXPECT_EQ(h.c().lease_rate(special.id()), 100'000u);
  ASSERT_TRUE(h.c().set_lease_rate(special.id(), 0, h.now()));
  EXPECT_EQ(h.c().lease_rate(special.id()), 9'000u);
}

TEST(RelayCoreRate, TheTableOfLeaseLimitsIsBounded) {
  Harness h;
  for (std::size_t i = 0; i < Core::kMaxLeaseRates; ++i) {
    ASSERT_TRUE(h.c().set_lease_rate("ID" + std::to_string(i), 4096, h.now()));
  }
  EXPECT_FALSE(h.c().set_lease_rate("one-more", 4096, h.now()));
  EXPECT_EQ(h.c().lease_rate("one-more"), 0u);
  EXPECT_TRUE(h.c().set_lease_rate("ID7", 8192, h.now()));  // a listed one changes
  EXPECT_EQ(h.c().lease_rate("ID7"), 8192u);
  EXPECT_TRUE(h.c().set_lease_rate("ID7", 0, h.now()));  // and makes room when removed
  EXPECT_TRUE(h.c().set_lease_rate("one-more", 4096, h.now()));
}

// The copy loops' waits reach the stats (and so /metrics), per scope.
TEST(RelayCoreRate, WaitsAreCountedPerScope) {
  Harness h;
  h.limits.lease_bytes_per_second = 65'536;
  h.limits.relay_bytes_per_second = 1'000'000;
  const auto holder = credential(1);
  ASSERT_EQ(h.register_lease(h.connect(), holder, "web"), ResponseCode::Accepted);
  auto a = dial(h, h.connect("192.0.2.2"), holder.id());
  answer(h, a, ResponseCode::Accepted);
  const auto r = h.c().splice_rate(a.dialer, true);
  const auto t0 = h.now().steady;
  EXPECT_EQ(r.lease->wait(r.lease->reserve(static_cast<std::size_t>(r.lease->burst()), t0), t0),
            0ns);
  EXPECT_GT(r.lease->wait(r.lease->reserve(1024, t0), t0), 0ns);
  r.lease->waited(50ms);
  EXPECT_EQ(h.c().stats().rate_waits_lease, 1u);
  EXPECT_DOUBLE_EQ(h.c().stats().rate_wait_seconds_lease, 0.05);
  EXPECT_EQ(h.c().stats().rate_waits_relay, 0u);
}
// --- end of bandwidth ---

}  // namespace
}  // namespace portal::relay
