// SPDX-License-Identifier: Apache-2.0
// The relay's bandwidth buckets (ADR 0017 §4) in virtual time: bursts, pacing, limit changes,
// and copy loops simulated the way the relay's splice drives them (reserve a chunk in the
// lease's bucket, wait, then in the relay's, wait, write, next chunk), with no clock and no
// sleep. Shares are compared with tolerances; nothing here measures real time.
#include "portal/relay/rate.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <queue>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

namespace portal::relay {
namespace {

using namespace std::chrono_literals;
using Steady = RateBucket::Steady;
constexpr std::uint64_t kMiB = 1024 * 1024;
constexpr std::size_t kChunk = 32 * 1024;

const Steady kT0 = Steady{} + 1000s;

// Copy loops that each always have a chunk to send, driven by an event queue in virtual time.
struct Simulation {
  struct Loop {
    std::vector<std::shared_ptr<RateBucket>> buckets;  // charged in this order
    std::size_t stage = 0;
    RateBucket::Ticket ticket = 0;
    std::uint64_t sent = 0;
  };
  std::vector<Loop> loops;
  // (time, sequence, loop): ties are served in the order they were queued.
  using Event = std::tuple<Steady, std::uint64_t, std::size_t>;
  std::priority_queue<Event, std::vector<Event>, std::greater<>> events;
  std::uint64_t seq = 0;
  bool started = false;

  std::size_t add(std::vector<std::shared_ptr<RateBucket>> buckets) {
    loops.push_back(Loop{std::move(buckets)});
    return loops.size() - 1;
  }

  // Runs every loop from kT0 to `until`; returns nothing, the loops' `sent` say what went.
  void run(Steady until) {
    if (!std::exchange(started, true)) {
      for (std::size_t i = 0; i < loops.size(); ++i) start(i, kT0);
    }
    while (!events.empty()) {
      const auto [at, s, i] = events.top();
      if (at > until) break;
      events.pop();
      step(i, at);
    }
  }

  void start(std::size_t i, Steady now) {
    auto& l = loops[i];
    l.stage = 0;
    l.ticket = l.buckets.empty() ? 0 : l.buckets[0]->reserve(kChunk, now);
    events.emplace(now, seq++, i);
  }

