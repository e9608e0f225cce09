// SPDX-License-Identifier: Apache-2.0
#include "portal/config/relay_config.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace portal::config {
namespace {

std::vector<Problem> apply_text(std::string_view text, RelayConfig& c) {
  std::vector<Problem> problems;
  apply_json(text, c, problems);
  return problems;
}

TEST(RelayConfig, EmbeddedDefaults) {
  const RelayConfig c;
  EXPECT_EQ(c.listeners,
            (std::vector<std::string>{"ws://127.0.0.1:4017/relay", "tcp://127.0.0.1:4027"}));
  EXPECT_EQ(c.mux, "yamux");
  EXPECT_EQ(c.limits.max_leases_per_connection, 64u);
  EXPECT_EQ(c.limits.max_connections_per_ip, 256u);
  EXPECT_EQ(c.limits.max_streams_per_lease, 256u);
  EXPECT_EQ(c.limits.session_idle_timeout_ms, 90'000u);
  EXPECT_EQ(c.limits.spliced_idle_timeout_ms, 900'000u);
  EXPECT_EQ(c.limits.first_frame_timeout_ms, 10'000u);
  EXPECT_EQ(c.limits.max_control_packet, 65'536u);
  EXPECT_EQ(c.limits.max_lease_ttl_ms, 300'000u);
  EXPECT_EQ(c.limits.max_leases, 10'000u);
  EXPECT_EQ(c.limits.max_lease_bytes, 4096u);
  EXPECT_EQ(c.limits.max_control_streams_per_session, 64u);
  EXPECT_EQ(c.limits.max_control_streams_per_ip, 64u);
  EXPECT_EQ(c.limits.first_packet_timeout_ms, 10'000u);
  EXPECT_EQ(c.limits.max_spliced_per_dialer_session, 64u);
  EXPECT_EQ(c.limits.max_spliced_per_dialer_ip, 128u);
  EXPECT_EQ(c.limits.max_leases_per_ip, 256u);
  EXPECT_EQ(c.limits.relay_info_kib_per_minute_per_session, 262'144u);
  EXPECT_EQ(c.limits.relay_info_kib_per_minute_per_ip, 1'048'576u);
  EXPECT_EQ(c.limits.replay_capacity, 65'536u);
  EXPECT_EQ(c.limits.replay_per_identity, 64u);
  EXPECT_TRUE(c.trusted_proxies.empty());
}

// The documented example lists every key with its default: it parses cleanly and changes
// nothing.
TEST(RelayConfig, ExampleFileIsValidAndMatchesTheDefaults) {
  std::ifstream in(PORTAL_EXAMPLE_CONFIG);
  std::stringstream text;
  text << in.rdbuf();
  RelayConfig c;
  const auto problems = apply_text(text.str(), c);
  for (const auto& p : problems) ADD_FAILURE() << p.to_string("relay.example.json");
  EXPECT_EQ(to_json(c), to_json(RelayConfig{}));
}

TEST(RelayConfig, FleetKeysAreReadAndChecked) {
  RelayConfig c;
  ASSERT_TRUE(
      apply_text(
          R"({"directory": {"name": "redis", "settings": {"url": "redis://127.0.0.1:6379/2"}},
                             "fleet": {"peer_uri": "tcp://10.0.0.1:4027", "heartbeat_ms": 1000,
                                       "peers": ["ilcxnd2jg6fyzmnqxxa5pzkp2m"]}})",
          c)
          .empty());
  EXPECT_EQ(c.directory, "redis");
  EXPECT_EQ(c.directory_settings.at("url"), "redis://127.0.0.1:6379/2");
  EXPECT_EQ(c.fleet_peer_uri, "tcp://10.0.0.1:4027");
  EXPECT_EQ(c.fleet_heartbeat_ms, 1000u);
  // An ID in any letter case, kept upper-cased.
  EXPECT_EQ(c.fleet_peers, std::vector<std::string>{"ILCXND2JG6FYZMNQXXA5PZKP2M"});
  RelayConfig again;
  ASSERT_TRUE(apply_text(to_json(c), again).empty()) << to_json(c);
  EXPECT_EQ(to_json(again), to_json(c));

  const auto keys = [](const std::vector<Problem>& ps) {
    std::vector<std::string> out;
    for (const auto& p : ps) out.push_back(p.key + ": " + p.reason);
    return out;
  };
  RelayConfig bad;
  EXPECT_EQ(keys(apply_text(R"({"fleet": {"heartbeat_ms": 99}})", bad)),
            std::vector<std::string>{"fleet.heartbeat_ms: must be between 100 and 4294967295"});
  EXPECT_EQ(keys(apply_text(R"({"fleet": {"heartbeat_ms": 60001}})", bad)),
            std::vector<std::string>{"fleet.heartbeat_ms: must be at most 60000"});
  EXPECT_EQ(keys(apply_text(R"({"fleet": {"peers": ["ILCXND2JG6FYZMNQXXA5PZKP2"]}})", bad)),
            std::vector<std::string>{
                "fleet.peers: 'ILCXND2JG6FYZMNQXXA5PZKP2' is not a relay ID (26 characters of "
                "base32)"});
  EXPECT_EQ(keys(apply_text(R"({"fleet": {"peers": ["ILCXND2JG6FYZMNQXXA5PZKP21"]}})", bad)),
            std::vector<std::string>{
                "fleet.peers: 'ILCXND2JG6FYZMNQXXA5PZKP21' is not a relay ID (26 characters of "
                "base32)"});
  EXPECT_EQ(keys(apply_text(R"({"fleet": {"peerz": []}})", bad)),
            std::vector<std::string>{"fleet.peerz: unknown key"});
  EXPECT_EQ(keys(apply_text(R"({"directory": {"nme": "redis"}})", bad)),
            std::vector<std::string>{"directory.nme: unknown key"});
  EXPECT_EQ(keys(apply_text(R"({"directory": "redis"})", bad)),
            std::vector<std::string>{
                "directory: expected an object {\"name\": ..., \"settings\": {...}}"});
  const auto uri = keys(apply_text(R"({"fleet": {"peer_uri": "not a uri"}})", bad));
  ASSERT_EQ(uri.size(), 1u);
  EXPECT_EQ(uri[0].rfind("fleet.peer_uri: 'not a uri': ", 0), 0u) << uri[0];
}

TEST(RelayConfig, NoindexIsABoolean) {
  RelayConfig c;
  EXPECT_FALSE(c.noindex);
  ASSERT_TRUE(apply_text(R"({"noindex": true})", c).empty());
  EXPECT_TRUE(c.noindex);
  RelayConfig again;
  ASSERT_TRUE(apply_text(to_json(c), again).empty()) << to_json(c);
  EXPECT_TRUE(again.noindex);
  RelayConfig bad;
  const auto problems = apply_text(R"({"noindex": "yes"})", bad);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].key, "noindex");
  EXPECT_EQ(problems[0].reason, "expected true or false");
}

TEST(RelayConfig, AccessKeysAreReadAndChecked) {
  RelayConfig c;
  EXPECT_EQ(c.access_mode, "open");
  ASSERT_TRUE(
      apply_text(
          R"({"access": {"mode": "allowlist", "allowed_ids": ["ilcxnd2jg6fyzmnqxxa5pzkp2m"]}})", c)
          .empty());
  EXPECT_EQ(c.access_mode, "allowlist");
  EXPECT_EQ(c.access_allowed_ids, std::vector<std::string>{"ILCXND2JG6FYZMNQXXA5PZKP2M"});
  RelayConfig again;
  ASSERT_TRUE(apply_text(to_json(c), again).empty()) << to_json(c);
  EXPECT_EQ(to_json(again), to_json(c));
  const auto reasons = [](const std::vector<Problem>& ps) {
    std::vector<std::string> out;
    for (const auto& p : ps) out.push_back(p.key + ": " + p.reason);
    return out;
  };
  RelayConfig approval;
  ASSERT_TRUE(
      apply_text(R"({"access": {"mode": "approval", "allowed_file": "/etc/portal/allowed"}})",
                 approval)
          .empty());
  EXPECT_EQ(approval.access_mode, "approval");
  EXPECT_EQ(approval.access_allowed_file, "/etc/portal/allowed");
  RelayConfig bad;
  EXPECT_EQ(reasons(apply_text(R"({"access": {"mode": "closed"}})", bad)),
            std::vector<std::string>{
                "access.mode: 'closed': expected \"open\", \"allowlist\" or \"approval\""});
  EXPECT_EQ(reasons(apply_text(R"({"access": {"allowed_ids": ["nope"]}})", bad)),
            std::vector<std::string>{
                "access.allowed_ids: 'NOPE' is not an identity ID (26 characters of base32)"});
  EXPECT_EQ(reasons(apply_text(R"({"access": {"modes": "open"}})", bad)),
            std::vector<std::string>{"access.modes: unknown key"});
}

// --- Bandwidth (ADR 0017 §4) ---
TEST(RelayConfig, BandwidthLimitsAreReadAndChecked) {
  const RelayConfig defaults;
  EXPECT_EQ(defaults.limits.lease_bytes_per_second, 0u);  // unlimited
  EXPECT_EQ(defaults.limits.relay_bytes_per_second, 0u);
  RelayConfig c;
  ASSERT_TRUE(apply_text(R"({"limits": {"lease_bytes_per_second": 16777216,
                                        "relay_bytes_per_second": 10000000000}})",
                         c)
                  .empty());
  EXPECT_EQ(c.limits.lease_bytes_per_second, 16'777'216u);
  EXPECT_EQ(c.limits.relay_bytes_per_second, 10'000'000'000u);  // more than 32 bits
  const auto printed = to_json(c);
  EXPECT_NE(printed.find("\"lease_bytes_per_second\": 16777216"), std::string::npos) << printed;
  EXPECT_NE(printed.find("\"relay_bytes_per_second\": 10000000000"), std::string::npos);
  RelayConfig again;
  ASSERT_TRUE(apply_text(printed, again).empty());
  EXPECT_EQ(again.limits.relay_bytes_per_second, 10'000'000'000u);
  for (const char* bad : {R"({"limits": {"lease_bytes_per_second": 1023}})",
                          R"({"limits": {"lease_bytes_per_second": -5}})",
                          R"({"limits": {"lease_bytes_per_second": "16M"}})",
                          R"({"limits": {"lease_bytes_per_second": 1.5}})"}) {
    RelayConfig b;
    const auto problems = apply_text(bad, b);
    ASSERT_EQ(problems.size(), 1u) << bad;
    EXPECT_EQ(problems[0].key, "limits.lease_bytes_per_second") << bad;
    EXPECT_EQ(b.limits.lease_bytes_per_second, 0u) << bad;
  }
  RelayConfig b;
  const auto problems = apply_text(R"({"limits": {"relay_bytes_per_second": 1099511627777}})", b);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].to_string("relay.json"),
            "relay.json: limits.relay_bytes_per_second: must be 0 (no limit) or between 1024 and "
            "1099511627776 bytes per second");
}

TEST(RelayConfig, BandwidthLimitsByIdentityAreReadAndChecked) {
  const std::string id = "abcdefghijklmnopqrstuvwxyz";  // lower case: upper-cased
  const std::string other = "ABCDEFGHIJKLMNOPQRSTUVWX23";
  RelayConfig c;
  ASSERT_TRUE(apply_text(R"({"limits": {"lease_bytes_per_second_by_id": {")" + id +
                             R"(": 16777216, ")" + other + R"(": 2048}}})",
                         c)
                  .empty());
  ASSERT_EQ(c.limits.lease_bytes_per_second_by_id.size(), 2u);
  EXPECT_EQ(c.limits.lease_bytes_per_second_by_id.at("ABCDEFGHIJKLMNOPQRSTUVWXYZ"), 16'777'216u);
  EXPECT_EQ(c.limits.lease_bytes_per_second_by_id.at(other), 2048u);
  RelayConfig again;
  ASSERT_TRUE(apply_text(to_json(c), again).empty()) << to_json(c);
  EXPECT_EQ(again.limits.lease_bytes_per_second_by_id, c.limits.lease_bytes_per_second_by_id);
  RelayConfig b;
  const auto problems = apply_text(R"({"limits": {"lease_bytes_per_second_by_id": {
      "not-an-id": 4096, ")" + other + R"(": 0}}})",
                                   b);
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_EQ(problems[0].key, "limits.lease_bytes_per_second_by_id");
  EXPECT_NE(problems[0].reason.find("not-an-id"), std::string::npos);
  EXPECT_EQ(problems[1].key, "limits.lease_bytes_per_second_by_id." + other);
  EXPECT_TRUE(b.limits.lease_bytes_per_second_by_id.empty());
}
// --- end of bandwidth ---
// The admin surface's keys (ADR 0017 §1): admin_listen must be http:// or https://; the
// cross-key rules (a token file, no plaintext beyond loopback) are checked by relay::assemble().
TEST(RelayConfig, AdminKeysAreReadAndChecked) {
  RelayConfig c;
  EXPECT_TRUE(c.admin_listen.empty());
  ASSERT_TRUE(apply_text(R"({"admin_listen": "http://127.0.0.1:4018", "admin_token_file": "/t",
                             "admin_allow_plaintext": true, "bans_file": "/var/lib/portal/bans.json"})",
                         c)
                  .empty());
  EXPECT_EQ(c.admin_listen, "http://127.0.0.1:4018");
  EXPECT_EQ(c.admin_token_file, "/t");
  EXPECT_TRUE(c.admin_allow_plaintext);
  EXPECT_EQ(c.bans_file, "/var/lib/portal/bans.json");
  RelayConfig again;
  ASSERT_TRUE(apply_text(to_json(c), again).empty()) << to_json(c);
  EXPECT_EQ(to_json(again), to_json(c));
  RelayConfig bad;
  auto problems = apply_text(R"({"admin_listen": "ws://127.0.0.1:4018"})", bad);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].key, "admin_listen");
  EXPECT_EQ(problems[0].reason, "'ws://127.0.0.1:4018': expected an http:// or https:// URI");
  problems = apply_text(R"({"admin_allow_plaintext": 1})", bad);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].key, "admin_allow_plaintext");
}

