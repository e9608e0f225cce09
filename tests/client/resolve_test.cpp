// SPDX-License-Identifier: Apache-2.0
#include "portal/client/resolve.hpp"

#include <gtest/gtest.h>

#include "portal/client/errors.hpp"

namespace portal::client {
namespace {

constexpr const char* kOwner = "OREI3BGAI3ZBNJ6FBEOZANHYEE";
constexpr const char* kImpostor = "AAAAAAAAAAAAAAAAAAAAAAAAAA";
constexpr const char* kThird = "UXD2N3JFQH2XMFTUYJRVV3MASE";

wire::Lease lease(const char* id, std::string name) {
  wire::Lease l;
  l.identity = identity::Identity{id, base::Bytes(32, 1)};
  l.name = std::move(name);
  l.alpn = {"http/1.1"};
  return l;
}

std::vector<std::string> ids(const std::vector<Found>& found) {
  std::vector<std::string> out;
  for (const auto& f : found) out.push_back(f.relay + "/" + f.lease.identity->id);
  return out;
}

// The reproduced attack: an impostor's `WEB` sorts before the owner's `web` (a v1 relay lists
// both). `web` must reach the owner, and `Web` must not silently pick one of them.
TEST(ResolveTarget, ExactNameFirstAndAmbiguousFoldsRefused) {
  wire::RelayInfo a;
  a.leases = {lease(kImpostor, "WEB"), lease(kOwner, "web")};
  const std::vector<Listing> listings{{"ws://a", &a}};
  auto r = resolve_target(listings, "web");
  ASSERT_TRUE(r);
  EXPECT_EQ(ids(*r), std::vector<std::string>{std::string("ws://a/") + kOwner});
  r = resolve_target(listings, "WEB");
  ASSERT_TRUE(r);
  EXPECT_EQ(ids(*r), std::vector<std::string>{std::string("ws://a/") + kImpostor});
  std::string detail;
  r = resolve_target(listings, "Web", &detail);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), Errc::Ambiguous);
  EXPECT_NE(detail.find(kOwner), std::string::npos) << detail;
  EXPECT_NE(detail.find(kImpostor), std::string::npos) << detail;
}

TEST(ResolveTarget, CaseInsensitiveWhenUniqueAcrossRelays) {
  wire::RelayInfo a, b;
  a.leases = {lease(kOwner, "Demo"), lease(kThird, "other")};
  b.leases = {lease(kOwner, "Demo")};
  const std::vector<Listing> listings{{"ws://a", &a}, {"ws://down", nullptr}, {"ws://b", &b}};
  auto r = resolve_target(listings, "dEMO");
  ASSERT_TRUE(r);
  EXPECT_EQ(ids(*r), (std::vector<std::string>{std::string("ws://a/") + kOwner,
                                               std::string("ws://b/") + kOwner}));
}

// Two relays may each list a different identity under the same exact name.
TEST(ResolveTarget, SameExactNameOfTwoIdentitiesOnTwoRelaysIsAmbiguous) {
  wire::RelayInfo a, b;
  a.leases = {lease(kOwner, "web")};
  b.leases = {lease(kImpostor, "web")};
  std::string detail;
  auto r = resolve_target({{"ws://a", &a}, {"ws://b", &b}}, "web", &detail);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), Errc::Ambiguous);
  EXPECT_NE(detail.find(std::string(kImpostor) + ", " + kOwner), std::string::npos) << detail;
}

TEST(ResolveTarget, IdsInAnyLetterCaseAreIdsNeverNames) {
  wire::RelayInfo a;
  // A lease whose *name* is another lease's ID in lower case cannot capture dials by ID.
  a.leases = {lease(kThird, "orei3bgai3zbnj6fbeozanhyee"), lease(kOwner, "web")};
  const std::vector<Listing> listings{{"ws://a", &a}};
  auto r = resolve_target(listings, "orei3bgai3zbnj6fbeozanhyee");
  ASSERT_TRUE(r);
  EXPECT_EQ(ids(*r), std::vector<std::string>{std::string("ws://a/") + kOwner});
  r = resolve_target(listings, "OReI3BGAI3ZBNJ6FBEOZANHYEE");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->front().lease.identity->id, kOwner);
  std::string detail;
  r = resolve_target(listings, "uxd2n3jfqh2xmftuyjrvv3mase", &detail);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->front().lease.identity->id, kThird);
  r = resolve_target(listings, "BBBBBBBBBBBBBBBBBBBBBBBBBA", &detail);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), Errc::NotFound);
  EXPECT_NE(detail.find("no lease with ID BBBBBBBBBBBBBBBBBBBBBBBBBA"), std::string::npos);
}

TEST(ResolveTarget, NotFoundAndEmpty) {
  wire::RelayInfo a;
  a.leases = {lease(kOwner, "web")};
  std::string detail;
  auto r = resolve_target({{"ws://a", &a}}, "nobody", &detail);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), Errc::NotFound);
  EXPECT_EQ(detail, "no lease named 'nobody'");
  EXPECT_EQ(resolve_target({{"ws://a", &a}}, "").error(), Errc::InvalidTarget);
  EXPECT_EQ(resolve_target({{"ws://a", nullptr}}, "web").error(), Errc::NotFound);
}

