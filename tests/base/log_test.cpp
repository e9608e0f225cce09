// SPDX-License-Identifier: Apache-2.0
#include "portal/base/log.hpp"

#include <gtest/gtest.h>

namespace portal::base {
namespace {

TEST(BaseLog, LevelNamesRoundTripAndNothingElseParses) {
  for (const auto level :
       {LogLevel::Debug, LogLevel::Info, LogLevel::Warn, LogLevel::Error, LogLevel::Off}) {
    EXPECT_EQ(parse_log_level(to_string(level)), level);
  }
  EXPECT_FALSE(parse_log_level(""));
  EXPECT_FALSE(parse_log_level("INFO"));
  EXPECT_FALSE(parse_log_level("verbose"));
}

}  // namespace
}  // namespace portal::base
