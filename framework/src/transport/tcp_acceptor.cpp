// SPDX-License-Identifier: Apache-2.0
#include "portal/transport/tcp_acceptor.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <unistd.h>

#include <cerrno>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "portal/base/log.hpp"
#include "portal/base/log_gate.hpp"

namespace portal::transport {

base::Result<boost::asio::ip::tcp::acceptor> bind_tcp_acceptor(
    const boost::asio::any_io_executor& executor, const Uri& uri, int backlog) {
  using boost::asio::ip::tcp;
  // A host-less URI names a local socket; resolving "" passively would bind every address.
  if (uri.host.empty()) return Errc::InvalidUri;
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
  // `[::]` is every address, IPv4 included (dual stack), whatever net.ipv6.bindv6only says.
  if (!ec && endpoint.address().is_v6() && endpoint.address().is_unspecified()) {
    acceptor.set_option(boost::asio::ip::v6_only(false), ec);
  }
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(backlog, ec);
  if (ec) return base::ErrorCode(ec);
  return acceptor;
}

namespace {

// Where the connection accept_tcp() is admitting on this thread goes (place_accepted()); null
// outside of accept_tcp()'s call to AcceptHooks::admit.
thread_local std::optional<boost::asio::any_io_executor>* t_placement = nullptr;

// `socket` moved onto `ex`: the descriptor leaves the acceptor's reactor for the other one. A
// new socket is constructed on `ex` (a move assignment would keep the old reactor's service).
// Nothing when the socket cannot be released (it stays where it was, still usable); a closed
// socket when the descriptor could not be registered with the other reactor.
std::optional<boost::asio::ip::tcp::socket> move_socket(boost::asio::ip::tcp::socket& socket,
                                                        const boost::asio::any_io_executor& ex) {
  using boost::asio::ip::tcp;
  boost::system::error_code ec;
  const auto protocol = socket.local_endpoint(ec).protocol();
  if (ec) return std::nullopt;
  const auto fd = socket.release(ec);
  if (ec) return std::nullopt;
  tcp::socket moved(ex);
  moved.assign(protocol, fd, ec);
  if (ec) ::close(fd);  // registered nowhere now: only a plain close gives it back
  return moved;
}

}  // namespace

bool place_accepted(boost::asio::any_io_executor executor) {
  if (t_placement == nullptr) return false;
  *t_placement = std::move(executor);
  return true;
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
      std::optional<asio::any_io_executor> placement;
      t_placement = &placement;
      try {
        out.ticket = hooks->admit(out.peer);
      } catch (...) {
        t_placement = nullptr;
        throw;
      }
      t_placement = nullptr;
      if (!out.ticket) {
        out.socket.close(ignored);
        continue;
      }
      if (placement && *placement != out.socket.get_executor()) {
        if (auto moved = move_socket(out.socket, *placement)) {
          if (!moved->is_open()) continue;  // lost in the move (the ticket goes with it)
          co_return AcceptedTcp{std::move(*moved), std::move(out.peer), std::move(out.ticket),
                                out.via_proxy};
        }
      }
    }
    co_return out;
  }
}

boost::asio::awaitable<ProxyHeader> read_proxy_header(boost::asio::ip::tcp::socket& socket,
                                                      std::chrono::milliseconds timeout,
                                                      std::chrono::milliseconds allowed) {
  namespace asio = boost::asio;
  using namespace asio::experimental::awaitable_operators;
  // Exactly the bytes the parser asks for: it never asks past the header. The buffer grows to
  // at most the header's limit (kProxyV1MaxBytes, or 16 + kProxyV2MaxBlockBytes), checked by the
  // parser before it asks.
  std::vector<std::uint8_t> bytes;
  auto read_all = [&]() -> asio::awaitable<ProxyHeader> {
    for (;;) {
      auto h = parse_proxy_header(bytes);
      if (h.state != ProxyHeader::State::NeedMore) co_return h;
      const std::size_t have = bytes.size();
      bytes.resize(h.need);
      auto [ec, n] =
          co_await asio::async_read(socket, asio::buffer(bytes.data() + have, h.need - have),
                                    asio::as_tuple(asio::use_awaitable));
      if (ec) {
        ProxyHeader out;
        out.state = ProxyHeader::State::Invalid;
        out.problem = ec == asio::error::eof ? "the connection ended inside the PROXY header"
                                             : "reading the PROXY header: " + ec.message();
        co_return out;
      }
    }
  };
  asio::steady_timer timer(socket.get_executor(), timeout);
  auto outcome = co_await (read_all() || timer.async_wait(asio::as_tuple(asio::use_awaitable)));
  if (outcome.index() == 0) co_return std::get<0>(std::move(outcome));
  ProxyHeader late;
  late.state = ProxyHeader::State::Invalid;
  const auto ms = (allowed.count() > 0 ? allowed : timeout).count();
  late.problem = "no complete PROXY header within " + std::to_string(ms) + " ms of accept";
  co_return late;
}

boost::asio::awaitable<ProxyVerdict> take_proxy_header(
    AcceptedTcp& accepted, std::chrono::steady_clock::time_point deadline,
    std::string_view scheme) {
  using std::chrono::milliseconds;
  const auto left =
      std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
  const auto allowed =
      std::chrono::duration_cast<milliseconds>(deadline - accepted.peer.connected_at);
  auto h = co_await read_proxy_header(accepted.socket, std::max(left, milliseconds(1)), allowed);
  if (h.state == ProxyHeader::State::Done) {
    if (h.source.empty()) co_return ProxyVerdict::NoClient;
    accepted.peer.address = h.source;
    co_return ProxyVerdict::Client;
  }
  log_proxy_problem(std::string(scheme) + " connection from the proxy " + accepted.peer.address +
                    " closed: " + h.problem);
  co_return ProxyVerdict::Refused;
}

void log_proxy_problem(const std::string& line) {
  static std::mutex mutex;  // plugins may run listeners on several threads
  static base::LogGate gate;
  std::optional<std::string> out;
  {
    std::lock_guard lock(mutex);
    out = gate.pass(line, std::chrono::steady_clock::now());
  }
  if (out) base::log(base::LogLevel::Warn, "proxy", *out);
}

}  // namespace portal::transport
