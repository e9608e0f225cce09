// SPDX-License-Identifier: Apache-2.0
#include "tcp_transport.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "portal/base/parse.hpp"
#include "portal/plugin/sdk.hpp"
#include "portal/stream/logged.hpp"
#include "portal/transport/tcp_acceptor.hpp"

namespace portal::plugins::tcp {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;
using Clock = std::chrono::steady_clock;

// The socket and its idle watchdog share this state, so the watchdog can outlive the stream.
struct Connection {
  Connection(tcp::socket s, std::chrono::milliseconds idle)
      : socket(std::move(s)), idle_timeout(idle), watchdog(socket.get_executor()) {}
  tcp::socket socket;
  std::chrono::milliseconds idle_timeout;
  asio::steady_timer watchdog;
  Clock::time_point last_activity = Clock::now();
  bool idle_expired = false;
  bool closed = false;

  void touch() { last_activity = Clock::now(); }
  void close() {
    closed = true;
    boost::system::error_code ec;
    socket.close(ec);
    watchdog.cancel();
  }
};

asio::awaitable<void> watch_idle(std::shared_ptr<Connection> c) {
  while (!c->closed) {
    c->watchdog.expires_at(c->last_activity + c->idle_timeout);
    (void)co_await c->watchdog.async_wait(asio::as_tuple(asio::use_awaitable));
    if (c->closed) co_return;
    if (Clock::now() >= c->last_activity + c->idle_timeout) {
      c->idle_expired = true;
      c->close();
      co_return;
    }
  }
}

class TcpStream final : public stream::ByteStream {
 public:
  TcpStream(tcp::socket socket, const Options& options, std::shared_ptr<void> ticket = {})
      : c_(std::make_shared<Connection>(std::move(socket), options.idle_timeout)),
        ticket_(std::move(ticket)) {
    boost::system::error_code ec;
    const auto remote = c_->socket.remote_endpoint(ec);
    if (!ec) peer_.address = remote.address().to_string();
    peer_.connected_at = Clock::now();
    c_->socket.set_option(tcp::no_delay(options.nodelay), ec);
    c_->socket.set_option(asio::socket_base::keep_alive(options.keepalive), ec);
    if (options.idle_timeout.count() > 0) {
      asio::co_spawn(c_->socket.get_executor(), watch_idle(c_),
                     stream::logged("tcp", "idle watchdog"));
    }
  }
  ~TcpStream() override { c_->close(); }

  asio::any_io_executor get_executor() override { return c_->socket.get_executor(); }

  asio::awaitable<base::Result<std::size_t>> async_read_some(base::MutableByteSpan b) override {
    auto c = c_;
    auto [ec, n] = co_await c->socket.async_read_some(asio::buffer(b.data(), b.size()),
                                                      asio::as_tuple(asio::use_awaitable));
    if (c->idle_expired) co_return make_error_code(transport::Errc::IdleTimeout);
    if (ec == asio::error::eof) co_return std::size_t{0};
    if (ec) co_return base::ErrorCode(ec);
    c->touch();
    co_return n;
  }

  asio::awaitable<base::Result<void>> async_write(base::ByteSpan d) override {
    auto c = c_;
    auto [ec, n] = co_await asio::async_write(c->socket, asio::buffer(d.data(), d.size()),
                                              asio::as_tuple(asio::use_awaitable));
    if (c->idle_expired) co_return make_error_code(transport::Errc::IdleTimeout);
    if (ec) co_return base::ErrorCode(ec);
    c->touch();
    co_return base::Result<void>{};
  }

  asio::awaitable<base::Result<void>> async_shutdown_write() override {
    boost::system::error_code ec;
    c_->socket.shutdown(tcp::socket::shutdown_send, ec);
    if (ec) co_return base::ErrorCode(ec);
    co_return base::Result<void>{};
  }

  void close() noexcept override { c_->close(); }
  stream::PeerInfo peer_info() const override { return peer_; }

 private:
  std::shared_ptr<Connection> c_;
  std::shared_ptr<void> ticket_;  // the listener owner's admission, released with the stream
  stream::PeerInfo peer_;
};

class TcpListener final : public transport::Listener {
 public:
  TcpListener(tcp::acceptor acceptor, std::string scheme, Options options)
      : acceptor_(std::move(acceptor)), scheme_(std::move(scheme)), options_(options) {}

  transport::Uri local_uri() const override {
    boost::system::error_code ec;
    const auto ep = acceptor_.local_endpoint(ec);
    return transport::Uri{scheme_, ep.address().to_string(), ep.port(), {}};
  }

