// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

#include "portal/base/export.hpp"

namespace portal::base {

/// The source of time for everything above the protocol cores (cores take time as an argument).
///
/// Two clocks, because the protocol needs both: wall-clock time for the Unix timestamps inside
/// signed messages, and monotonic time for deadlines and timeouts. Implementations are
/// thread-safe.
class PORTAL_API Clock {
 public:
  /// A wall-clock reading: convert with unix_seconds() for signed timestamps and lease expiry.
  using SystemTime = std::chrono::system_clock::time_point;
  /// A monotonic reading: the only kind of time deadlines and timeouts are computed from.
  using SteadyTime = std::chrono::steady_clock::time_point;

  Clock() = default;
  Clock(const Clock&) = delete;
  Clock& operator=(const Clock&) = delete;
  virtual ~Clock();

  /// Wall-clock time (may jump).
  [[nodiscard]] virtual SystemTime system_now() const noexcept = 0;
  /// Monotonic time (never goes back).
  [[nodiscard]] virtual SteadyTime steady_now() const noexcept = 0;
};

/// Both readings of a clock at one instant, as the sans-IO cores take time: monotonic time for
/// timers, wall time for leases and signed timestamps.
struct Now {
  /// Monotonic time: what timers, idle timeouts and keepalives are measured against.
  Clock::SteadyTime steady{};
  /// Wall time: what lease expiry and the Unix timestamps of signed messages use.
  Clock::SystemTime system{};
};

/// Reads both of `clock`'s readings, steady first, as the cores' `now` argument.
[[nodiscard]] inline Now now_of(const Clock& clock) noexcept {
  return {clock.steady_now(), clock.system_now()};
}

/// Whole seconds since the Unix epoch, rounded toward negative infinity.
[[nodiscard]] PORTAL_API std::int64_t unix_seconds(Clock::SystemTime t) noexcept;

/// The operating system's clocks.
class PORTAL_API SystemClock final : public Clock {
 public:
  [[nodiscard]] SystemTime system_now() const noexcept override;
  [[nodiscard]] SteadyTime steady_now() const noexcept override;
  /// A process-wide instance (it has no state).
  static SystemClock& instance() noexcept;
};

/// A clock that moves only when told to: for tests and virtual-time scenarios. Both readings
/// start at the given points and advance() moves them together.
class PORTAL_API ManualClock final : public Clock {
 public:
  /// Starts at `system_start` (wall) and at a steady reading of `steady_start` since the
  /// steady clock's epoch.
  explicit ManualClock(SystemTime system_start = SystemTime{},
                       std::chrono::nanoseconds steady_start = std::chrono::seconds{1}) noexcept;

  [[nodiscard]] SystemTime system_now() const noexcept override;
  [[nodiscard]] SteadyTime steady_now() const noexcept override;

  /// Moves both readings forward by `d` (a negative `d` is ignored: time never goes back).
  void advance(std::chrono::nanoseconds d) noexcept;
  /// Sets the wall clock alone, as an NTP step would; the steady reading is unchanged.
  void set_system(SystemTime t) noexcept;

 private:
  std::atomic<std::int64_t> system_ns_;
  std::atomic<std::int64_t> steady_ns_;
};

}  // namespace portal::base
