// SPDX-License-Identifier: Apache-2.0
#include "ws_transport.hpp"

#include "portal/base/parse.hpp"
#include "portal/plugin/sdk.hpp"
#include "portal/plugin/settings.hpp"
#include "ws_internal.hpp"

namespace portal::plugins::ws {
namespace {

namespace asio = boost::asio;

// wss:// and https:// take TLS settings; http:// and https:// are listeners only (plain HTTP
// routes, every WebSocket upgrade refused): nothing is dialed with them.
base::Result<void> check_scheme(const transport::Uri& uri, const Options& o) {
  const bool secure = uri.scheme == "wss" || uri.scheme == "https";
  return tls::check_scheme(uri.to_string(), uri.scheme, secure ? uri.scheme : "wss", o.has_tls_keys,
                           "ws");
}

class Factory final : public transport::TransportFactory {
 public:
  base::Result<void> validate(const transport::Settings& settings,
                              std::string& problem) noexcept override {
    return plugin::guard([&]() -> base::Result<void> {
      auto o = parse_settings(settings, problem);
      if (!o) return o.error();
      return tls::validate(o->tls, {"http/1.1"}, problem);
    });
  }

  asio::awaitable<base::Result<std::unique_ptr<stream::ByteStream>>> async_connect(
      asio::any_io_executor executor, transport::Uri uri, transport::Settings settings) override {
    std::string problem;
    auto options = parse_settings(settings, problem);
    if (!options) co_return options.error();
    if (auto ok = check_scheme(uri, *options); !ok) co_return ok.error();
    if (uri.host.empty()) co_return transport::Errc::InvalidUri;  // host-less: not TCP
    if (uri.scheme == "http" || uri.scheme == "https") co_return transport::Errc::NotSupported;
    co_return co_await connect_ws(std::move(executor), std::move(uri), *options);
  }

  base::Result<std::unique_ptr<transport::Listener>> listen(
      asio::any_io_executor executor, const transport::Uri& uri,
      const transport::Settings& settings) noexcept override {
    return plugin::guard([&]() -> base::Result<std::unique_ptr<transport::Listener>> {
      std::string problem;
      auto options = parse_settings(settings, problem);
      if (!options) return options.error();
      if (auto ok = check_scheme(uri, *options); !ok) return ok.error();
      return listen_ws(executor, uri, *options);
    });
  }
};

}  // namespace

base::Result<Options> parse_settings(const transport::Settings& settings, std::string& problem) {
  Options o;
  plugin::SettingsReader r(settings, "ws");
  r.number("max_message_size", o.max_message_size, 1024, 1ull << 30, "bytes")
      .number("max_write_message", o.max_write_message, 1024, 1ull << 30, "bytes")
      .millis("handshake_timeout_ms", o.handshake_timeout)
      .millis("idle_timeout_ms", o.idle_timeout, 0)
      .number("max_request_bytes", o.max_request_bytes, 512, 1u << 20, "bytes")
      .millis("header_timeout_ms", o.header_timeout)
      .number("backlog", o.backlog, 1, 65535)
      .flag("nodelay", o.nodelay)
      .flag("proxy_protocol", o.proxy_protocol)
      .number("max_pending", o.max_pending, 1, 65535)
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

}  // namespace portal::plugins::ws
