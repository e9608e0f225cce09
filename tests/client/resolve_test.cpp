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

}  // namespace
}  // namespace portal::client
