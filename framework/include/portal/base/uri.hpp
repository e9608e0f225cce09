// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "portal/base/export.hpp"
#include "portal/base/result.hpp"

namespace portal::base {

/// The longest path of a host-less URI (`unix:///run/portal/relay.sock`): a Unix socket's
/// `sun_path` holds 108 bytes, its terminating NUL included.
inline constexpr std::size_t kMaxLocalPathBytes = 107;

/// A transport address: `scheme://host:port[/path]`, or `scheme:///absolute/path` for a local
/// socket (the authority is empty: `host` is empty, `port` 0 and `path` the absolute path).
/// IPv6 literals are bracketed (`tcp://[::1]:4027`); `host` holds them without brackets.
struct Uri {
  /// Lower-case scheme naming the transport that serves the address (`tcp`, `ws`, `unix`, ...).
  std::string scheme;
  /// Host name or IP literal; IPv6 without its brackets; empty for a host-less URI.
  std::string host;
  /// TCP port; 0 asks a listener for any free port; 0 for a host-less URI.
  std::uint16_t port = 0;
  std::string path;  ///< empty, or starting with '/'

  /// Whether this is a host-less URI (`scheme:///absolute/path`).
  [[nodiscard]] bool local() const noexcept { return host.empty(); }
  /// Back to text, brackets restored for IPv6 literals (`scheme:///path` when host-less).
  [[nodiscard]] PORTAL_API std::string to_string() const;
  /// Field-by-field equality; hosts are compared as written.
  friend bool operator==(const Uri&, const Uri&) = default;
};

/// Parses `text`. The scheme is lower-cased letters, digits, '+', '-', '.'; with a host, the port
/// is required (0 means "any" for listeners). With an empty authority (`unix:///run/x.sock`) the
/// rest is an absolute path of at least one character after the '/', with no NUL and not ending
/// in '/'. Errors: Errc::InvalidUri (relative and empty paths included), Errc::UriPathTooLong
/// (a path longer than kMaxLocalPathBytes).
[[nodiscard]] PORTAL_API Result<Uri> parse_uri(std::string_view text);

/// An http:// or https:// URL as people write it, scheme://host[:port][/path]: without a port,
/// 80 or 443. Errors: Errc::InvalidUri (other schemes included).
[[nodiscard]] PORTAL_API Result<Uri> parse_http_url(std::string_view text);

}  // namespace portal::base
