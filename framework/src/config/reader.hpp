// SPDX-License-Identifier: Apache-2.0
#pragma once

// Shared by the relay and client config readers: JSON parsing with line/column for syntax
// errors, and typed reads that record a Problem naming the key.

#include <boost/json.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "portal/base/log.hpp"
#include "portal/config/relay_config.hpp"

namespace portal::config::detail {

namespace json = boost::json;

// Line and column (1-based) of byte `offset` in `text`.
inline std::pair<std::size_t, std::size_t> position(std::string_view text, std::size_t offset) {
  std::size_t line = 1, column = 1;
  for (std::size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return {line, column};
}

class Reader {
 public:
  explicit Reader(std::vector<Problem>& problems) : problems_(problems) {}

  void problem(std::string key, std::string reason) {
    problems_.push_back(Problem{std::move(key), std::move(reason), 0, 0});
  }

  bool string(const json::value& v, const std::string& key, std::string& out) {
    if (!v.is_string()) {
      problem(key, "expected a string");
      return false;
    }
    out = std::string(v.as_string());
    return true;
  }

  bool boolean(const json::value& v, const std::string& key, bool& out) {
    if (!v.is_bool()) {
      problem(key, "expected true or false");
      return false;
    }
    out = v.as_bool();
    return true;
  }

  bool strings(const json::value& v, const std::string& key, std::vector<std::string>& out) {
    if (!v.is_array()) {
      problem(key, "expected an array of strings");
      return false;
    }
    std::vector<std::string> result;
    for (std::size_t i = 0; i < v.as_array().size(); ++i) {
      std::string s;
      if (!string(v.as_array()[i], key + "[" + std::to_string(i) + "]", s)) return false;
      result.push_back(std::move(s));
    }
    out = std::move(result);
    return true;
  }

  // A settings object: every value a string, number or boolean, kept as text.
  bool settings(const json::value& v, const std::string& key, Settings& out) {
    if (!v.is_object()) {
      problem(key, "expected an object");
      return false;
    }
    Settings result;
    for (const auto& [k, value] : v.as_object()) {
      const std::string sub = key + "." + std::string(k);
      if (value.is_string()) {
        result[std::string(k)] = std::string(value.as_string());
      } else if (value.is_bool()) {
        result[std::string(k)] = value.as_bool() ? "true" : "false";
      } else if (value.is_uint64() || value.is_int64()) {
        result[std::string(k)] = json::serialize(value);
      } else {
        problem(sub, "expected a string, number or boolean");
        return false;
      }
    }
    out = std::move(result);
    return true;
  }

  bool uint32(const json::value& v, const std::string& key, std::uint32_t& out, std::uint32_t min) {
    std::uint64_t n = 0;
    if (v.is_uint64()) {
      n = v.as_uint64();
    } else if (v.is_int64() && v.as_int64() >= 0) {
      n = static_cast<std::uint64_t>(v.as_int64());
    } else {
      problem(key, "expected a whole number");
      return false;
    }
    if (n < min || n > 0xffffffffu) {
      problem(key, "must be between " + std::to_string(min) + " and 4294967295");
      return false;
    }
    out = static_cast<std::uint32_t>(n);
    return true;
  }

  // "<key>": {"name": ..., "settings": {...}}: a plugin by the name it provides (mux, directory).
  void named_plugin(const json::value& v, const std::string& key, std::string& name,
                    Settings& settings) {
    if (!v.is_object())
      return problem(key, "expected an object {\"name\": ..., \"settings\": {...}}");
    for (const auto& [k, value] : v.as_object()) {
      if (k == "name") {
        string(value, key + ".name", name);
      } else if (k == "settings") {
        this->settings(value, key + ".settings", settings);
      } else {
        problem(key + "." + std::string(k), "unknown key");
      }
    }
  }
  void mux(const json::value& v, std::string& name, Settings& settings) {
    named_plugin(v, "mux", name, settings);
  }

  // "transports": {"<scheme>": {...}, ...}
  void transports(const json::value& v, std::map<std::string, Settings, std::less<>>& out) {
    if (!v.is_object()) return problem("transports", "expected an object of settings by scheme");
    for (const auto& [scheme, sv] : v.as_object()) {
      settings(sv, "transports." + std::string(scheme), out[std::string(scheme)]);
    }
  }

  // "plugin_pins": {"<file>": "<sha256 hex>", ...}
  void pins(const json::value& v, Settings& out) {
    if (!settings(v, "plugin_pins", out)) return;
    for (const auto& [file, pin] : out) {
      const bool hex =
          pin.size() == 64 && pin.find_first_not_of("0123456789abcdefABCDEF") == std::string::npos;
      if (!hex) problem("plugin_pins." + file, "expected 64 hex digits (a sha256)");
    }
  }

  void log_level(const json::value& v, std::string& out) {
    if (!string(v, "log_level", out)) return;
    const auto level = base::parse_log_level(out);
    if (!level || *level == base::LogLevel::Off) {
      problem("log_level", "expected debug, info, warn or error");
    }
  }

  // The keys every stack config has (RelayConfig, ClientConfig): mux, transports, plugin_dirs,
  // plugin_pins, log_level. Returns false for any other key.
  template <class Config>
  bool stack_key(const std::string& key, const json::value& v, Config& c) {
    if (key == "mux") {
      mux(v, c.mux, c.mux_settings);
    } else if (key == "transports") {
      transports(v, c.transport_settings);
    } else if (key == "plugin_dirs") {
      strings(v, key, c.plugin_dirs);
    } else if (key == "plugin_pins") {
      pins(v, c.plugin_pins);
    } else if (key == "log_level") {
      log_level(v, c.log_level);
    } else {
      return false;
    }
    return true;
  }

 private:
  std::vector<Problem>& problems_;
};

// JSON text for the hand-written to_json functions (fixed key order).
inline std::string json_string(const std::string& s) { return json::serialize(json::value(s)); }

inline std::string json_list(const std::vector<std::string>& v) {
  std::string out = "[";
  for (std::size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + json_string(v[i]);
  return out + "]";
}

inline std::string json_settings(const Settings& s, const std::string& indent) {
  if (s.empty()) return "{}";
  std::string out = "{\n";
  std::size_t i = 0;
  for (const auto& [k, v] : s) {
    out += indent + "  " + json_string(k) + ": " + json_string(v) + (++i < s.size() ? ",\n" : "\n");
  }
  return out + indent + "}";
}

// The "mux" and "transports" lines, each ending with ",\n".
inline std::string json_stack(const std::string& mux, const Settings& mux_settings,
                              const std::map<std::string, Settings, std::less<>>& transports) {
  std::string o = "  \"mux\": {\"name\": " + json_string(mux) +
                  ", \"settings\": " + json_settings(mux_settings, "  ") + "},\n";
  o += "  \"transports\": {";
  std::size_t i = 0;
  for (const auto& [scheme, s] : transports) {
    o += std::string(i++ ? ",\n" : "\n") + "    " + json_string(scheme) + ": " +
         json_settings(s, "    ");
  }
  o += std::string(transports.empty() ? "}" : "\n  }") + ",\n";
  return o;
}

// Parses `text` (comments allowed) as the config's top-level object. On a syntax error, or
// when the text is not an object, records the problem and returns nothing.
inline std::optional<json::object> parse_object(std::string_view text,
                                                std::vector<Problem>& problems) {
  json::error_code ec;
  json::parse_options opts;
  opts.allow_comments = true;
  opts.allow_trailing_commas = false;
  json::stream_parser parser({}, opts);
  const std::size_t used = parser.write_some(text.data(), text.size(), ec);
  if (!ec) parser.finish(ec);
  if (ec) {
    const auto [line, column] = position(text, used);
    problems.push_back(Problem{"", "JSON syntax error: " + ec.message(), line, column});
    return std::nullopt;
  }
  json::value root = parser.release();
  if (!root.is_object()) {
    problems.push_back(Problem{"", "the config must be a JSON object", 0, 0});
    return std::nullopt;
  }
  return std::move(root.as_object());
}

}  // namespace portal::config::detail
