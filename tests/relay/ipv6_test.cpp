// SPDX-License-Identifier: Apache-2.0
// IPv6 (issue 23): the real relay listens on [::1] and on a dual-stack wildcard, clients reach it
// over both families, and the per-IP limits count an IPv6 client under its network
// (limits.ipv6_prefix, /64 by default).

#include "relay_harness.hpp"

namespace portal::test {
namespace {

using wire::ResponseCode;

class IPv6 : public RelayClientTest {};

// Port of a "scheme://host:port..." URI.
std::string port_of(const std::string& uri) {
  const auto parsed = transport::parse_uri(uri);
  return parsed ? std::to_string(parsed->port) : std::string();
}

// ws:// on [::1] and tcp:// on [::] (every address of both families): a lease registered over
// IPv6 is dialed over IPv4 and IPv6.
TEST_F(IPv6, TheRelayServesIPv6AndDualStackListeners) {
  RelayProcess relay("{}", "ws://[::1]:0/relay", "tcp://[::]:0");
  ASSERT_TRUE(relay.alive()) << relay.err();
  ASSERT_NE(relay.ws.find("[::1]"), std::string::npos) << relay.ws;
  const auto tcp_port = port_of(relay.tcp);
  ASSERT_FALSE(tcp_port.empty()) << relay.tcp;

  auto holder = session(relay.ws);
  const auto who = credential();
  ASSERT_EQ(update(*holder, who, "six"), ResponseCode::Accepted);
  auto kept = std::make_shared<std::vector<std::unique_ptr<stream::ByteStream>>>();
  (void)hold(holder, ResponseCode::Accepted, keep_in(kept));
  for (const std::string host : {"127.0.0.1", "[::1]"}) {
    auto dialer = session("tcp://" + host + ":" + tcp_port);
    auto d = run(client::request_connection(*dialer, who.id()));
    ASSERT_TRUE(d) << host;
    EXPECT_EQ(d->code, ResponseCode::Accepted) << host;
  }
  // The relay counted the IPv6 clients under their /64 (and logs their own address) and the
  // IPv4 one under its address.
  EXPECT_NE(relay.err().find("opened from ::1 (counted as 0:0:0:0:0:0:0:0/64) via ws"),
            std::string::npos)
      << relay.err();
  EXPECT_NE(relay.err().find("opened from 127.0.0.1 via tcp"), std::string::npos) << relay.err();
}

// limits.ipv6_prefix 128 counts each IPv6 address apart; the per-IP connection limit applies to
// the client's network.
TEST_F(IPv6, PerIpLimitsUseTheConfiguredPrefix) {
  RelayProcess relay(R"({"limits": {"ipv6_prefix": 128, "max_connections_per_ip": 2}})",
                     "ws://[::1]:0/relay", "tcp://[::1]:0");
  ASSERT_TRUE(relay.alive()) << relay.err();
  auto a = session(relay.tcp);
  auto b = session(relay.tcp);
  EXPECT_EQ(update(*a, credential(), "a"), ResponseCode::Accepted);
  // A third connection from ::1 is closed before a byte is read.
  auto third = run(connect(relay.tcp));
  if (third) {
    auto r = run(client::relay_info(**third), std::chrono::seconds(5));
    EXPECT_FALSE(r) << "a third connection from ::1 was served";
  }
  // (/metrics is not asked: from ::1 it would be a third connection too.)
  EXPECT_NE(relay.err().find("connection from ::1 via tcp refused: 2 connections"),
            std::string::npos)
      << relay.err();
  EXPECT_NE(relay.err().find("opened from ::1 via tcp"), std::string::npos) << relay.err();
}

}  // namespace
}  // namespace portal::test
