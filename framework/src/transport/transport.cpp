// SPDX-License-Identifier: Apache-2.0
#include "portal/transport/transport.hpp"

#include <charconv>

#include "detail/error_category.hpp"

namespace portal::transport {
namespace {

const char* describe(Errc e) noexcept {
  switch (e) {
    case Errc::InvalidUri: return "invalid transport URI (expected scheme://host:port[/path])";
    case Errc::UnknownScheme: return "no transport plugin provides this URI scheme";
    case Errc::ConnectTimeout: return "connect timed out";
    case Errc::IdleTimeout: return "connection idle for too long";
    case Errc::InvalidSetting: return "invalid transport setting";
    case Errc::Closed: return "transport closed";
    case Errc::NotSupported: return "not supported by this transport";
    case Errc::TlsFailed: return "TLS handshake failed";
    case Errc::TlsPinMismatch: return "the server's public key matches no configured pin";
  }
  return nullptr;
}

bool scheme_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
}

}  // namespace

const boost::system::error_category& transport_category() noexcept {
  static const detail::EnumCategory<Errc> category("portal.transport", describe);
  return category;
}

Listener::~Listener() = default;

ReloadableListener::~ReloadableListener() = default;

base::Result<void> Listener::add_http_route(std::string, HttpHandler) { return Errc::NotSupported; }

std::string Uri::to_string() const {
  const bool v6 = host.find(':') != std::string::npos;
  return scheme + "://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port) + path;
}

base::Result<Uri> parse_uri(std::string_view text) {
  Uri uri;
  const auto sep = text.find("://");
  if (sep == std::string_view::npos || sep == 0) return Errc::InvalidUri;
  for (char c : text.substr(0, sep)) {
    if (!scheme_char(c)) return Errc::InvalidUri;
  }
  uri.scheme = std::string(text.substr(0, sep));
  std::string_view rest = text.substr(sep + 3);
  const auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) uri.path = std::string(rest.substr(slash));
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos || close + 1 >= authority.size() ||
        authority[close + 1] != ':') {
      return Errc::InvalidUri;
    }
    uri.host = std::string(authority.substr(1, close - 1));
    port_text = authority.substr(close + 2);
    if (uri.host.find(':') == std::string::npos) return Errc::InvalidUri;
  } else {
    const auto colon = authority.rfind(':');
    if (colon == std::string_view::npos) return Errc::InvalidUri;
    uri.host = std::string(authority.substr(0, colon));
    if (uri.host.find(':') != std::string::npos) return Errc::InvalidUri;  // unbracketed IPv6
    port_text = authority.substr(colon + 1);
  }
  if (uri.host.empty() || port_text.empty() || port_text.size() > 5) return Errc::InvalidUri;
  for (char c : uri.host) {
    if (c == '/' || c == '@' || c == ' ' || c == '?' || c == '#') return Errc::InvalidUri;
  }
  unsigned port = 0;
  auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc{} || ptr != port_text.data() + port_text.size() || port > 65535) {
    return Errc::InvalidUri;
  }
  uri.port = static_cast<std::uint16_t>(port);
  return uri;
}

base::Result<std::shared_ptr<TransportFactory>> resolve(const plugin::Host& host,
                                                        std::string_view text) {
  auto uri = parse_uri(text);
  if (!uri) return uri.error();
  auto p = host.find_provider(plugin::Kind::Transport, uri->scheme);
  if (!p) return Errc::UnknownScheme;
  return (*p)->factory<TransportFactory>();
}

}  // namespace portal::transport
