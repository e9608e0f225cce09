// SPDX-License-Identifier: Apache-2.0
#pragma once

// Private to the plugin: the ByteStream over a Beast WebSocket, shared by client and server.

#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/websocket/stream.hpp>

#include "portal/stream/byte_stream.hpp"
#include "ws_transport.hpp"

namespace portal::plugins::ws {

/// What a WebSocket runs on: TCP (ws://), or TLS over TCP (wss://).
using Plain = boost::beast::tcp_stream;
using Secure = boost::beast::ssl_stream<boost::beast::tcp_stream>;
template <class Next>
using WebSocketOn = boost::beast::websocket::stream<Next>;
using WebSocket = WebSocketOn<Plain>;

/// Applies the options every WebSocket gets: binary messages, the read limit, timeouts.
template <class Next>
void configure(WebSocketOn<Next>& ws, const Options& options, bool server);

/// Wraps an open WebSocket from `peer` (its address: the socket's when empty; behind a trusted
/// proxy, the client's) whose TCP connection was made at `peer.connected_at`; the stream keeps
/// `ticket` (the listener owner's admission, transport::AcceptHooks) and `keep` (a TLS
/// context) until it is destroyed.
template <class Next>
std::unique_ptr<stream::ByteStream> make_ws_stream(std::unique_ptr<WebSocketOn<Next>> ws,
                                                   const Options& options, stream::PeerInfo peer,
                                                   std::shared_ptr<void> ticket = {},
                                                   std::shared_ptr<void> keep = {});

}  // namespace portal::plugins::ws
