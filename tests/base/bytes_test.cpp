// SPDX-License-Identifier: Apache-2.0
#include "portal/base/bytes.hpp"

#include <gtest/gtest.h>

namespace portal::base {
namespace {

TEST(BaseBytes, BigEndianRoundTrip) {
  Byte buf[8];
  store_be16(buf, 0x1234);
  EXPECT_EQ(buf[0], 0x12);
  EXPECT_EQ(buf[1], 0x34);
  EXPECT_EQ(load_be16(buf), 0x1234);
  store_be32(buf, 0xdeadbeef);
  EXPECT_EQ(buf[0], 0xde);
  EXPECT_EQ(buf[3], 0xef);
  EXPECT_EQ(load_be32(buf), 0xdeadbeefu);
  store_be64(buf, 0x0102030405060708ull);
  EXPECT_EQ(buf[0], 0x01);
  EXPECT_EQ(buf[7], 0x08);
  EXPECT_EQ(load_be64(buf), 0x0102030405060708ull);
}

TEST(BaseBytes, ConstantTimeEqual) {
  const Bytes a{1, 2, 3};
  const Bytes b{1, 2, 3};
  const Bytes c{1, 2, 4};
  const Bytes d{1, 2};
  EXPECT_TRUE(constant_time_equal(a, b));
  EXPECT_FALSE(constant_time_equal(a, c));
  EXPECT_FALSE(constant_time_equal(a, d));
  EXPECT_TRUE(constant_time_equal(ByteSpan{}, ByteSpan{}));
}

TEST(BaseBytes, StringViews) {
  const auto b = as_bytes("ab");
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(b[0], 'a');
  EXPECT_EQ(as_chars(b), "ab");
  EXPECT_EQ(to_bytes(b), (Bytes{'a', 'b'}));
}

}  // namespace
}  // namespace portal::base
