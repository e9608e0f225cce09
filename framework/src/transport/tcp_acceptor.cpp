// SPDX-License-Identifier: Apache-2.0
#include "portal/transport/tcp_acceptor.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cerrno>
#include <string>

namespace portal::transport {

base::Result<boost::asio::ip::tcp::acceptor> bind_tcp_acceptor(
    const boost::asio::any_io_executor& executor, const Uri& uri, int backlog) {
  using boost::asio::ip::tcp;
  boost::system::error_code ec;
  tcp::resolver resolver(executor);
  const std::string port = std::to_string(uri.port);
  auto endpoints =
      resolver.resolve(uri.host, port, tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec) return base::ErrorCode(ec);
  if (endpoints.empty()) return Errc::InvalidUri;
  const tcp::endpoint endpoint = *endpoints.begin();
  tcp::acceptor acceptor(executor);
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(backlog, ec);
  if (ec) return base::ErrorCode(ec);
  return acceptor;
}

bool is_descriptor_shortage(const base::ErrorCode& e) noexcept {
  return e.category() == boost::system::system_category() &&
         (e.value() == EMFILE || e.value() == ENFILE);
}

boost::asio::awaitable<base::Result<AcceptedTcp>> accept_tcp(
    boost::asio::ip::tcp::acceptor& acceptor, std::shared_ptr<const AcceptHooks> hooks,
    bool defer_proxies) {
  namespace asio = boost::asio;
  for (;;) {
    if (!acceptor.is_open()) co_return Errc::Closed;
    auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
    if (ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor ||
        !acceptor.is_open()) {
      co_return Errc::Closed;
    }
    if (ec) {
      if (hooks && hooks->on_accept_error) hooks->on_accept_error(ec);
      // A connection the peer reset before we took it is gone: nothing to wait for.
      if (ec == asio::error::connection_aborted) continue;
      asio::steady_timer pause(acceptor.get_executor(), kAcceptErrorPause);
      (void)co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
      continue;
    }
    AcceptedTcp out{std::move(socket), {}, {}, false};
    boost::system::error_code ignored;
    const auto remote = out.socket.remote_endpoint(ignored);
    if (!ignored) out.peer.address = remote.address().to_string();
    out.peer.connected_at = std::chrono::steady_clock::now();
    if (defer_proxies && hooks && hooks->trusted_proxy && hooks->trusted_proxy(out.peer.address)) {
      out.via_proxy = true;
      co_return out;
    }
    if (hooks && hooks->admit) {
      out.ticket = hooks->admit(out.peer);
      if (!out.ticket) {
        out.socket.close(ignored);
        continue;
      }
    }
    co_return out;
  }
}

}  // namespace portal::transport
