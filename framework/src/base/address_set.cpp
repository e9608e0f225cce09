// SPDX-License-Identifier: Apache-2.0
#include "portal/base/address_set.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

#include "portal/base/parse.hpp"

namespace portal::base {
namespace {

// The address as 16 bytes (IPv4 in the last 4, flagged), IPv4-mapped IPv6 taken as IPv4. With
// inet_pton, not Asio: base is part of the cores library.
bool address_bytes_impl(std::string_view text, std::uint8_t out[16], bool& v4) {
  // inet_pton reads up to a NUL: "192.0.2.1\0anything" is not an address (found by fuzzing).
  if (text.empty() || text.size() > 45 || text.find('\0') != std::string_view::npos) return false;
  const std::string s(text);
  std::memset(out, 0, 16);
  in_addr a4{};
  if (::inet_pton(AF_INET, s.c_str(), &a4) == 1) {
    std::memcpy(out + 12, &a4, 4);
    v4 = true;
    return true;
  }
  in6_addr a6{};
  if (::inet_pton(AF_INET6, s.c_str(), &a6) != 1) return false;
  std::memcpy(out, &a6, 16);
  static constexpr std::uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  v4 = std::memcmp(out, kMapped, 12) == 0;
  if (v4) std::memset(out, 0, 12);
  return true;
}

}  // namespace

base::Result<AddressSet> AddressSet::parse(const std::vector<std::string>& cidrs,
                                           std::string& problem) {
  AddressSet set;
  for (const auto& entry : cidrs) {
    const auto slash = entry.find('/');
    Range r{};
    if (!address_bytes_impl(trim_blanks(std::string_view(entry).substr(0, slash)), r.bytes, r.v4)) {
      problem = "'" + entry + "' is not an address or CIDR range";
      return Errc::InvalidAddressRange;
    }
    const unsigned max = r.v4 ? 32 : 128;
    r.prefix = max;
    if (slash != std::string::npos) {
      unsigned bits = 0;
      if (!base::parse_unsigned(std::string_view(entry).substr(slash + 1), bits) || bits > max) {
        problem = "'" + entry + "': the prefix length must be 0 to " + std::to_string(max);
        return Errc::InvalidAddressRange;
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
  if (!address_bytes_impl(address, b, v4)) return false;
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

bool address_bytes(std::string_view text, std::uint8_t out[16], bool& v4) {
  return address_bytes_impl(text, out, v4);
}

}  // namespace portal::base
