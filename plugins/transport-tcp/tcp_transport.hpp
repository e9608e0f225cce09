// SPDX-License-Identifier: Apache-2.0
#pragma once

// portal.transport.tcp: `tcp://host:port`, the mux byte stream carried directly over TCP with
// no preface, and `tls://host:port`, the same inside TLS (OpenSSL). Static library for direct
// linking; plugin.cpp wraps it as the runtime plugin.

#include "portal/transport/transport.hpp"
#include "tls.hpp"

namespace portal::plugins::tcp {

/// TCP settings (all optional):
///   connect_timeout_ms  (10000)  whole connect, resolution included
///   idle_timeout_ms     (0: off) close when no byte moved either way for this long
///   keepalive           (true)   SO_KEEPALIVE
///   nodelay             (true)   TCP_NODELAY
///   backlog             (1024)   listen backlog; also the most connections accepted and not yet
///                                taken by the relay, and the most reading a PROXY header
///   proxy_protocol      (false)  connections from a trusted proxy (the relay's trusted_proxies)
///                                start with a PROXY protocol v1 or v2 header naming the client,
///                                who is admitted and counted in the proxy's place; others are
///                                read as usual. Before TLS, for tls://
///   proxy_header_timeout_ms (5000) time allowed for that header
/// and, for tls://, the TLS keys of plugins/tls/tls.hpp (cert_file, key_file, ca_file,
/// spki_sha256, server_name, session_tickets, handshake_timeout_ms).
struct Options {
  std::chrono::milliseconds connect_timeout{10'000};
  std::chrono::milliseconds idle_timeout{0};
  bool keepalive = true;
  bool nodelay = true;
  int backlog = 1024;
  bool proxy_protocol = false;
  std::chrono::milliseconds proxy_header_timeout{5'000};
  tls::Settings tls;
  bool has_tls_keys = false;  ///< a TLS key was given (refused for tcp://)
};

/// Parses settings. Errors: transport::Errc::InvalidSetting, with `problem` naming the key.
base::Result<Options> parse_settings(const transport::Settings& settings, std::string& problem);

/// The process-wide factory.
transport::TransportFactory& factory() noexcept;

}  // namespace portal::plugins::tcp
