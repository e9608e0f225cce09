// SPDX-License-Identifier: Apache-2.0
// Bandwidth limits (ADR 0017 §4) in the real portal-relay, on one thread and on several: a
// limited lease's transfer arrives intact while the limiter holds it back (the metrics say so),
// and a lease without a limit is not held by another's. Nothing here asserts a duration: the
// checks are on bytes, checksums and counters (performance is bench/'s `--rows rate`).

#include <csignal>

#include <vector>

#include "relay/bulk.hpp"
// g++ 12 reports -Wmismatched-new-delete on the harness's answer() coroutine in this file (Asio's
// awaitable frame has a class-specific operator new and delete, which the warning pairs wrongly
// past some inlining threshold; see async_secure_connect in secure_stream.cpp). A false
// positive; the pragma covers the harness only.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
#include "relay/relay_harness.hpp"
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#include "support/scale.hpp"

namespace portal::test {
namespace {

using wire::ResponseCode;
using namespace std::chrono_literals;

std::string metrics_of(const RelayProcess& relay) { return curl(relay.http + "/metrics"); }

long long lease_waits(const std::string& m) {
  return metric_value(m, "portal_rate_limited_total{scope=\"lease\"}");
}
long long relay_waits(const std::string& m) {
  return metric_value(m, "portal_rate_limited_total{scope=\"relay\"}");
}

class RelayRate : public RelayClientTest, public ::testing::WithParamInterface<unsigned> {
 protected:
  struct Dialed {
    std::shared_ptr<Transfer> at_dialer = std::make_shared<Transfer>();
    std::shared_ptr<std::vector<std::shared_ptr<Transfer>>> at_holder =
        std::make_shared<std::vector<std::shared_ptr<Transfer>>>();
  };

  // Registers `who` on a session to `relay`, accepts its forwards, dials it from another
  // session and exchanges `total` bytes each way (dialer seed 1, holder seed 2).
  Dialed start_exchange(const RelayProcess& relay, const identity::Credential& who,
                        const std::string& name, std::size_t total) {
    Dialed d;
    auto holder = session(relay.ws);
    auto dialer = session(relay.tcp);
    EXPECT_EQ(update(*holder, who, name), ResponseCode::Accepted);
    hold(
        holder, [](int) { return ResponseCode::Accepted; },
        [at_holder = d.at_holder,
         total](std::unique_ptr<stream::ByteStream> s) -> asio::awaitable<void> {
          auto t = std::make_shared<Transfer>();
          at_holder->push_back(t);
          t->peer_seed = 1;
          co_await exchange(std::shared_ptr<stream::ByteStream>(std::move(s)), 2, total, t);
        });
    auto dialed = run(client::request_connection(*dialer, who.id()));
    EXPECT_TRUE(dialed && dialed->code == ResponseCode::Accepted);
    if (!dialed || dialed->code != ResponseCode::Accepted) return d;
    d.at_dialer->peer_seed = 2;
    asio::co_spawn(io_,
                   exchange(std::shared_ptr<stream::ByteStream>(std::move(dialed->stream)), 1,
                            total, d.at_dialer),
                   asio::detached);
    return d;
  }

  // Pumps until a lease's limiter has held a chunk back (at most 10 s); returns the metrics.
  std::string wait_until_held(const RelayProcess& relay) {
    std::string m;
    for (int i = 0; i < 500; ++i) {
      pump(20ms);
      m = metrics_of(relay);
      if (lease_waits(m) > 0) break;
    }
    return m;
  }