  asio::awaitable<base::Result<std::unique_ptr<stream::ByteStream>>> async_accept() override {
    auto accepted = co_await transport::accept_tcp(acceptor_, accept_hooks());
    if (!accepted) co_return accepted.error();
    co_return std::unique_ptr<stream::ByteStream>(std::make_unique<TcpStream>(
        std::move(accepted->socket), options_, std::move(accepted->ticket)));
  }

  void close() noexcept override {
    boost::system::error_code ec;
    acceptor_.close(ec);
  }

  bool applies_accept_hooks() const noexcept override { return true; }

 private:
  tcp::acceptor acceptor_;
  std::string scheme_;
  Options options_;
};

class Factory final : public transport::TransportFactory {
 public:
  base::Result<void> validate(const transport::Settings& settings,
                              std::string& problem) noexcept override {
    return plugin::guard([&]() -> base::Result<void> {
      auto o = parse_settings(settings, problem);
      if (!o) return o.error();
      return {};
    });
  }

  asio::awaitable<base::Result<std::unique_ptr<stream::ByteStream>>> async_connect(
      asio::any_io_executor executor, transport::Uri uri, transport::Settings settings) override {
    std::string problem;
    auto options = parse_settings(settings, problem);
    if (!options) co_return options.error();
    tcp::resolver resolver(executor);
    tcp::socket socket(executor);
    asio::steady_timer deadline(executor, options->connect_timeout);
    // Resolution and connection race one deadline; the loser is cancelled.
    auto attempt = [&]() -> asio::awaitable<boost::system::error_code> {
      auto [rec, endpoints] = co_await resolver.async_resolve(uri.host, std::to_string(uri.port),
                                                              asio::as_tuple(asio::use_awaitable));
      if (rec) co_return rec;
      auto [cec, ep] =
          co_await asio::async_connect(socket, endpoints, asio::as_tuple(asio::use_awaitable));
      co_return cec;
    };
    auto outcome = co_await (attempt() || deadline.async_wait(asio::as_tuple(asio::use_awaitable)));
    if (outcome.index() == 1) co_return make_error_code(transport::Errc::ConnectTimeout);
    if (auto ec = std::get<0>(outcome)) co_return base::ErrorCode(ec);
    co_return std::unique_ptr<stream::ByteStream>(
        std::make_unique<TcpStream>(std::move(socket), *options));
  }

  base::Result<std::unique_ptr<transport::Listener>> listen(
      asio::any_io_executor executor, const transport::Uri& uri,
      const transport::Settings& settings) noexcept override {
    return plugin::guard([&]() -> base::Result<std::unique_ptr<transport::Listener>> {
      std::string problem;
      auto options = parse_settings(settings, problem);
      if (!options) return options.error();
      auto acceptor = transport::bind_tcp_acceptor(executor, uri, options->backlog);
      if (!acceptor) return acceptor.error();
      return std::unique_ptr<transport::Listener>(
          std::make_unique<TcpListener>(std::move(*acceptor), uri.scheme, *options));
    });
  }
};

}  // namespace

base::Result<Options> parse_settings(const transport::Settings& settings, std::string& problem) {
  Options o;
  for (const auto& entry : settings) {
    // Named references, not structured bindings: clang 14 cannot capture bindings in lambdas.
    const std::string& key = entry.first;
    const std::string& value = entry.second;
    std::uint32_t n = 0;
    bool ok = true;
    if (key == "connect_timeout_ms" || key == "idle_timeout_ms") {
      ok = base::parse_unsigned(value, n) && n <= 24u * 3600 * 1000 &&
           (key == "idle_timeout_ms" || n > 0);
      (key == "connect_timeout_ms" ? o.connect_timeout : o.idle_timeout) =
          std::chrono::milliseconds(n);
      if (!ok) problem = key + ": expected milliseconds, got '" + value + "'";
    } else if (key == "keepalive" || key == "nodelay") {
      ok = value == "true" || value == "false";
      (key == "keepalive" ? o.keepalive : o.nodelay) = value == "true";
      if (!ok) problem = key + ": expected true or false, got '" + value + "'";
    } else if (key == "backlog") {
      ok = base::parse_unsigned(value, n) && n > 0 && n <= 65535;
      o.backlog = static_cast<int>(n);
      if (!ok) problem = key + ": expected 1 to 65535, got '" + value + "'";
    } else {
      ok = false;
      problem = key + ": unknown tcp setting";
    }
    if (!ok) return transport::Errc::InvalidSetting;
  }
  return o;
}

transport::TransportFactory& factory() noexcept {
  static Factory instance;
  return instance;
}

}  // namespace portal::plugins::tcp
