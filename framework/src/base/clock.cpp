// SPDX-License-Identifier: Apache-2.0
#include "portal/base/clock.hpp"

namespace portal::base {

using std::chrono::duration_cast;
using std::chrono::nanoseconds;
using std::chrono::seconds;

Clock::~Clock() = default;

std::int64_t unix_seconds(Clock::SystemTime t) noexcept {
  return std::chrono::floor<seconds>(t.time_since_epoch()).count();
}

Clock::SystemTime SystemClock::system_now() const noexcept {
  return std::chrono::system_clock::now();
}

Clock::SteadyTime SystemClock::steady_now() const noexcept {
  return std::chrono::steady_clock::now();
}

SystemClock& SystemClock::instance() noexcept {
  static SystemClock clock;
  return clock;
}

ManualClock::ManualClock(SystemTime system_start, nanoseconds steady_start) noexcept
    : system_ns_(duration_cast<nanoseconds>(system_start.time_since_epoch()).count()),
      steady_ns_(steady_start.count()) {}

Clock::SystemTime ManualClock::system_now() const noexcept {
  return SystemTime{duration_cast<SystemTime::duration>(nanoseconds{system_ns_.load()})};
}

Clock::SteadyTime ManualClock::steady_now() const noexcept {
  return SteadyTime{duration_cast<SteadyTime::duration>(nanoseconds{steady_ns_.load()})};
}

void ManualClock::advance(nanoseconds d) noexcept {
  if (d.count() <= 0) return;
  system_ns_.fetch_add(d.count());
  steady_ns_.fetch_add(d.count());
}

void ManualClock::set_system(SystemTime t) noexcept {
  system_ns_.store(duration_cast<nanoseconds>(t.time_since_epoch()).count());
}

}  // namespace portal::base
