// SPDX-License-Identifier: Apache-2.0
#pragma once

// Test-only (tests/fuzz/ws_http): one server connection of the ws transport, run on an
// in-memory stream instead of a socket. The listener's own code does the work (its HTTP request
// parser and limits, the gate and the routes, the WebSocket upgrade, the stream's settings and
// its reads and writes); only the bytes come from the caller. Not part of the plugin: it is
// compiled into a test library (ws_testing.cpp), never into portal-transport-ws.

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ws_transport.hpp"

namespace portal::plugins::ws::testing {

/// The listener a connection arrives at.
struct Connection {
  Options options;
  std::string ws_path = "/relay";  ///< the upgrade's path (ws:// listeners)
  bool http_only = false;          ///< http:// listener: routes only, no upgrade
  /// Routes as transport::Listener::add_http_route() takes them ("*" is the gate).
  std::vector<std::pair<std::string, transport::HttpHandler>> routes;
  transport::AcceptHooks hooks;  ///< admit, trusted_proxy
  std::string peer_address = "192.0.2.1";
  bool via_proxy = false;      ///< the peer is a trusted proxy (X-Forwarded-For is read)
  std::size_t read_chunk = 0;  ///< most bytes one read hands over (0: as many as asked)
  /// Offsets in the input that no read crosses: a client that waits for an answer there (as a
  /// WebSocket client waits for the 101 before its first frame, RFC 6455 §4.1). The listener
  /// reads past a request's end when the bytes are there, and what an upgrade request leaves in
  /// its buffer is not passed on to the WebSocket.
  std::vector<std::size_t> stops;
};

/// What happened on the connection.
struct Outcome {
  std::string written;       ///< every byte the server sent (HTTP answers, WebSocket frames)
  bool upgraded = false;     ///< a WebSocket stream was handed out
  std::string peer;          ///< the upgraded stream's peer address
  std::string received;      ///< the bytes that stream read (all echoed back with async_write)
  bool read_failed = false;  ///< the stream's reads ended with an error rather than its end
};

/// Serves one connection whose client sends `input` and then ends its side. After an upgrade,
/// the stream's bytes are read to the end and echoed, then the stream is closed with
/// async_shutdown_write() (the WebSocket closing handshake). Runs to completion on its own
/// io_context; the server's output is bounded (past 8 MiB its writes fail).
Outcome serve_connection(const Connection& connection, std::string_view input);

}  // namespace portal::plugins::ws::testing
