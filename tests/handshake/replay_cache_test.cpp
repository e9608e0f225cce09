// SPDX-License-Identifier: Apache-2.0
#include "portal/handshake/replay_cache.hpp"

#include <gtest/gtest.h>

namespace portal::handshake {
namespace {

const base::Bytes kNonceA(12, 0xa);
const base::Bytes kNonceB(12, 0xb);

using V = ReplayCache::Verdict;

TEST(HandshakeReplayCache, RefusesARepeatWithinItsLifetime) {
  ReplayCache cache(16, 30);
  EXPECT_EQ(cache.insert("ID1", kNonceA, 1000, 1000), V::Fresh);
  EXPECT_EQ(cache.insert("ID1", kNonceA, 1000, 1010), V::Replayed);
  EXPECT_EQ(cache.insert("ID1", kNonceA, 1000, 1030), V::Replayed);  // timestamp + 30: live
  EXPECT_EQ(cache.insert("ID2", kNonceA, 1000, 1010), V::Fresh);     // another ID, same nonce
  EXPECT_EQ(cache.insert("ID1", kNonceB, 1000, 1010), V::Fresh);     // same ID, another nonce
}

TEST(HandshakeReplayCache, EntriesExpireAtTimestampPlusLifetime) {
  ReplayCache cache(16, 30);
  EXPECT_EQ(cache.insert("ID1", kNonceA, 1000, 1000), V::Fresh);
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(cache.insert("ID9", kNonceB, 1031, 1031), V::Fresh);  // expires ID1's entry
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(cache.insert("ID1", kNonceA, 1000, 1031), V::Fresh);
}

base::Bytes nonce_of(int i) {
  base::Bytes nonce(12);
  nonce[0] = static_cast<base::Byte>(i);
  nonce[1] = static_cast<base::Byte>(i >> 8);
  return nonce;
}

// A flood cannot push out a live entry: past the bound, new entries are refused, and every
// message already accepted stays unreplayable for its whole window.
TEST(HandshakeReplayCache, FullRefusesInsteadOfEvictingLiveEntries) {
  ReplayCache cache(100, 30, 100);
  ASSERT_EQ(cache.insert("VICTIM", kNonceA, 5000, 5000), V::Fresh);
  int refused = 0;
  for (int i = 0; i < 10000; ++i) {
    const auto v = cache.insert("ID" + std::to_string(i % 7), nonce_of(i), 5000 + i % 20, 5000);
    ASSERT_TRUE(v == V::Fresh || v == V::Full);
    refused += v == V::Full ? 1 : 0;
    ASSERT_LE(cache.size(), 100u);
  }
  EXPECT_EQ(refused, 10000 - 99);
  EXPECT_EQ(cache.insert("VICTIM", kNonceA, 5000, 5029), V::Replayed);
  // Once entries expire there is room again.
  EXPECT_EQ(cache.insert("ID1", nonce_of(60000), 5040, 5040), V::Fresh);
  EXPECT_EQ(cache.insert("VICTIM", kNonceA, 5000, 5040), V::Fresh);  // expired at 5030
}

TEST(HandshakeReplayCache, OneIdentityCannotTakeMoreThanItsQuota) {
  ReplayCache cache(1000, 30, 10);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(cache.insert("GREEDY", nonce_of(i), 5000, 5000), V::Fresh);
  }
  EXPECT_EQ(cache.insert("GREEDY", nonce_of(10), 5000, 5000), V::IdentityFull);
  EXPECT_EQ(cache.insert("GREEDY", nonce_of(3), 5000, 5000), V::Replayed);
  EXPECT_EQ(cache.insert("OTHER", nonce_of(10), 5000, 5000), V::Fresh);
  EXPECT_EQ(cache.size(), 11u);
  // The quota is of live entries: it frees up as they expire.
  EXPECT_EQ(cache.insert("GREEDY", nonce_of(11), 5031, 5031), V::Fresh);
}

}  // namespace
}  // namespace portal::handshake
