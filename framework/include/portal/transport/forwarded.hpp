// SPDX-License-Identifier: Apache-2.0
#pragma once

// Clients behind a reverse proxy: sets of trusted proxy addresses (CIDRs), and the client address
// of a request that came through them (X-Forwarded-For). Pure functions, no I/O.

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "portal/base/address_set.hpp"
#include "portal/base/export.hpp"
#include "portal/base/result.hpp"

namespace portal::transport {

/// Trusted proxies' addresses (portal/base/address_set.hpp).
using AddressSet = base::AddressSet;

/// The client behind a chain of proxies, from the X-Forwarded-For `header` of a request whose
/// TCP peer `peer` is a trusted proxy: walking from the right, the first hop that is not itself
/// `trusted` (each proxy appends the address it received from). Falls back to `peer` when the
/// header is empty, or when that hop is not an IP address (a proxy that forwards garbage is
/// counted as itself).
[[nodiscard]] PORTAL_API std::string forwarded_client(
    std::string_view peer, std::string_view header,
    const std::function<bool(std::string_view)>& trusted);

}  // namespace portal::transport
