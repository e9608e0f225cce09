// SPDX-License-Identifier: Apache-2.0
#include "portal/base/byte_buffer.hpp"

#include <gtest/gtest.h>

#include <numeric>

namespace portal::base {
namespace {

Bytes iota_bytes(std::size_t n, Byte start = 0) {
  Bytes b(n);
  std::iota(b.begin(), b.end(), start);
  return b;
}

TEST(BaseByteBuffer, StartsUnallocated) {
  ByteBuffer buf(1024);
  EXPECT_TRUE(buf.empty());
  EXPECT_EQ(buf.capacity(), 0u);
  EXPECT_EQ(buf.limit(), 1024u);
}

TEST(BaseByteBuffer, AppendConsumeIsFifo) {
  ByteBuffer buf(1024);
  const Bytes a = iota_bytes(10);
  const Bytes b = iota_bytes(5, 100);
  ASSERT_TRUE(buf.append(a));
  ASSERT_TRUE(buf.append(b));
  ASSERT_EQ(buf.size(), 15u);
  buf.consume(10);
  EXPECT_EQ(to_bytes(buf.readable()), b);
  buf.consume(100);  // more than held: drops everything
  EXPECT_TRUE(buf.empty());
}

TEST(BaseByteBuffer, LimitIsCheckedBeforeAllocating) {
  ByteBuffer buf(16);
  ASSERT_TRUE(buf.append(iota_bytes(10)));
  const auto cap = buf.capacity();
  auto r = buf.append(iota_bytes(7));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), Errc::BufferLimitExceeded);
  EXPECT_EQ(buf.size(), 10u);  // unchanged
  EXPECT_EQ(buf.capacity(), cap);
  EXPECT_EQ(buf.prepare(7).error(), Errc::BufferLimitExceeded);
  EXPECT_TRUE(buf.append(iota_bytes(6)));
  EXPECT_LE(buf.capacity(), 16u);
}

TEST(BaseByteBuffer, HugeRequestFailsWithoutAllocating) {
  ByteBuffer buf(1 << 20);
  EXPECT_EQ(buf.prepare(SIZE_MAX).error(), Errc::BufferLimitExceeded);
  EXPECT_EQ(buf.capacity(), 0u);
}

TEST(BaseByteBuffer, PrepareCommit) {
  ByteBuffer buf(1024);
  auto space = buf.prepare(8);
  ASSERT_TRUE(space);
  ASSERT_EQ(space->size(), 8u);
  for (std::size_t i = 0; i < 8; ++i) (*space)[i] = static_cast<Byte>(i + 1);
  buf.commit(3);
  EXPECT_EQ(to_bytes(buf.readable()), (Bytes{1, 2, 3}));
  buf.commit(5);  // nothing prepared any more: ignored
  EXPECT_EQ(buf.size(), 3u);
}

TEST(BaseByteBuffer, ReclaimsConsumedFrontBeforeGrowing) {
  ByteBuffer buf(256);
  ASSERT_TRUE(buf.append(iota_bytes(200)));
  buf.consume(150);
  ASSERT_TRUE(buf.append(iota_bytes(200, 7)));  // fits only after compaction
  EXPECT_EQ(buf.size(), 250u);
  EXPECT_EQ(buf.readable()[0], 150);
  EXPECT_EQ(buf.readable()[50], 7);
}

TEST(BaseByteBuffer, ReleaseIfEmpty) {
  ByteBuffer buf(1024);
  ASSERT_TRUE(buf.append(iota_bytes(10)));
  EXPECT_FALSE(buf.release_if_empty());
  buf.consume(10);
  EXPECT_TRUE(buf.release_if_empty());
  EXPECT_EQ(buf.capacity(), 0u);
}

}  // namespace
}  // namespace portal::base
