// SPDX-License-Identifier: Apache-2.0
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include "portal/base/log.hpp"

#include "ws_internal.hpp"
#include "ws_stream.hpp"

namespace portal::plugins::ws {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace ssl = asio::ssl;
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

// Resolution, TCP connect, the TLS handshake (wss://) and the upgrade race one deadline.
template <class Next>
asio::awaitable<base::Result<std::unique_ptr<stream::ByteStream>>> connect_on(
    std::unique_ptr<WebSocketOn<Next>> ws, transport::Uri uri, Options options,
    std::shared_ptr<ssl::context> keep) {
  auto executor = ws->get_executor();
  const std::string host = host_header(uri);
  const std::string path = target_path(uri);
  const std::string port = std::to_string(uri.port);
  tcp::resolver resolver(executor);
  asio::steady_timer deadline(executor, options.handshake_timeout);
  tls::Diagnosis diagnosis;
  base::ErrorCode tls_error;
  auto attempt = [&]() -> asio::awaitable<beast::error_code> {
    auto [rec, endpoints] =
        co_await resolver.async_resolve(uri.host, port, asio::as_tuple(asio::use_awaitable));
    if (rec) co_return rec;
    auto [cec, ep] = co_await beast::get_lowest_layer(*ws).async_connect(
        endpoints, asio::as_tuple(asio::use_awaitable));
    if (cec) co_return cec;
    beast::get_lowest_layer(*ws).socket().set_option(tcp::no_delay(options.nodelay));
    if constexpr (std::is_same_v<Next, Secure>) {
      auto* ssl = ws->next_layer().native_handle();
      if (!tls::prepare_client(ssl, options.tls, uri.host, &diagnosis)) {
        tls_error = transport::Errc::InvalidSetting;
        co_return tls_error;
      }
      auto [tec] = co_await ws->next_layer().async_handshake(ssl::stream_base::client,
                                                             asio::as_tuple(asio::use_awaitable));
      tls_error = tls::client_outcome(ssl, options.tls, uri.to_string(), tec, diagnosis);
      if (tls_error) co_return tls_error;
    }
    configure(*ws, options, false);
    auto [hec] = co_await ws->async_handshake(host, path, asio::as_tuple(asio::use_awaitable));
    co_return hec;
  };
  auto outcome = co_await (attempt() || deadline.async_wait(asio::as_tuple(asio::use_awaitable)));
  if (outcome.index() == 1) co_return make_error_code(transport::Errc::ConnectTimeout);
  if (tls_error) co_return tls_error;
  if (auto ec = std::get<0>(outcome)) co_return base::ErrorCode(ec);
  co_return make_ws_stream(std::move(ws), options,
                           stream::PeerInfo{{}, std::chrono::steady_clock::now()}, {},
                           std::move(keep));
}

}  // namespace

asio::awaitable<base::Result<std::unique_ptr<stream::ByteStream>>> connect_ws(
    asio::any_io_executor executor, transport::Uri uri, Options options) {
  if (uri.scheme != "wss") {
    co_return co_await connect_on(std::make_unique<WebSocket>(executor), std::move(uri),
                                  std::move(options), nullptr);
  }
  std::string problem;
  auto context = tls::client_context(options.tls, {"http/1.1"}, problem);
  if (!context) {
    base::log(base::LogLevel::Error, "tls", uri.to_string() + ": " + problem);
    co_return context.error();
  }
  auto ws = std::make_unique<WebSocketOn<Secure>>(executor, **context);
  co_return co_await connect_on(std::move(ws), std::move(uri), std::move(options), *context);
}

}  // namespace portal::plugins::ws
