// SPDX-License-Identifier: Apache-2.0
#pragma once

// example.transport.unix: `unix:///absolute/path`, the mux byte stream carried over a Unix
// stream socket, written against the installed Portal SDK only (portal/...). plugin.cpp wraps it
// as the runtime plugin.

#include <chrono>
#include <optional>
#include <string>

#include "portal/base/result.hpp"
#include "portal/transport/transport.hpp"

namespace example::unix_transport {

/// Settings (all optional):
///   connect_timeout_ms (10000)  the whole connect
///   idle_timeout_ms    (0: off) close when no byte moved either way for this long
///   backlog            (1024)   listen backlog; also the most connections accepted and not
///                               yet taken by the relay
///   mode               (none)   listeners: the socket file's permissions, octal ("660"); by
///                               default the process umask decides
struct Options {
  std::chrono::milliseconds connect_timeout{10'000};
  std::chrono::milliseconds idle_timeout{0};
  int backlog = 1024;
  std::optional<unsigned> mode;
};

/// Parses settings. Errors: portal::transport::Errc::InvalidSetting, with `problem` naming the
/// key.
portal::base::Result<Options> parse_settings(const portal::transport::Settings& settings,
                                             std::string& problem);

/// The socket path of `uri`: its path, which must be absolute and fit a socket address (at most
/// portal::base::kMaxLocalPathBytes bytes), on a URI without host or port. Errors:
/// portal::transport::Errc::InvalidUri, portal::base::Errc::UriPathTooLong.
portal::base::Result<std::string> socket_path(const portal::transport::Uri& uri);

/// The process-wide factory.
portal::transport::TransportFactory& factory() noexcept;

}  // namespace example::unix_transport
