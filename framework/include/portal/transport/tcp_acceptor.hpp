// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "portal/base/export.hpp"
#include "portal/base/result.hpp"
#include "portal/transport/transport.hpp"

namespace portal::transport {

/// A listening TCP acceptor for `uri` (host resolved passively, port 0 for any): opened,
/// SO_REUSEADDR set, bound and listening with `backlog`. Shared by the transports that listen on
/// TCP. Errors: resolver and socket errors; Errc::InvalidUri when the host resolves to nothing.
[[nodiscard]] PORTAL_API base::Result<boost::asio::ip::tcp::acceptor> bind_tcp_acceptor(
    const boost::asio::any_io_executor& executor, const Uri& uri, int backlog);

}  // namespace portal::transport
