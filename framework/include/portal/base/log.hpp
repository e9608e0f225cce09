// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <functional>
#include <optional>
#include <string_view>

#include "portal/base/export.hpp"

namespace portal::base {

/// Severity of a log line, least severe first. Off, as a threshold, drops every line.
enum class LogLevel { Debug = 0, Info = 1, Warn = 2, Error = 3, Off = 4 };

/// Receives one finished log line (without a trailing newline).
using LogSink = std::function<void(LogLevel, std::string_view component, std::string_view line)>;

/// Logs one event as one line: "<level> <component>: <message>". Messages never carry keys or
/// plaintext (callers log identities, sizes and error messages only). Thread-safe.
PORTAL_API void log(LogLevel level, std::string_view component, std::string_view message);

/// Lines below `level` are dropped (default: Info).
PORTAL_API void set_log_level(LogLevel level) noexcept;
/// The current threshold set by set_log_level().
[[nodiscard]] PORTAL_API LogLevel log_level() noexcept;

/// Replaces where lines go (default: standard error). An empty sink restores the default.
PORTAL_API void set_log_sink(LogSink sink);

/// The level's lower-case name: "debug", "info", "warn", "error" or "off".
[[nodiscard]] PORTAL_API std::string_view to_string(LogLevel level) noexcept;
/// The level named by to_string(); nothing for any other text.
[[nodiscard]] PORTAL_API std::optional<LogLevel> parse_log_level(std::string_view name) noexcept;

}  // namespace portal::base
