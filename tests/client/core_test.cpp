// SPDX-License-Identifier: Apache-2.0
// The sans-IO client core on a manual clock: no socket, no Asio. Each scenario plays the driver:
// it answers (or does not answer) the core's actions and checks what the core decides.
#include "portal/client/core.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "portal/client/errors.hpp"
#include "portal/handshake/handshake.hpp"

namespace portal::client {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;
using Kind = Action::Kind;
using Phase = RelayState::Phase;

const std::string kOwnId = "OWNIDOWNIDOWNIDOWNIDOWNID2";

struct Seen {
  milliseconds at;  // since the start
  Action action;
};

class Scenario {
 public:
  explicit Scenario(std::size_t relays, config::ClientTimers timers = {})
      : core_(make_config(relays, timers, random_)) {
    start_ = now_.steady;
  }

  ClientCore& core() { return core_; }
  base::Now now() const { return now_; }
  milliseconds elapsed() const {
    return std::chrono::duration_cast<milliseconds>(now_.steady - start_);
  }

  // Records what the core asked for, stamped with the time it asked.
  void collect() {
    for (auto& a : core_.take_actions()) seen_.push_back(Seen{elapsed(), a});
  }
  // What the core asked for since the last call.
  std::vector<Action> actions() {
    collect();
    auto out = std::vector<Action>();
    for (std::size_t i = taken_; i < seen_.size(); ++i) out.push_back(seen_[i].action);
    taken_ = seen_.size();
    return out;
  }
  // Every action of `kind` on `relay` seen so far, with its time.
  std::vector<Seen> all(Kind kind, std::size_t relay) {
    (void)actions();
    std::vector<Seen> out;
    for (const auto& s : seen_) {
      if (s.action.kind == kind && s.action.relay == relay) out.push_back(s);
    }
    return out;
  }
  std::optional<Action> last(Kind kind, std::size_t relay) {
    auto a = all(kind, relay);
    if (a.empty()) return std::nullopt;
    return a.back().action;
  }

  // Moves the clock forward by `d`, firing every deadline on the way. `answer` (optional) plays
  // the driver for the actions that come up.
  void advance(milliseconds d, const std::function<void(const Action&)>& answer = {}) {
    const auto target = now_.steady + d;
    for (;;) {
      if (answer) {
        for (const auto& a : actions()) answer(a);
      }
      const auto next = core_.next_deadline();
      if (!next || *next > target) break;
      move_to(std::max(*next, now_.steady));
      core_.tick(now_);
      collect();
    }
    move_to(target);
    if (answer) {
      for (const auto& a : actions()) answer(a);
    }
  }

  // A driver whose relays all answer at once: every connect succeeds, pings and registrations
  // are answered ACCEPTED; relays in `silent` never answer anything.
  std::function<void(const Action&)> healthy(std::vector<std::size_t> silent = {}) {
    return [this, silent](const Action& a) {
      if (std::find(silent.begin(), silent.end(), a.relay) != silent.end()) return;
      switch (a.kind) {
        case Kind::Connect:
          core_.connected(a.relay, a.session, "RELAY" + std::to_string(a.relay), now_);
          break;
        case Kind::Ping: core_.ping_answered(a.relay, a.session, now_); break;
        case Kind::Register:
          core_.registered(a.relay, a.session, wire::ResponseCode::Accepted, {}, now_);
          break;
        case Kind::Delete: core_.deleted(a.relay, a.session, {}); break;
        default: break;
      }
    };
  }

 private:
  static ClientCore::Config make_config(std::size_t relays, config::ClientTimers timers,
                                        base::RandomSource& random) {
    ClientCore::Config c;
    for (std::size_t i = 0; i < relays; ++i) c.relays.push_back("ws://relay" + std::to_string(i));
    c.timers = timers;
    c.own_id = kOwnId;
    c.random = &random;
    return c;
  }
  void move_to(base::Clock::SteadyTime t) {
    // system_clock is coarser than steady_clock in libc++ (wasm): convert explicitly.
    now_.system += std::chrono::duration_cast<base::Clock::SystemTime::duration>(t - now_.steady);
    now_.steady = t;
  }

