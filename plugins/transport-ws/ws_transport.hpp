// SPDX-License-Identifier: Apache-2.0
#pragma once

// portal.transport.ws: `ws://host:port/path`, client and server, on Boost.Beast. The byte stream
// travels in binary WebSocket messages whose boundaries mean nothing (portal-v1 §2.2). The
// server side is one HTTP listener: the upgrade on the configured path, plain routes that the
// relay registers, and HTTP errors for everything else. Beast stays inside this plugin's .cpp
// files.

#include <chrono>
#include <cstddef>
#include <string>

#include "portal/transport/transport.hpp"
#include "tls.hpp"

namespace portal::plugins::ws {

/// WebSocket settings (all optional):
///   max_message_size    (33554432)  largest message read; more closes with 1009
///   max_write_message   (1048576)   writes are cut into messages of at most this many bytes
///   handshake_timeout_ms (10000)    TCP connect + HTTP upgrade, both sides
///   idle_timeout_ms     (0: off)    close when nothing arrives for this long (pings are sent
///                                   at half of it to keep a healthy peer alive)
///   max_request_bytes   (16384)     request line + headers of a plain HTTP request
///   header_timeout_ms   (10000)     time allowed to send a complete request (slowloris)
///   backlog             (1024)      listen backlog
///   max_pending         (1024)      upgraded connections waiting for accept; more are closed
///   proxy_protocol      (false)     connections from a trusted proxy (the relay's
///                                   trusted_proxies) start with a PROXY protocol v1 or v2
///                                   header naming the client (before TLS, for wss://), read
///                                   within header_timeout_ms
///   nodelay             (true)      TCP_NODELAY on both sides: small frames (control answers,
///                                   window updates) go out at once instead of waiting for the
///                                   peer's delayed ACK (up to 40 ms on Linux) behind Nagle
/// and, for wss://, the TLS keys of plugins/tls/tls.hpp (cert_file, key_file, ca_file,
/// spki_sha256, server_name, session_tickets, handshake_timeout_ms).
struct Options {
  std::size_t max_message_size = 32u * 1024 * 1024;
  std::size_t max_write_message = 1024 * 1024;
  std::chrono::milliseconds handshake_timeout{10'000};
  std::chrono::milliseconds idle_timeout{0};
  std::size_t max_request_bytes = 16 * 1024;
  std::chrono::milliseconds header_timeout{10'000};
  int backlog = 1024;
  std::size_t max_pending = 1024;
  bool nodelay = true;
  bool proxy_protocol = false;
  tls::Settings tls;
  bool has_tls_keys = false;  ///< a TLS key was given (refused for ws://)
};

base::Result<Options> parse_settings(const transport::Settings& settings, std::string& problem);

/// The process-wide factory.
transport::TransportFactory& factory() noexcept;

}  // namespace portal::plugins::ws
