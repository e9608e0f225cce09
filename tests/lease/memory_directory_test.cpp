// SPDX-License-Identifier: Apache-2.0
#include "portal/lease/memory_directory.hpp"

#include <gtest/gtest.h>

#include <string>

namespace portal::lease {
namespace {

using std::chrono::milliseconds;

DirectoryRequest req(DirectoryOp op, std::string key, milliseconds ttl = milliseconds(1000)) {
  DirectoryRequest r;
  r.ticket = 7;
  r.op = op;
  r.key = std::move(key);
  r.ttl = ttl;
  return r;
}

DirectoryRequest claim(std::string name, std::string id, milliseconds ttl = milliseconds(1000)) {
  auto r = req(DirectoryOp::ClaimName, std::move(name), ttl);
  r.subject = std::move(id);
  return r;
}

DirectoryRequest publish(std::string id, std::string relay, std::string value,
                         milliseconds ttl = milliseconds(1000)) {
  auto r = req(DirectoryOp::PublishLease, std::move(id), ttl);
  r.relay = std::move(relay);
  r.value = base::Bytes(value.begin(), value.end());
  return r;
}

std::string text(const base::Bytes& b) { return std::string(b.begin(), b.end()); }

TEST(MemoryDirectory, ANameIsClaimedExtendedAndReleasedOnlyByItsHolder) {
  MemoryDirectory d;
  auto a = d.apply(claim("web", "A"), 0);
  EXPECT_EQ(a.status, DirectoryStatus::Ok);
  EXPECT_EQ(a.ticket, 7u);
  auto b = d.apply(claim("web", "B"), 10);
  EXPECT_EQ(b.status, DirectoryStatus::Conflict);
  EXPECT_EQ(b.holder, "A");
  // A extends its claim past the first TTL.
  EXPECT_EQ(d.apply(claim("web", "A"), 900).status, DirectoryStatus::Ok);
  EXPECT_EQ(d.apply(claim("web", "B"), 1500).status, DirectoryStatus::Conflict);
  auto release_b = req(DirectoryOp::ReleaseName, "web");
  release_b.subject = "B";
  EXPECT_EQ(d.apply(release_b, 1500).status, DirectoryStatus::NotFound);
  auto release_a = release_b;
  release_a.subject = "A";
  EXPECT_EQ(d.apply(release_a, 1500).status, DirectoryStatus::Ok);
  EXPECT_EQ(d.apply(claim("web", "B"), 1500).status, DirectoryStatus::Ok);
}

TEST(MemoryDirectory, AClaimLapsesAtItsTtl) {
  MemoryDirectory d;
  ASSERT_EQ(d.apply(claim("web", "A", milliseconds(100)), 0).status, DirectoryStatus::Ok);
  EXPECT_EQ(d.apply(claim("web", "B"), 99).status, DirectoryStatus::Conflict);
  EXPECT_EQ(d.apply(claim("web", "B"), 100).status, DirectoryStatus::Ok);
}

TEST(MemoryDirectory, ResolveFindsEveryLiveHolderByIdAndByName) {
  MemoryDirectory d;
  ASSERT_EQ(d.apply(claim("web", "A"), 0).status, DirectoryStatus::Ok);
  ASSERT_EQ(d.apply(publish("A", "relay-1", "signed-1"), 0).status, DirectoryStatus::Ok);
  ASSERT_EQ(d.apply(publish("A", "relay-2", "signed-2", milliseconds(50)), 0).status,
            DirectoryStatus::Ok);
  ASSERT_EQ(d.apply(publish("AB", "relay-3", "other"), 0).status, DirectoryStatus::Ok);

  auto by_id = d.apply(req(DirectoryOp::Resolve, "A"), 10);
  ASSERT_EQ(by_id.status, DirectoryStatus::Ok);
  ASSERT_EQ(by_id.records.size(), 2u);
  EXPECT_EQ(by_id.records[0].relay, "relay-1");
  EXPECT_EQ(text(by_id.records[0].value), "signed-1");
  EXPECT_EQ(by_id.records[0].ttl_left, milliseconds(990));
  EXPECT_EQ(by_id.records[1].relay, "relay-2");
  EXPECT_EQ(by_id.records[1].key, "A");

  auto by_name = req(DirectoryOp::Resolve, "web");
  by_name.by_name = true;
  auto named = d.apply(by_name, 60);  // relay-2's record has lapsed
  ASSERT_EQ(named.status, DirectoryStatus::Ok);
  ASSERT_EQ(named.records.size(), 1u);
  EXPECT_EQ(named.records[0].relay, "relay-1");

  auto withdraw = req(DirectoryOp::WithdrawLease, "A");
  withdraw.relay = "relay-1";
  EXPECT_EQ(d.apply(withdraw, 60).status, DirectoryStatus::Ok);
  EXPECT_EQ(d.apply(withdraw, 60).status, DirectoryStatus::NotFound);
  EXPECT_EQ(d.apply(req(DirectoryOp::Resolve, "A"), 60).status, DirectoryStatus::NotFound);
  by_name.key = "nobody";
  EXPECT_EQ(d.apply(by_name, 60).status, DirectoryStatus::NotFound);
}

TEST(MemoryDirectory, ANonceIsFreshOnceUntilItsTtl) {
  MemoryDirectory d;
  auto n = req(DirectoryOp::CheckNonce, "A", milliseconds(30'000));
  n.value = base::Bytes(12, base::Byte{9});
  EXPECT_EQ(d.apply(n, 0).status, DirectoryStatus::Ok);
  EXPECT_EQ(d.apply(n, 29'999).status, DirectoryStatus::Conflict);
  auto other_identity = n;
  other_identity.key = "B";
  EXPECT_EQ(d.apply(other_identity, 10).status, DirectoryStatus::Ok);
  EXPECT_EQ(d.apply(n, 30'000).status, DirectoryStatus::Ok);
  n.value.clear();
  EXPECT_EQ(d.apply(n, 0).status, DirectoryStatus::Invalid);
}

TEST(MemoryDirectory, MembersAreTheRelaysWithALiveHeartbeat) {
  MemoryDirectory d;
  auto hb = req(DirectoryOp::Heartbeat, "", milliseconds(15'000));
  hb.relay = "relay-1";
  hb.value = base::Bytes{'t', 'c', 'p', ':', '/', '/', 'a'};
  ASSERT_EQ(d.apply(hb, 0).status, DirectoryStatus::Ok);
  hb.relay = "relay-2";
  ASSERT_EQ(d.apply(hb, 10'000).status, DirectoryStatus::Ok);
  auto m = d.apply(req(DirectoryOp::Members, ""), 20'000);
  ASSERT_EQ(m.status, DirectoryStatus::Ok);
  ASSERT_EQ(m.records.size(), 1u);
  EXPECT_EQ(m.records[0].relay, "relay-2");
  EXPECT_EQ(text(m.records[0].value), "tcp://a");
  EXPECT_EQ(m.records[0].ttl_left, milliseconds(5'000));
}

TEST(MemoryDirectory, MalformedRequestsAreInvalid) {
  MemoryDirectory d;
  EXPECT_EQ(d.apply(claim("", "A"), 0).status, DirectoryStatus::Invalid);
  EXPECT_EQ(d.apply(claim("web", ""), 0).status, DirectoryStatus::Invalid);
  EXPECT_EQ(d.apply(claim("web", "A", milliseconds(0)), 0).status, DirectoryStatus::Invalid);
  EXPECT_EQ(d.apply(publish("A", "", "x"), 0).status, DirectoryStatus::Invalid);
  auto bad = req(static_cast<DirectoryOp>(200), "A");
  EXPECT_EQ(d.apply(bad, 0).status, DirectoryStatus::Invalid);
  EXPECT_EQ(d.size(), 0u);
}

TEST(MemoryDirectory, AFullDirectoryRefusesNewKeysUntilSomeExpire) {
  MemoryDirectory d(2);
  ASSERT_EQ(d.apply(claim("a", "A", milliseconds(100)), 0).status, DirectoryStatus::Ok);
  ASSERT_EQ(d.apply(claim("b", "B", milliseconds(1000)), 0).status, DirectoryStatus::Ok);
  const auto refused = d.apply(claim("c", "C"), 50);
  EXPECT_EQ(refused.status, DirectoryStatus::Overloaded);
  EXPECT_EQ(refused.detail, "the directory holds 2 keys");
  // Extending a held key needs no room.
  EXPECT_EQ(d.apply(claim("b", "B"), 50).status, DirectoryStatus::Ok);
  // Once "a" has lapsed, its place is free.
  EXPECT_EQ(d.apply(claim("c", "C"), 100).status, DirectoryStatus::Ok);
  EXPECT_EQ(d.size(), 2u);
}

}  // namespace
}  // namespace portal::lease
