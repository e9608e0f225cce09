// SPDX-License-Identifier: Apache-2.0
#include "portal/transport/transport.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace portal::transport {
namespace {

TEST(TransportUri, ParsesSchemesHostsPortsAndPaths) {
  auto ws = parse_uri("ws://127.0.0.1:4017/relay");
  ASSERT_TRUE(ws);
  EXPECT_EQ(ws->scheme, "ws");
  EXPECT_EQ(ws->host, "127.0.0.1");
  EXPECT_EQ(ws->port, 4017);
  EXPECT_EQ(ws->path, "/relay");
  EXPECT_EQ(ws->to_string(), "ws://127.0.0.1:4017/relay");
  auto v6 = parse_uri("tcp://[::1]:0");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 0);
  EXPECT_EQ(v6->to_string(), "tcp://[::1]:0");
  auto name = parse_uri("tcp://relay.example:4027");
  ASSERT_TRUE(name);
  EXPECT_EQ(name->host, "relay.example");
}

// scheme:///absolute/path: a local socket, no host and no port.
TEST(TransportUri, ParsesHostlessUrisWithAnAbsolutePath) {
  auto u = parse_uri("unix:///run/portal/relay.sock");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->scheme, "unix");
  EXPECT_EQ(u->host, "");
  EXPECT_EQ(u->port, 0);
  EXPECT_EQ(u->path, "/run/portal/relay.sock");
  EXPECT_TRUE(u->local());
  EXPECT_EQ(u->to_string(), "unix:///run/portal/relay.sock");
  EXPECT_EQ(*parse_uri(u->to_string()), *u);
  EXPECT_FALSE(parse_uri("tcp://127.0.0.1:1")->local());
  // Any scheme may be host-less; what it means is the transport's business.
  EXPECT_EQ(parse_uri("x-pipe.2:///a")->path, "/a");
  // The longest path a socket address holds (107 bytes and the NUL) parses; one more does not.
  const std::string longest = "/" + std::string(base::kMaxLocalPathBytes - 1, 'p');
  auto at_limit = parse_uri("unix://" + longest);
  ASSERT_TRUE(at_limit);
  EXPECT_EQ(at_limit->path.size(), base::kMaxLocalPathBytes);
  const auto too_long = parse_uri("unix://" + longest + "p");
  ASSERT_FALSE(too_long);
  EXPECT_EQ(too_long.error(), base::Errc::UriPathTooLong);
  EXPECT_NE(too_long.error().message().find("at most 107 bytes"), std::string::npos);
  EXPECT_EQ(base::parse_uri("unix://" + longest + "p").error(), base::Errc::UriPathTooLong);
}

// Relative and empty paths are refused with the error that names both accepted forms.
TEST(TransportUri, RefusesHostlessUrisWithoutAnAbsolutePath) {
  for (const std::string& bad : std::vector<std::string>{
           "unix://", "unix:///", "unix://relay.sock", "unix://./relay.sock", "unix:relay.sock",
           "unix:/relay.sock", "unix:///run/portal/", std::string("unix:///a\0b", 11)}) {
    const auto r = parse_uri(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error(), Errc::InvalidUri) << bad;
    EXPECT_NE(r.error().message().find("scheme:///absolute/path"), std::string::npos);
    EXPECT_EQ(base::parse_uri(bad).error(), base::Errc::InvalidUri) << bad;
  }
}

TEST(TransportUri, RefusesMalformedUris) {
  for (const char* bad :
       {"", "tcp:/x:1", "://x:1", "TCP://x:1", "tcp://x", "tcp://:1", "tcp://x:65536", "tcp://x:-1",
        "tcp://x:1a", "tcp://::1:5", "tcp://[::1]5", "tcp://[::1", "tcp://[x]:5", "tcp://a b:1",
        "tcp://u@h:1"}) {
    EXPECT_EQ(parse_uri(bad).error(), Errc::InvalidUri) << bad;
  }
}

}  // namespace
}  // namespace portal::transport
