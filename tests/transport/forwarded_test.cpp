// SPDX-License-Identifier: Apache-2.0
#include "portal/transport/forwarded.hpp"

#include <gtest/gtest.h>

namespace portal::transport {
namespace {

AddressSet set_of(const std::vector<std::string>& cidrs) {
  std::string problem;
  auto s = AddressSet::parse(cidrs, problem);
  EXPECT_TRUE(s) << problem;
  return s ? *s : AddressSet{};
}

TEST(AddressSet, MatchesAddressesAndRangesOfBothFamilies) {
  const auto s = set_of({"127.0.0.1", "10.0.0.0/8", "192.0.2.128/25", "2001:db8::/32", "::1"});
  EXPECT_TRUE(s.contains("127.0.0.1"));
  EXPECT_FALSE(s.contains("127.0.0.2"));
  EXPECT_TRUE(s.contains("10.255.1.2"));
  EXPECT_FALSE(s.contains("11.0.0.1"));
  EXPECT_TRUE(s.contains("192.0.2.200"));
  EXPECT_FALSE(s.contains("192.0.2.127"));
  EXPECT_TRUE(s.contains("2001:db8:1::5"));
  EXPECT_FALSE(s.contains("2001:db9::1"));
  EXPECT_TRUE(s.contains("::1"));
  EXPECT_TRUE(s.contains("::ffff:10.1.2.3"));  // IPv4-mapped: the IPv4 ranges
  EXPECT_FALSE(s.contains("not an address"));
  EXPECT_TRUE(set_of({"0.0.0.0/0"}).contains("203.0.113.9"));
  EXPECT_FALSE(set_of({"0.0.0.0/0"}).contains("2001:db8::1"));
  EXPECT_TRUE(AddressSet{}.empty());
}

TEST(AddressSet, RefusesWhatIsNotARangeNamingTheEntry) {
  for (const std::string bad : {"10.0.0.0/33", "::/129", "example.com", "10.0.0.0/x", ""}) {
    std::string problem;
    EXPECT_FALSE(AddressSet::parse({"127.0.0.1", bad}, problem)) << bad;
    EXPECT_NE(problem.find("'" + bad + "'"), std::string::npos) << problem;
  }
}

// Found by the forwarded_for fuzzer: inet_pton stops at a NUL, so text with one inside was
// taken for the address before it.
TEST(AddressSet, TextWithANulInsideIsNoAddress) {
  const auto set = set_of({"192.0.2.0/24"});
  const std::string nul("192.0.2.1\0junk", 14);
  EXPECT_FALSE(set.contains(nul));
  std::string problem;
  EXPECT_FALSE(AddressSet::parse({nul}, problem));
  EXPECT_EQ(forwarded_client("192.0.2.7", nul, [&](std::string_view a) { return set.contains(a); }),
            "192.0.2.7");
}

TEST(ForwardedClient, IsTheRightmostHopThatIsNotATrustedProxy) {
  const auto proxies = set_of({"10.0.0.0/8", "127.0.0.1"});
  const auto trusted = [&](std::string_view a) { return proxies.contains(a); };
  EXPECT_EQ(forwarded_client("127.0.0.1", "198.51.100.7", trusted), "198.51.100.7");
  // A client cannot choose its address by sending its own header: the proxy appends.
  EXPECT_EQ(forwarded_client("127.0.0.1", "1.2.3.4, 198.51.100.7", trusted), "198.51.100.7");
  // A chain of trusted proxies is walked through.
  EXPECT_EQ(forwarded_client("127.0.0.1", "203.0.113.5, 10.1.1.1,10.2.2.2", trusted),
            "203.0.113.5");
  EXPECT_EQ(forwarded_client("127.0.0.1", " 2001:db8::7 ", trusted), "2001:db8::7");
  // Nothing usable: the proxy itself.
  EXPECT_EQ(forwarded_client("127.0.0.1", "", trusted), "127.0.0.1");
  EXPECT_EQ(forwarded_client("127.0.0.1", "10.0.0.1", trusted), "127.0.0.1");
  EXPECT_EQ(forwarded_client("127.0.0.1", "1.2.3.4, unknown", trusted), "127.0.0.1");
  EXPECT_EQ(forwarded_client("127.0.0.1", "1.2.3.4, 198.51.100.7:5555", trusted), "127.0.0.1");
}

}  // namespace
}  // namespace portal::transport
