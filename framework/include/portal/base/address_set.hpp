// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "portal/base/export.hpp"
#include "portal/base/result.hpp"

namespace portal::base {

/// A set of address ranges (`192.0.2.0/24`, `2001:db8::/32`, or one address). An IPv4-mapped
/// IPv6 address (`::%ffff:192.0.2.1`) matches the IPv4 ranges.
class PORTAL_API AddressSet {
 public:
  /// Parses `cidrs`. Errors: Errc::InvalidAddressRange, with `problem` naming the entry.
  [[nodiscard]] static base::Result<AddressSet> parse(const std::vector<std::string>& cidrs,
                                                      std::string& problem);
  /// True when `address` (an IPv4 or IPv6 literal, without brackets or port) falls in one of the
  /// ranges; an IPv4-mapped IPv6 address is matched against the IPv4 ranges. Text that is not an IP
  /// address (a host name, a Unix socket path) is in no range: false.
  [[nodiscard]] bool contains(std::string_view address) const noexcept;
  /// True when the set holds no range, so contains() is false for every address.
  [[nodiscard]] bool empty() const noexcept { return ranges_.empty(); }

 private:
  struct Range {
    std::uint8_t bytes[16];
    unsigned prefix;  // bits
    bool v4;
  };
  std::vector<Range> ranges_;
};

/// The address as 16 bytes (IPv4 in the last 4, flagged `v4`), an IPv4-mapped IPv6 address
/// taken as IPv4. False when `text` is not an IP address.
[[nodiscard]] PORTAL_API bool address_bytes(std::string_view text, std::uint8_t out[16], bool& v4);

}  // namespace portal::base