  // Pumps until both ends of `d` have read everything (at most `limit`).
  void finish(const Dialed& d, std::chrono::seconds limit = 120s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    auto done = [&] {
      return d.at_dialer->read_done && !d.at_holder->empty() && d.at_holder->front()->read_done;
    };
    while (!done() && std::chrono::steady_clock::now() < deadline) pump(20ms);
    ASSERT_TRUE(done());
  }
};

// The lease's limit (here every lease's, limits.lease_bytes_per_second) holds the transfer
// back chunk by chunk, and every byte still arrives in order, counted exactly.
TEST_P(RelayRate, ALimitedLeasesTransferArrivesIntactAndIsPaced) {
  RelayProcess relay("{\"threads\": " + std::to_string(GetParam()) +
                     ", \"limits\": {\"lease_bytes_per_second\": 131072}}");
  ASSERT_TRUE(relay.alive()) << relay.err();
  EXPECT_EQ(lease_waits(metrics_of(relay)), 0);
  const std::size_t total = 384 * 1024;  // about 2.5 s at 128 KiB/s after the 64 KiB burst
  auto d = start_exchange(relay, credential(), "slow", total);
  finish(d);
  ASSERT_EQ(d.at_holder->size(), 1u);
  expect_exchanged(*d.at_holder->front(), *d.at_dialer, total);
  std::string m;
  for (int i = 0; i < 100; ++i) {
    m = metrics_of(relay);
    if (metric_value(m, "portal_relayed_streams") == 0) break;
    pump(20ms);
  }
  // Both directions waited for the lease's buckets, several times each; the relay has no limit.
  EXPECT_GE(lease_waits(m), 4) << m;
  EXPECT_GT(metric_value(m, "portal_rate_limited_seconds_total{scope=\"lease\"}"), 0) << m;
  EXPECT_EQ(relay_waits(m), 0) << m;
  EXPECT_EQ(metric_value(m, "portal_relayed_bytes_total{direction=\"to_holder\"}"),
            static_cast<long long>(total));
  EXPECT_EQ(metric_value(m, "portal_relayed_bytes_total{direction=\"to_dialer\"}"),
            static_cast<long long>(total));
  EXPECT_TRUE(relay.alive());
}

// One lease limited to the lowest rate (limits.lease_bytes_per_second_by_id) is held back;
// meanwhile a lease without a limit moves its whole transfer, intact, and the relay's limiter
// never holds it (the relay scope stays at zero, and the limited lease has moved no more than
// its burst and a few chunks). Then the relay shuts down with the limited splice still waiting.
TEST_P(RelayRate, ALeaseWithoutALimitIsNotHeldByAnothersLimit) {
  const auto slow = credential();
  const auto fast = credential();
  RelayProcess relay("{\"threads\": " + std::to_string(GetParam()) +
                     ", \"limits\": {\"drain_timeout_ms\": 1000, "
                     "\"lease_bytes_per_second_by_id\": {\"" +
                     slow.id() + "\": 1024}}}");
  ASSERT_TRUE(relay.alive()) << relay.err();
  const std::size_t slow_total = 1 << 20;  // would take about 17 minutes at 1 KiB/s
  auto held = start_exchange(relay, slow, "slow", slow_total);
  // Wait (bounded) until the limiter holds the slow lease back.
  auto m = wait_until_held(relay);
  ASSERT_GT(lease_waits(m), 0) << m;
  const std::size_t fast_total = scaled(std::size_t{16} << 20, 1 << 20);
  auto free = start_exchange(relay, fast, "fast", fast_total);
  finish(free);
  ASSERT_EQ(free.at_holder->size(), 1u);
  expect_exchanged(*free.at_holder->front(), *free.at_dialer, fast_total);
  m = metrics_of(relay);
  EXPECT_EQ(relay_waits(m), 0) << m;
  // The slow lease is still held: it moved at most its burst (64 KiB) and the few chunks of 1
  // KiB/s.
  EXPECT_LT(held.at_dialer->received_bytes, slow_total / 4);
  ASSERT_FALSE(held.at_holder->empty());
  EXPECT_LT(held.at_holder->front()->received_bytes, slow_total / 4);
  EXPECT_GE(metric_value(m, "portal_relayed_bytes_total{direction=\"to_holder\"}"),
            static_cast<long long>(fast_total));
  // The relay stops cleanly (exit 0) with a splice still held by its limit.
  relay.child().signal(SIGTERM);
  pump(1500ms);
  EXPECT_EQ(relay.child().wait(10'000), 0) << relay.err();
}

// A download held by its lease's limit ends with its dialer. The direction that waits for its
// budget (holder to dialer) learns it from the other one, whose read fails when the dialer's
// connection ends, and stops waiting: the relay lets go of the splice and its chunk at once,
// not after the held chunk's wait (many seconds at 1 KiB/s). With one thread the relay may
// hold a smaller chunk (about 1 KiB: a second's wait, within the bound below even without the
// fix); StreamSplice.APacedDirectionStopsWaitingWhenTheOtherFails pins the rule itself.
TEST_P(RelayRate, AHeldDownloadEndsWhenItsDialerLeaves) {
  const auto slow = credential();
  RelayProcess relay("{\"threads\": " + std::to_string(GetParam()) +
                     ", \"limits\": {\"lease_bytes_per_second_by_id\": {\"" + slow.id() +
                     "\": 1024}}}");
  ASSERT_TRUE(relay.alive()) << relay.err();
  auto holder = session(relay.ws);
  auto dialer = session(relay.tcp);
  ASSERT_EQ(update(*holder, slow, "slow"), ResponseCode::Accepted);
  auto sent = std::make_shared<Transfer>();
  hold(
      holder, [](int) { return ResponseCode::Accepted; },
      [sent](std::unique_ptr<stream::ByteStream> s) -> asio::awaitable<void> {
        co_await exchange(std::shared_ptr<stream::ByteStream>(std::move(s)), 2, 1 << 20, sent);
      });
  auto dialed = run(client::request_connection(*dialer, slow.id()));
  ASSERT_TRUE(dialed && dialed->code == ResponseCode::Accepted);
  // The dialer neither writes nor reads: the relay's dialer-to-holder direction waits in a
  // read, the other one for its budget.
  auto m = wait_until_held(relay);
  ASSERT_GT(lease_waits(m), 0) << m;
  ASSERT_EQ(metric_value(m, "portal_relayed_streams"), 1) << m;
  dialer->close();
  for (int i = 0; i < 150; ++i) {  // 3 s at most
    pump(20ms);
    m = metrics_of(relay);
    if (metric_value(m, "portal_relayed_streams") == 0) break;
  }
  EXPECT_EQ(metric_value(m, "portal_relayed_streams"), 0) << m;
  EXPECT_TRUE(relay.alive());
}

INSTANTIATE_TEST_SUITE_P(Threads, RelayRate, ::testing::Values(1u, 3u));

}  // namespace
}  // namespace portal::test
