// SPDX-License-Identifier: Apache-2.0
#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <map>
#include <optional>
#include <sstream>
#include <tuple>

#include "portal/base/log.hpp"
#include "portal/stream/logged.hpp"
#include "portal/transport/accept_queue.hpp"
#include "portal/transport/forwarded.hpp"
#include "portal/transport/tcp_acceptor.hpp"
#include "ws_internal.hpp"
#include "ws_stream.hpp"

namespace portal::plugins::ws {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace ssl = asio::ssl;
using asio::ip::tcp;

struct ListenerState {
  ListenerState(tcp::acceptor a, std::string path, Options o)
      : acceptor(std::move(a)),
        ws_path(std::move(path)),
        options(o),
        ready(acceptor.get_executor(), o.max_pending) {}
  tcp::acceptor acceptor;
  std::string ws_path;
  Options options;
  std::map<std::string, transport::HttpHandler, std::less<>> routes;
  transport::AcceptQueue ready;                         // upgraded, at most options.max_pending
  std::shared_ptr<const transport::AcceptHooks> hooks;  // the listener's
  std::shared_ptr<tls::ServerCredentials> tls;          // wss:// and https:// listeners
  bool http_only = false;  // http:// and https://: routes only, no WebSocket upgrade
};

using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

Response make_response(const Request& req, http::status status, std::string body,
                       std::string content_type = "text/plain; charset=utf-8") {
  Response res{status, req.version()};
  res.set(http::field::server, "portal");
  res.set(http::field::content_type, content_type);
  res.keep_alive(req.keep_alive());
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

const transport::HttpHandler* find_route(const ListenerState& s, std::string_view path) {
  if (path == "*") return nullptr;  // the gate (OPTIONS * included) is not a path route
  if (auto it = s.routes.find(path); it != s.routes.end()) return &it->second;
  // Prefix routes end with '/': the longest one that matches wins.
  const transport::HttpHandler* best = nullptr;
  std::size_t best_len = 0;
  for (const auto& [prefix, handler] : s.routes) {
    if (!prefix.empty() && prefix.back() == '/' && path.substr(0, prefix.size()) == prefix &&
        prefix.size() > best_len) {
      best = &handler;
      best_len = prefix.size();
    }
  }
  return best;
}

// Runs one route handler; a handler that throws answers 500 (and is logged).
transport::HttpResponse call_handler(const transport::HttpHandler& handler, const Request& req) {
  transport::HttpRequest in{std::string(req.method_string()), std::string(req.target()), {}};
  for (const auto& field : req) {
    in.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  try {
    return handler(in);
  } catch (const std::exception& e) {
    base::log(base::LogLevel::Error, "http", std::string("route handler failed: ") + e.what());
    return transport::HttpResponse{500, "text/plain; charset=utf-8", "internal error\n", {}};
  }
}

Response to_response(const Request& req, transport::HttpResponse out) {
  auto res = make_response(req, static_cast<http::status>(out.status), std::move(out.body),
                           out.content_type);
  for (const auto& [name, value] : out.headers) res.set(name, value);
  return res;
}

// The "*" route's answer, when it claims the request (see Listener::add_http_route).
std::optional<Response> gate(ListenerState& s, const Request& req) {
  auto it = s.routes.find(std::string_view("*"));
  if (it == s.routes.end()) return std::nullopt;
  auto out = call_handler(it->second, req);
  if (out.status == 0) return std::nullopt;
  return to_response(req, std::move(out));
}

// Answers a request that is not an upgrade.
Response route(ListenerState& s, const Request& req, std::string_view path) {
  if (!s.http_only && path == s.ws_path) {
    if (req.method() != http::verb::get) {
      auto res = make_response(req, http::status::method_not_allowed, "method not allowed\n");
      res.set(http::field::allow, "GET");
      return res;
    }
    auto res =
        make_response(req, http::status::upgrade_required, "this endpoint speaks WebSocket only\n");
    res.set(http::field::upgrade, "websocket");
    res.set(http::field::connection, "Upgrade");
    return res;
  }
  if (const auto* handler = find_route(s, path))
    return to_response(req, call_handler(*handler, req));
  return make_response(req, http::status::not_found, "not found\n");
}

// What Beast's WebSocket stream can take at once as already-read bytes (its read buffer,
// websocket::stream::tcp_frame_size in Boost 1.81): an upgrade request and the frames a client
// sent right behind it.
constexpr std::size_t kUpgradeWithFrames = 1536;

// HTTP on one connection (TCP, or TLS after its handshake) until it upgrades or ends.
// A connection from a trusted proxy (`via_proxy`) holds no ticket until its upgrade names the
// client (X-Forwarded-For), which is then admitted in its place.
template <class Next>
asio::awaitable<void> serve_http(std::shared_ptr<ListenerState> s, Next stream,
                                 stream::PeerInfo peer, bool via_proxy,
                                 std::shared_ptr<void> ticket, std::shared_ptr<void> context) {
  const auto connected_at = peer.connected_at;
  auto& lowest = beast::get_lowest_layer(stream);
  beast::flat_buffer buffer(s->options.max_request_bytes);
  // A connection that never upgrades gets the header timeout in all (the TLS handshake
  // included), however many keep-alive requests it sends: plain HTTP is for pages and metrics,
  // not for holding a slot.
  const auto deadline = connected_at + s->options.header_timeout;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(s->options.max_request_bytes));
    parser.body_limit(s->options.max_request_bytes);
    // The whole request must arrive in time: a slow sender (slowloris) is cut off.
    if (std::chrono::steady_clock::now() >= deadline) break;
    lowest.expires_at(deadline);
    auto [ec, n] =
        co_await http::async_read(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == asio::error::connection_reset || ec == asio::error::operation_aborted ||
        ec == ssl::error::stream_truncated) {
      break;
    }
    if (ec) {
      // Malformed or oversized: 400 (431 for headers over the limit), then close.
      Request bad{};
      bad.version(11);
      auto res = make_response(bad,
                               ec == http::error::header_limit
                                   ? http::status::request_header_fields_too_large
                                   : http::status::bad_request,
                               "bad request\n");
      res.keep_alive(false);
      lowest.expires_after(s->options.header_timeout);
      (void)co_await http::async_write(stream, res, asio::as_tuple(asio::use_awaitable));
      break;
    }
    Request req = parser.release();
    const std::string_view target = req.target();
    const std::string_view path = target.substr(0, target.find('?'));
    // The gate sees every request first; one it claims (an app host's, whatever its path, an
    // upgrade included) is answered as HTTP.
    auto claimed = gate(*s, req);
    if (!claimed && !s->http_only && path == s->ws_path && req.method() == http::verb::get &&
        websocket::is_upgrade(req)) {
      if (via_proxy) {
        const auto trusted = [hooks = s->hooks](std::string_view a) {
          return hooks && hooks->trusted_proxy && hooks->trusted_proxy(std::string(a));
        };
        peer.address = transport::forwarded_client(peer.address, req["X-Forwarded-For"], trusted);
        if (s->hooks && s->hooks->admit) {
          ticket = s->hooks->admit(peer);
          if (!ticket) break;  // the client's own limit: closed
        }
      }
      auto ws = std::make_unique<WebSocketOn<Next>>(std::move(stream));
      configure(*ws, s->options, true);
      boost::system::error_code aec;
      if (buffer.size() == 0) {
        std::tie(aec) = co_await ws->async_accept(req, asio::as_tuple(asio::use_awaitable));
      } else {
        // Bytes after the upgrade request: a client that sent frames before our answer (RFC
        // 6455 §4.1 says it must wait, some do not). They are the stream's first bytes, not to
        // be dropped: Beast takes them with the request, which is written out again for it.
        // Its read buffer (kUpgradeWithFrames) bounds the two; past that, a 400 says why.
        std::ostringstream head;
        head << req;
        const std::string raw = head.str();
        if (raw.size() + buffer.size() > kUpgradeWithFrames) {
          auto res = make_response(req, http::status::bad_request,
                                   "WebSocket frames sent before the upgrade's answer: wait for "
                                   "101 Switching Protocols (RFC 6455 section 4.1)\n");
          res.keep_alive(false);
          auto& low = beast::get_lowest_layer(ws->next_layer());
          low.expires_after(s->options.header_timeout);
          (void)co_await http::async_write(ws->next_layer(), res,
                                           asio::as_tuple(asio::use_awaitable));
          beast::error_code ignored;
          low.socket().shutdown(tcp::socket::shutdown_send, ignored);
          low.close();
          co_return;
        }
        const std::array<asio::const_buffer, 2> early{asio::buffer(raw), buffer.data()};
        std::tie(aec) = co_await ws->async_accept(early, asio::as_tuple(asio::use_awaitable));
      }
      if (aec) co_return;
      s->ready.push(make_ws_stream(std::move(ws), s->options, peer, ticket, context));
      co_return;
    }
    auto res = claimed ? std::move(*claimed) : route(*s, req, path);
    const bool keep = res.keep_alive();
    lowest.expires_after(s->options.header_timeout);
    auto [wec, written] =
        co_await http::async_write(stream, res, asio::as_tuple(asio::use_awaitable));
    if (wec || !keep) break;
  }
  beast::error_code ignored;
  lowest.socket().shutdown(tcp::socket::shutdown_send, ignored);
  lowest.close();
}

// One accepted connection until it upgrades or ends. It holds the admission ticket throughout,
// so a connection counts against its owner's per-address limit from accept, not from upgrade.
asio::awaitable<void> serve(std::shared_ptr<ListenerState> s, transport::AcceptedTcp accepted) {
  const auto connected_at = accepted.peer.connected_at;
  if (accepted.via_proxy && s->options.proxy_protocol) {
    // The PROXY header comes first (before TLS), within the header timeout. The client it names
    // is admitted now, unless it is itself a trusted proxy (a chain of proxies): then the
    // upgrade's X-Forwarded-For decides, as for any trusted proxy.
    const auto verdict = co_await transport::take_proxy_header(
        accepted, connected_at + s->options.header_timeout, s->tls ? "wss" : "ws");
    if (verdict == transport::ProxyVerdict::Refused) co_return;
    // A header that names no client is the proxy's own connection: its X-Forwarded-For, written
    // by whoever is behind a TCP proxy, is not believed.
    accepted.via_proxy = verdict == transport::ProxyVerdict::Client && s->hooks &&
                         s->hooks->trusted_proxy && s->hooks->trusted_proxy(accepted.peer.address);
    if (!accepted.via_proxy && s->hooks && s->hooks->admit) {
      accepted.ticket = s->hooks->admit(accepted.peer);
      if (!accepted.ticket) co_return;  // the client's own limit
    }
  }
  beast::error_code ignored_option;
  // Small writes (upgrade answer, window updates, control answers) must not wait for the
  // peer's delayed ACK (Nagle): clients set it too, and so does the tcp transport.
  accepted.socket.set_option(tcp::no_delay(s->options.nodelay), ignored_option);
  beast::tcp_stream tcp_stream(std::move(accepted.socket));
  if (!s->tls) {
    co_await serve_http(s, std::move(tcp_stream), accepted.peer, accepted.via_proxy,
                        std::move(accepted.ticket), nullptr);
    co_return;
  }
  auto context = s->tls->current();  // kept by the connection: a reload does not touch it
  Secure stream(std::move(tcp_stream), *context);
  beast::get_lowest_layer(stream).expires_at(connected_at + s->options.header_timeout);
  auto [ec] = co_await stream.async_handshake(ssl::stream_base::server,
                                              asio::as_tuple(asio::use_awaitable));
  if (ec) {
    tls::log_server_failure(accepted.peer.address, ec);
    beast::get_lowest_layer(stream).close();
    co_return;
  }
  co_await serve_http(s, std::move(stream), accepted.peer, accepted.via_proxy,
                      std::move(accepted.ticket), std::move(context));
}

asio::awaitable<void> accept_loop(std::shared_ptr<ListenerState> s) {
  const transport::AcceptQueue::CloseOnExit close_queue(s->ready);
  while (!s->ready.closed()) {
    // Errors (too many open files) pause inside accept_tcp: keep serving what we have.
    // Trusted proxies are admitted at the upgrade, under their client's address.
    auto accepted = co_await transport::accept_tcp(s->acceptor, s->hooks, true);
    if (!accepted) break;
    asio::co_spawn(s->acceptor.get_executor(), serve(s, std::move(*accepted)),
                   stream::logged("ws", "HTTP connection"));
  }
}

class WsListener final : public transport::Listener, public transport::ReloadableListener {
 public:
  WsListener(std::shared_ptr<ListenerState> s, std::string scheme)
      : s_(std::move(s)), scheme_(std::move(scheme)) {
    s_->hooks = accept_hooks();
  }
  ~WsListener() override { close(); }

