// SPDX-License-Identifier: Apache-2.0
#include "tcp_transport.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "portal/base/log.hpp"
#include "portal/base/parse.hpp"
#include "portal/plugin/sdk.hpp"
#include "portal/plugin/settings.hpp"
#include "portal/stream/logged.hpp"
#include "portal/transport/accept_queue.hpp"
#include "portal/transport/tcp_acceptor.hpp"

namespace portal::plugins::tcp {
namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;
using Clock = std::chrono::steady_clock;

using TlsSocket = ssl::stream<tcp::socket>;

// Whether a read or write error is the end of a TLS stream (a peer that closed without
// close_notify, as a half-closed mux transport does) rather than a failure.
bool truncated(const boost::system::error_code& ec) {
  return ec == ssl::error::stream_truncated || ec == asio::error::eof;
}

// The socket and its idle watchdog share this state, so the watchdog can outlive the stream.
template <class Socket>
struct Connection {
  Connection(Socket s, std::chrono::milliseconds idle)
      : socket(std::move(s)), idle_timeout(idle), watchdog(socket.get_executor()) {}
  Socket socket;
  std::chrono::milliseconds idle_timeout;
  asio::steady_timer watchdog;
  Clock::time_point last_activity = Clock::now();
  bool idle_expired = false;
  bool closed = false;

