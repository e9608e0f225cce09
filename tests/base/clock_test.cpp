// SPDX-License-Identifier: Apache-2.0
#include "portal/base/clock.hpp"

#include <gtest/gtest.h>

namespace portal::base {
namespace {

using namespace std::chrono_literals;

TEST(BaseClock, ManualClockMovesOnlyWhenTold) {
  const Clock::SystemTime start{1762473600s};
  ManualClock clock(start);
  EXPECT_EQ(clock.system_now(), start);
  const auto steady = clock.steady_now();
  EXPECT_EQ(clock.steady_now(), steady);
  clock.advance(1500ms);
  EXPECT_EQ(clock.system_now(), start + 1500ms);
  EXPECT_EQ(clock.steady_now(), steady + 1500ms);
  clock.advance(-5s);  // time never goes back
  EXPECT_EQ(clock.steady_now(), steady + 1500ms);
  clock.set_system(start - 1h);  // a wall-clock step leaves the steady reading alone
  EXPECT_EQ(clock.system_now(), start - 1h);
  EXPECT_EQ(clock.steady_now(), steady + 1500ms);
}

TEST(BaseClock, UnixSeconds) {
  EXPECT_EQ(unix_seconds(Clock::SystemTime{1762473600s + 999ms}), 1762473600);
  EXPECT_EQ(unix_seconds(Clock::SystemTime{-1ms}), -1);  // floor, not truncation
}

TEST(BaseClock, SystemClockIsNearTheOsClock) {
  const auto before = std::chrono::system_clock::now();
  const auto now = SystemClock::instance().system_now();
  const auto after = std::chrono::system_clock::now();
  EXPECT_LE(before, now);
  EXPECT_LE(now, after);
  const auto s1 = SystemClock::instance().steady_now();
  const auto s2 = SystemClock::instance().steady_now();
  EXPECT_LE(s1, s2);
}

}  // namespace
}  // namespace portal::base
