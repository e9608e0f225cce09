// SPDX-License-Identifier: Apache-2.0
#include "portal/config/client_config.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <sstream>

#include "portal/base/uri.hpp"
#include "reader.hpp"

namespace portal::config {
namespace {

namespace json = boost::json;
using detail::Reader;

// The one AEAD of the v1 channel, as secure_channel::kV1Algorithm (which the channel enforces;
// config may not include it): checked here too so that a config names the key at fault.
constexpr std::string_view kV1Cipher = "chacha20-poly1305";
// As handshake::kMaxOfferedCiphers and kMaxCipherNameSize (config does not link the handshake).
constexpr std::size_t kMaxCiphers = 16;
constexpr std::size_t kMaxCipherName = 64;

struct TimerKey {
  std::string_view name;
  std::uint32_t ClientTimers::*field;
  std::uint32_t min;
};

constexpr TimerKey kTimerKeys[] = {
    {"lease_ttl_s", &ClientTimers::lease_ttl_s, 1},
    {"renew_interval_ms", &ClientTimers::renew_interval_ms, 100},
    {"health_interval_ms", &ClientTimers::health_interval_ms, 100},
    {"health_timeout_ms", &ClientTimers::health_timeout_ms, 100},
    {"reconnect_initial_ms", &ClientTimers::reconnect_initial_ms, 10},
    {"reconnect_max_ms", &ClientTimers::reconnect_max_ms, 10},
    {"reconnect_jitter_percent", &ClientTimers::reconnect_jitter_percent, 0},
    {"request_timeout_ms", &ClientTimers::request_timeout_ms, 100},
    {"handshake_timeout_ms", &ClientTimers::handshake_timeout_ms, 100},
    {"accept_queue", &ClientTimers::accept_queue, 1},
};

void apply_timers(const json::value& v, ClientTimers& t, Reader& r) {
  if (!v.is_object()) return r.problem("timers", "expected an object");
  for (const auto& [k, value] : v.as_object()) {
    const std::string key = "timers." + std::string(k);
    bool known = false;
    for (const auto& tk : kTimerKeys) {
      if (tk.name == std::string_view(k)) {
        known = true;
        r.uint32(value, key, t.*tk.field, tk.min);
      }
    }
    if (!known) r.problem(key, "unknown key");
  }
  if (t.reconnect_jitter_percent > 100) {
    r.problem("timers.reconnect_jitter_percent", "must be between 0 and 100");
  }
  if (t.reconnect_max_ms < t.reconnect_initial_ms) {
    r.problem("timers.reconnect_max_ms", "must not be below timers.reconnect_initial_ms");
  }
  if (std::uint64_t{t.renew_interval_ms} >= std::uint64_t{t.lease_ttl_s} * 1000) {
    r.problem("timers.renew_interval_ms", "must be shorter than timers.lease_ttl_s");
  }
}

// One entry of `ciphers`: "name" or {"algorithm": "name", "implementation": "plugin id"}.
bool cipher_entry(const json::value& v, const std::string& key, CipherChoice& out, Reader& r) {
  if (v.is_string()) return r.string(v, key, out.algorithm);
  if (!v.is_object()) {
    r.problem(key, "expected a cipher name or {\"algorithm\": ..., \"implementation\": ...}");
    return false;
  }
  bool ok = true;
  for (const auto& [k, value] : v.as_object()) {
    const std::string sub = key + "." + std::string(k);
    if (k == "algorithm") {
      ok = r.string(value, sub, out.algorithm) && ok;
    } else if (k == "implementation") {
      ok = r.string(value, sub, out.implementation) && ok;
    } else {
      r.problem(sub, "unknown key");
      ok = false;
    }
  }
  if (ok && out.algorithm.empty()) {
    r.problem(key + ".algorithm", "required");
    return false;
  }
  return ok;
}

void apply_ciphers(const json::value& v, const std::string& key, ClientConfig& c, Reader& r) {
  if (!v.is_array()) return r.problem(key, "expected a list of ciphers");
  const auto& list = v.as_array();
  if (list.size() > kMaxCiphers) {
    return r.problem(key, "at most " + std::to_string(kMaxCiphers) + " ciphers");
  }
  std::vector<CipherChoice> out;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string at = key + "[" + std::to_string(i) + "]";
    CipherChoice choice;
    if (!cipher_entry(list[i], at, choice, r)) return;
    if (choice.algorithm.empty() || choice.algorithm.size() > kMaxCipherName) {
      return r.problem(at, "a cipher name is 1 to " + std::to_string(kMaxCipherName) + " bytes");
    }
    for (const auto& earlier : out) {
      if (earlier.algorithm == choice.algorithm) {
        return r.problem(at, "'" + choice.algorithm + "' is listed twice");
      }
    }
    out.push_back(std::move(choice));
  }
  c.ciphers = std::move(out);
}

// The rules between `ciphers` and `channel`, once every key is read.
void check_ciphers(const ClientConfig& c, bool listed, Reader& r) {
  if (c.channel != "auto" && c.channel != "v1" && c.channel != "negotiated") {
    r.problem("channel", "'" + c.channel + "' is not one of auto, v1, negotiated");
    return;
  }
  if (!listed) return;
  const bool has_v1 = std::any_of(c.ciphers.begin(), c.ciphers.end(),
                                  [](const CipherChoice& x) { return x.algorithm == kV1Cipher; });
  if (c.channel == "v1") {
    for (const auto& x : c.ciphers) {
      if (x.algorithm != kV1Cipher) {
        // The v1 channel draws a random 96-bit nonce per frame (portal-v1 §9): AES-256-GCM is
        // unsafe there (one repeated nonce exposes its authentication key).
        r.problem("ciphers", "'" + x.algorithm + "' cannot run on the v1 channel (random " +
                                 "nonces): only " + std::string(kV1Cipher) +
                                 " can; use \"channel\": \"auto\" to offer it to peers " +
                                 "that negotiate");
        return;
      }
    }
  } else if (!has_v1 && c.channel == "auto") {
    r.problem("ciphers",
              "without " + std::string(kV1Cipher) +
                  " no v1 peer can be reached: add it, or set \"channel\": " + "\"negotiated\"");
  }
}

bool is_port(std::string_view s) {
  if (s.empty() || s.size() > 5 || s.find_first_not_of("0123456789") != std::string_view::npos) {
    return false;
  }
  return std::stoul(std::string(s)) <= 65535;
}

}  // namespace

