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

// A flood cannot make an accepted message replayable: a full cache evicts its oldest entry and
// raises its floor to that timestamp, so the evicted message is refused as below the floor.
// Honest senders whose timestamps are above the floor are not locked out.
TEST(HandshakeReplayCache, FullEvictsTheOldestAndRaisesTheFloor) {
  ReplayCache cache(100, 30, 10000);
  ASSERT_EQ(cache.insert("VICTIM", kNonceA, 4990, 5000), V::Fresh);
  for (int i = 0; i < 10000; ++i) {
    // The flood carries timestamps 4995..5004: all newer than the victim's.
    const auto v = cache.insert("ID" + std::to_string(i % 7), nonce_of(i), 4995 + (i / 1000), 5000);
    ASSERT_TRUE(v == V::Fresh || v == V::BelowFloor) << i;
    ASSERT_LE(cache.size(), 100u);
  }
  // Each newer second evicts the older entries (and raises the floor); a message no newer than
  // the oldest entry is refused without evicting anything.
  EXPECT_GT(cache.evictions(), 800u);
  EXPECT_LT(cache.evictions(), 1000u);
  // The victim was evicted long ago: its replay is refused all the same.
  EXPECT_EQ(cache.insert("VICTIM", kNonceA, 4990, 5010), V::BelowFloor);
  // An honest sender with the current time gets in.
  EXPECT_EQ(cache.insert("HONEST", kNonceB, 5010, 5010), V::Fresh);
  // One whose timestamp is at or below the floor (here: 5004) is refused, seen or not.
  EXPECT_EQ(cache.insert("SKEWED", kNonceB, 5003, 5010), V::BelowFloor);
  // A replay of an entry still present is a replay.
  EXPECT_EQ(cache.insert("HONEST", kNonceB, 5010, 5011), V::Replayed);
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
