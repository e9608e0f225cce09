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
  EXPECT_TRUE(c.ciphers.empty());  // the default list: chacha20-poly1305, then aes-256-gcm
  EXPECT_EQ(c.channel, "auto");
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
  // A cipher a plugin provides but the v1 channel cannot run (random nonces): refused when only
  // v1 is spoken, and without chacha20-poly1305 when v1 peers are to be reached.
  config::ClientConfig v1_only;
  const auto gcm_v1 = apply_text(R"({"cipher": "aes-256-gcm", "channel": "v1"})", v1_only);
  ASSERT_EQ(gcm_v1.size(), 1u);
  EXPECT_EQ(gcm_v1.front().key, "ciphers");
  EXPECT_NE(gcm_v1.front().reason.find("v1 channel"), std::string::npos);
  config::ClientConfig fresh;
  const auto gcm_auto = apply_text(R"({"cipher": "aes-256-gcm"})", fresh);
  ASSERT_EQ(gcm_auto.size(), 1u);
  EXPECT_EQ(gcm_auto.front().key, "ciphers");
  EXPECT_NE(gcm_auto.front().reason.find("no v1 peer can be reached"), std::string::npos);
  // A level the logger has but a config may not ask for.
  const auto off = apply_text(R"({"log_level": "off"})", c);
  ASSERT_EQ(off.size(), 1u);
  EXPECT_EQ(off.front().key, "log_level");
  const auto syntax = apply_text("{\n  \"relays\": [,]\n}", c);
  ASSERT_EQ(syntax.size(), 1u);
  EXPECT_EQ(syntax.front().line, 2u);
}

// The cipher list (docs/client.md): names or {algorithm, implementation}, in preference order;
// `cipher` is a one-element shorthand; `channel` says whether v1 peers are still served.
TEST(ClientConfig, CiphersAndChannel) {
  ClientConfig c;
  ASSERT_TRUE(apply_text(R"({"ciphers": [{"algorithm": "aes-256-gcm",
    "implementation": "portal.cipher.openssl"}, "chacha20-poly1305"], "channel": "auto"})",
                         c)
                  .empty());
  EXPECT_EQ(c.ciphers, (std::vector<config::CipherChoice>{{"aes-256-gcm", "portal.cipher.openssl"},
                                                          {"chacha20-poly1305", ""}}));
  ClientConfig again;
  ASSERT_TRUE(apply_text(to_json(c), again).empty()) << to_json(c);
  EXPECT_EQ(again.ciphers, c.ciphers);
  EXPECT_EQ(to_json(again), to_json(c));

  ClientConfig shorthand;
  ASSERT_TRUE(apply_text(R"({"cipher": "chacha20-poly1305"})", shorthand).empty());
  EXPECT_EQ(shorthand.ciphers, (std::vector<config::CipherChoice>{{"chacha20-poly1305", ""}}));
  ClientConfig only_gcm;
  EXPECT_TRUE(
      apply_text(R"({"ciphers": ["aes-256-gcm"], "channel": "negotiated"})", only_gcm).empty());

  auto keys_of = [](const std::vector<Problem>& problems) {
    std::vector<std::string> keys;
    for (const auto& p : problems) keys.push_back(p.key);
    return keys;
  };
  auto problems_of = [&](const std::string& text) {
    ClientConfig fresh;
    return keys_of(apply_text(text, fresh));
  };
  EXPECT_EQ(problems_of(R"({"cipher": "chacha20-poly1305", "ciphers": []})"),
            (std::vector<std::string>{"ciphers"}));
  EXPECT_EQ(problems_of(R"({"ciphers": ["chacha20-poly1305", "chacha20-poly1305"]})"),
            (std::vector<std::string>{"ciphers[1]"}));
  EXPECT_EQ(problems_of(R"({"ciphers": [{"algorithm": "x", "colour": 1}]})"),
            (std::vector<std::string>{"ciphers[0].colour"}));
  EXPECT_EQ(problems_of(R"({"ciphers": [{"implementation": "y"}]})"),
            (std::vector<std::string>{"ciphers[0].algorithm"}));
  EXPECT_EQ(problems_of(R"({"ciphers": [7]})"), (std::vector<std::string>{"ciphers[0]"}));
  EXPECT_EQ(problems_of(R"({"channel": "v2"})"), (std::vector<std::string>{"channel"}));
  std::string seventeen = R"({"ciphers": [)";
  for (int i = 0; i < 17; ++i) seventeen += (i ? ", \"c" : "\"c") + std::to_string(i) + "\"";
  EXPECT_EQ(problems_of(seventeen + "]}"), (std::vector<std::string>{"ciphers"}));
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
  // Another plugin's host-less URI is kept as given; a relative or empty path is not a relay.
  EXPECT_EQ(normalize_relay_uri("unix:///run/portal/relay.sock"), "unix:///run/portal/relay.sock");
  EXPECT_EQ(normalize_relay_uri("unix://relay.sock"), "");
  EXPECT_EQ(normalize_relay_uri("unix:///"), "");
  EXPECT_EQ(normalize_relay_uri("unix:///" + std::string(200, 'x')), "");
  // The known schemes still need a host.
  EXPECT_EQ(normalize_relay_uri("tcp:///run/relay.sock"), "");
  EXPECT_EQ(normalize_relay_uri("ws:///run/relay.sock"), "");
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
