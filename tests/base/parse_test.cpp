// SPDX-License-Identifier: Apache-2.0
#include "portal/base/parse.hpp"

#include "portal/base/uri.hpp"

#include <gtest/gtest.h>

#include <cstdint>

namespace portal::base {
namespace {

TEST(BaseParse, WholeUnsignedNumbersOnly) {
  std::uint32_t v = 0;
  EXPECT_TRUE(parse_unsigned("0", v));
  EXPECT_EQ(v, 0u);
  EXPECT_TRUE(parse_unsigned("4294967295", v));
  EXPECT_EQ(v, 4294967295u);
  for (const char* bad : {"", "-1", "+1", " 1", "1 ", "1x", "4294967296", "0x10"}) {
    EXPECT_FALSE(parse_unsigned(bad, v)) << bad;
  }
  std::uint64_t big = 0;
  EXPECT_TRUE(parse_unsigned("18446744073709551615", big));
  EXPECT_FALSE(parse_unsigned("18446744073709551616", big));
}

}  // namespace
}  // namespace portal::base

namespace portal::base {
namespace {

// http(s) URLs as people write them (the relay's portal_url): the port defaults by scheme.
TEST(ParseHttpUrl, DefaultsThePortByScheme) {
  auto a = parse_http_url("https://portal.example.com");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "portal.example.com");
  EXPECT_EQ(a->port, 443);
  auto b = parse_http_url("http://localhost:4017/");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->port, 4017);
  EXPECT_EQ(b->path, "/");
  auto c = parse_http_url("http://[::1]");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->host, "::1");
  EXPECT_EQ(c->port, 80);
  EXPECT_FALSE(parse_http_url("ws://localhost:4017"));
  EXPECT_FALSE(parse_http_url("http://"));
  EXPECT_FALSE(parse_http_url("http://host:99999"));
}

}  // namespace
}  // namespace portal::base