TEST(RelayConfig, PrintedConfigReadsBackUnchanged) {
  RelayConfig c;
  ASSERT_TRUE(
      apply_text(
          R"({"listeners": ["tcp://[::1]:0"], "mux": {"settings": {"max_stream_window": 16777216, "enable_keepalive": false}},
                       "transports": {"ws": {"max_message_size": "1048576"}}, "advertise": ["wss://relay.example/relay"],
                       "limits": {"max_streams_per_lease": 9}})",
          c)
          .empty());
  EXPECT_EQ(c.mux_settings.at("max_stream_window"), "16777216");
  EXPECT_EQ(c.mux_settings.at("enable_keepalive"), "false");
  EXPECT_EQ(c.transport_settings.at("ws").at("max_message_size"), "1048576");
  EXPECT_EQ(c.limits.max_streams_per_lease, 9u);
  RelayConfig again;
  ASSERT_TRUE(apply_text(to_json(c), again).empty()) << to_json(c);
  EXPECT_EQ(to_json(again), to_json(c));
}

TEST(RelayConfig, EveryProblemNamesItsKey) {
  RelayConfig c;
  const auto problems =
      apply_text(R"({"listners": [], "listeners": ["ws://nowhere"], "log_level": "loud",
    "limits": {"max_streams_per_lease": 0, "max_control_packet": 999999999, "bogus": 1},
    "mux": {"name": 5}, "plugin_pins": {"x.so": "abc"}})",
                 c);
  std::vector<std::string> keys;
  for (const auto& p : problems) keys.push_back(p.key);
  const std::vector<std::string> expected{"listners",
                                          "listeners[0]",
                                          "log_level",
                                          "limits.max_streams_per_lease",
                                          "limits.max_control_packet",
                                          "limits.bogus",
                                          "mux.name",
                                          "plugin_pins.x.so"};
  EXPECT_EQ(keys, expected);
  EXPECT_EQ(problems[0].to_string("relay.json"), "relay.json: listners: unknown key");
}

