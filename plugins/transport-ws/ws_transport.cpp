// SPDX-License-Identifier: Apache-2.0
#include "ws_transport.hpp"

#include "portal/base/parse.hpp"
#include "portal/plugin/sdk.hpp"
#include "ws_internal.hpp"

namespace portal::plugins::ws {
namespace {

namespace asio = boost::asio;

base::Result<void> check_scheme(const transport::Uri& uri, const Options& o) {
  return tls::check_scheme(uri.to_string(), uri.scheme, "wss", o.has_tls_keys, "ws");
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
  for (const auto& entry : settings) {
    // Named references, not structured bindings: clang 14 cannot capture bindings in lambdas.
    const std::string& key = entry.first;
    const std::string& value = entry.second;
    std::uint64_t n = 0;
    const bool numeric = base::parse_unsigned(value, n);
    auto bad = [&](const std::string& what) {
      problem = key + ": expected " + what + ", got '" + value + "'";
      return transport::Errc::InvalidSetting;
    };
    auto millis = [&](std::chrono::milliseconds& field, bool zero_ok) -> bool {
      if (!numeric || n > 24ull * 3600 * 1000 || (!zero_ok && n == 0)) return false;
      field = std::chrono::milliseconds(n);
      return true;
    };
    if (key == "max_message_size") {
      if (!numeric || n < 1024 || n > (1ull << 30)) return bad("1024 to 1073741824 bytes");
      o.max_message_size = n;
    } else if (key == "max_write_message") {
      if (!numeric || n < 1024 || n > (1ull << 30)) return bad("1024 to 1073741824 bytes");
      o.max_write_message = n;
    } else if (key == "handshake_timeout_ms") {
      if (!millis(o.handshake_timeout, false)) return bad("milliseconds");
    } else if (key == "idle_timeout_ms") {
      if (!millis(o.idle_timeout, true)) return bad("milliseconds");
    } else if (key == "max_request_bytes") {
      if (!numeric || n < 512 || n > (1u << 20)) return bad("512 to 1048576 bytes");
      o.max_request_bytes = n;
    } else if (key == "header_timeout_ms") {
      if (!millis(o.header_timeout, false)) return bad("milliseconds");
    } else if (key == "backlog") {
      if (!numeric || n == 0 || n > 65535) return bad("1 to 65535");
      o.backlog = static_cast<int>(n);
    } else if (key == "nodelay" || key == "proxy_protocol") {
      if (value != "true" && value != "false") return bad("true or false");
      (key == "nodelay" ? o.nodelay : o.proxy_protocol) = value == "true";
    } else if (key == "max_pending") {
      if (!numeric || n == 0 || n > 65535) return bad("1 to 65535");
      o.max_pending = n;
    } else if (tls::is_tls_key(key)) {
      if (!tls::apply(key, value, o.tls, problem)) return transport::Errc::InvalidSetting;
      o.has_tls_keys = true;
    } else {
      problem = key + ": unknown ws setting";
      return transport::Errc::InvalidSetting;
    }
  }
  return o;
}

transport::TransportFactory& factory() noexcept {
  static Factory instance;
  return instance;
}

}  // namespace portal::plugins::ws