  // Loop i is woken at `now`: its wait for the current bucket is over or it asks again.
  void step(std::size_t i, Steady now) {
    auto& l = loops[i];
    while (l.stage < l.buckets.size()) {
      const auto w = l.buckets[l.stage]->wait(l.ticket, now);
      if (w > 0ns) {
        events.emplace(now + std::chrono::duration_cast<Steady::duration>(w), seq++, i);
        return;
      }
      if (++l.stage < l.buckets.size()) l.ticket = l.buckets[l.stage]->reserve(kChunk, now);
    }
    l.sent += kChunk;  // written at `now`; the next chunk is read at once
    start(i, now);
  }
};

double share(std::uint64_t part, std::uint64_t whole) {
  return static_cast<double>(part) / static_cast<double>(whole);
}

TEST(RelayRate, ABucketLetsItsBurstThroughThenPacesAtItsRate) {
  RateBucket b(10 * kMiB, kT0);
  EXPECT_EQ(b.rate(), 10 * kMiB);
  EXPECT_EQ(b.burst(), kMiB);  // 100 ms of the rate
  const auto t = b.reserve(kMiB, kT0);
  EXPECT_EQ(b.wait(t, kT0), 0ns);
  // One more chunk waits for its bytes: 32 KiB at 10 MiB/s.
  const auto next = b.reserve(kChunk, kT0);
  const auto w = b.wait(next, kT0);
  EXPECT_GT(w, 3ms);
  EXPECT_LT(w, 3200us);
  EXPECT_EQ(b.wait(next, kT0 + w), 0ns);
}

TEST(RelayRate, AnIdleBucketHoldsNoMoreThanItsBurst) {
  RateBucket b(kMiB / 2, kT0);
  EXPECT_EQ(b.burst(), RateBucket::kMinBurst);  // 100 ms of 512 KiB/s is less than the minimum
  // An hour idle: still only the burst at once.
  const auto later = kT0 + 3600s;
  const auto all = b.reserve(RateBucket::kMinBurst, later);
  EXPECT_EQ(b.wait(all, later), 0ns);
  const auto more = b.reserve(1024, later);
  EXPECT_GT(b.wait(more, later), 0ns);
}

TEST(RelayRate, AnUnlimitedBucketNeverWaitsAndCountsNothing) {
  auto counters = std::make_shared<RateCounters>();
  RateBucket b(0, kT0, counters);
  EXPECT_EQ(b.burst(), 0u);
  for (int i = 0; i < 1000; ++i) {
    const auto t = b.reserve(kChunk, kT0);
    EXPECT_EQ(t, 0u);
    EXPECT_EQ(b.wait(t, kT0), 0ns);
  }
  EXPECT_EQ(counters->waits.load(), 0u);
}

TEST(RelayRate, WaitsAreCounted) {
  auto counters = std::make_shared<RateCounters>();
  RateBucket b(kMiB, kT0, counters);
  (void)b.reserve(b.burst(), kT0);  // the burst: no wait
  EXPECT_EQ(counters->waits.load(), 0u);
  const auto t = b.reserve(kChunk, kT0);
  EXPECT_EQ(counters->waits.load(), 1u);
  b.waited(b.wait(t, kT0));
  EXPECT_GT(counters->waited_ns.load(), 0u);
}

TEST(RelayRate, ANewRateAppliesToReservationsAlreadyInLine) {
  RateBucket b(1024, kT0);  // 1 KiB/s
  (void)b.reserve(RateBucket::kMinBurst, kT0);
  const auto t = b.reserve(kChunk, kT0);
  EXPECT_GT(b.wait(t, kT0), 30s);  // 32 KiB at 1 KiB/s
  b.set_rate(kMiB, kT0 + 1s);      // raised: the same reservation goes much sooner
  const auto w = b.wait(t, kT0 + 1s);
  EXPECT_GT(w, 0ns);
  EXPECT_LT(w, 40ms);
  b.set_rate(0, kT0 + 1s);  // lifted: at once
  EXPECT_EQ(b.wait(t, kT0 + 1s), 0ns);
  // Limited again: the bucket starts full, and pacing resumes after its burst.
  b.set_rate(kMiB, kT0 + 2s);
  EXPECT_EQ(b.wait(b.reserve(b.burst(), kT0 + 2s), kT0 + 2s), 0ns);
  EXPECT_GT(b.wait(b.reserve(kChunk, kT0 + 2s), kT0 + 2s), 0ns);
}

TEST(RelayRate, ALoweredRateSlowsALoopDownFromThenOn) {
  auto b = std::make_shared<RateBucket>(16 * kMiB, kT0);
  Simulation sim;
  sim.add({b});
  sim.run(kT0 + 2s);
  const auto before = sim.loops[0].sent;
  const auto burst = b->burst();
  b->set_rate(kMiB, kT0 + 2s);
  sim.run(kT0 + 4s);
  const auto after = sim.loops[0].sent - before;
  // About 32 MiB and the burst in the first 2 s, about 2 MiB in the next 2.
  EXPECT_NEAR(share(before, 32 * kMiB + burst), 1.0, 0.02);
  EXPECT_NEAR(share(after, 2 * kMiB), 1.0, 0.05);
}

// A loop paced by one bucket delivers its rate (within its burst) over a long run.
TEST(RelayRate, OneLoopDeliversTheRate) {
  auto b = std::make_shared<RateBucket>(16 * kMiB, kT0);
  Simulation sim;
  sim.add({b});
  sim.run(kT0 + 4s);
  EXPECT_NEAR(share(sim.loops[0].sent, 64 * kMiB + b->burst()), 1.0, 0.01);
}

TEST(RelayRate, TwoStreamsOfALeaseGetEqualShares) {
  auto lease = std::make_shared<RateBucket>(4 * kMiB, kT0);
  Simulation sim;
  sim.add({lease});
  sim.add({lease});
  sim.run(kT0 + 10s);
  const auto total = sim.loops[0].sent + sim.loops[1].sent;
  EXPECT_NEAR(share(total, 40 * kMiB), 1.0, 0.03);
  EXPECT_NEAR(share(sim.loops[0].sent, total), 0.5, 0.02);
  EXPECT_NEAR(share(sim.loops[1].sent, total), 0.5, 0.02);
}

TEST(RelayRate, ThreeStreamsOfALeaseGetEqualShares) {
  auto lease = std::make_shared<RateBucket>(3 * kMiB, kT0);
  Simulation sim;
  for (int i = 0; i < 3; ++i) sim.add({lease});
  sim.run(kT0 + 10s);
  std::uint64_t total = 0;
  for (const auto& l : sim.loops) total += l.sent;
  EXPECT_NEAR(share(total, 30 * kMiB), 1.0, 0.03);
  for (const auto& l : sim.loops) EXPECT_NEAR(share(l.sent, total), 1.0 / 3, 0.02);
}

// Each direction has buckets of its own: a loop the other way does not take from them.
TEST(RelayRate, TheDirectionsOfALeaseArePacedApart) {
  auto to_holder = std::make_shared<RateBucket>(2 * kMiB, kT0);
  auto to_dialer = std::make_shared<RateBucket>(2 * kMiB, kT0);
  Simulation sim;
  sim.add({to_holder});
  sim.add({to_dialer});
  sim.run(kT0 + 10s);
  EXPECT_NEAR(share(sim.loops[0].sent, 20 * kMiB), 1.0, 0.03);
  EXPECT_NEAR(share(sim.loops[1].sent, 20 * kMiB), 1.0, 0.03);
}

TEST(RelayRate, TheRelaysLimitCapsTwoUnlimitedLeases) {
  auto a = std::make_shared<RateBucket>(0, kT0);
  auto b = std::make_shared<RateBucket>(0, kT0);
  auto relay = std::make_shared<RateBucket>(8 * kMiB, kT0);
  Simulation sim;
  sim.add({a, relay});
  sim.add({b, relay});
  sim.run(kT0 + 10s);
  const auto total = sim.loops[0].sent + sim.loops[1].sent;
  EXPECT_NEAR(share(total, 80 * kMiB), 1.0, 0.03);
  EXPECT_NEAR(share(sim.loops[0].sent, total), 0.5, 0.02);
}

// A lease held below its share by its own limit leaves the rest of the relay's to the other.
TEST(RelayRate, ALimitedLeaseLeavesTheRelaysRestToAnother) {
  auto slow = std::make_shared<RateBucket>(kMiB, kT0);
  auto fast = std::make_shared<RateBucket>(0, kT0);
  auto relay = std::make_shared<RateBucket>(8 * kMiB, kT0);
  Simulation sim;
  sim.add({slow, relay});
  sim.add({fast, relay});
  sim.add({fast, relay});
  sim.run(kT0 + 10s);
  EXPECT_NEAR(share(sim.loops[0].sent, 10 * kMiB), 1.0, 0.03);
  EXPECT_NEAR(share(sim.loops[1].sent + sim.loops[2].sent, 70 * kMiB), 1.0, 0.03);
}

// Copy loops on several threads share a bucket (the relay's, with Options::threads > 1): every
// reservation is accounted once, and the bytes let through never exceed burst + rate × time.
TEST(RelayRate, ABucketIsSafeToShareBetweenThreads) {
  auto counters = std::make_shared<RateCounters>();
  RateBucket b(kMiB, kT0, counters);
  std::atomic<std::uint64_t> passed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        // Virtual time moves with the iterations, the same on every thread.
        const auto now = kT0 + std::chrono::milliseconds(i);
        const auto ticket = b.reserve(1024, now);
        if (b.wait(ticket, now) == 0ns) passed.fetch_add(1024);
        if (t == 0 && i == 1000) b.set_rate(2 * kMiB, now);
      }
    });
  }
  for (auto& th : threads) th.join();
  // At most the burst plus 2 s at 2 MiB/s went at once; most waited.
  EXPECT_LE(passed.load(), RateBucket::kMinBurst + 2 * 2 * kMiB);
  EXPECT_GT(counters->waits.load(), 0u);
}

}  // namespace
}  // namespace portal::relay
