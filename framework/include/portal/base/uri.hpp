// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "portal/base/export.hpp"
#include "portal/base/result.hpp"

namespace portal::base {

/// A transport address: `scheme://host:port[/path]`. IPv6 literals are bracketed
/// (`tcp://[::1]:4027`); `host` holds them without brackets.
struct Uri {
  /// Lower-case scheme naming the transport that serves the address (`tcp`, `ws`, `wss`, ...).
  std::string scheme;
  /// Host name or IP literal; IPv6 without its brackets.
  std::string host;
  /// TCP port; 0 asks a listener for any free port.
  std::uint16_t port = 0;
  std::string path;  ///< empty, or starting with '/'

  /// Back to text, brackets restored for IPv6 literals.
  [[nodiscard]] PORTAL_API std::string to_string() const;
  /// Field-by-field equality; hosts are compared as written.
  friend bool operator==(const Uri&, const Uri&) = default;
};

/// Parses `text`. The scheme is lower-cased letters, digits, '+', '-', '.'; the port is required
/// (0 means "any" for listeners). Errors: Errc::InvalidUri.
[[nodiscard]] PORTAL_API Result<Uri> parse_uri(std::string_view text);

/// An http:// or https:// URL as people write it, scheme://host[:port][/path]: without a port,
/// 80 or 443. Errors: Errc::InvalidUri (other schemes included).
[[nodiscard]] PORTAL_API Result<Uri> parse_http_url(std::string_view text);

}  // namespace portal::base
