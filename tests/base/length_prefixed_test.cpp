// SPDX-License-Identifier: Apache-2.0
#include "portal/base/length_prefixed.hpp"

#include <gtest/gtest.h>

namespace portal::base {
namespace {

TEST(BaseLengthPrefixed, ReassemblesByteByByteAndStopsAtTheEnd) {
  Bytes wire;
  append_length_prefixed(wire, as_bytes("hello"));
  append_length_prefixed(wire, as_bytes("next"));
  EXPECT_EQ(wire.size(), 4u + 5u + 4u + 4u);
  LengthPrefixedReader r(100);
  std::size_t pos = 0;
  while (!r.complete()) {
    auto used = r.feed(ByteSpan(wire).subspan(pos, 1));
    ASSERT_TRUE(used);
    pos += *used;
    EXPECT_EQ(r.partial(), !r.complete());
  }
  EXPECT_EQ(pos, 9u);
  EXPECT_EQ(as_chars(r.body()), "hello");
  // Complete: nothing more is consumed until next().
  EXPECT_EQ(r.feed(ByteSpan(wire).subspan(pos)).value(), 0u);
  r.next();
  EXPECT_FALSE(r.partial());
  auto used = r.feed(ByteSpan(wire).subspan(pos));
  ASSERT_TRUE(used);
  EXPECT_EQ(*used, 8u);
  EXPECT_EQ(as_chars(r.body()), "next");
}

TEST(BaseLengthPrefixed, LimitsAreCheckedOnTheLengthAlone) {
  LengthPrefixedReader big(16);
  const Bytes too_large{0, 0, 0, 17};
  auto r = big.feed(too_large);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), Errc::LengthTooLarge);
  EXPECT_EQ(big.feed(Bytes{1}).error(), Errc::LengthTooLarge);  // stays failed

  LengthPrefixedReader small(100, 28);
  EXPECT_EQ(small.feed(Bytes{0, 0, 0, 27}).error(), Errc::LengthTooSmall);

  // A huge announced length (2^32 - 1) is refused without allocating.
  LengthPrefixedReader huge(1 << 26);
  EXPECT_EQ(huge.feed(Bytes{0xff, 0xff, 0xff, 0xff}).error(), Errc::LengthTooLarge);
}

TEST(BaseLengthPrefixed, EmptyBody) {
  LengthPrefixedReader r(10);
  EXPECT_EQ(r.feed(Bytes{0, 0, 0, 0}).value(), 4u);
  EXPECT_TRUE(r.complete());
  EXPECT_TRUE(r.body().empty());
}

}  // namespace
}  // namespace portal::base
