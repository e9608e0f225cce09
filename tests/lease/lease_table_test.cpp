// SPDX-License-Identifier: Apache-2.0
#include "portal/lease/lease_table.hpp"

#include <gtest/gtest.h>

#include "portal/handshake/messages.hpp"
#include "support/vectors.hpp"

namespace portal::lease {
namespace {

using wire::ResponseCode;

wire::Lease lease(const std::string& id, std::string name, std::int64_t expires) {
  wire::Lease l;
  l.identity = identity::Identity{id, base::Bytes(32, 1)};
  l.name = std::move(name);
  l.expires = expires;
  l.alpn = {"http/1.1"};
  return l;
}

constexpr std::int64_t kNow = 1'762'473'600;

TEST(LeaseTable, RegisterRenewAndExpiryRule) {
  LeaseTable t;
  EXPECT_EQ(t.update(lease("A", "demo", kNow + 30), 1, kNow), ResponseCode::Accepted);
  EXPECT_EQ(t.update(lease("A", "demo", kNow + 60), 1, kNow + 20), ResponseCode::Accepted);
  EXPECT_EQ(t.find("A", kNow + 60)->lease.expires, kNow + 60);
  EXPECT_EQ(t.find("A", kNow + 60)->last_seen, kNow + 20);
  // now > expires is refused; now == expires is still fine (second resolution).
  EXPECT_EQ(t.update(lease("B", "", kNow), 1, kNow + 1), ResponseCode::Rejected);
  EXPECT_EQ(t.update(lease("B", "", kNow), 1, kNow), ResponseCode::Accepted);
  wire::Lease nobody;
  EXPECT_EQ(t.update(nobody, 1, kNow), ResponseCode::InvalidIdentity);
}

TEST(LeaseTable, NamesAreUniqueAcrossIdentitiesIgnoringCase) {
  LeaseTable t;
  ASSERT_EQ(t.update(lease("A", "demo", kNow + 30), 1, kNow), ResponseCode::Accepted);
  Refusal why = Refusal::None;
  EXPECT_EQ(t.update(lease("B", "demo", kNow + 30), 2, kNow, &why), ResponseCode::Rejected);
  EXPECT_EQ(why, Refusal::NameTaken);
  // Stricter than v1 (byte-exact): a name equal under case folding is taken too, so that a
  // case-insensitive lookup of "demo" cannot find an impostor's "Demo".
  EXPECT_EQ(t.update(lease("B", "Demo", kNow + 30), 2, kNow, &why), ResponseCode::Rejected);
  EXPECT_EQ(why, Refusal::NameTakenIgnoringCase);
  EXPECT_EQ(t.update(lease("B", "DEMO", kNow + 30), 2, kNow), ResponseCode::Rejected);
  ASSERT_NE(t.holder_of_name("dEmO"), nullptr);
  EXPECT_EQ(*t.holder_of_name("dEmO"), "A");
  // The holder itself may change the case of its own name.
  EXPECT_EQ(t.update(lease("A", "Demo", kNow + 30), 1, kNow, &why), ResponseCode::Accepted);
  EXPECT_EQ(why, Refusal::None);
  EXPECT_EQ(t.update(lease("A", "demo", kNow + 30), 1, kNow), ResponseCode::Accepted);
  // Empty and "(unnamed)" never conflict.
  EXPECT_EQ(t.update(lease("C", "", kNow + 30), 2, kNow), ResponseCode::Accepted);
  EXPECT_EQ(t.update(lease("D", "", kNow + 30), 2, kNow), ResponseCode::Accepted);
  EXPECT_EQ(t.update(lease("E", "(unnamed)", kNow + 30), 2, kNow), ResponseCode::Accepted);
  EXPECT_EQ(t.update(lease("F", "(unnamed)", kNow + 30), 2, kNow), ResponseCode::Accepted);
  // An expired entry holds its name until the sweep removes it.
  EXPECT_EQ(t.find("A", kNow + 31), nullptr);
  EXPECT_EQ(t.update(lease("G", "demo", kNow + 90), 3, kNow + 31), ResponseCode::Rejected);
  EXPECT_EQ(t.sweep(kNow + 31), (std::vector<std::string>{"A", "C", "D", "E", "F"}));
  EXPECT_EQ(t.update(lease("G", "DEMO", kNow + 90), 3, kNow + 31), ResponseCode::Accepted);
}

// Unicode simple case folding, not just ASCII: the Kelvin sign folds to 'k', and 'ſ' to 's'.
TEST(LeaseTable, CaseFoldingCoversUnicode) {
  LeaseTable t;
  ASSERT_EQ(t.update(lease("A", "kiss", kNow + 30), 1, kNow), ResponseCode::Accepted);
  EXPECT_EQ(t.update(lease("B", "\u212Aiss", kNow + 30), 2, kNow), ResponseCode::Rejected);
  EXPECT_EQ(t.update(lease("B", "ki\u017Fs", kNow + 30), 2, kNow), ResponseCode::Rejected);
  ASSERT_EQ(t.update(lease("C", "\u00E9t\u00E9", kNow + 30), 2, kNow), ResponseCode::Accepted);
  EXPECT_EQ(t.update(lease("D", "\u00C9T\u00C9", kNow + 30), 2, kNow), ResponseCode::Rejected);
  // A name released by delete, drop or sweep is free again, in any case.
  EXPECT_EQ(t.remove("A"), ResponseCode::Accepted);
  EXPECT_EQ(t.update(lease("B", "KISS", kNow + 30), 2, kNow), ResponseCode::Accepted);
  (void)t.drop_connection(2);
  EXPECT_EQ(t.holder_of_name("kiss"), nullptr);
  EXPECT_EQ(t.holder_of_name("\u00E9t\u00E9"), nullptr);
  EXPECT_EQ(t.update(lease("D", "\u00C9T\u00C9", kNow + 30), 3, kNow), ResponseCode::Accepted);
}

TEST(LeaseTable, ExpiryIsBoundedByTheTtlLimit) {
  LeaseTable t(Limits{64, 120});
  ASSERT_EQ(t.update(lease("A", "", kNow + 30), 1, kNow), ResponseCode::Accepted);
  EXPECT_EQ(t.find("A", kNow)->lease.expires, kNow + 30);
  // A client asking for years gets the bound; renewals keep extending it.
  ASSERT_EQ(t.update(lease("A", "", kNow + 10LL * 365 * 86400), 1, kNow), ResponseCode::Accepted);
  EXPECT_EQ(t.find("A", kNow)->lease.expires, kNow + 120);
  EXPECT_EQ(t.find("A", kNow + 121), nullptr);
  EXPECT_EQ(t.sweep(kNow + 121), std::vector<std::string>{"A"});
  LeaseTable unbounded;
  ASSERT_EQ(unbounded.update(lease("A", "", kNow + 1'000'000), 1, kNow), ResponseCode::Accepted);
  EXPECT_EQ(unbounded.find("A", kNow)->lease.expires, kNow + 1'000'000);
}

TEST(LeaseTable, UpdatesMoveTheLeaseToTheirConnection) {
  LeaseTable t;
  ASSERT_EQ(t.update(lease("A", "", kNow + 30), 1, kNow), ResponseCode::Accepted);
  EXPECT_EQ(t.count(1), 1u);
  ASSERT_EQ(t.update(lease("A", "", kNow + 30), 2, kNow), ResponseCode::Accepted);
  EXPECT_EQ(t.count(1), 0u);
  EXPECT_EQ(t.count(2), 1u);
  EXPECT_EQ(t.find("A", kNow)->connection, 2u);
  // §6.6: a connection that ends takes its leases with it, and only those.
  ASSERT_EQ(t.update(lease("B", "", kNow + 30), 1, kNow), ResponseCode::Accepted);
  EXPECT_EQ(t.drop_connection(2), (std::vector<std::string>{"A"}));
  EXPECT_EQ(t.find("A", kNow), nullptr);
  EXPECT_NE(t.find("B", kNow), nullptr);
  EXPECT_EQ(t.count(2), 0u);
}

TEST(LeaseTable, DeleteAnswersAsV1) {
  LeaseTable t;
  ASSERT_EQ(t.update(lease("A", "x", kNow + 30), 1, kNow), ResponseCode::Accepted);
  EXPECT_EQ(t.remove("A"), ResponseCode::Accepted);
  EXPECT_EQ(t.remove("A"), ResponseCode::InvalidIdentity);
  EXPECT_EQ(t.count(1), 0u);
  EXPECT_EQ(t.size(), 0u);
}

TEST(LeaseTable, PerConnectionLimit) {
  LeaseTable t(Limits{2});
  EXPECT_EQ(t.update(lease("A", "", kNow + 30), 1, kNow), ResponseCode::Accepted);
  EXPECT_EQ(t.update(lease("B", "", kNow + 30), 1, kNow), ResponseCode::Accepted);
  Refusal why = Refusal::None;
  EXPECT_EQ(t.update(lease("C", "", kNow + 30), 1, kNow, &why), ResponseCode::Rejected);
  EXPECT_EQ(why, Refusal::LeasesPerConnection);
  // Renewing a lease the connection already holds is not a new one.
  EXPECT_EQ(t.update(lease("A", "", kNow + 60), 1, kNow), ResponseCode::Accepted);
  EXPECT_EQ(t.update(lease("C", "", kNow + 30), 2, kNow), ResponseCode::Accepted);
  EXPECT_EQ(t.list(kNow).size(), 3u);
}

// Everything a RelayInfo answer carries is bounded: the bytes of each lease and the number of
// leases (v1 clients cannot be sent a truncated answer).
TEST(LeaseTable, LeaseSizeAndTableSizeAreBounded) {
  Limits limits;
  limits.max_leases = 3;
  limits.max_lease_bytes = 100;
  LeaseTable t(limits);
  Refusal why = Refusal::None;
  auto big = lease("A", "n", kNow + 30);
  big.metadata = std::string(91, 'x');  // 1 + 91 + 8 ("http/1.1") = 100: at the limit
  EXPECT_EQ(t.update(big, 1, kNow, &why), ResponseCode::Accepted);
  big.metadata.push_back('x');
  EXPECT_EQ(t.update(big, 1, kNow, &why), ResponseCode::Rejected);
  EXPECT_EQ(why, Refusal::LeaseTooLarge);
  auto many = lease("B", "", kNow + 30);
  many.alpn.assign(13, "12345678");  // 104 bytes of ALPN
  EXPECT_EQ(t.update(many, 1, kNow, &why), ResponseCode::Rejected);
  EXPECT_EQ(why, Refusal::LeaseTooLarge);
  EXPECT_EQ(t.update(lease("B", "", kNow + 30), 1, kNow), ResponseCode::Accepted);
  EXPECT_EQ(t.update(lease("C", "", kNow + 30), 2, kNow), ResponseCode::Accepted);
  EXPECT_EQ(t.update(lease("D", "", kNow + 30), 2, kNow, &why), ResponseCode::Rejected);
  EXPECT_EQ(why, Refusal::TableFull);
  // Renewing an existing lease is not a new one.
  EXPECT_EQ(t.update(lease("C", "", kNow + 60), 2, kNow), ResponseCode::Accepted);
  EXPECT_EQ(t.remove("A"), ResponseCode::Accepted);
  EXPECT_EQ(t.update(lease("D", "", kNow + 30), 2, kNow), ResponseCode::Accepted);
}

TEST(LeaseTable, GenerationChangesWithTheContent) {
  LeaseTable t;
  auto g = t.generation();
  ASSERT_EQ(t.update(lease("A", "a", kNow + 30), 1, kNow), ResponseCode::Accepted);
  EXPECT_NE(t.generation(), g);
  g = t.generation();
  EXPECT_EQ(t.update(lease("B", "a", kNow + 30), 1, kNow), ResponseCode::Rejected);
  EXPECT_EQ(t.generation(), g);  // a refusal changes nothing
  ASSERT_EQ(t.update(lease("A", "a", kNow + 40), 1, kNow), ResponseCode::Accepted);
  EXPECT_NE(t.generation(), g);
  g = t.generation();
  (void)t.sweep(kNow + 41);
  EXPECT_NE(t.generation(), g);
}

// The lease of control_packets.json: accepted at the vectors' time, refused once expired.
TEST(LeaseTableVectors, ControlVectorLeaseUnderTheFakeClock) {
  const auto doc = test::load_vectors("control_packets.json");
  for (const auto& v : doc.at("vectors").as_array()) {
    if (test::str(v, "packet_type") != "LEASE_UPDATE_REQUEST") continue;
    SCOPED_TRACE(test::str(v, "name"));
    auto sp = handshake::decode_signed_payload(test::hex(v, "payload_hex"));
    ASSERT_TRUE(sp);
    auto req = wire::decode_lease_update_request(sp->data);
    ASSERT_TRUE(req && req->lease);
    LeaseTable t;
    EXPECT_EQ(t.update(*req->lease, 1, req->timestamp), ResponseCode::Accepted);
    LeaseTable later;
    EXPECT_EQ(later.update(*req->lease, 1, req->lease->expires + 1), ResponseCode::Rejected);
  }
}

}  // namespace
}  // namespace portal::lease
