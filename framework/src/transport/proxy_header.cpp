// SPDX-License-Identifier: Apache-2.0
#include "portal/transport/proxy_header.hpp"

#include <boost/asio/ip/address.hpp>

#include <algorithm>
#include <array>
#include <cstdio>
#include <string_view>
#include <vector>

#include "portal/base/bytes.hpp"

namespace portal::transport {
namespace {

namespace ip = boost::asio::ip;
using State = ProxyHeader::State;

constexpr std::array<std::uint8_t, 12> kV2Signature{0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                                    0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
constexpr std::string_view kV1Prefix = "PROXY ";
constexpr std::size_t kV1MinBytes = 15;  // "PROXY UNKNOWN\r\n"

ProxyHeader invalid(std::string problem) {
  ProxyHeader h;
  h.state = State::Invalid;
  h.problem = std::move(problem);
  return h;
}

ProxyHeader need(std::size_t total) {
  ProxyHeader h;
  h.need = total;
  return h;
}

ProxyHeader done(int version, std::size_t size, std::string source = {}, std::uint16_t port = 0) {
  ProxyHeader h;
  h.state = State::Done;
  h.version = version;
  h.size = size;
  h.source = std::move(source);
  h.source_port = port;
  return h;
}

// The address as the relay names clients: IPv4-mapped IPv6 as IPv4.
std::string normalised(const ip::address& a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped()) {
    return ip::make_address_v4(ip::v4_mapped, a.to_v6()).to_string();
  }
  return a.to_string();
}

bool parse_port(std::string_view text, std::uint16_t& out) {
  if (text.empty() || text.size() > 5) return false;
  unsigned value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value > 65535) return false;
  out = static_cast<std::uint16_t>(value);
  return true;
}

// "PROXY TCP4 src dst sport dport\r\n", "PROXY TCP6 ...", "PROXY UNKNOWN ...\r\n".
ProxyHeader parse_v1(std::span<const std::uint8_t> bytes) {
  const std::size_t seen = std::min(bytes.size(), kProxyV1MaxBytes);
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()), seen);
  const std::size_t prefix = std::min(text.size(), kV1Prefix.size());
  if (text.substr(0, prefix) != kV1Prefix.substr(0, prefix)) {
    return invalid("not a PROXY protocol header (a v1 line starts with \"PROXY \")");
  }
  // The line ends at the first CRLF; anything else outside printable ASCII is refused at once,
  // without waiting for more.
  std::size_t end = std::string_view::npos;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\r') {
      if (i + 1 < text.size()) {
        if (text[i + 1] != '\n') return invalid("PROXY v1 line: CR without LF");
        end = i;
        break;
      }
    } else if (c < 0x20 || c > 0x7e) {
      return invalid("PROXY v1 line: a byte that is not printable ASCII");
    }
  }
  if (end == std::string_view::npos) {
    if (seen >= kProxyV1MaxBytes) {
      return invalid("PROXY v1 line longer than " + std::to_string(kProxyV1MaxBytes) + " bytes");
    }
    // One more byte at a time once the shortest line is in: never a byte past the CRLF.
    return need(std::max(kV1MinBytes, bytes.size() + 1));
  }
  const std::size_t size = end + 2;
  std::vector<std::string_view> fields;
  std::string_view rest = text.substr(0, end);
  while (!rest.empty() && fields.size() < 7) {
    const auto space = rest.find(' ');
    fields.push_back(rest.substr(0, space));
    rest = space == std::string_view::npos ? std::string_view{} : rest.substr(space + 1);
  }
  if (fields.size() >= 2 && fields[1] == "UNKNOWN") return done(1, size);  // the rest is ignored
  if (fields.size() < 2 || (fields[1] != "TCP4" && fields[1] != "TCP6")) {
    return invalid("PROXY v1 line: the protocol must be TCP4, TCP6 or UNKNOWN");
  }
  if (fields.size() != 6 || !rest.empty() || text[end - 1] == ' ') {
    return invalid("PROXY v1 line: expected 'PROXY " + std::string(fields[1]) +
                   " source destination source-port destination-port'");
  }
  const bool v4 = fields[1] == "TCP4";
  boost::system::error_code ec;
  ip::address source;
  for (int i = 2; i <= 3; ++i) {
    const std::string field(fields[static_cast<std::size_t>(i)]);
    ip::address a;
    if (field.find('%') != std::string::npos) {  // a scoped address names no client of ours
      return invalid("PROXY v1 line: '" + field + "' has a scope");
    }
    if (v4) {
      a = ip::make_address_v4(field, ec);
    } else {
      a = ip::make_address_v6(field, ec);
    }
    if (ec) {
      return invalid(std::string("PROXY v1 line: '") + field + "' is not an " +
                     (v4 ? "IPv4" : "IPv6") + " address");
    }
    if (i == 2) source = a;
  }
  std::uint16_t source_port = 0;
  std::uint16_t destination_port = 0;
  if (!parse_port(fields[4], source_port) || !parse_port(fields[5], destination_port)) {
    return invalid("PROXY v1 line: a port must be 0 to 65535");
  }
  return done(1, size, normalised(source), source_port);
}

