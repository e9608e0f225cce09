// SPDX-License-Identifier: Apache-2.0
#pragma once

// Shared by the relay and client config readers: JSON parsing with line/column for syntax
// errors, and typed reads that record a Problem naming the key.

#include <boost/json.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

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

 private:
  std::vector<Problem>& problems_;
};

// Parses `text` (comments allowed). On a syntax error records it and returns null.
inline std::optional<json::value> parse(std::string_view text, std::vector<Problem>& problems) {
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
  return parser.release();
}

}  // namespace portal::config::detail
