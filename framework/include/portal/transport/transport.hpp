// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "portal/base/export.hpp"
#include "portal/base/result.hpp"
#include "portal/base/settings.hpp"
#include "portal/base/uri.hpp"
#include "portal/plugin/descriptor.hpp"
#include "portal/plugin/host.hpp"
#include "portal/stream/byte_stream.hpp"

namespace portal::transport {

/// Errors of URI parsing, scheme resolution and transports.
enum class Errc {
  InvalidUri = 1,  ///< not scheme://host:port[/path]
  UnknownScheme,   ///< no loaded transport plugin provides the URI's scheme
  ConnectTimeout,  ///< the connection was not established in time
  IdleTimeout,     ///< no byte moved in either direction for the idle timeout
  InvalidSetting,  ///< a transport setting is unknown or has a bad value
  Closed,          ///< the listener or stream is closed
  NotSupported,    ///< the transport has no such feature (HTTP routes on plain TCP)
  TlsFailed,       ///< the TLS handshake failed (the transport logs the reason in one line)
  TlsPinMismatch,  ///< the server's public key matches none of the configured pins
};

/// The category of transport::Errc ("portal.transport"): names the codes and gives their messages.
PORTAL_API const boost::system::error_category& transport_category() noexcept;

/// `e` as an error code of this module's category. Found by argument-dependent lookup, it
/// lets an Errc convert to base::ErrorCode and compare with one.
inline base::ErrorCode make_error_code(Errc e) noexcept {
  return {static_cast<int>(e), transport_category()};
}

/// A transport address (portal/base/uri.hpp).
using Uri = base::Uri;

/// base::parse_uri, with its error as Errc::InvalidUri.
[[nodiscard]] PORTAL_API base::Result<Uri> parse_uri(std::string_view text);

/// Transport settings from the config file, as text; each plugin documents its keys.
using Settings = base::Settings;  ///< read with plugin::SettingsReader

/// A plain HTTP request, as a transport that speaks HTTP hands it to a registered route.
struct HttpRequest {
  std::string method;  ///< "GET", "POST", ...
  std::string target;  ///< path and query, as sent
  /// Every header field in the order received: name as the client spelt it (compare names
  /// case-insensitively), value without surrounding whitespace. Repeated fields stay separate.
  std::vector<std::pair<std::string, std::string>> headers;
};

/// The answer to an HttpRequest.
struct HttpResponse {
  /// The HTTP status code sent. Only for the gate route "*": 0 means "not mine", and the
  /// request goes on to the other routes and the WebSocket upgrade.
  unsigned status = 200;
  /// The Content-Type header's value.
  std::string content_type = "text/plain; charset=utf-8";
  /// The response body, sent with a Content-Length; it is held in memory whole.
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  ///< extra headers
};

/// Serves one route. Runs on the listener's executor; must not block.
using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

/// What a listener's owner decides about the connections it accepts (the relay's per-address
/// limit and its accept-error counters). Transports that accept TCP connections call these
/// through accept_tcp() (tcp_acceptor.hpp).
struct AcceptHooks {
  /// Called with the peer of each accepted connection before a byte is read from it. Returns a
  /// token that the listener keeps for as long as the connection lives (its plain HTTP
  /// exchanges, its upgrade, and the stream async_accept() hands out, which holds it until it
  /// is destroyed), or null to refuse the connection: it is closed at once. Unset: every
  /// connection is admitted.
  std::function<std::shared_ptr<void>(const stream::PeerInfo&)> admit;
  /// Called with each failed accept; the listener then pauses before accepting again, so that
  /// running out of descriptors (EMFILE, ENFILE) cannot spin a core.
  std::function<void(const base::ErrorCode&)> on_accept_error;
  /// (ABI 2.1) Whether a peer is a trusted reverse proxy. A listener that can learn the client
  /// behind one (ws://, wss://: X-Forwarded-For on the upgrade) does not admit the proxy's own
  /// connection at accept, and calls `admit` with the client's address once it knows it. Unset:
  /// no proxy is trusted.
  std::function<bool(const std::string& address)> trusted_proxy;
};

/// A bound, listening endpoint. Use from its executor.
class PORTAL_API Listener {
 public:
  Listener() = default;
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;
  virtual ~Listener();

