// SPDX-License-Identifier: Apache-2.0
#include "portal/base/log.hpp"

#include <atomic>
#include <cstdio>
#include <mutex>
#include <string>

namespace portal::base {
namespace {

std::atomic<LogLevel> g_level{LogLevel::Info};

struct SinkHolder {
  std::mutex mutex;
  LogSink sink;
};

SinkHolder& holder() {
  static SinkHolder h;
  return h;
}

}  // namespace

std::string_view to_string(LogLevel level) noexcept {
  switch (level) {
    case LogLevel::Debug: return "debug";
    case LogLevel::Info: return "info";
    case LogLevel::Warn: return "warn";
    case LogLevel::Error: return "error";
    case LogLevel::Off: return "off";
  }
  return "?";
}

std::optional<LogLevel> parse_log_level(std::string_view name) noexcept {
  for (const auto level :
       {LogLevel::Debug, LogLevel::Info, LogLevel::Warn, LogLevel::Error, LogLevel::Off}) {
    if (to_string(level) == name) return level;
  }
  return std::nullopt;
}

void set_log_level(LogLevel level) noexcept { g_level.store(level); }
LogLevel log_level() noexcept { return g_level.load(); }

void set_log_sink(LogSink sink) {
  auto& h = holder();
  std::lock_guard lock(h.mutex);
  h.sink = std::move(sink);
}

void log(LogLevel level, std::string_view component, std::string_view message) {
  if (level < g_level.load() || level == LogLevel::Off) return;
  auto& h = holder();
  std::lock_guard lock(h.mutex);
  if (h.sink) {
    h.sink(level, component, message);
    return;
  }
  std::string line;
  line.reserve(message.size() + component.size() + 16);
  line.append(to_string(level)).append(" ").append(component).append(": ").append(message);
  // One line per event: a newline inside a message would forge a second line.
  for (auto& c : line) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  line.push_back('\n');
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace portal::base
