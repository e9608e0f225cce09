// SPDX-License-Identifier: Apache-2.0
#include "portal/handshake/replay_cache.hpp"

#include <gtest/gtest.h>

namespace portal::handshake {
namespace {

const base::Bytes kNonceA(12, 0xa);
const base::Bytes kNonceB(12, 0xb);

TEST(HandshakeReplayCache, RefusesARepeatWithinItsLifetime) {
  ReplayCache cache(16, 30);
  EXPECT_TRUE(cache.insert("ID1", kNonceA, 1000, 1000));
  EXPECT_FALSE(cache.insert("ID1", kNonceA, 1000, 1010));
  EXPECT_FALSE(cache.insert("ID1", kNonceA, 1000, 1030));  // timestamp + 30: still live
  EXPECT_TRUE(cache.insert("ID2", kNonceA, 1000, 1010));   // another client, same nonce
  EXPECT_TRUE(cache.insert("ID1", kNonceB, 1000, 1010));   // same client, another nonce
}

TEST(HandshakeReplayCache, EntriesExpireAtTimestampPlusLifetime) {
  ReplayCache cache(16, 30);
  EXPECT_TRUE(cache.insert("ID1", kNonceA, 1000, 1000));
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_TRUE(cache.insert("ID9", kNonceB, 1031, 1031));  // expires ID1's entry
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_TRUE(cache.insert("ID1", kNonceA, 1000, 1031));
}

TEST(HandshakeReplayCache, StaysBoundedUnderAFlood) {
  ReplayCache cache(100, 30);
  for (int i = 0; i < 10000; ++i) {
    base::Bytes nonce(12);
    nonce[0] = static_cast<base::Byte>(i);
    nonce[1] = static_cast<base::Byte>(i >> 8);
    EXPECT_TRUE(cache.insert("ID" + std::to_string(i % 7), nonce, 5000 + i % 50, 5000));
    ASSERT_LE(cache.size(), 100u);
  }
  EXPECT_EQ(cache.size(), 100u);
}

}  // namespace
}  // namespace portal::handshake