// ---- lease lookups (ADR 0016) -----------------------------------------------------------------

wire::RelayInfo fleet_relay(std::vector<wire::Lease> leases) {
  wire::RelayInfo info;
  info.leases = std::move(leases);
  info.features = {"something-else/2", std::string(wire::kFeatureLeaseLookup)};
  return info;
}

TEST(ResolveLookup, OnlyRelaysThatAdvertiseItAndDoNotListTheTargetAreAsked) {
  wire::RelayInfo v1;  // no features: never asked, whatever it lists
  v1.leases = {lease(kThird, "other")};
  wire::RelayInfo lists = fleet_relay({lease(kOwner, "Demo")});
  wire::RelayInfo lacks = fleet_relay({lease(kThird, "other")});
  wire::RelayInfo old_feature = v1;
  old_feature.features = {"lease-lookup/0"};
  EXPECT_FALSE(supports_lookup(v1));
  EXPECT_FALSE(supports_lookup(old_feature));
  EXPECT_TRUE(supports_lookup(lists));
  const std::vector<Listing> listings{{"ws://v1", &v1},
                                      {"ws://lists", &lists},
                                      {"ws://down", nullptr},
                                      {"ws://lacks", &lacks},
                                      {"ws://old", &old_feature}};
  // By name, in any case, and by ID in any case: only the relay that lacks it.
  for (const char* target : {"demo", "DEMO", "Demo", kOwner, "orei3bgai3zbnj6fbeozanhyee"}) {
    SCOPED_TRACE(target);
    EXPECT_EQ(lookups_needed(listings, target), std::vector<std::size_t>{3});
  }
  // Unknown everywhere: both relays that advertise it.
  EXPECT_EQ(lookups_needed(listings, "nowhere"), (std::vector<std::size_t>{1, 3}));
  // An empty or oversized target is never sent.
  EXPECT_TRUE(lookups_needed(listings, "").empty());
  EXPECT_TRUE(lookups_needed(listings, std::string(wire::kMaxLookupTarget + 1, 'a')).empty());
  EXPECT_EQ(lookups_needed(listings, std::string(wire::kMaxLookupTarget, 'a')),
            (std::vector<std::size_t>{1, 3}));
  // A relay whose own listing is ambiguous for the target found something: not asked.
  wire::RelayInfo both = fleet_relay({lease(kImpostor, "WEB"), lease(kOwner, "web")});
  EXPECT_TRUE(lookups_needed({{"ws://both", &both}}, "Web").empty());
}

TEST(ResolveLookup, TheAnswerStandsForTheRelaysListing) {
  wire::RelayInfo lists = fleet_relay({lease(kOwner, "Demo")});
  wire::RelayInfo lacks = fleet_relay({lease(kThird, "other")});
  lacks.address = {"wss://b.example/relay"};
  // Relay b found the lease in its fleet.
  const auto found = with_lookup(lacks, {wire::ResponseCode::Accepted, {lease(kOwner, "Demo")}});
  EXPECT_EQ(found.address, lacks.address);
  EXPECT_EQ(found.features, lacks.features);
  ASSERT_EQ(found.leases.size(), 1u);
  const std::vector<Listing> listings{{"ws://a", &lists}, {"ws://b", &found}};
  auto r = resolve_target(listings, "demo");
  ASSERT_TRUE(r);
  EXPECT_EQ(ids(*r), (std::vector<std::string>{std::string("ws://a/") + kOwner,
                                               std::string("ws://b/") + kOwner}));
  // Only b knows it: b alone.
  const std::vector<Listing> only_b{{"ws://b", &found}};
  r = resolve_target(only_b, kOwner);
  ASSERT_TRUE(r);
  EXPECT_EQ(ids(*r), std::vector<std::string>{std::string("ws://b/") + kOwner});
  // Leases in an answer that is not ACCEPTED are not used, and the relay's own listing is
  // replaced (it did not list the target anyway).
  for (const auto code : {wire::ResponseCode::InvalidIdentity, wire::ResponseCode::Rejected}) {
    const auto none = with_lookup(lacks, {code, {lease(kOwner, "Demo")}});
    EXPECT_TRUE(none.leases.empty());
    const std::vector<Listing> l{{"ws://b", &none}};
    EXPECT_EQ(resolve_target(l, "demo").error(), Errc::NotFound);
  }
  // The fleet's answer may make a name ambiguous: refused as when two relays list it.
  const auto split = with_lookup(
      lacks, {wire::ResponseCode::Accepted, {lease(kOwner, "demo"), lease(kImpostor, "DEMO")}});
  const std::vector<Listing> l{{"ws://b", &split}};
  EXPECT_EQ(resolve_target(l, "Demo").error(), Errc::Ambiguous);
}

}  // namespace
}  // namespace portal::client
