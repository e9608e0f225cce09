// SPDX-License-Identifier: Apache-2.0
#include "portal/config/relay_config.hpp"

#include "portal/base/address_set.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <sstream>

#include "portal/base/uri.hpp"
#include "reader.hpp"

namespace portal::config {
namespace {

namespace json = boost::json;
using detail::Reader;

// --- Bandwidth (ADR 0017 §4) ---
// A limit in bytes per second: 0 (none), or between the lowest and the highest limit.
bool bytes_per_second(const json::value& v, const std::string& key, std::uint64_t& out, Reader& r) {
  std::uint64_t n = 0;
  if (v.is_uint64()) {
    n = v.as_uint64();
  } else if (v.is_int64() && v.as_int64() >= 0) {
    n = static_cast<std::uint64_t>(v.as_int64());
  } else {
    r.problem(key, "expected a whole number of bytes per second (0: no limit)");
    return false;
  }
  if (n != 0 && (n < RelayLimits::kMinBytesPerSecond || n > RelayLimits::kMaxBytesPerSecond)) {
    r.problem(key, "must be 0 (no limit) or between " +
                       std::to_string(RelayLimits::kMinBytesPerSecond) + " and " +
                       std::to_string(RelayLimits::kMaxBytesPerSecond) + " bytes per second");
    return false;
  }
  out = n;
  return true;
}

bool normalize_id(std::string& id);  // below

// {"<identity ID>": bytes per second, ...}: limits of their own for some lease identities.
void rates_by_id(const json::value& v, const std::string& key,
                 std::map<std::string, std::uint64_t>& out, Reader& r) {
  if (!v.is_object()) return r.problem(key, "expected an object of identity IDs and limits");
  if (v.as_object().size() > RelayLimits::kMaxLeaseRatesById) {
    return r.problem(key,
                     "at most " + std::to_string(RelayLimits::kMaxLeaseRatesById) + " identities");
  }
  std::map<std::string, std::uint64_t> parsed;
  for (const auto& [k, value] : v.as_object()) {
    std::string id(k);
    if (!normalize_id(id)) {
      r.problem(key, "'" + std::string(k) + "' is not an identity ID (26 characters of base32)");
      continue;
    }
    std::uint64_t n = 0;
    if (!bytes_per_second(value, key + "." + id, n, r)) continue;
    if (n == 0) {
      r.problem(key + "." + id, "must be at least " +
                                    std::to_string(RelayLimits::kMinBytesPerSecond) +
                                    " (leave the identity out for lease_bytes_per_second)");
      continue;
    }
    parsed[id] = n;
  }
  out = std::move(parsed);
}
// --- end of bandwidth ---

void apply_limits(const json::value& v, RelayLimits& l, Reader& r) {
  if (!v.is_object()) return r.problem("limits", "expected an object");
  for (const auto& [k, value] : v.as_object()) {
    const std::string key = "limits." + std::string(k);
    if (k == "max_leases_per_connection") {
      r.uint32(value, key, l.max_leases_per_connection, 1);
    } else if (k == "max_connections_per_ip") {
      r.uint32(value, key, l.max_connections_per_ip, 1);
    } else if (k == "ipv6_prefix") {
      if (r.uint32(value, key, l.ipv6_prefix, 1) && l.ipv6_prefix > 128) {
        r.problem(key, "must be at most 128 (bits of an IPv6 address)");
      }
    } else if (k == "max_streams_per_lease") {
      r.uint32(value, key, l.max_streams_per_lease, 1);
    } else if (k == "session_idle_timeout_ms") {
      r.uint32(value, key, l.session_idle_timeout_ms, 1);
    } else if (k == "spliced_idle_timeout_ms") {
      r.uint32(value, key, l.spliced_idle_timeout_ms, 0);
    } else if (k == "first_frame_timeout_ms") {
      r.uint32(value, key, l.first_frame_timeout_ms, 1);
    } else if (k == "max_control_packet") {
      // At least a v1 RelayInfoResponse of a busy relay; at most the v1 maximum (2^26).
      if (r.uint32(value, key, l.max_control_packet, 1024) && l.max_control_packet > (1u << 26)) {
        r.problem(key, "must be at most 67108864 (the v1 maximum)");
      }
    } else if (k == "forward_timeout_ms") {
      r.uint32(value, key, l.forward_timeout_ms, 1);
    } else if (k == "drain_timeout_ms") {
      r.uint32(value, key, l.drain_timeout_ms, 0);
    } else if (k == "max_control_streams_per_session") {
      r.uint32(value, key, l.max_control_streams_per_session, 1);
    } else if (k == "max_control_streams_per_ip") {
      r.uint32(value, key, l.max_control_streams_per_ip, 1);
    } else if (k == "first_packet_timeout_ms") {
      r.uint32(value, key, l.first_packet_timeout_ms, 1);
    } else if (k == "max_spliced_per_dialer_session") {
      r.uint32(value, key, l.max_spliced_per_dialer_session, 1);
    } else if (k == "max_spliced_per_dialer_ip") {
      r.uint32(value, key, l.max_spliced_per_dialer_ip, 1);
    } else if (k == "max_leases_per_ip") {
      r.uint32(value, key, l.max_leases_per_ip, 1);
    } else if (k == "relay_info_kib_per_minute_per_session") {
      r.uint32(value, key, l.relay_info_kib_per_minute_per_session, 0);
    } else if (k == "relay_info_kib_per_minute_per_ip") {
      r.uint32(value, key, l.relay_info_kib_per_minute_per_ip, 0);
    } else if (k == "replay_capacity") {
      r.uint32(value, key, l.replay_capacity, 64);
    } else if (k == "replay_per_identity") {
      // v1 clients renew every 5 s with a 30 s window: about 7 live entries.
      r.uint32(value, key, l.replay_per_identity, 8);
    } else if (k == "max_leases") {
      r.uint32(value, key, l.max_leases, 1);
    } else if (k == "max_lease_bytes") {
      r.uint32(value, key, l.max_lease_bytes, 64);
    } else if (k == "max_lease_ttl_ms") {
      // At least the v1 client's 30 s lease (a shorter bound would expire renewed leases).
      r.uint32(value, key, l.max_lease_ttl_ms, 30'000);
    } else if (k == "lease_bytes_per_second") {  // bandwidth (ADR 0017 §4)
      bytes_per_second(value, key, l.lease_bytes_per_second, r);
    } else if (k == "relay_bytes_per_second") {  // bandwidth (ADR 0017 §4)
      bytes_per_second(value, key, l.relay_bytes_per_second, r);
    } else if (k == "lease_bytes_per_second_by_id") {  // bandwidth (ADR 0017 §4)
      rates_by_id(value, key, l.lease_bytes_per_second_by_id, r);
    } else {
      r.problem(key, "unknown key");
    }
  }
}

// Upper-cases `id` and says whether it has the form of a v1 ID (portal-v1 §5.2).
bool normalize_id(std::string& id) {
  for (auto& ch : id) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return id.size() == 26 && std::all_of(id.begin(), id.end(), [](char ch) {
           return (ch >= 'A' && ch <= 'Z') || (ch >= '2' && ch <= '7');
         });
}

void apply_access(const json::value& v, RelayConfig& c, Reader& r) {
  if (!v.is_object()) return r.problem("access", "expected an object");
  for (const auto& [k, value] : v.as_object()) {
    const std::string key = "access." + std::string(k);
    if (k == "mode") {
      if (r.string(value, key, c.access_mode) && c.access_mode != "open" &&
          c.access_mode != "allowlist" && c.access_mode != "approval") {
        r.problem(key, "'" + c.access_mode + "': expected \"open\", \"allowlist\" or \"approval\"");
      }
    } else if (k == "allowed_file") {
      r.string(value, key, c.access_allowed_file);
    } else if (k == "allowed_ids") {
      if (r.strings(value, key, c.access_allowed_ids)) {
        for (auto& id : c.access_allowed_ids) {
          if (!normalize_id(id)) {
            r.problem(key, "'" + id + "' is not an identity ID (26 characters of base32)");
          }
        }
      }
    } else {
      r.problem(key, "unknown key");
    }
  }
}

void apply_fleet(const json::value& v, RelayConfig& c, Reader& r) {
  if (!v.is_object()) return r.problem("fleet", "expected an object");
  for (const auto& [k, value] : v.as_object()) {
    const std::string key = "fleet." + std::string(k);
    if (k == "peer_uri") {
      if (r.string(value, key, c.fleet_peer_uri) && !c.fleet_peer_uri.empty()) {
        if (auto u = base::parse_uri(c.fleet_peer_uri); !u) {
          r.problem(key, "'" + c.fleet_peer_uri + "': " + u.error().message());
        }
      }
    } else if (k == "peers") {
      if (r.strings(value, key, c.fleet_peers)) {
        // The form of a v1 ID (portal-v1 §5.2), in any letter case, kept upper-cased.
        for (auto& id : c.fleet_peers) {
          if (!normalize_id(id)) {
            r.problem(key, "'" + id + "' is not a relay ID (26 characters of base32)");
          }
        }
      }
    } else if (k == "heartbeat_ms") {
      if (r.uint32(value, key, c.fleet_heartbeat_ms, 100) && c.fleet_heartbeat_ms > 60'000) {
        r.problem(key, "must be at most 60000");
      }
    } else {
      r.problem(key, "unknown key");
    }
  }
}

}  // namespace

std::string Problem::to_string(std::string_view file) const {
  std::string out(file);
  if (line > 0) {
    out += ":" + std::to_string(line) + ":" + std::to_string(column);
  } else if (!key.empty()) {
    out += ": " + key;
  }
  return out + ": " + reason;
}

void apply_json(std::string_view text, RelayConfig& c, std::vector<Problem>& problems) {
  const auto root = detail::parse_object(text, problems);
  if (!root) return;
  Reader r(problems);
  for (const auto& [k, value] : *root) {
    const std::string key(k);
    if (r.stack_key(key, value, c)) continue;
    if (key == "listeners") {
      std::vector<std::string> uris;
      if (r.strings(value, key, uris)) {
        for (std::size_t i = 0; i < uris.size(); ++i) {
          if (auto u = base::parse_uri(uris[i]); !u) {
            r.problem(key + "[" + std::to_string(i) + "]",
                      "'" + uris[i] + "': " + u.error().message());
          }
        }
        if (uris.empty()) r.problem(key, "at least one listener is needed");
        c.listeners = std::move(uris);
      }
    } else if (key == "identity_key_file") {
      r.string(value, key, c.identity_key_file);
    } else if (key == "advertise") {
      r.strings(value, key, c.advertise);
    } else if (key == "trusted_proxies") {
      if (r.strings(value, key, c.trusted_proxies)) {
        std::string problem;
        if (!base::AddressSet::parse(c.trusted_proxies, problem)) r.problem(key, problem);
      }
    } else if (key == "portal_url") {
      if (r.string(value, key, c.portal_url) && !c.portal_url.empty()) {  // "": off
        if (!base::parse_http_url(c.portal_url)) {
          r.problem(key, "'" + c.portal_url + "' is not http(s)://host[:port]");
        }
      }
    } else if (key == "app_hosts") {
      if (r.string(value, key, c.app_hosts) && !c.app_hosts.empty() &&
          c.app_hosts.rfind("*.", 0) != 0) {
        r.problem(key,
                  "'" + c.app_hosts + "' must start with \"*.\" (for example *.portal.example)");
      }
    } else if (key == "reserved_names") {
      r.strings(value, key, c.reserved_names);
    } else if (key == "frontend_dir") {
      r.string(value, key, c.frontend_dir);
    } else if (key == "noindex") {
      r.boolean(value, key, c.noindex);
    } else if (key == "access") {
      apply_access(value, c, r);
    } else if (key == "bans_file") {
      r.string(value, key, c.bans_file);
    } else if (key == "admin_listen") {
      if (r.string(value, key, c.admin_listen) && !c.admin_listen.empty()) {
        auto u = base::parse_uri(c.admin_listen);
        if (!u) {
          r.problem(key, "'" + c.admin_listen + "': " + u.error().message());
        } else if (u->scheme != "http" && u->scheme != "https") {
          r.problem(key, "'" + c.admin_listen + "': expected an http:// or https:// URI");
        }
      }
    } else if (key == "admin_token_file") {
      r.string(value, key, c.admin_token_file);
    } else if (key == "admin_allow_plaintext") {
      r.boolean(value, key, c.admin_allow_plaintext);
    } else if (key == "threads") {
      if (r.uint32(value, key, c.threads, 0) && c.threads > kMaxRelayThreads) {
        r.problem(key, "must be at most " + std::to_string(kMaxRelayThreads) +
                           " (0: one per hardware thread)");
      }
    } else if (key == "directory") {
      r.named_plugin(value, key, c.directory, c.directory_settings);
    } else if (key == "fleet") {
      apply_fleet(value, c, r);
    } else if (key == "limits") {
      apply_limits(value, c.limits, r);
    } else {
      r.problem(key, "unknown key");
    }
  }
}

std::string to_json(const RelayConfig& c) {
  // Built by hand so the key order is fixed and matches the documentation.
  using detail::json_list;
  using detail::json_settings;
  const auto str = detail::json_string;
  const auto list = json_list;
  std::ostringstream o;
  o << "{\n";
  o << "  \"listeners\": " << list(c.listeners) << ",\n";
  o << detail::json_stack(c.mux, c.mux_settings, c.transport_settings);
  o << "  \"plugin_dirs\": " << list(c.plugin_dirs) << ",\n";
  o << "  \"plugin_pins\": " << json_settings(c.plugin_pins, "  ") << ",\n";
  o << "  \"identity_key_file\": " << str(c.identity_key_file) << ",\n";
  o << "  \"advertise\": " << list(c.advertise) << ",\n";
  o << "  \"trusted_proxies\": " << list(c.trusted_proxies) << ",\n";
  o << "  \"log_level\": " << str(c.log_level) << ",\n";
  o << "  \"portal_url\": " << str(c.portal_url) << ",\n";
  o << "  \"app_hosts\": " << str(c.app_hosts) << ",\n";
  o << "  \"reserved_names\": " << list(c.reserved_names) << ",\n";
  o << "  \"frontend_dir\": " << str(c.frontend_dir) << ",\n";
  o << "  \"noindex\": " << (c.noindex ? "true" : "false") << ",\n";
  o << "  \"access\": {\"mode\": " << str(c.access_mode)
    << ", \"allowed_ids\": " << list(c.access_allowed_ids)
    << ", \"allowed_file\": " << str(c.access_allowed_file) << "},\n";
  o << "  \"bans_file\": " << str(c.bans_file) << ",\n";
  o << "  \"admin_listen\": " << str(c.admin_listen) << ",\n";
  o << "  \"admin_token_file\": " << str(c.admin_token_file) << ",\n";
  o << "  \"admin_allow_plaintext\": " << (c.admin_allow_plaintext ? "true" : "false") << ",\n";
  o << "  \"threads\": " << c.threads << ",\n";
  o << "  \"directory\": {\"name\": " << str(c.directory)
    << ", \"settings\": " << json_settings(c.directory_settings, "  ") << "},\n";
  o << "  \"fleet\": {\"peer_uri\": " << str(c.fleet_peer_uri)
    << ", \"peers\": " << list(c.fleet_peers) << ", \"heartbeat_ms\": " << c.fleet_heartbeat_ms
    << "},\n";
  const auto& l = c.limits;
  o << "  \"limits\": {\n"
    << "    \"max_leases_per_connection\": " << l.max_leases_per_connection << ",\n"
    << "    \"max_connections_per_ip\": " << l.max_connections_per_ip << ",\n"
    << "    \"ipv6_prefix\": " << l.ipv6_prefix << ",\n"
    << "    \"max_streams_per_lease\": " << l.max_streams_per_lease << ",\n"
    << "    \"session_idle_timeout_ms\": " << l.session_idle_timeout_ms << ",\n"
    << "    \"spliced_idle_timeout_ms\": " << l.spliced_idle_timeout_ms << ",\n"
    << "    \"first_frame_timeout_ms\": " << l.first_frame_timeout_ms << ",\n"
    << "    \"max_control_packet\": " << l.max_control_packet << ",\n"
    << "    \"forward_timeout_ms\": " << l.forward_timeout_ms << ",\n"
    << "    \"drain_timeout_ms\": " << l.drain_timeout_ms << ",\n"
    << "    \"max_lease_ttl_ms\": " << l.max_lease_ttl_ms << ",\n"
    << "    \"max_leases\": " << l.max_leases << ",\n"
    << "    \"max_lease_bytes\": " << l.max_lease_bytes << ",\n"
    << "    \"max_control_streams_per_session\": " << l.max_control_streams_per_session << ",\n"
    << "    \"max_control_streams_per_ip\": " << l.max_control_streams_per_ip << ",\n"
    << "    \"first_packet_timeout_ms\": " << l.first_packet_timeout_ms << ",\n"
    << "    \"max_spliced_per_dialer_session\": " << l.max_spliced_per_dialer_session << ",\n"
    << "    \"max_spliced_per_dialer_ip\": " << l.max_spliced_per_dialer_ip << ",\n"
    << "    \"max_leases_per_ip\": " << l.max_leases_per_ip << ",\n"
    << "    \"relay_info_kib_per_minute_per_session\": " << l.relay_info_kib_per_minute_per_session
    << ",\n"
    << "    \"relay_info_kib_per_minute_per_ip\": " << l.relay_info_kib_per_minute_per_ip << ",\n"
    << "    \"replay_capacity\": " << l.replay_capacity << ",\n"
    << "    \"replay_per_identity\": " << l.replay_per_identity << ",\n"
    << "    \"lease_bytes_per_second\": " << l.lease_bytes_per_second << ",\n"
    << "    \"relay_bytes_per_second\": " << l.relay_bytes_per_second << ",\n"
    << "    \"lease_bytes_per_second_by_id\": {" <<
      [&] {
        std::string by_id;
        for (const auto& [id, n] : l.lease_bytes_per_second_by_id) {
          by_id += (by_id.empty() ? "" : ", ") + str(id) + ": " + std::to_string(n);
        }
        return by_id;
      }()
    << "}\n"
    << "  }\n}\n";
  return o.str();
}

}  // namespace portal::config
