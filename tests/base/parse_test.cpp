// SPDX-License-Identifier: Apache-2.0
#include "portal/base/parse.hpp"

#include <gtest/gtest.h>

#include <cstdint>

namespace portal::base {
namespace {

TEST(BaseParse, WholeUnsignedNumbersOnly) {
  std::uint32_t v = 0;
  EXPECT_TRUE(parse_unsigned("0", v));
  EXPECT_EQ(v, 0u);
  EXPECT_TRUE(parse_unsigned("4294967295", v));
  EXPECT_EQ(v, 4294967295u);
  for (const char* bad : {"", "-1", "+1", " 1", "1 ", "1x", "4294967296", "0x10"}) {
    EXPECT_FALSE(parse_unsigned(bad, v)) << bad;
  }
  std::uint64_t big = 0;
  EXPECT_TRUE(parse_unsigned("18446744073709551615", big));
  EXPECT_FALSE(parse_unsigned("18446744073709551616", big));
}

}  // namespace
}  // namespace portal::base
