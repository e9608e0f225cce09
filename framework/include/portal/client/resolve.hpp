// SPDX-License-Identifier: Apache-2.0
#pragma once

// Which leases a dial target names, from the RelayInfo answers of the connected relays. A pure
// function (no I/O), shared by Client::dial and Client::lookup.
//
// Stricter than v1 (portal-v1 §6.8 takes the first case-insensitive match in iteration order,
// so `Web` registered next to `web` could capture its dials, §13.2 item 7):
// - A target of the form of an ID, in any letter case, is an ID (upper-cased) and never a name.
// - A name matches byte for byte first; only when no lease has exactly that name does it match
//   under Unicode simple case folding.
// - Matches that belong to more than one identity are ambiguous: refused, naming the IDs.

#include <string>
#include <string_view>
#include <vector>

#include "portal/base/export.hpp"
#include "portal/base/result.hpp"
#include "portal/wire/control.hpp"

namespace portal::client {

/// One relay's RelayInfo, or null when it did not answer.
struct Listing {
  /// The relay's URI.
  std::string relay;
  /// Its RelayInfo, borrowed for the call; null when the relay did not answer.
  const wire::RelayInfo* info = nullptr;
};

/// A lease as one relay lists it.
struct Found {
  /// The URI of the relay listing the lease.
  std::string relay;
  /// The lease as that relay lists it; it has an identity, which is not validated here (the
  /// handshake authenticates the holder).
  wire::Lease lease;
};

/// The leases `target` names: one per relay listing it, all of one identity, in relay order.
/// Errors: Errc::NotFound, Errc::Ambiguous (`detail` lists the IDs), Errc::InvalidTarget for an
/// empty target. `detail`, when given, says why.
[[nodiscard]] PORTAL_API base::Result<std::vector<Found>> resolve_target(
    const std::vector<Listing>& listings, std::string_view target, std::string* detail = nullptr);

}  // namespace portal::client
