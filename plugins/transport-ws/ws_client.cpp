// SPDX-License-Identifier: Apache-2.0
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include "ws_internal.hpp"
#include "ws_stream.hpp"

namespace portal::plugins::ws {

namespace asio = boost::asio;
namespace beast = boost::beast;
using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;

namespace {

// Computed outside the coroutine: g++ 12 mishandles string temporaries made by a conditional
// expression inside coroutine bodies (they can be destroyed twice).
std::string host_header(const transport::Uri& uri) {
  const bool v6 = uri.host.find(':') != std::string::npos;
  std::string h = v6 ? "[" + uri.host + "]" : uri.host;
  return h + ":" + std::to_string(uri.port);
}

std::string target_path(const transport::Uri& uri) {
  return uri.path.empty() ? std::string("/relay") : uri.path;
}

}  // namespace

asio::awaitable<base::Result<std::unique_ptr<stream::ByteStream>>> connect_ws(
    asio::any_io_executor executor, transport::Uri uri, Options options) {
  auto ws = std::make_unique<WebSocket>(executor);
  const std::string host = host_header(uri);
  const std::string path = target_path(uri);
  const std::string port = std::to_string(uri.port);
  tcp::resolver resolver(executor);
  asio::steady_timer deadline(executor, options.handshake_timeout);
  // Resolution, TCP connect and the upgrade race one deadline.
  auto attempt = [&]() -> asio::awaitable<beast::error_code> {
    auto [rec, endpoints] =
        co_await resolver.async_resolve(uri.host, port, asio::as_tuple(asio::use_awaitable));
    if (rec) co_return rec;
    auto [cec, ep] = co_await beast::get_lowest_layer(*ws).async_connect(
        endpoints, asio::as_tuple(asio::use_awaitable));
    if (cec) co_return cec;
    beast::get_lowest_layer(*ws).socket().set_option(tcp::no_delay(options.nodelay));
    configure(*ws, options, false);
    auto [hec] = co_await ws->async_handshake(host, path, asio::as_tuple(asio::use_awaitable));
    co_return hec;
  };
  auto outcome = co_await (attempt() || deadline.async_wait(asio::as_tuple(asio::use_awaitable)));
  if (outcome.index() == 1) co_return make_error_code(transport::Errc::ConnectTimeout);
  if (auto ec = std::get<0>(outcome)) co_return base::ErrorCode(ec);
  co_return make_ws_stream(std::move(ws), options);
}

}  // namespace portal::plugins::ws
