// SPDX-License-Identifier: Apache-2.0
#include "portal/transport/transport.hpp"

#include "detail/error_category.hpp"

namespace portal::transport {
namespace {

const char* describe(Errc e) noexcept {
  switch (e) {
    case Errc::InvalidUri:
      return "invalid transport URI (expected scheme://host:port[/path] or "
             "scheme:///absolute/path)";
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

}  // namespace

const boost::system::error_category& transport_category() noexcept {
  static const detail::EnumCategory<Errc> category("portal.transport", describe);
  return category;
}

Listener::~Listener() = default;

ReloadableListener::~ReloadableListener() = default;

base::Result<void> Listener::add_http_route(std::string, HttpHandler) { return Errc::NotSupported; }

base::Result<Uri> parse_uri(std::string_view text) {
  auto uri = base::parse_uri(text);
  if (!uri && uri.error() == base::Errc::InvalidUri) return Errc::InvalidUri;
  return uri;  // a socket path too long keeps base::Errc::UriPathTooLong
}

base::Result<std::shared_ptr<TransportFactory>> resolve(const plugin::Host& host,
                                                        std::string_view text) {
  auto uri = parse_uri(text);
  if (!uri) return uri.error();
  auto p = host.find_provider(plugin::Kind::Transport, uri->scheme);
  if (!p) return Errc::UnknownScheme;
  // Host-less URIs came with ABI 2.2: an older plugin might take the empty host for "every
  // address" (as stack_assembly.hpp refuses with a message naming the config key).
  if (uri->local() && (*p)->abi_minor() < 2) return Errc::InvalidUri;
  return (*p)->factory<TransportFactory>();
}

}  // namespace portal::transport