  transport::Uri local_uri() const override {
    beast::error_code ec;
    const auto ep = s_->acceptor.local_endpoint(ec);
    // http:// and https:// listeners have no WebSocket path.
    return transport::Uri{scheme_, ep.address().to_string(), ep.port(),
                          s_->http_only ? std::string() : s_->ws_path};
  }

  asio::awaitable<base::Result<std::unique_ptr<stream::ByteStream>>> async_accept() override {
    auto s = s_;  // alive until the accept returns
    co_return co_await s->ready.next();
  }

  bool applies_accept_hooks() const noexcept override { return true; }

  base::Result<bool> reload(bool if_changed, std::string& problem) override {
    if (!s_->tls) return false;  // ws://: nothing on disk
    return s_->tls->reload(if_changed, problem);
  }

  base::Result<void> add_http_route(std::string path, transport::HttpHandler handler) override {
    if (path != "*" &&
        (path.empty() || path.front() != '/' || (!s_->http_only && path == s_->ws_path))) {
      return transport::Errc::InvalidSetting;
    }
    s_->routes[std::move(path)] = std::move(handler);
    return {};
  }

  void close() noexcept override {
    beast::error_code ec;
    s_->acceptor.close(ec);
    s_->ready.close();
  }

 private:
  std::shared_ptr<ListenerState> s_;
  std::string scheme_;
};

}  // namespace

