// SPDX-License-Identifier: Apache-2.0
#include "portal/base/result.hpp"

#include <gtest/gtest.h>

#include <string>

namespace portal::base {
namespace {

Result<int> parse_positive(int v) {
  if (v <= 0) return Errc::InvalidLength;
  return v;
}

TEST(BaseResult, ValueOrError) {
  auto ok = parse_positive(3);
  ASSERT_TRUE(ok);
  EXPECT_EQ(*ok, 3);
  auto bad = parse_positive(0);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error(), Errc::InvalidLength);
}

TEST(BaseResult, CategoryNamesTheModuleAndEveryValueHasAMessage) {
  const ErrorCode ec = Errc::BufferLimitExceeded;
  EXPECT_STREQ(ec.category().name(), "portal.base");
  for (int v = static_cast<int>(Errc::InvalidHex); v <= static_cast<int>(Errc::LengthTooSmall);
       ++v) {
    EXPECT_EQ(base_category().message(v).find("unknown portal."), std::string::npos) << v;
  }
  EXPECT_NE(base_category().message(999).find("unknown"), std::string::npos);
}

}  // namespace
}  // namespace portal::base
