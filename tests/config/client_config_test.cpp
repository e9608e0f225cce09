// SPDX-License-Identifier: Apache-2.0
#include "portal/config/client_config.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

namespace portal::config {
namespace {

std::vector<Problem> apply_text(const std::string& text, ClientConfig& c) {
  std::vector<Problem> problems;
  apply_json(text, c, problems);
  return problems;
}

TEST(ClientConfig, DefaultsMatchTheV1Cadence) {
  const ClientConfig c;
  EXPECT_EQ(c.timers.lease_ttl_s, 30u);
  EXPECT_EQ(c.timers.renew_interval_ms, 5000u);
  EXPECT_EQ(c.timers.health_interval_ms, 10000u);
  EXPECT_EQ(c.timers.reconnect_initial_ms, 500u);
  EXPECT_EQ(c.timers.reconnect_max_ms, 5000u);
  EXPECT_EQ(c.timers.reconnect_jitter_percent, 20u);
  EXPECT_EQ(c.timers.accept_queue, 100u);
  EXPECT_EQ(c.mux, "yamux");
  EXPECT_EQ(c.cipher, "chacha20-poly1305");
}

TEST(ClientConfig, AppliesEveryKeyAndRoundTrips) {
  ClientConfig c;
  const auto problems = apply_text(R"({
    // comments are allowed
    "relays": ["ws://127.0.0.1:4017/relay", "relay.example.org"],
    "mux": {"name": "yamux", "settings": {"max_stream_window": 1048576}},
    "transports": {"ws": {"max_message_size": 65536}},
    "cipher": "chacha20-poly1305",
    "plugin_dirs": ["/opt/portal/plugins"],
    "log_level": "warn",
    "timers": {"renew_interval_ms": 2000, "reconnect_max_ms": 8000, "accept_queue": 7}
  })",
                                   c);
  ASSERT_TRUE(problems.empty()) << problems.front().to_string("f");
  EXPECT_EQ(c.relays, (std::vector<std::string>{"ws://127.0.0.1:4017/relay",
                                                "wss://relay.example.org:443/relay"}));
  EXPECT_EQ(c.mux_settings.at("max_stream_window"), "1048576");
  EXPECT_EQ(c.transport_settings.at("ws").at("max_message_size"), "65536");
  EXPECT_EQ(c.timers.renew_interval_ms, 2000u);
  EXPECT_EQ(c.timers.reconnect_max_ms, 8000u);
  EXPECT_EQ(c.timers.accept_queue, 7u);
  EXPECT_EQ(c.log_level, "warn");
  ClientConfig again;
  ASSERT_TRUE(apply_text(to_json(c), again).empty()) << to_json(c);
  EXPECT_EQ(to_json(again), to_json(c));
}

TEST(ClientConfig, EveryProblemNamesItsKey) {
  ClientConfig c;
  const auto problems = apply_text(R"({"relays": ["ftp://x"], "colour": 1, "cipher": 3,
    "timers": {"lease_ttl_s": 0, "nope": 1, "reconnect_jitter_percent": 101}})",
                                   c);
  std::vector<std::string> keys;
  for (const auto& p : problems) keys.push_back(p.key);
  EXPECT_EQ(keys, (std::vector<std::string>{"relays[0]", "colour", "cipher", "timers.lease_ttl_s",
                                            "timers.nope", "timers.reconnect_jitter_percent"}));
  // A cipher a plugin provides but the v1 channel cannot run (random nonces).
  const auto gcm = apply_text(R"({"cipher": "aes-256-gcm"})", c);
  ASSERT_EQ(gcm.size(), 1u);
  EXPECT_EQ(gcm.front().key, "cipher");
  EXPECT_NE(gcm.front().reason.find("v1 channel"), std::string::npos);
  EXPECT_EQ(c.cipher, "chacha20-poly1305");
  // A level the logger has but a config may not ask for.
  const auto off = apply_text(R"({"log_level": "off"})", c);
  ASSERT_EQ(off.size(), 1u);
  EXPECT_EQ(off.front().key, "log_level");
  const auto syntax = apply_text("{\n  \"relays\": [,]\n}", c);
  ASSERT_EQ(syntax.size(), 1u);
  EXPECT_EQ(syntax.front().line, 2u);
}

TEST(ClientConfig, RelayAddressesAreNormalisedAsLaterV1Does) {
  EXPECT_EQ(normalize_relay_uri("ws://h:1/relay"), "ws://h:1/relay");
  EXPECT_EQ(normalize_relay_uri("ws://h/relay"), "ws://h:80/relay");
  EXPECT_EQ(normalize_relay_uri("wss://h/relay"), "wss://h:443/relay");
  EXPECT_EQ(normalize_relay_uri("http://h"), "ws://h:80/relay");
  EXPECT_EQ(normalize_relay_uri("https://h/"), "wss://h:443/relay");
  EXPECT_EQ(normalize_relay_uri("HTTP://h:8080"), "ws://h:8080/relay");
  EXPECT_EQ(normalize_relay_uri("h:4017"), "wss://h:4017/relay");
  EXPECT_EQ(normalize_relay_uri("h"), "wss://h:443/relay");
  EXPECT_EQ(normalize_relay_uri("[::1]:4017"), "wss://[::1]:4017/relay");
  EXPECT_EQ(normalize_relay_uri("tcp://127.0.0.1:4027"), "tcp://127.0.0.1:4027");
  EXPECT_EQ(normalize_relay_uri("tcp://127.0.0.1"), "");  // no default port for tcp
  EXPECT_EQ(normalize_relay_uri("http://h/other"), "");
  EXPECT_EQ(normalize_relay_uri("h:99999"), "");
  EXPECT_EQ(normalize_relay_uri(""), "");
  EXPECT_EQ(normalize_relay_uri("a b"), "");
  EXPECT_EQ(normalize_relay_uri("ftp://x"), "");
}

}  // namespace
}  // namespace portal::config

namespace portal::config {
namespace {

TEST(ClientConfig, TheExampleFileIsValidAndHoldsTheDefaults) {
  std::ifstream in(PORTAL_CLIENT_EXAMPLE_CONFIG);
  ASSERT_TRUE(in);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ClientConfig c;
  std::vector<Problem> problems;
  apply_json(text, c, problems);
  ASSERT_TRUE(problems.empty()) << problems.front().to_string("client.example.json");
  EXPECT_EQ(to_json(c), to_json(ClientConfig{}));
}

}  // namespace
}  // namespace portal::config