ProxyHeader parse_v2(std::span<const std::uint8_t> bytes) {
  const std::size_t prefix = std::min(bytes.size(), kV2Signature.size());
  if (!std::equal(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(prefix),
                  kV2Signature.begin())) {
    return invalid("not a PROXY protocol header (bad v2 signature)");
  }
  if (bytes.size() < kProxyV2HeadBytes) return need(kProxyV2HeadBytes);
  const unsigned version = bytes[12] >> 4;
  const unsigned command = bytes[12] & 0x0f;
  const unsigned family = bytes[13] >> 4;
  const unsigned protocol = bytes[13] & 0x0f;
  const std::size_t block = base::load_be16(&bytes[14]);
  if (version != 2) return invalid("PROXY header version " + std::to_string(version));
  if (command > 1) return invalid("PROXY v2 command " + std::to_string(command));
  if (block > kProxyV2MaxBlockBytes) {
    return invalid("PROXY v2 header of " + std::to_string(kProxyV2HeadBytes + block) +
                   " bytes, over the limit of " +
                   std::to_string(kProxyV2HeadBytes + kProxyV2MaxBlockBytes));
  }
  const std::size_t size = kProxyV2HeadBytes + block;
  if (bytes.size() < size) return need(size);
  if (command == 0) return done(2, size);  // LOCAL: the proxy's own connection
  const std::uint8_t* a = bytes.data() + kProxyV2HeadBytes;
  if (family == 1 || family == 2) {
    if (protocol != 1) return invalid("PROXY v2: not a stream (TCP) connection");
    const std::size_t need_block = family == 1 ? 12 : 36;
    if (block < need_block) {
      return invalid("PROXY v2: an address block of " + std::to_string(block) + " bytes is short");
    }
    if (family == 1) {
      ip::address_v4::bytes_type b{};
      std::copy(a, a + 4, b.begin());
      return done(2, size, normalised(ip::address_v4(b)), base::load_be16(a + 8));
    }
    ip::address_v6::bytes_type b{};
    std::copy(a, a + 16, b.begin());
    return done(2, size, normalised(ip::address_v6(b)), base::load_be16(a + 32));
  }
  // UNSPEC, UNIX: no client address. The specification's other values are to be refused.
  if ((family == 0 && protocol == 0) || (family == 3 && (protocol == 1 || protocol == 2))) {
    return done(2, size);
  }
  if (family == 0 || family == 3) return invalid("PROXY v2 protocol " + std::to_string(protocol));
  return invalid("PROXY v2 address family " + std::to_string(family));
}

}  // namespace

ProxyHeader parse_proxy_header(std::span<const std::uint8_t> bytes) {
  if (bytes.empty()) return need(1);
  if (bytes[0] == 'P') return parse_v1(bytes);
  if (bytes[0] == kV2Signature[0]) return parse_v2(bytes);
  char first[8];
  std::snprintf(first, sizeof first, "0x%02x", bytes[0]);
  return invalid(std::string("not a PROXY protocol header (first byte ") + first + ")");
}

}  // namespace portal::transport