void apply_json(std::string_view text, ClientConfig& c, std::vector<Problem>& problems) {
  const auto root = detail::parse_object(text, problems);
  if (!root) return;
  Reader r(problems);
  bool listed = !c.ciphers.empty();
  for (const auto& [k, value] : *root) {
    const std::string key(k);
    if (r.stack_key(key, value, c)) continue;
    if (key == "relays") {
      std::vector<std::string> uris;
      if (r.strings(value, key, uris)) {
        for (std::size_t i = 0; i < uris.size(); ++i) {
          auto n = normalize_relay_uri(uris[i]);
          if (n.empty()) {
            r.problem(key + "[" + std::to_string(i) + "]",
                      "'" + uris[i] +
                          "' is not a relay address (ws://host:port/relay, "
                          "tcp://host:port, http(s)://host, host[:port] or "
                          "scheme:///absolute/path)");
          } else {
            uris[i] = std::move(n);
          }
        }
        c.relays = std::move(uris);
      }
    } else if (key == "relay_pins") {
      Settings pins;
      if (r.settings(value, key, pins)) {
        for (const auto& [uri, pin] : pins) {
          auto n = normalize_relay_uri(uri);
          if (n.empty()) {
            r.problem(key + "." + uri, "not a relay address");
          } else {
            c.relay_pins[n] = pin;
          }
        }
      }
    } else if (key == "cipher" || key == "ciphers") {
      if (root->contains("cipher") && root->contains("ciphers")) {
        if (key == "ciphers") r.problem(key, "set either cipher or ciphers, not both");
        continue;
      }
      if (key == "cipher") {
        // A one-element shorthand for `ciphers`.
        std::string name;
        if (r.string(value, key, name)) {
          if (name.empty() || name.size() > kMaxCipherName) {
            r.problem(key, "a cipher name is 1 to " + std::to_string(kMaxCipherName) + " bytes");
          } else {
            c.ciphers = {CipherChoice{name, {}}};
            listed = true;
          }
        }
      } else {
        apply_ciphers(value, key, c, r);
        listed = !c.ciphers.empty();
      }
    } else if (key == "channel") {
      r.string(value, key, c.channel);
    } else if (key == "timers") {
      apply_timers(value, c.timers, r);
    } else {
      r.problem(key, "unknown key");
    }
  }
  check_ciphers(c, listed, r);
}

