// SPDX-License-Identifier: Apache-2.0
#pragma once

/// \file
/// The relay's bandwidth limits (ADR 0017 §4): a token bucket, sans-IO (time comes in as `now`;
/// nothing here reads a clock, sleeps or does I/O), shared by the copy loops that charge it.
///
/// A bucket hands out *reservations*: reserve(n, now) puts n bytes in line behind every byte
/// reserved before (FIFO) and returns a ticket; wait(ticket, now) says how long its holder must
/// still wait before it may move them (zero: now). The bucket fills at its rate, up to burst()
/// bytes ahead of the line, so an idle bucket lets at most burst() bytes through at once. A copy
/// loop reserves one chunk at a time (what it just read), waits, writes, and reserves its next
/// chunk behind the chunks other loops reserved meanwhile: the loops that share a bucket take
/// turns, chunk by chunk, and get equal shares of its rate.
///
/// Thread safety: a bucket is shared (std::shared_ptr) by the relay core, which creates it and
/// changes its rate on the relay's executor, and by copy loops that may run on worker threads
/// (ADR 0013). Every member function may be called from any thread: the state is guarded by a
/// mutex inside the bucket, and an unlimited bucket answers from an atomic without locking.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>

#include "portal/base/clock.hpp"
#include "portal/base/export.hpp"

namespace portal::relay {

/// How often buckets of one scope (every lease's, or the relay's) made a copy loop wait, and
/// for how long in all; shared by the buckets of the scope, updated from any thread.
struct RateCounters {
  std::atomic<std::uint64_t> waits{0};      ///< reservations that could not go at once
  std::atomic<std::uint64_t> waited_ns{0};  ///< time spent waiting, as the waiters measured it
};

/// A token bucket of `bytes_per_second` (0: unlimited) with FIFO reservations; see the file
/// comment. Thread-safe.
class PORTAL_API RateBucket {
 public:
  using Steady = base::Clock::SteadyTime;  ///< the time the bucket is given
  /// Names a reservation: the position its last byte has in the bucket's line. 0 names a
  /// reservation that need not wait (the bucket was unlimited, or nothing was reserved).
  using Ticket = std::uint64_t;

  /// An idle bucket lets this much of its rate through at once...
  static constexpr std::chrono::milliseconds kBurstTime{100};
  /// ... and at least this many bytes (a chunk or two of a splice).
  static constexpr std::uint64_t kMinBurst = 64 * 1024;

  /// The burst of a bucket of `bytes_per_second` (0 for an unlimited one).
  [[nodiscard]] static std::uint64_t burst_for(std::uint64_t bytes_per_second) noexcept;

  /// A full bucket. `counters` (may be null) count its waits.
  RateBucket(std::uint64_t bytes_per_second, Steady now,
             std::shared_ptr<RateCounters> counters = nullptr);
  RateBucket(const RateBucket&) = delete;
  RateBucket& operator=(const RateBucket&) = delete;

  /// Changes the rate from `now` on (0: unlimited); reservations already in line keep their
  /// places and wait at the new rate from now on (their holders learn it at their next wait()).
  /// From unlimited to limited the bucket starts full.
  void set_rate(std::uint64_t bytes_per_second, Steady now);
  /// The rate now (0: unlimited).
  [[nodiscard]] std::uint64_t rate() const noexcept;
  /// The most bytes the bucket lets through at once after being idle (0: unlimited).
  [[nodiscard]] std::uint64_t burst() const noexcept;

  /// Puts `n` bytes in line at `now` and returns their ticket. A reservation that cannot go at
  /// once is counted as a wait.
  [[nodiscard]] Ticket reserve(std::size_t n, Steady now);
  /// How long the holder of `t` still has to wait at `now` before it moves its bytes: zero when
  /// it may go. Ask again after waiting (the rate may have changed meanwhile).
  [[nodiscard]] std::chrono::nanoseconds wait(Ticket t, Steady now);
  /// Reports time a holder spent waiting (adds to the counters).
  void waited(std::chrono::nanoseconds d) noexcept;

 private:
  void refill(Steady now);  // with m_ held

  std::atomic<std::uint64_t> rate_;
  mutable std::mutex m_;
  std::uint64_t burst_ = 0;
  std::uint64_t reserved_ = 0;   // bytes ever put in line
  std::uint64_t allowance_ = 0;  // the position up to which reservations may go
  double fraction_ = 0;          // of the next byte of allowance, in [0, 1)
  Steady at_{};                  // when allowance_ was last brought up to date
  std::shared_ptr<RateCounters> counters_;
};

}  // namespace portal::relay