  void touch() { last_activity = Clock::now(); }
  void close() {
    closed = true;
    boost::system::error_code ec;
    socket.lowest_layer().close(ec);
    watchdog.cancel();
  }
};

template <class Socket>
asio::awaitable<void> watch_idle(std::shared_ptr<Connection<Socket>> c) {
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

// The TLS handshake of one stream: run by the first read or write of a server stream (so that
// a slow handshake never holds up the accept loop), which others wait for.
struct Handshake {
  explicit Handshake(asio::any_io_executor ex) : done(std::move(ex), Clock::time_point::max()) {}
  enum class State { Pending, Running, Done, Failed } state = State::Pending;
  asio::steady_timer done;  // cancelled when the handshake ends
  base::ErrorCode error;
};

template <class Socket>
class Stream final : public stream::ByteStream {
 public:
  static constexpr bool kTls = std::is_same_v<Socket, TlsSocket>;

  // `peer`: as the listener admitted it (a client behind a PROXY header), or empty to take the
  // socket's remote address.
  Stream(Socket socket, const Options& options, std::shared_ptr<void> ticket = {},
         std::shared_ptr<ssl::context> context = {}, stream::PeerInfo peer = {})
      : c_(std::make_shared<Connection<Socket>>(std::move(socket), options.idle_timeout)),
        ticket_(std::move(ticket)),
        context_(std::move(context)),
        handshake_timeout_(options.tls.handshake_timeout),
        peer_(std::move(peer)) {
    auto& lowest = c_->socket.lowest_layer();
    boost::system::error_code ec;
    if (peer_.address.empty()) {
      const auto remote = lowest.remote_endpoint(ec);
      if (!ec) peer_.address = remote.address().to_string();
      peer_.connected_at = Clock::now();
    }
    lowest.set_option(tcp::no_delay(options.nodelay), ec);
    lowest.set_option(asio::socket_base::keep_alive(options.keepalive), ec);
    if (options.idle_timeout.count() > 0) {
      asio::co_spawn(c_->socket.get_executor(), watch_idle(c_),
                     stream::logged("tcp", "idle watchdog"));
    }
    if constexpr (kTls) handshake_ = std::make_unique<Handshake>(c_->socket.get_executor());
  }
  ~Stream() override { c_->close(); }

  asio::any_io_executor get_executor() override { return c_->socket.get_executor(); }

  asio::awaitable<base::Result<std::size_t>> async_read_some(base::MutableByteSpan b) override {
    auto c = c_;
    if constexpr (kTls) {
      if (auto h = co_await server_handshake(); !h) co_return h.error();
    }
    auto [ec, n] = co_await c->socket.async_read_some(asio::buffer(b.data(), b.size()),
                                                      asio::as_tuple(asio::use_awaitable));
    if (c->idle_expired) co_return make_error_code(transport::Errc::IdleTimeout);
    if (ec == asio::error::eof || (kTls && truncated(ec))) co_return std::size_t{0};
    if (ec) co_return base::ErrorCode(ec);
    c->touch();
    co_return n;
  }

  asio::awaitable<base::Result<void>> async_write(base::ByteSpan d) override {
    auto c = c_;
    if constexpr (kTls) {
      if (auto h = co_await server_handshake(); !h) co_return h.error();
    }
    auto [ec, n] = co_await asio::async_write(c->socket, asio::buffer(d.data(), d.size()),
                                              asio::as_tuple(asio::use_awaitable));
    if (c->idle_expired) co_return make_error_code(transport::Errc::IdleTimeout);
    if (ec) co_return base::ErrorCode(ec);
    c->touch();
    co_return base::Result<void>{};
  }

  // A TCP half-close, also under TLS: no close_notify (which would ask the peer for one back);
  // the peer reads the truncation as the end of the stream, and the mux above has its own FIN.
  asio::awaitable<base::Result<void>> async_shutdown_write() override {
    boost::system::error_code ec;
    c_->socket.lowest_layer().shutdown(tcp::socket::shutdown_send, ec);
    if (ec) co_return base::ErrorCode(ec);
    co_return base::Result<void>{};
  }

  void close() noexcept override { c_->close(); }
  stream::PeerInfo peer_info() const override { return peer_; }

  // The client's handshake, run by connect before the stream is handed out (its errors are the
  // connect's). Logs the reason of a failure in one line.
  asio::awaitable<base::Result<void>> client_handshake(const tls::Settings& settings,
                                                       const transport::Uri& uri) {
    static_assert(kTls);
    tls::Diagnosis diagnosis;
    if (!tls::prepare_client(c_->socket.native_handle(), settings, uri.host, &diagnosis)) {
      co_return transport::Errc::InvalidSetting;
    }
    const auto ec = co_await run_handshake(ssl::stream_base::client);
    if (auto e = tls::client_outcome(c_->socket.native_handle(), settings, uri.to_string(), ec,
                                     diagnosis)) {
      co_return e;
    }
    handshake_->state = Handshake::State::Done;
    co_return base::Result<void>{};
  }

 private:
  // The handshake against its timeout: the timer closes the socket, which ends it.
  asio::awaitable<boost::system::error_code> run_handshake(ssl::stream_base::handshake_type role) {
    auto c = c_;
    auto outcome = co_await (c->socket.async_handshake(role, asio::as_tuple(asio::use_awaitable)) ||
                             asio::steady_timer(c->socket.get_executor(), handshake_timeout_)
                                 .async_wait(asio::as_tuple(asio::use_awaitable)));
    if (outcome.index() == 1) co_return make_error_code(asio::error::timed_out);
    co_return std::get<0>(std::get<0>(outcome));
  }

  asio::awaitable<base::Result<void>> server_handshake() {
    auto& h = *handshake_;
    if (h.state == Handshake::State::Done) co_return base::Result<void>{};
    if (h.state == Handshake::State::Pending) {
      h.state = Handshake::State::Running;
      auto ec = co_await run_handshake(ssl::stream_base::server);
      if (ec) {
        tls::log_server_failure(peer_.address, ec);
        h.error = transport::make_error_code(transport::Errc::TlsFailed);
        h.state = Handshake::State::Failed;
        c_->close();
      } else {
        h.state = Handshake::State::Done;
      }
      h.done.cancel();
    }
    while (h.state == Handshake::State::Running) {
      (void)co_await h.done.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    if (h.state == Handshake::State::Failed) co_return h.error;
    co_return base::Result<void>{};
  }

  std::shared_ptr<Connection<Socket>> c_;
  std::shared_ptr<void> ticket_;  // the listener owner's admission, released with the stream
  std::shared_ptr<ssl::context> context_;  // kept for as long as the stream uses it
  std::chrono::milliseconds handshake_timeout_;
  std::unique_ptr<Handshake> handshake_;
  stream::PeerInfo peer_;
};

using TcpStream = Stream<tcp::socket>;
using TlsStream = Stream<TlsSocket>;

// The listener's state, shared with its accept loop and with the connections still reading a
// PROXY header (both may outlive the listener by a moment).
struct ListenerState {
  ListenerState(tcp::acceptor a, std::string sch, Options o,
                std::shared_ptr<tls::ServerCredentials> t)
      : acceptor(std::move(a)),
        scheme(std::move(sch)),
        options(std::move(o)),
        tls(std::move(t)),
        ready(acceptor.get_executor(), static_cast<std::size_t>(options.backlog)) {}
  tcp::acceptor acceptor;
  std::string scheme;
  Options options;
  std::shared_ptr<tls::ServerCredentials> tls;          // tls:// listeners
  transport::AcceptQueue ready;                         // at most options.backlog
  std::shared_ptr<const transport::AcceptHooks> hooks;  // the listener's
  std::size_t reading_headers = 0;  // trusted proxies' connections before their PROXY header
};

std::unique_ptr<stream::ByteStream> make_stream(ListenerState& s, transport::AcceptedTcp accepted) {
  if (s.tls) {                        // the handshake runs with the stream's first read or write
    auto context = s.tls->current();  // kept by the stream: a reload does not touch it
    return std::make_unique<TlsStream>(TlsSocket(std::move(accepted.socket), *context), s.options,
                                       std::move(accepted.ticket), context, accepted.peer);
  }
  return std::make_unique<TcpStream>(std::move(accepted.socket), s.options,
                                     std::move(accepted.ticket), nullptr, accepted.peer);
}

void drop(transport::AcceptedTcp& accepted) {
  boost::system::error_code ignored;
  accepted.socket.close(ignored);
}

// A trusted proxy's connection (proxy_protocol): its PROXY header names the client, who is then
// admitted (and counted) in its place. The proxy's own connection is never admitted.
asio::awaitable<void> proxied(std::shared_ptr<ListenerState> s, transport::AcceptedTcp accepted) {
  struct Reading {
    ListenerState& s;
    explicit Reading(ListenerState& state) : s(state) { ++s.reading_headers; }
    ~Reading() { --s.reading_headers; }
    Reading(const Reading&) = delete;
    Reading& operator=(const Reading&) = delete;
  };
  auto verdict = transport::ProxyVerdict::Refused;
  {
    Reading reading(*s);
    verdict = co_await transport::take_proxy_header(
        accepted, accepted.peer.connected_at + s->options.proxy_header_timeout, s->scheme);
  }
  // A header that names no client leaves the proxy's own connection, admitted as the proxy.
  if (verdict == transport::ProxyVerdict::Refused || s->ready.closed()) {
    drop(accepted);
    co_return;
  }
  if (s->hooks && s->hooks->admit) {
    accepted.ticket = s->hooks->admit(accepted.peer);
    if (!accepted.ticket) {  // the client's own limit
      drop(accepted);
      co_return;
    }
  }
  s->ready.push(make_stream(*s, std::move(accepted)));
}

asio::awaitable<void> accept_loop(std::shared_ptr<ListenerState> s) {
  const transport::AcceptQueue::CloseOnExit close_queue(s->ready);
  while (!s->ready.closed()) {
    // Errors (too many open files) pause inside accept_tcp. With proxy_protocol, trusted
    // proxies are let in unadmitted: their header names whom to admit.
    auto accepted =
        co_await transport::accept_tcp(s->acceptor, s->hooks, s->options.proxy_protocol);
    if (!accepted) break;
    if (!accepted->via_proxy) {
      s->ready.push(make_stream(*s, std::move(*accepted)));
      continue;
    }
    // Unadmitted connections are bounded in time (the header timeout) and in number.
    if (s->reading_headers >= static_cast<std::size_t>(s->options.backlog)) {
      transport::log_proxy_problem(s->scheme + " connection from the proxy " +
                                   accepted->peer.address +
                                   " closed: " + std::to_string(s->reading_headers) +
                                   " connections already wait for their PROXY header (backlog)");
      drop(*accepted);
      continue;
    }
    asio::co_spawn(s->acceptor.get_executor(), proxied(s, std::move(*accepted)),
                   stream::logged("tcp", "PROXY header"));
  }
}

class TcpListener final : public transport::Listener, public transport::ReloadableListener {
 public:
  explicit TcpListener(std::shared_ptr<ListenerState> s) : s_(std::move(s)) {
    s_->hooks = accept_hooks();
  }
  ~TcpListener() override { close(); }

  base::Result<bool> reload(bool if_changed, std::string& problem) override {
    if (!s_->tls) return false;  // tcp://: nothing on disk
    return s_->tls->reload(if_changed, problem);
  }

  transport::Uri local_uri() const override {
    boost::system::error_code ec;
    const auto ep = s_->acceptor.local_endpoint(ec);
    return transport::Uri{s_->scheme, ep.address().to_string(), ep.port(), {}};
  }

  asio::awaitable<base::Result<std::unique_ptr<stream::ByteStream>>> async_accept() override {
    auto s = s_;  // alive until the accept returns
    co_return co_await s->ready.next();
  }

  void close() noexcept override {
    boost::system::error_code ec;
    s_->acceptor.close(ec);
    s_->ready.close();
  }

  bool applies_accept_hooks() const noexcept override { return true; }

 private:
  std::shared_ptr<ListenerState> s_;
};

base::Result<void> check_scheme(const transport::Uri& uri, const Options& o) {
  return tls::check_scheme(uri.to_string(), uri.scheme, "tls", o.has_tls_keys, "tcp");
}

class Factory final : public transport::TransportFactory {
 public:
  base::Result<void> validate(const transport::Settings& settings,
                              std::string& problem) noexcept override {
    return plugin::guard([&]() -> base::Result<void> {
      auto o = parse_settings(settings, problem);
      if (!o) return o.error();
      return tls::validate(o->tls, {}, problem);
    });
  }

  asio::awaitable<base::Result<std::unique_ptr<stream::ByteStream>>> async_connect(
      asio::any_io_executor executor, transport::Uri uri, transport::Settings settings) override {
    std::string problem;
    auto options = parse_settings(settings, problem);
    if (!options) co_return options.error();
    if (auto ok = check_scheme(uri, *options); !ok) co_return ok.error();
    if (uri.host.empty()) co_return transport::Errc::InvalidUri;  // host-less: not TCP
    std::shared_ptr<ssl::context> tls_context;
    if (uri.scheme == "tls") {
      auto c = tls::client_context(options->tls, {}, problem);
      if (!c) {
        base::log(base::LogLevel::Error, "tls", uri.to_string() + ": " + problem);
        co_return c.error();
      }
      tls_context = std::move(*c);
    }
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
    if (tls_context) {
      auto s = std::make_unique<TlsStream>(TlsSocket(std::move(socket), *tls_context), *options,
                                           nullptr, tls_context);
      if (auto h = co_await s->client_handshake(options->tls, uri); !h) co_return h.error();
      co_return std::unique_ptr<stream::ByteStream>(std::move(s));
    }
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
      if (auto ok = check_scheme(uri, *options); !ok) return ok.error();
      if (uri.host.empty()) return transport::Errc::InvalidUri;  // host-less: not TCP
      std::shared_ptr<tls::ServerCredentials> tls_context;
      if (uri.scheme == "tls") {
        tls_context =
            std::make_shared<tls::ServerCredentials>(options->tls, std::vector<std::string>{});
        if (auto c = tls_context->load(problem); !c) {
          base::log(base::LogLevel::Error, "tls", uri.to_string() + ": " + problem);
          return c.error();
        }
      }
      auto acceptor = transport::bind_tcp_acceptor(executor, uri, options->backlog);
      if (!acceptor) return acceptor.error();
      auto state = std::make_shared<ListenerState>(std::move(*acceptor), uri.scheme, *options,
                                                   std::move(tls_context));
      auto listener = std::make_unique<TcpListener>(state);
      asio::co_spawn(executor, accept_loop(std::move(state)), stream::logged("tcp", "accept loop"));
      return std::unique_ptr<transport::Listener>(std::move(listener));
    });
  }
};

}  // namespace

base::Result<Options> parse_settings(const transport::Settings& settings, std::string& problem) {
  Options o;
  plugin::SettingsReader r(settings, "tcp");
  r.millis("connect_timeout_ms", o.connect_timeout)
      .millis("idle_timeout_ms", o.idle_timeout, 0)
      .flag("keepalive", o.keepalive)
      .flag("nodelay", o.nodelay)
      .number("backlog", o.backlog, 1, 65535)
      .flag("proxy_protocol", o.proxy_protocol)
      .millis("proxy_header_timeout_ms", o.proxy_header_timeout, 1)
      .keys([](std::string_view key) { return tls::is_tls_key(std::string(key)); },
            [&o](const std::string& key, const std::string& value, std::string& why) {
              o.has_tls_keys = true;
              return tls::apply(key, value, o.tls, why).has_value();
            });
  if (!r.done(problem)) return transport::Errc::InvalidSetting;
  return o;
}

transport::TransportFactory& factory() noexcept {
  static Factory instance;
  return instance;
}

}  // namespace portal::plugins::tcp
