// SPDX-License-Identifier: Apache-2.0
#pragma once

// Reading a plugin's settings: typed fields from the config file's text values, with the same
// bounds checks and the same one-line errors in every plugin:
//   "<key>: expected a whole number from 1 to 65535, got 'x'"
//   "<key>: expected milliseconds from 1 to 86400000, got 'x'"
//   "<key>: expected true or false, got 'x'"
//   "<key>: unknown <component> setting"
//
//   plugin::SettingsReader r(settings, "tcp");
//   r.millis("connect_timeout_ms", o.connect_timeout, 1).flag("nodelay", o.nodelay);
//   if (!r.done(problem)) return transport::Errc::InvalidSetting;

#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <set>
#include <string>
#include <string_view>
#include <type_traits>

#include "portal/base/parse.hpp"
#include "portal/base/settings.hpp"

namespace portal::plugin {

/// Reads a plugin's string settings into typed fields, with one readable error: each call reads one
/// key when present (absent keys keep the field's default), the first bad value is remembered, and
/// done() also reports keys nobody read, so that a misspelt setting is an error rather than
/// silently ignored. Borrows the settings: they must outlive the reader. Not thread-safe.
///
/// Typical use (the yamux plugin): `SettingsReader r(settings, "yamux");`, then
/// `r.number("max_streams", c.max_streams, 0, 1u << 20)`, and `if (!r.done(problem))` refuse.
class SettingsReader {
 public:
  /// `component` names the plugin in the unknown-key error ("tcp", "ws", "yamux").
  SettingsReader(const base::Settings& settings, std::string_view component)
      : settings_(settings), component_(component) {}

  /// `key`, when present: a whole number from `min` to `max` (`unit` follows the range in the
  /// error, e.g. "bytes").
  template <class T>
  SettingsReader& number(std::string_view key, T& out, std::uint64_t min, std::uint64_t max,
                         std::string_view unit = {}) {
    static_assert(std::is_integral_v<T>);
    const std::string* value = take(key);
    if (value == nullptr) return *this;
    std::uint64_t n = 0;
    if (!base::parse_unsigned(*value, n) || n < min || n > max ||
        n > static_cast<std::uint64_t>(std::numeric_limits<T>::max())) {
      fail(key, *value,
           "a whole number from " + std::to_string(min) + " to " + std::to_string(max) +
               (unit.empty() ? std::string() : " " + std::string(unit)));
      return *this;
    }
    out = static_cast<T>(n);
    return *this;
  }

  /// `key`, when present: milliseconds from `min` to one day.
  template <class Rep, class Period>
  SettingsReader& millis(std::string_view key, std::chrono::duration<Rep, Period>& out,
                         std::uint64_t min = 1) {
    constexpr std::uint64_t kDay = 24ull * 3600 * 1000;
    const std::string* value = take(key);
    if (value == nullptr) return *this;
    std::uint64_t n = 0;
    if (!base::parse_unsigned(*value, n) || n < min || n > kDay) {
      fail(key, *value, "milliseconds from " + std::to_string(min) + " to " + std::to_string(kDay));
      return *this;
    }
    out = std::chrono::duration_cast<std::chrono::duration<Rep, Period>>(
        std::chrono::milliseconds(static_cast<std::int64_t>(n)));
    return *this;
  }

  /// `key`, when present: true or false.
  SettingsReader& flag(std::string_view key, bool& out) {
    const std::string* value = take(key);
    if (value == nullptr) return *this;
    if (*value != "true" && *value != "false") {
      fail(key, *value, "true or false");
      return *this;
    }
    out = *value == "true";
    return *this;
  }

  /// Every key `owns` accepts is handed to `apply` (key, value, problem), which returns false
  /// with `problem` set when the value is bad: keys another module parses (the TLS settings).
  SettingsReader& keys(const std::function<bool(std::string_view key)>& owns,
                       const std::function<bool(const std::string& key, const std::string& value,
                                                std::string& problem)>& apply) {
    for (const auto& [key, value] : settings_) {
      if (known_.count(key) != 0 || !owns(key)) continue;
      known_.insert(key);
      if (!problem_.empty()) continue;
      std::string problem;
      if (!apply(key, value, problem)) problem_ = problem.empty() ? key + ": bad value" : problem;
    }
    return *this;
  }

  /// Whether every key was known and valid; otherwise `problem` is the first problem (in the
  /// order the fields were read, then unknown keys in key order).
  [[nodiscard]] bool done(std::string& problem) const {
    if (problem_.empty()) {
      for (const auto& entry : settings_) {
        if (known_.count(entry.first) == 0) {
          problem = entry.first + ": unknown " + component_ + " setting";
          return false;
        }
      }
      return true;
    }
    problem = problem_;
    return false;
  }

 private:
  const std::string* take(std::string_view key) {
    auto it = settings_.find(key);
    if (it == settings_.end()) return nullptr;
    known_.insert(it->first);
    return &it->second;
  }
  void fail(std::string_view key, const std::string& value, const std::string& expected) {
    if (!problem_.empty()) return;
    problem_ = std::string(key) + ": expected " + expected + ", got '" + value + "'";
  }

  const base::Settings& settings_;
  std::string component_;
  std::set<std::string, std::less<>> known_;
  std::string problem_;
};

}  // namespace portal::plugin
