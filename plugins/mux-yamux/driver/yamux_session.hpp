// SPDX-License-Identifier: Apache-2.0
#pragma once

// The Asio driver of the yamux core: a mux::Session over any ByteStream.

#include <memory>

#include "portal/mux/mux.hpp"
#include "portal/yamux/session.hpp"

namespace portal::yamux {

/// Parses plugin settings into a Config (keys: accept_backlog, enable_keepalive,
/// keepalive_interval_ms, ping_timeout_ms, max_stream_window, stream_open_timeout_ms,
/// stream_close_timeout_ms, max_streams). Unknown keys and bad values are errors; `problem`
/// names the key.
base::Result<Config> parse_settings(const mux::Settings& settings, std::string& problem);

/// Starts a session: a reader, a writer and a timer coroutine on the transport's executor.
std::shared_ptr<mux::Session> start_session(std::unique_ptr<stream::ByteStream> transport,
                                            Role role, Config config);

}  // namespace portal::yamux
