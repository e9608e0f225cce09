// SPDX-License-Identifier: Apache-2.0
#pragma once

// Private to the plugin: the ByteStream over a Beast WebSocket, shared by client and server.

#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket/stream.hpp>

#include "portal/stream/byte_stream.hpp"
#include "ws_transport.hpp"

namespace portal::plugins::ws {

using WebSocket = boost::beast::websocket::stream<boost::beast::tcp_stream>;

/// Applies the options every WebSocket gets: binary messages, the read limit, timeouts.
void configure(WebSocket& ws, const Options& options, bool server);

/// Wraps an open WebSocket whose TCP connection was made at `connected_at`; the stream keeps
/// `ticket` (the listener owner's admission, transport::AcceptHooks) until it is destroyed.
std::unique_ptr<stream::ByteStream> make_ws_stream(
    std::unique_ptr<WebSocket> ws, const Options& options,
    std::chrono::steady_clock::time_point connected_at = std::chrono::steady_clock::now(),
    std::shared_ptr<void> ticket = {});

}  // namespace portal::plugins::ws