base::Result<std::unique_ptr<transport::Listener>> listen_ws(const asio::any_io_executor& executor,
                                                             const transport::Uri& uri,
                                                             const Options& options) {
  std::shared_ptr<tls::ServerCredentials> tls_context;
  if (uri.scheme == "wss" || uri.scheme == "https") {  // over TLS, ALPN http/1.1
    std::string problem;
    tls_context =
        std::make_shared<tls::ServerCredentials>(options.tls, std::vector<std::string>{"http/1.1"});
    if (auto c = tls_context->load(problem); !c) {
      base::log(base::LogLevel::Error, "tls", uri.to_string() + ": " + problem);
      return c.error();
    }
  }
  auto acceptor = transport::bind_tcp_acceptor(executor, uri, options.backlog);
  if (!acceptor) return acceptor.error();
  auto state = std::make_shared<ListenerState>(std::move(*acceptor),
                                               uri.path.empty() ? "/relay" : uri.path, options);
  state->tls = std::move(tls_context);
  state->http_only = uri.scheme == "http" || uri.scheme == "https";
  auto listener = std::make_unique<WsListener>(state, uri.scheme);
  asio::co_spawn(executor, accept_loop(state), stream::logged("ws", "accept loop"));
  return std::unique_ptr<transport::Listener>(std::move(listener));
}

}  // namespace portal::plugins::ws
