// SPDX-License-Identifier: Apache-2.0
#include "portal/base/random.hpp"

#include <gtest/gtest.h>

#include <set>

namespace portal::base {
namespace {

TEST(BaseRandom, OsRandomFillsLargeBuffersAndDiffers) {
  Bytes a(1000);
  Bytes b(1000);
  ASSERT_TRUE(OsRandom::instance().fill(a));
  ASSERT_TRUE(OsRandom::instance().fill(b));
  EXPECT_NE(a, b);
  // 1000 random bytes use far more than 200 distinct values (an unfilled buffer uses one).
  EXPECT_GT(std::set<Byte>(a.begin(), a.end()).size(), 200u);
}

TEST(BaseRandom, ReplayRandomReplaysThenFails) {
  ReplayRandom r(Bytes{1, 2, 3, 4, 5});
  Bytes out(2);
  ASSERT_TRUE(r.fill(out));
  EXPECT_EQ(out, (Bytes{1, 2}));
  EXPECT_EQ(r.remaining(), 3u);
  Bytes big(4);
  auto failed = r.fill(big);
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error(), Errc::RandomSourceExhausted);
  EXPECT_EQ(r.remaining(), 3u);  // a failed draw consumes nothing
  Bytes rest(3);
  ASSERT_TRUE(r.fill(rest));
  EXPECT_EQ(rest, (Bytes{3, 4, 5}));
}

}  // namespace
}  // namespace portal::base
