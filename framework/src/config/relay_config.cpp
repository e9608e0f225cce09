// SPDX-License-Identifier: Apache-2.0
#include "portal/config/relay_config.hpp"

#include <boost/json.hpp>
#include <sstream>

#include "portal/transport/transport.hpp"
#include "reader.hpp"

namespace portal::config {
namespace {

namespace json = boost::json;
using detail::Reader;

void apply_limits(const json::value& v, RelayLimits& l, Reader& r) {
  if (!v.is_object()) return r.problem("limits", "expected an object");
  for (const auto& [k, value] : v.as_object()) {
    const std::string key = "limits." + std::string(k);
    if (k == "max_leases_per_connection") {
      r.uint32(value, key, l.max_leases_per_connection, 1);
    } else if (k == "max_connections_per_ip") {
      r.uint32(value, key, l.max_connections_per_ip, 1);
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
  auto parsed = detail::parse(text, problems);
  if (!parsed) return;
  const json::value root = std::move(*parsed);
  Reader r(problems);
  if (!root.is_object()) return r.problem("", "the config must be a JSON object");
  for (const auto& [k, value] : root.as_object()) {
    const std::string key(k);
    if (key == "listeners") {
      std::vector<std::string> uris;
      if (r.strings(value, key, uris)) {
        for (std::size_t i = 0; i < uris.size(); ++i) {
          if (!transport::parse_uri(uris[i])) {
            r.problem(key + "[" + std::to_string(i) + "]",
                      "'" + uris[i] + "' is not scheme://host:port[/path]");
          }
        }
        if (uris.empty()) r.problem(key, "at least one listener is needed");
        c.listeners = std::move(uris);
      }
    } else if (key == "mux") {
      if (!value.is_object()) {
        r.problem(key, "expected an object {\"name\": ..., \"settings\": {...}}");
        continue;
      }
      for (const auto& [mk, mv] : value.as_object()) {
        if (mk == "name") {
          r.string(mv, "mux.name", c.mux);
        } else if (mk == "settings") {
          r.settings(mv, "mux.settings", c.mux_settings);
        } else {
          r.problem("mux." + std::string(mk), "unknown key");
        }
      }
    } else if (key == "transports") {
      if (!value.is_object()) {
        r.problem(key, "expected an object of settings by scheme");
        continue;
      }
      for (const auto& [scheme, sv] : value.as_object()) {
        r.settings(sv, "transports." + std::string(scheme),
                   c.transport_settings[std::string(scheme)]);
      }
    } else if (key == "plugin_dirs") {
      r.strings(value, key, c.plugin_dirs);
    } else if (key == "plugin_pins") {
      if (r.settings(value, key, c.plugin_pins)) {
        for (const auto& [file, pin] : c.plugin_pins) {
          const bool hex = pin.size() == 64 &&
                           pin.find_first_not_of("0123456789abcdefABCDEF") == std::string::npos;
          if (!hex) r.problem(key + "." + file, "expected 64 hex digits (a sha256)");
        }
      }
    } else if (key == "identity_key_file") {
      r.string(value, key, c.identity_key_file);
    } else if (key == "advertise") {
      r.strings(value, key, c.advertise);
    } else if (key == "log_level") {
      if (r.string(value, key, c.log_level) && c.log_level != "debug" && c.log_level != "info" &&
          c.log_level != "warn" && c.log_level != "error") {
        r.problem(key, "expected debug, info, warn or error");
      }
    } else if (key == "limits") {
      apply_limits(value, c.limits, r);
    } else {
      r.problem(key, "unknown key");
    }
  }
}

std::string to_json(const RelayConfig& c) {
  // Built by hand so the key order is fixed and matches the documentation.
  auto str = [](const std::string& s) { return json::serialize(json::value(s)); };
  auto list = [&](const std::vector<std::string>& v) {
    std::string out = "[";
    for (std::size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + str(v[i]);
    return out + "]";
  };
  auto settings = [&](const Settings& s, const std::string& indent) {
    if (s.empty()) return std::string("{}");
    std::string out = "{\n";
    std::size_t i = 0;
    for (const auto& [k, v] : s) {
      out += indent + "  " + str(k) + ": " + str(v) + (++i < s.size() ? ",\n" : "\n");
    }
    return out + indent + "}";
  };
  std::ostringstream o;
  o << "{\n";
  o << "  \"listeners\": " << list(c.listeners) << ",\n";
  o << "  \"mux\": {\"name\": " << str(c.mux)
    << ", \"settings\": " << settings(c.mux_settings, "  ") << "},\n";
  o << "  \"transports\": {";
  std::size_t i = 0;
  for (const auto& [scheme, s] : c.transport_settings) {
    o << (i++ ? ",\n" : "\n") << "    " << str(scheme) << ": " << settings(s, "    ");
  }
  o << (c.transport_settings.empty() ? "}" : "\n  }") << ",\n";
  o << "  \"plugin_dirs\": " << list(c.plugin_dirs) << ",\n";
  o << "  \"plugin_pins\": " << settings(c.plugin_pins, "  ") << ",\n";
  o << "  \"identity_key_file\": " << str(c.identity_key_file) << ",\n";
  o << "  \"advertise\": " << list(c.advertise) << ",\n";
  o << "  \"log_level\": " << str(c.log_level) << ",\n";
  const auto& l = c.limits;
  o << "  \"limits\": {\n"
    << "    \"max_leases_per_connection\": " << l.max_leases_per_connection << ",\n"
    << "    \"max_connections_per_ip\": " << l.max_connections_per_ip << ",\n"
    << "    \"max_streams_per_lease\": " << l.max_streams_per_lease << ",\n"
    << "    \"session_idle_timeout_ms\": " << l.session_idle_timeout_ms << ",\n"
    << "    \"spliced_idle_timeout_ms\": " << l.spliced_idle_timeout_ms << ",\n"
    << "    \"first_frame_timeout_ms\": " << l.first_frame_timeout_ms << ",\n"
    << "    \"max_control_packet\": " << l.max_control_packet << ",\n"
    << "    \"forward_timeout_ms\": " << l.forward_timeout_ms << ",\n"
    << "    \"drain_timeout_ms\": " << l.drain_timeout_ms << "\n"
    << "  }\n}\n";
  return o.str();
}

}  // namespace portal::config