  /// The address actually bound (the real port when port 0 was asked for).
  [[nodiscard]] virtual Uri local_uri() const = 0;
  /// The next incoming connection. Errors: Errc::Closed after close(), accept errors.
  virtual boost::asio::awaitable<base::Result<std::unique_ptr<stream::ByteStream>>>
  async_accept() = 0;
  /// Stops listening; a pending accept completes with an error.
  virtual void close() noexcept = 0;

  /// Serves plain HTTP `path` on this listener's port (a `path` ending in '/' matches every path
  /// below it). The path "*" is a gate: it sees every request first, WebSocket upgrades
  /// included, and answers it when it returns a status other than 0 (the relay answers requests
  /// for its browser app hosts this way, whatever their path). Only transports that speak HTTP
  /// support it. Errors: Errc::NotSupported.
  [[nodiscard]] virtual base::Result<void> add_http_route(std::string path, HttpHandler handler);

  /// Whether this listener calls its AcceptHooks (transport::accept_tcp() does). The relay
  /// counts connections of a listener that does not at the mux session instead.
  [[nodiscard]] virtual bool applies_accept_hooks() const noexcept { return false; }

  /// Sets the hooks consulted for each connection accepted from now on. Use from the executor,
  /// before it runs the listener's accept loop (connections accepted earlier miss them).
  void set_accept_hooks(AcceptHooks hooks) { *hooks_ = std::move(hooks); }
  /// The hooks, shared with the accept loop (which may outlive this listener by a moment).
  [[nodiscard]] std::shared_ptr<const AcceptHooks> accept_hooks() const noexcept { return hooks_; }

 private:
  std::shared_ptr<AcceptHooks> hooks_ = std::make_shared<AcceptHooks>();
};

/// An optional interface of listeners with credentials on disk (TLS certificate and key), found
/// with dynamic_cast on a Listener (ABI 2.1; a plugin built for 2.0 simply lacks it).
class PORTAL_API ReloadableListener {
 public:
  ReloadableListener() = default;
  ReloadableListener(const ReloadableListener&) = delete;
  ReloadableListener& operator=(const ReloadableListener&) = delete;
  virtual ~ReloadableListener();

  /// Re-reads the files given at listen() (with `if_changed`, only when one of them changed on
  /// disk since the last load). New connections use the new credentials; live ones keep theirs.
  /// A file that cannot be used (unreadable, key not matching, expired) is refused: the old
  /// credentials stay, and `problem` says why in one line. Returns whether it reloaded.
  [[nodiscard]] virtual base::Result<bool> reload(bool if_changed, std::string& problem) = 0;
};

/// The factory a transport plugin exports (interface "portal.transport/1"); the plugin's
/// `provides` list holds its URI schemes.
class PORTAL_API TransportFactory : public plugin::Factory {
 public:
  /// The name Plugin::factory() checks a transport plugin's factory against
  /// (interface_name()); the number after the slash is the interface's version.
  static constexpr std::string_view kInterface = "portal.transport/1";
  [[nodiscard]] std::string_view interface_name() const noexcept final { return kInterface; }

  /// Checks settings; `problem` names the key on error.
  [[nodiscard]] virtual base::Result<void> validate(const Settings& settings,
                                                    std::string& problem) noexcept = 0;
  /// Connects to `uri`. Errors: Errc::ConnectTimeout, resolver and socket errors.
  virtual boost::asio::awaitable<base::Result<std::unique_ptr<stream::ByteStream>>> async_connect(
      boost::asio::any_io_executor executor, Uri uri, Settings settings) = 0;
  /// Binds and listens on `uri`. Errors: Errc::InvalidSetting, bind errors.
  [[nodiscard]] virtual base::Result<std::unique_ptr<Listener>> listen(
      boost::asio::any_io_executor executor, const Uri& uri, const Settings& settings) noexcept = 0;
};

/// The transport for `uri`'s scheme among `host`'s plugins. Errors: Errc::InvalidUri,
/// Errc::UnknownScheme, plugin::Errc::InterfaceMismatch.
[[nodiscard]] PORTAL_API base::Result<std::shared_ptr<TransportFactory>> resolve(
    const plugin::Host& host, std::string_view uri);

}  // namespace portal::transport

template <>
struct boost::system::is_error_code_enum<portal::transport::Errc> : std::true_type {};
