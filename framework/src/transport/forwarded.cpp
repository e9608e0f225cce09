// SPDX-License-Identifier: Apache-2.0
#include "portal/transport/forwarded.hpp"

#include <boost/asio/ip/address.hpp>

#include <cstring>

#include "portal/base/parse.hpp"
#include "portal/transport/transport.hpp"

namespace portal::transport {
namespace {

namespace ip = boost::asio::ip;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The address as 16 bytes (IPv4 in the last 4, flagged), IPv4-mapped IPv6 taken as IPv4.
bool to_bytes(std::string_view text, std::uint8_t out[16], bool& v4) {
  boost::system::error_code ec;
  auto a = ip::make_address(std::string(text), ec);
  if (ec) return false;
  if (a.is_v6() && a.to_v6().is_v4_mapped()) {
    a = ip::make_address_v4(ip::v4_mapped, a.to_v6());
  }
  std::memset(out, 0, 16);
  v4 = a.is_v4();
  if (v4) {
    const auto b = a.to_v4().to_bytes();
    std::memcpy(out + 12, b.data(), 4);
  } else {
    const auto b = a.to_v6().to_bytes();
    std::memcpy(out, b.data(), 16);
  }
  return true;
}

}  // namespace

base::Result<AddressSet> AddressSet::parse(const std::vector<std::string>& cidrs,
                                           std::string& problem) {
  AddressSet set;
  for (const auto& entry : cidrs) {
    const auto slash = entry.find('/');
    Range r{};
    if (!to_bytes(trim(std::string_view(entry).substr(0, slash)), r.bytes, r.v4)) {
      problem = "'" + entry + "' is not an address or CIDR range";
      return Errc::InvalidSetting;
    }
    const unsigned max = r.v4 ? 32 : 128;
    r.prefix = max;
    if (slash != std::string::npos) {
      unsigned bits = 0;
      if (!base::parse_unsigned(std::string_view(entry).substr(slash + 1), bits) || bits > max) {
        problem = "'" + entry + "': the prefix length must be 0 to " + std::to_string(max);
        return Errc::InvalidSetting;
      }
      r.prefix = bits;
    }
    set.ranges_.push_back(r);
  }
  return set;
}

bool AddressSet::contains(std::string_view address) const noexcept {
  std::uint8_t b[16];
  bool v4 = false;
  if (!to_bytes(address, b, v4)) return false;
  for (const auto& r : ranges_) {
    if (r.v4 != v4) continue;
    const unsigned offset = v4 ? 12 : 0;
    unsigned left = r.prefix;
    bool match = true;
    for (unsigned i = offset; i < 16 && left > 0 && match; ++i) {
      const unsigned bits = left >= 8 ? 8 : left;
      const auto mask = static_cast<std::uint8_t>(0xff << (8 - bits));
      match = (b[i] & mask) == (r.bytes[i] & mask);
      left -= bits;
    }
    if (match) return true;
  }
  return false;
}

std::string forwarded_client(std::string_view peer, std::string_view header,
                             const std::function<bool(std::string_view)>& trusted) {
  // Hops from the right: the last one was added by the proxy we talk to.
  std::string_view rest = header;
  while (!trim(rest).empty()) {
    const auto comma = rest.rfind(',');
    const std::string_view hop =
        trim(comma == std::string_view::npos ? rest : rest.substr(comma + 1));
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(0, comma);
    std::uint8_t bytes[16];
    bool v4 = false;
    if (!to_bytes(hop, bytes, v4)) return std::string(peer);
    if (!trusted || !trusted(hop)) return std::string(hop);
  }
  return std::string(peer);
}

}  // namespace portal::transport
