// SPDX-License-Identifier: Apache-2.0
// Test-only (see ws_testing.hpp): the listener's translation units are compiled here once more,
// so that its private connection code (serve_http, the upgrade, WsStream) runs unchanged on an
// in-memory stream. This file is built into a test library only (tests/fuzz/CMakeLists.txt),
// never into the plugin, which keeps ws_server.cpp and ws_stream.cpp as they are.
#include "ws_testing.hpp"

#include <array>
#include <exception>

#include "ws_server.cpp"  // NOLINT(bugprone-suspicious-include): the listener's internals
#include "ws_stream.cpp"  // NOLINT(bugprone-suspicious-include): WsStream, configure()

namespace portal::plugins::ws::testing {
namespace {

constexpr std::size_t kMaxWritten = 8u << 20;

// An in-memory connection: reads hand out `input` (at most `chunk` bytes at a time), then the
// end of the stream; writes append to `*out`. It has what the listener asks of its lowest layer
// (timers, which do nothing here, and a socket to shut down and close). Every operation
// completes through the executor, as a socket's would.
class MemoryStream {
 public:
  using executor_type = asio::any_io_executor;

  struct Socket {
    tcp::endpoint remote_endpoint(beast::error_code& ec) const {
      ec = asio::error::not_connected;
      return {};
    }
    void shutdown(tcp::socket::shutdown_type, beast::error_code& ec) { ec = {}; }
    void close(beast::error_code& ec) { ec = {}; }
  };

  MemoryStream(executor_type ex, std::string_view input, std::size_t chunk,
               const std::vector<std::size_t>* stops, std::string* out)
      : ex_(std::move(ex)), input_(input), chunk_(chunk), stops_(stops), out_(out) {}

  executor_type get_executor() const noexcept { return ex_; }
  Socket& socket() noexcept { return socket_; }
  void expires_at(std::chrono::steady_clock::time_point) noexcept {}
  void expires_after(std::chrono::steady_clock::duration) noexcept {}
  void expires_never() noexcept {}
  void close() noexcept { closed_ = true; }

  template <class Buffers, class Token>
  auto async_read_some(const Buffers& buffers, Token&& token) {
    return complete(buffers, std::forward<Token>(token),
                    [this](const Buffers& b, beast::error_code& ec) -> std::size_t {
                      if (input_.empty()) {
                        ec = asio::error::eof;
                        return 0;
                      }
                      std::size_t most =
                          chunk_ == 0 ? input_.size() : std::min(chunk_, input_.size());
                      for (const std::size_t stop : *stops_) {
                        if (stop > offset_ && stop - offset_ < most) most = stop - offset_;
                      }
                      const std::size_t n = asio::buffer_copy(b, asio::buffer(input_.data(), most));
                      input_.remove_prefix(n);
                      offset_ += n;
                      return n;
                    });
  }

  template <class Buffers, class Token>
  auto async_write_some(const Buffers& buffers, Token&& token) {
    return complete(buffers, std::forward<Token>(token),
                    [this](const Buffers& b, beast::error_code& ec) -> std::size_t {
                      if (out_->size() + asio::buffer_size(b) > kMaxWritten) {
                        ec = asio::error::broken_pipe;
                        return 0;
                      }
                      for (auto it = asio::buffer_sequence_begin(b);
                           it != asio::buffer_sequence_end(b); ++it) {
                        const asio::const_buffer piece(*it);
                        out_->append(static_cast<const char*>(piece.data()), piece.size());
                      }
                      return asio::buffer_size(b);
                    });
  }

 private:
  // An operation done at once by `op(buffers, ec)` (bytes moved), unless the stream is closed;
  // it completes through the executor, as a socket's would.
  template <class Buffers, class Token, class Op>
  auto complete(const Buffers& buffers, Token&& token, Op op) {
    return asio::async_initiate<Token, void(beast::error_code, std::size_t)>(
        [this, op](auto handler, const Buffers& b) {
          beast::error_code ec;
          std::size_t n = 0;
          if (closed_) {
            ec = asio::error::bad_descriptor;
          } else {
            n = op(b, ec);
          }
          asio::post(ex_, beast::bind_front_handler(std::move(handler), ec, n));
        },
        token, buffers);
  }

  executor_type ex_;
  std::string_view input_;
  std::size_t chunk_;
  const std::vector<std::size_t>* stops_;
  std::size_t offset_ = 0;  // of input_ in the whole input
  std::string* out_;
  Socket socket_;
  bool closed_ = false;
};

// What Beast calls to close the connection on a timeout or a failed handshake.
[[maybe_unused]] void beast_close_socket(MemoryStream& s) { s.close(); }

// The WebSocket closing handshake's end of the TCP connection (Beast's teardown point).
[[maybe_unused]] void teardown(beast::role_type, MemoryStream& s, beast::error_code& ec) {
  s.close();
  ec = {};
}

template <class Handler>
void async_teardown(beast::role_type, MemoryStream& s, Handler&& handler) {
  s.close();
  asio::post(s.get_executor(),
             beast::bind_front_handler(std::forward<Handler>(handler), beast::error_code{}));
}

asio::awaitable<void> run(std::shared_ptr<ListenerState> s, MemoryStream stream,
                          stream::PeerInfo peer, bool via_proxy, Outcome* out) {
  co_await serve_http(s, std::move(stream), peer, via_proxy, nullptr, nullptr);
  // An upgrade has pushed its stream by now: next() takes it at once. Otherwise the close,
  // which runs once next() waits, ends it.
  asio::post(s->acceptor.get_executor(), [s] { s->ready.close(); });
  auto next = co_await s->ready.next();
  if (!next) co_return;
  auto ws = std::move(*next);
  out->upgraded = true;
  out->peer = ws->peer_info().address;
  std::array<std::uint8_t, 4096> buffer{};
  for (;;) {
    auto n = co_await ws->async_read_some(base::MutableByteSpan(buffer));
    if (!n) {
      out->read_failed = true;
      break;
    }
    if (*n == 0) break;
    out->received.append(reinterpret_cast<const char*>(buffer.data()), *n);
    auto w = co_await ws->async_write(base::ByteSpan(buffer.data(), *n));
    if (!w) break;
  }
  (void)co_await ws->async_shutdown_write();
  ws->close();
}

}  // namespace

Outcome serve_connection(const Connection& c, std::string_view input) {
  asio::io_context io;
  Outcome out;
  auto s = std::make_shared<ListenerState>(tcp::acceptor(io), c.ws_path, c.options);
  s->http_only = c.http_only;
  s->hooks = std::make_shared<const transport::AcceptHooks>(c.hooks);
  for (const auto& [path, handler] : c.routes) s->routes[path] = handler;
  MemoryStream stream(io.get_executor(), input, c.read_chunk, &c.stops, &out.written);
  stream::PeerInfo peer{c.peer_address, std::chrono::steady_clock::now()};
  // An exception that escapes the connection is a finding: it is rethrown from run().
  asio::co_spawn(io, run(s, std::move(stream), std::move(peer), c.via_proxy, &out),
                 [](const std::exception_ptr& e) {
                   if (e) std::rethrow_exception(e);
                 });
  io.run();
  return out;
}

}  // namespace portal::plugins::ws::testing