// threads: 1 by default; 0 (one per hardware thread) to 64; anything else names the key.
TEST(RelayConfig, Threads) {
  EXPECT_EQ(RelayConfig{}.threads, 1u);
  for (const char* ok : {R"({"threads": 0})", R"({"threads": 4})", R"({"threads": 64})"}) {
    RelayConfig c;
    EXPECT_TRUE(apply_text(ok, c).empty()) << ok;
    RelayConfig back;
    EXPECT_TRUE(apply_text(to_json(c), back).empty());
    EXPECT_EQ(back.threads, c.threads);
  }
  for (const char* bad :
       {R"({"threads": 65})", R"({"threads": -1})", R"({"threads": "2"})", R"({"threads": 1.5})"}) {
    RelayConfig c;
    const auto problems = apply_text(bad, c);
    ASSERT_EQ(problems.size(), 1u) << bad;
    EXPECT_EQ(problems[0].key, "threads") << bad;
  }
  RelayConfig c;
  const auto problems = apply_text(R"({"threads": 65})", c);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].to_string("relay.json"),
            "relay.json: threads: must be at most 64 (0: one per hardware thread)");
}

// A listener may be a local socket (scheme:///absolute/path); a relative, empty or too long path
// is a problem of its listeners[i] that says why.
TEST(RelayConfig, HostlessListeners) {
  RelayConfig c;
  EXPECT_TRUE(
      apply_text(R"({"listeners": ["unix:///run/portal/relay.sock", "tcp://127.0.0.1:0"]})", c)
          .empty());
  EXPECT_EQ(c.listeners.front(), "unix:///run/portal/relay.sock");
  const std::string too_long = "unix:///" + std::string(120, 'x');
  const auto problems =
      apply_text(R"({"listeners": ["unix://relay.sock", "unix:///", ")" + too_long + R"("]})", c);
  ASSERT_EQ(problems.size(), 3u);
  EXPECT_EQ(problems[0].to_string("r.json"),
            "r.json: listeners[0]: 'unix://relay.sock': invalid URI (expected "
            "scheme://host:port[/path] or scheme:///absolute/path)");
  EXPECT_EQ(problems[1].key, "listeners[1]");
  EXPECT_EQ(problems[2].key, "listeners[2]");
  EXPECT_NE(problems[2].reason.find("socket path too long"), std::string::npos)
      << problems[2].reason;
}

// The browser path's keys: a portal_url must be http(s)://host[:port], app_hosts "*.<host>".
TEST(RelayConfig, BrowserPathKeys) {
  RelayConfig c;
  EXPECT_TRUE(apply_text(R"({"portal_url": "https://portal.example.com", "app_hosts":
    "*.apps.example.com", "reserved_names": ["www"], "frontend_dir": "/srv/portal"})",
                         c)
                  .empty());
  EXPECT_EQ(c.portal_url, "https://portal.example.com");
  EXPECT_EQ(c.app_hosts, "*.apps.example.com");
  EXPECT_EQ(c.reserved_names, std::vector<std::string>{"www"});
  EXPECT_EQ(c.frontend_dir, "/srv/portal");
  RelayConfig d;
  const auto problems = apply_text(
      R"({"portal_url": "ftp://x", "app_hosts": "apps.example.com", "reserved_names": [1]})", d);
  std::vector<std::string> keys;
  for (const auto& p : problems) keys.push_back(p.key);
  EXPECT_EQ(keys, (std::vector<std::string>{"portal_url", "app_hosts", "reserved_names[0]"}));
  EXPECT_EQ(RelayConfig{}.portal_url, "http://localhost:4017");
  EXPECT_EQ(RelayConfig{}.reserved_names.size(), 8u);
}

TEST(RelayConfig, SyntaxErrorsCarryLineAndColumn) {
  RelayConfig c;
  const auto problems = apply_text("{\n  \"listeners\": [\"ws://a:1\",]\n}\n", c);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].line, 2u);
  EXPECT_EQ(problems[0].column, 28u);
  EXPECT_EQ(problems[0].to_string("f.json").rfind("f.json:2:28: JSON syntax error", 0), 0u)
      << problems[0].to_string("f.json");
  EXPECT_EQ(apply_text("[1, 2]", c)[0].reason, "the config must be a JSON object");
}

}  // namespace
}  // namespace portal::config