std::string to_json(const ClientConfig& c) {
  // Built by hand so the key order is fixed and matches the documentation.
  using detail::json_list;
  using detail::json_settings;
  const auto str = detail::json_string;
  const auto list = json_list;
  std::ostringstream o;
  o << "{\n";
  o << "  \"relays\": " << list(c.relays) << ",\n";
  o << detail::json_stack(c.mux, c.mux_settings, c.transport_settings);
  o << "  \"relay_pins\": " << json_settings(c.relay_pins, "  ") << ",\n";
  o << "  \"ciphers\": [";
  for (std::size_t i = 0; i < c.ciphers.size(); ++i) {
    const auto& x = c.ciphers[i];
    if (i > 0) o << ", ";
    if (x.implementation.empty()) {
      o << str(x.algorithm);
    } else {
      o << "{\"algorithm\": " << str(x.algorithm)
        << ", \"implementation\": " << str(x.implementation) << "}";
    }
  }
  o << "],\n";
  o << "  \"channel\": " << str(c.channel) << ",\n";
  o << "  \"plugin_dirs\": " << list(c.plugin_dirs) << ",\n";
  o << "  \"plugin_pins\": " << json_settings(c.plugin_pins, "  ") << ",\n";
  o << "  \"log_level\": " << str(c.log_level) << ",\n";
  o << "  \"timers\": {\n";
  for (std::size_t k = 0; k < std::size(kTimerKeys); ++k) {
    o << "    \"" << kTimerKeys[k].name << "\": " << c.timers.*kTimerKeys[k].field
      << (k + 1 < std::size(kTimerKeys) ? ",\n" : "\n");
  }
  o << "  }\n}\n";
  return o.str();
}

std::string normalize_relay_uri(std::string_view text) {
  if (text.empty() || text.find_first_of(" \t\r\n") != std::string_view::npos) return {};
  std::string scheme, rest;
  if (const auto p = text.find("://"); p != std::string_view::npos) {
    scheme = std::string(text.substr(0, p));
    for (auto& ch : scheme) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    rest = std::string(text.substr(p + 3));
  } else {
    scheme = "bare";
    rest = std::string(text);
  }
  const bool known = scheme == "ws" || scheme == "wss" || scheme == "tcp" || scheme == "http" ||
                     scheme == "https" || scheme == "bare";
  // Another transport plugin's scheme (unix:///run/relay.sock too): kept as given, it must parse.
  if (!known) return base::parse_uri(text) ? std::string(text) : std::string();
  // Split host[:port] from the path.
  const auto slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  std::string path = slash == std::string::npos ? "" : rest.substr(slash);
  std::string host = authority, port;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string::npos) return {};
    host = authority.substr(0, close + 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') return {};
      port = authority.substr(close + 2);
    }
  } else if (const auto colon = authority.rfind(':'); colon != std::string::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty() || (!port.empty() && !is_port(port))) return {};
  std::string out_scheme;
  if (scheme == "ws" || scheme == "wss" || scheme == "tcp") {
    out_scheme = scheme;
    if (port.empty()) {
      if (scheme == "tcp") return {};
      port = scheme == "ws" ? "80" : "443";
    }
  } else {  // http, https, bare
    if (!path.empty() && path != "/") return {};
    out_scheme = scheme == "http" ? "ws" : "wss";
    if (port.empty()) port = scheme == "http" ? "80" : "443";
    path = "/relay";
  }
  std::string out = out_scheme + "://" + host + ":" + port + path;
  return base::parse_uri(out) ? out : std::string();
}

}  // namespace portal::config
