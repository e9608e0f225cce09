// SPDX-License-Identifier: Apache-2.0
#include "portal/base/uri.hpp"

#include <algorithm>
#include <charconv>

namespace portal::base {
namespace {

bool scheme_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
}

}  // namespace

std::string Uri::to_string() const {
  if (host.empty()) return scheme + "://" + path;
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
  if (!rest.empty() && rest.front() == '/') {  // scheme:///absolute/path: a local socket
    if (rest.size() < 2 || rest.back() == '/' || rest.find('\0') != std::string_view::npos) {
      return Errc::InvalidUri;
    }
    if (rest.size() > kMaxLocalPathBytes) return Errc::UriPathTooLong;
    uri.path = std::string(rest);
    return uri;
  }
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

Result<Uri> parse_http_url(std::string_view text) {
  const bool https = text.rfind("https://", 0) == 0;
  if (!https && text.rfind("http://", 0) != 0) return Errc::InvalidUri;
  const std::size_t start = https ? 8 : 7;
  const std::size_t slash = std::min(text.find('/', start), text.size());
  const std::string_view authority = text.substr(start, slash - start);
  const std::size_t close = authority.rfind(']');
  const std::size_t colon = authority.rfind(':');
  const bool has_port =
      colon != std::string_view::npos && (close == std::string_view::npos || colon > close);
  if (has_port) return parse_uri(text);
  std::string with_port(text.substr(0, slash));
  with_port += https ? ":443" : ":80";
  with_port += text.substr(slash);
  return parse_uri(with_port);
}

}  // namespace portal::base
