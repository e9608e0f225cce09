// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "portal/base/export.hpp"
#include "portal/base/result.hpp"
#include "portal/transport/proxy_header.hpp"
#include "portal/transport/transport.hpp"

namespace portal::transport {

/// A listening TCP acceptor for `uri` (host resolved passively, port 0 for any): opened,
/// SO_REUSEADDR set, bound and listening with `backlog`. Shared by the transports that listen on
/// TCP. Errors: resolver and socket errors; Errc::InvalidUri when the host is empty (a host-less
/// URI) or resolves to nothing.
[[nodiscard]] PORTAL_API base::Result<boost::asio::ip::tcp::acceptor> bind_tcp_acceptor(
    const boost::asio::any_io_executor& executor, const Uri& uri, int backlog);

/// A connection accept_tcp() let in.
struct AcceptedTcp {
  /// The connected socket, on the acceptor's executor (or the one place_accepted() named);
  /// nothing has been read from it yet.
  boost::asio::ip::tcp::socket socket;
  stream::PeerInfo peer;         ///< address and accept time
  std::shared_ptr<void> ticket;  ///< from AcceptHooks::admit; keep it as long as the socket
  bool via_proxy = false;        ///< a trusted proxy, not admitted yet (defer_proxies only)
};

/// How long accept_tcp() pauses after a failed accept.
inline constexpr std::chrono::milliseconds kAcceptErrorPause{100};

/// The next connection on `acceptor` that `hooks` admit, shared by every TCP-based listener so
/// that all of them treat errors alike: a failed accept is reported to on_accept_error
/// and followed by a pause of kAcceptErrorPause (a descriptor shortage leaves the connection
/// in the backlog, and retrying at once would spin); a refused connection is closed before
/// anything is read. `hooks` (may be null) are read as each accept completes. With
/// `defer_proxies` (a listener that learns the client behind a proxy), a connection from a
/// trusted proxy is let in unadmitted (`via_proxy`): the listener admits the client later.
/// Errors: Errc::Closed once the acceptor is closed.
[[nodiscard]] PORTAL_API boost::asio::awaitable<base::Result<AcceptedTcp>> accept_tcp(
    boost::asio::ip::tcp::acceptor& acceptor, std::shared_ptr<const AcceptHooks> hooks,
    bool defer_proxies = false);

/// For AcceptHooks::admit, while accept_tcp() asks it about a connection: moves that connection's
/// socket onto `executor` (an io_context's executor) once it is admitted, so that everything done
/// with it from then on (the transport's stream, timers created on the socket's executor) runs
/// there; the listener's own work on it (HTTP, upgrade) still runs on the listener's executor. The
/// relay uses it to spread connections over its threads (ADR 0013). Returns false, and changes
/// nothing, when admit was not called by accept_tcp() (a listener that admits later, such as a
/// trusted proxy's client): the connection then stays on the listener's executor.
PORTAL_API bool place_accepted(boost::asio::any_io_executor executor);

/// Reads the PROXY protocol header (proxy_header.hpp) at the start of `socket` byte-exact, so
/// the client's own bytes stay in the socket, within `timeout`. The outcome is Done or Invalid;
/// a timeout, an early end and a socket error are Invalid too, each with its one-line problem
/// (a timeout names `allowed`, the time since accept, when it is given).
[[nodiscard]] PORTAL_API boost::asio::awaitable<ProxyHeader> read_proxy_header(
    boost::asio::ip::tcp::socket& socket, std::chrono::milliseconds timeout,
    std::chrono::milliseconds allowed = {});

/// What take_proxy_header() learned.
enum class ProxyVerdict {
  Refused,   ///< a bad header, or none in time: logged; close the connection
  Client,    ///< the header named the client: `accepted.peer` is now the client
  NoClient,  ///< a valid header that names no client (v1 UNKNOWN, v2 LOCAL, UNSPEC, UNIX): the
             ///< connection is the proxy's own, and nothing else may name a client for it
};

/// For a connection that accept_tcp() let in `via_proxy`, on a listener with the PROXY protocol
/// on: reads the header, which must be complete by `deadline`. Admission is the caller's.
[[nodiscard]] PORTAL_API boost::asio::awaitable<ProxyVerdict> take_proxy_header(
    AcceptedTcp& accepted, std::chrono::steady_clock::time_point deadline, std::string_view scheme);

/// Logs a line about a trusted proxy's connection (component "proxy"), at most one a second
/// across the process.
PORTAL_API void log_proxy_problem(const std::string& line);

/// Whether `e` is a descriptor shortage (EMFILE, ENFILE), as accept errors are counted.
[[nodiscard]] PORTAL_API bool is_descriptor_shortage(const base::ErrorCode& e) noexcept;

}  // namespace portal::transport
