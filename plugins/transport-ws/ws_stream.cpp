// SPDX-License-Identifier: Apache-2.0
#include "ws_stream.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

namespace portal::plugins::ws {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;

template <class Next>
class WsStream final : public stream::ByteStream {
 public:
  WsStream(std::unique_ptr<WebSocketOn<Next>> ws, const Options& options, stream::PeerInfo peer,
           std::shared_ptr<void> ticket, std::shared_ptr<void> keep)
      : ws_(std::move(ws)),
        max_write_(options.max_write_message),
        ticket_(std::move(ticket)),
        keep_(std::move(keep)) {
    peer_ = std::move(peer);
    if (peer_.address.empty()) {
      beast::error_code ec;
      const auto remote = beast::get_lowest_layer(*ws_).socket().remote_endpoint(ec);
      if (!ec) peer_.address = remote.address().to_string();
    }
  }

  stream::PeerInfo peer_info() const override { return peer_; }

  asio::any_io_executor get_executor() override { return ws_->get_executor(); }

  // portal-v1 §2.2: message boundaries carry no meaning; read part by part, so memory is bounded
  // by the caller's buffer, not by the message size. Text messages are read the same way.
  asio::awaitable<base::Result<std::size_t>> async_read_some(base::MutableByteSpan b) override {
    for (;;) {
      auto [ec, n] = co_await ws_->async_read_some(asio::buffer(b.data(), b.size()),
                                                   asio::as_tuple(asio::use_awaitable));
      // A TLS peer that closes without close_notify ends the stream the same way.
      if (ec == websocket::error::closed || ec == asio::error::eof ||
          ec == asio::ssl::error::stream_truncated) {
        co_return std::size_t{0};
      }
      if (ec) co_return error(ec);
      if (n > 0) co_return n;
      // An empty message (or the end of one) gave no bytes: keep reading.
    }
  }

  asio::awaitable<base::Result<void>> async_write(base::ByteSpan d) override {
    // Large writes are cut into several messages: a peer with a message limit still reads them.
    do {
      const std::size_t n = std::min(d.size(), max_write_);
      auto [ec, written] =
          co_await ws_->async_write(asio::buffer(d.data(), n), asio::as_tuple(asio::use_awaitable));
      if (ec) co_return error(ec);
      d = d.subspan(n);
    } while (!d.empty());
    co_return base::Result<void>{};
  }

  // WebSocket has no half-close: this is the closing handshake (code 1000). The peer reads the
  // end of the stream; anything it still sends is discarded while the close completes.
  asio::awaitable<base::Result<void>> async_shutdown_write() override {
    auto [ec] = co_await ws_->async_close(websocket::close_code::normal,
                                          asio::as_tuple(asio::use_awaitable));
    if (ec && ec != websocket::error::closed && ec != asio::error::eof &&
        ec != asio::ssl::error::stream_truncated) {
      co_return error(ec);
    }
    co_return base::Result<void>{};
  }

  void close() noexcept override {
    beast::error_code ec;
    beast::get_lowest_layer(*ws_).socket().close(ec);
  }

 private:
  // Beast's idle timer (idle_timeout_ms) ends the stream with beast::error::timeout: report it
  // as the interface says, transport::Errc::IdleTimeout.
  static base::ErrorCode error(const beast::error_code& ec) {
    if (ec == beast::error::timeout) return transport::Errc::IdleTimeout;
    return ec;
  }

  std::unique_ptr<WebSocketOn<Next>> ws_;
  std::size_t max_write_;
  std::shared_ptr<void> ticket_;
  std::shared_ptr<void> keep_;  // the TLS context, for as long as the stream uses it
  stream::PeerInfo peer_;
};

}  // namespace

constexpr std::size_t kClientWriteBuffer = 64 * 1024;

template <class Next>
void configure(WebSocketOn<Next>& ws, const Options& options, bool server) {
  ws.binary(true);
  ws.auto_fragment(false);
  ws.read_message_max(options.max_message_size);
  // A client masks what it sends through this buffer, one write call per buffer: Beast's 4 KiB
  // default cut bulk writes into 4 KiB syscalls. Servers send unmasked and never use it.
  if (!server) ws.write_buffer_bytes(kClientWriteBuffer);
  // The tcp_stream's own timer is replaced by the websocket's.
  beast::get_lowest_layer(ws).expires_never();
  websocket::stream_base::timeout t{};
  t.handshake_timeout = options.handshake_timeout;
  t.idle_timeout =
      options.idle_timeout.count() > 0
          ? std::chrono::duration_cast<std::chrono::steady_clock::duration>(options.idle_timeout)
          : websocket::stream_base::none();
  t.keep_alive_pings = options.idle_timeout.count() > 0;
  ws.set_option(t);
  if (server) {
    // portal-v1 §2.1: any Origin, no subprotocol, no permessage-deflate.
    ws.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(beast::http::field::server, "portal"); }));
  }
}

template <class Next>
std::unique_ptr<stream::ByteStream> make_ws_stream(std::unique_ptr<WebSocketOn<Next>> ws,
                                                   const Options& options, stream::PeerInfo peer,
                                                   std::shared_ptr<void> ticket,
                                                   std::shared_ptr<void> keep) {
  return std::make_unique<WsStream<Next>>(std::move(ws), options, std::move(peer),
                                          std::move(ticket), std::move(keep));
}

template void configure<Plain>(WebSocketOn<Plain>&, const Options&, bool);
template void configure<Secure>(WebSocketOn<Secure>&, const Options&, bool);
template std::unique_ptr<stream::ByteStream> make_ws_stream<Plain>(
    std::unique_ptr<WebSocketOn<Plain>>, const Options&, stream::PeerInfo, std::shared_ptr<void>,
    std::shared_ptr<void>);
template std::unique_ptr<stream::ByteStream> make_ws_stream<Secure>(
    std::unique_ptr<WebSocketOn<Secure>>, const Options&, stream::PeerInfo, std::shared_ptr<void>,
    std::shared_ptr<void>);

}  // namespace portal::plugins::ws