  base::OsRandom random_;
  base::Now now_{base::Clock::SteadyTime{} + 1h,
                 base::Clock::SystemTime{} + std::chrono::seconds(1'800'000'000)};
  base::Clock::SteadyTime start_;
  ClientCore core_;
  std::vector<Seen> seen_;
  std::size_t taken_ = 0;
};

LeaseSpec web() { return LeaseSpec{"web", {"http/1.1"}, "{}"}; }

TEST(ClientCore, StartTriesEveryRelayAtOnceAndReportsThemUp) {
  Scenario s(3);
  s.core().start(s.now());
  auto a = s.actions();
  ASSERT_EQ(a.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(a[i].kind, Kind::Connect);
    EXPECT_EQ(a[i].relay, i);
  }
  EXPECT_FALSE(s.core().any_up());
  s.core().connected(1, a[1].session, "R1", s.now());
  EXPECT_TRUE(s.core().any_up());
  EXPECT_FALSE(s.core().all_attempted());
  auto up = s.last(Kind::Up, 1);
  ASSERT_TRUE(up);
  EXPECT_EQ(up->detail, "R1");
  s.core().connect_failed(0, a[0].session, "refused", s.now());
  s.core().connect_failed(2, a[2].session, "refused", s.now());
  EXPECT_TRUE(s.core().all_attempted());
  EXPECT_EQ(s.core().relay(0).last_error, "refused");
}

// The lease is registered as soon as a relay is up, renewed every renew interval with an expiry
// of now + lease_ttl_s, and never twice at once on one relay.
TEST(ClientCore, RenewalCadence) {
  Scenario s(1);
  s.core().start(s.now());
  s.advance(0ms, s.healthy());
  ASSERT_TRUE(s.core().listen(web(), s.now()));
  EXPECT_FALSE(s.core().listen(web(), s.now()));  // one listener
  s.advance(60s, s.healthy());
  const auto regs = s.all(Kind::Register, 0);
  ASSERT_EQ(regs.size(), 13u);  // at 0 s, then every 5 s for a minute
  for (std::size_t i = 0; i < regs.size(); ++i) {
    EXPECT_EQ(regs[i].at, milliseconds(5000 * i)) << i;
    EXPECT_EQ(regs[i].action.lease.name, "web");
    EXPECT_EQ(regs[i].action.lease.alpn, std::vector<std::string>{"http/1.1"});
    EXPECT_EQ(regs[i].action.lease.expires, 1'800'000'000 + 5 * static_cast<std::int64_t>(i) + 30);
  }
  EXPECT_TRUE(s.core().relay(0).lease_accepted);

  // An answer that takes longer than the interval: the next renewal waits for it.
  Scenario slow(1);
  slow.core().start(slow.now());
  slow.advance(0ms, slow.healthy());
  ASSERT_TRUE(slow.core().listen(web(), slow.now()));
  slow.advance(12s, [&](const Action& a) {
    if (a.kind != Kind::Register) slow.healthy()(a);
  });
  EXPECT_EQ(slow.all(Kind::Register, 0).size(), 1u);
}

// Reconnect delays double from 0.5 s to 5 s, each varied by ± 20 %; a success resets them.
TEST(ClientCore, ReconnectBackoffBoundsAndJitterSpread) {
  Scenario s(1);
  s.core().start(s.now());
  s.advance(60s, [&](const Action& a) {
    if (a.kind == Kind::Connect) s.core().connect_failed(a.relay, a.session, "refused", s.now());
  });
  const auto tries = s.all(Kind::Connect, 0);
  ASSERT_GE(tries.size(), 10u);
  const std::vector<double> expected{500, 1000, 2000, 4000, 5000, 5000, 5000, 5000, 5000};
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const auto gap = static_cast<double>((tries[i + 1].at - tries[i].at).count());
    EXPECT_GE(gap, 0.8 * expected[i] - 1) << i;
    EXPECT_LE(gap, 1.2 * expected[i] + 1) << i;
  }
  // The spread: uniform in ± 20 %, not a fixed offset.
  double low = 1e9, high = 0, sum = 0;
  const int n = 2000;
  for (int i = 0; i < n; ++i) {
    const auto d = static_cast<double>(s.core().jittered(1000ms).count());
    ASSERT_GE(d, 800);
    ASSERT_LE(d, 1200);
    low = std::min(low, d);
    high = std::max(high, d);
    sum += d;
  }
  EXPECT_LT(low, 820);
  EXPECT_GT(high, 1180);
  EXPECT_NEAR(sum / n, 1000, 15);

  // Once connected, a later loss starts again from 0.5 s.
  s.advance(6s, s.healthy());
  ASSERT_EQ(s.core().relay(0).phase, Phase::Up);
  const auto before = s.all(Kind::Connect, 0).size();
  const auto lost = s.elapsed();
  s.core().session_closed(0, s.core().relay(0).session, "reset", s.now());
  s.advance(1s);  // the attempt is left unanswered
  const auto after = s.all(Kind::Connect, 0);
  ASSERT_EQ(after.size(), before + 1);
  EXPECT_GE(after.back().at - lost, 400ms);
  EXPECT_LE(after.back().at - lost, 600ms);
}

// A relay that dies and returns: the application hears down then up, the lease is registered
// again on the new session, and whatever the old session still reports is ignored.
TEST(ClientCore, ARelayThatDiesAndReturns) {
  Scenario s(1);
  s.core().start(s.now());
  s.advance(0ms, s.healthy());
  ASSERT_TRUE(s.core().listen(web(), s.now()));
  s.advance(1s, s.healthy());
  ASSERT_TRUE(s.core().relay(0).lease_accepted);
  const auto old = s.core().relay(0).session;

  s.core().session_closed(0, old, "connection reset", s.now());
  auto down = s.last(Kind::Down, 0);
  ASSERT_TRUE(down);
  EXPECT_EQ(down->detail, "connection reset");
  EXPECT_FALSE(s.core().relay(0).lease_accepted);
  EXPECT_EQ(s.core().relay(0).phase, Phase::Waiting);
  // The old session's late answers change nothing.
  s.core().registered(0, old, wire::ResponseCode::Accepted, {}, s.now());
  s.core().ping_answered(0, old, s.now());
  s.core().session_closed(0, old, "again", s.now());
  EXPECT_FALSE(s.core().relay(0).lease_accepted);
  EXPECT_EQ(s.all(Kind::Down, 0).size(), 1u);

  const auto connects_before = s.all(Kind::Connect, 0).size();
  const auto t_down = s.elapsed();
  s.advance(2s, [&](const Action& a) {
    if (a.kind == Kind::Connect && s.elapsed() < t_down + 1500ms) {
      s.core().connect_failed(a.relay, a.session, "refused", s.now());
    } else {
      s.healthy()(a);
    }
  });
  const auto connects = s.all(Kind::Connect, 0);
  ASSERT_GT(connects.size(), connects_before);
  const auto first_retry = connects[connects_before].at - t_down;
  EXPECT_GE(first_retry, 400ms);
  EXPECT_LE(first_retry, 600ms);
  s.advance(3s, s.healthy());
  EXPECT_EQ(s.core().relay(0).phase, Phase::Up);
  EXPECT_TRUE(s.core().relay(0).lease_accepted);
  const auto regs = s.all(Kind::Register, 0);
  ASSERT_FALSE(regs.empty());
  const auto up = s.all(Kind::Up, 0);
  ASSERT_EQ(up.size(), 2u);
  EXPECT_EQ(regs.back().at >= up.back().at, true);
  EXPECT_EQ(
      std::count_if(regs.begin(), regs.end(), [&](const Seen& r) { return r.at == up.back().at; }),
      1);  // registered again the moment it came back
}

// Two relays with different lease sets: each relay's answer is its own, and a dial target
// resolves exact-first across both, with ambiguity refused.
TEST(ClientCore, TwoRelaysWithDifferentLeaseSets) {
  Scenario s(2);
  s.core().start(s.now());
  s.advance(0ms, s.healthy());
  ASSERT_TRUE(s.core().listen(web(), s.now()));
  for (const auto& a : s.actions()) {
    ASSERT_EQ(a.kind, Kind::Register);
    s.core().registered(a.relay, a.session,
                        a.relay == 0 ? wire::ResponseCode::Accepted : wire::ResponseCode::Rejected,
                        {}, s.now());
  }
  EXPECT_TRUE(s.core().relay(0).lease_accepted);
  EXPECT_FALSE(s.core().relay(1).lease_accepted);
  EXPECT_EQ(s.core().relay(1).last_code, wire::ResponseCode::Rejected);

  auto lease = [](std::string name, std::string id, std::vector<std::string> alpn) {
    wire::Lease l;
    l.name = std::move(name);
    l.alpn = std::move(alpn);
    l.identity = identity::Identity{std::move(id), base::Bytes(32, 1)};
    return l;
  };
  const std::string a = "OREI3BGAI3ZBNJ6FBEOZANHYEE", b = "UXD2N3JFQH2XMFTUYJRVV3MASE";
  wire::RelayInfo one, two;
  one.leases = {lease("web", a, {"http/1.1"}), lease("Mail", b, {"smtp"})};
  two.leases = {lease("mail", b, {"smtp"}), lease("Web", b, {"http/1.1"})};
  const std::vector<Listing> listings{{"ws://relay0", &one}, {"ws://relay1", &two}};
  // Exact first: "web" is A's on relay 0 although relay 1 lists B's "Web".
  auto found = resolve_target(listings, "web");
  ASSERT_TRUE(found);
  ASSERT_EQ(found->size(), 1u);
  EXPECT_EQ(found->front().lease.identity->id, a);
  // No exact match: case folding finds both identities: ambiguous, naming them.
  std::string why;
  auto folded = resolve_target(listings, "WEB", &why);
  ASSERT_FALSE(folded);
  EXPECT_EQ(folded.error(), Errc::Ambiguous);
  EXPECT_NE(why.find(a), std::string::npos) << why;
  EXPECT_NE(why.find(b), std::string::npos) << why;
  // One identity on both relays: both are candidates, in relay order.
  auto both = resolve_target(listings, b);
  ASSERT_TRUE(both);
  ASSERT_EQ(both->size(), 2u);
  auto plan = plan_dial(*both, "smtp", [](const std::string& r) { return r == "ws://relay1"; });
  ASSERT_EQ(plan.size(), 2u);
  EXPECT_EQ(plan[0].skipped, "went down");
  EXPECT_TRUE(plan[1].skipped.empty());
  auto wrong = plan_dial(*found, "smtp", {});
  ASSERT_EQ(wrong.size(), 1u);
  EXPECT_EQ(wrong[0].skipped, "the lease offers ALPN http/1.1, not smtp");
  EXPECT_EQ(wrong[0].error, handshake::Errc::NoCommonAlpn);
}

// The incoming queue: at most accept_queue requests in their handshake or waiting for accept();
// requests for another lease, or while not listening, are refused.
TEST(ClientCore, IncomingQueueLimit) {
  config::ClientTimers t;
  t.accept_queue = 2;
  Scenario s(1, t);
  EXPECT_EQ(s.core().incoming_request(kOwnId), wire::ResponseCode::Rejected);  // not listening
  s.core().start(s.now());
  s.advance(0ms, s.healthy());
  ASSERT_TRUE(s.core().listen(web(), s.now()));
  EXPECT_EQ(s.core().incoming_request("SOMEONEELSESOMEONEELSESOME"), wire::ResponseCode::Rejected);
  EXPECT_EQ(s.core().incoming_request(kOwnId), wire::ResponseCode::Accepted);
  EXPECT_EQ(s.core().incoming_request(kOwnId), wire::ResponseCode::Accepted);
  EXPECT_EQ(s.core().incoming_request(kOwnId), wire::ResponseCode::Rejected);
  s.core().incoming_ended(true);  // queued: still counts
  EXPECT_EQ(s.core().incoming_request(kOwnId), wire::ResponseCode::Rejected);
  s.core().incoming_ended(false);  // a failed handshake frees its slot
  EXPECT_EQ(s.core().incoming_pending(), 1u);
  EXPECT_EQ(s.core().incoming_request(kOwnId), wire::ResponseCode::Accepted);
  s.core().incoming_taken();
  EXPECT_EQ(s.core().incoming_pending(), 1u);
  EXPECT_EQ(s.core().incoming_request(kOwnId), wire::ResponseCode::Accepted);
  EXPECT_EQ(s.core().incoming_request(kOwnId), wire::ResponseCode::Rejected);
  s.core().stop_listening(s.now());
  EXPECT_EQ(s.core().incoming_request(kOwnId), wire::ResponseCode::Rejected);
}

// A relay that never answers (connect, then anything) delays nobody: the other relay comes up,
// is registered at once and renewed on schedule, and its pings go out on time.
TEST(ClientCore, ASilentRelayDoesNotDelayTheOthers) {
  Scenario s(2);
  s.core().start(s.now());
  s.advance(0ms, s.healthy({0}));
  EXPECT_TRUE(s.core().any_up());
  EXPECT_FALSE(s.core().all_attempted());
  ASSERT_TRUE(s.core().listen(web(), s.now()));
  s.advance(30s, s.healthy({0}));
  const auto regs = s.all(Kind::Register, 1);
  ASSERT_EQ(regs.size(), 7u);
  for (std::size_t i = 0; i < regs.size(); ++i) EXPECT_EQ(regs[i].at, milliseconds(5000 * i));
  const auto pings = s.all(Kind::Ping, 1);
  ASSERT_EQ(pings.size(), 3u);
  EXPECT_EQ(pings[0].at, 10s);
  EXPECT_EQ(s.all(Kind::Register, 0).size(), 0u);
  EXPECT_EQ(s.all(Kind::Connect, 0).size(), 1u);  // still in its first attempt
  EXPECT_EQ(s.core().relay(1).phase, Phase::Up);

  // Silent once up: the ping's deadline takes it down and closes its session, alone.
  Scenario later(2);
  later.core().start(later.now());
  later.advance(0ms, later.healthy());
  later.advance(25s, [&](const Action& a) {
    if (a.kind == Kind::Ping && a.relay == 0) return;  // relay 0 stops answering
    later.healthy()(a);
  });
  const auto closes = later.all(Kind::Close, 0);
  ASSERT_EQ(closes.size(), 1u);
  EXPECT_EQ(closes[0].at, 20s);  // pinged at 10 s, no answer within 10 s
  auto down = later.last(Kind::Down, 0);
  ASSERT_TRUE(down);
  EXPECT_EQ(down->detail, "health ping failed: no answer in time");
  EXPECT_EQ(later.core().relay(1).phase, Phase::Up);
  EXPECT_TRUE(later.all(Kind::Close, 1).empty());
}

// Closing the listener deletes the lease on every relay that is up, and a registration answer
// that arrives afterwards does not bring it back.
TEST(ClientCore, StopListeningDeletesEverywhereAndLateAnswersDoNotUndoIt) {
  Scenario s(2);
  s.core().start(s.now());
  s.advance(0ms, s.healthy());
  ASSERT_TRUE(s.core().listen(web(), s.now()));
  auto regs = s.actions();
  ASSERT_EQ(regs.size(), 2u);
  s.core().registered(0, regs[0].session, wire::ResponseCode::Accepted, {}, s.now());
  s.core().stop_listening(s.now());
  const auto deletes = s.actions();
  ASSERT_EQ(deletes.size(), 2u);
  EXPECT_EQ(deletes[0].kind, Kind::Delete);
  EXPECT_EQ(deletes[1].kind, Kind::Delete);
  EXPECT_TRUE(s.core().relay(1).deleting);
  s.core().registered(1, regs[1].session, wire::ResponseCode::Accepted, {}, s.now());  // late
  EXPECT_FALSE(s.core().relay(1).lease_accepted);
  s.core().deleted(0, deletes[0].session, {});
  s.core().deleted(1, deletes[1].session, "timed out");
  EXPECT_FALSE(s.core().relay(0).deleting);
  EXPECT_FALSE(s.core().relay(0).lease_accepted);
  s.advance(20s, s.healthy());
  EXPECT_EQ(s.all(Kind::Register, 0).size(), 1u);  // no renewal after the listener closed
  EXPECT_TRUE(s.core().listen(web(), s.now()));    // a new listener may start
}

}  // namespace
}  // namespace portal::client
