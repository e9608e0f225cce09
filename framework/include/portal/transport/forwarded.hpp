// SPDX-License-Identifier: Apache-2.0
#pragma once

// Clients behind a reverse proxy: sets of trusted proxy addresses (CIDRs), and the client address
// of a request that came through them (X-Forwarded-For). Pure functions, no I/O.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "portal/base/export.hpp"
#include "portal/base/result.hpp"

namespace portal::transport {

/// A set of address ranges (`192.0.2.0/24`, `2001:db8::/32`, or one address). An IPv4-mapped
/// IPv6 address (`::ffff:192.0.2.1`) matches the IPv4 ranges.
class PORTAL_API AddressSet {
 public:
  /// Parses `cidrs`. Errors: Errc::InvalidSetting, with `problem` naming the entry.
  [[nodiscard]] static base::Result<AddressSet> parse(const std::vector<std::string>& cidrs,
                                                      std::string& problem);
  [[nodiscard]] bool contains(std::string_view address) const noexcept;
  [[nodiscard]] bool empty() const noexcept { return ranges_.empty(); }

 private:
  struct Range {
    std::uint8_t bytes[16];
    unsigned prefix;  // bits
    bool v4;
  };
  std::vector<Range> ranges_;
};

/// The client behind a chain of proxies, from the X-Forwarded-For `header` of a request whose
/// TCP peer `peer` is a trusted proxy: walking from the right, the first hop that is not itself
/// `trusted` (each proxy appends the address it received from). Falls back to `peer` when the
/// header is empty, or when that hop is not an IP address (a proxy that forwards garbage is
/// counted as itself).
[[nodiscard]] PORTAL_API std::string forwarded_client(
    std::string_view peer, std::string_view header,
    const std::function<bool(std::string_view)>& trusted);

}  // namespace portal::transport
