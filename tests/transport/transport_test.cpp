// SPDX-License-Identifier: Apache-2.0
#include "portal/transport/transport.hpp"

#include <gtest/gtest.h>

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
