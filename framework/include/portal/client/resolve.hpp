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
//
// A relay of a fleet reaches leases its RelayInfo does not list (docs/adr/0016-lease-lookup.md):
// when a relay that lists wire::kFeatureLeaseLookup does not list the target, the client asks it
// with a LeaseLookupRequest (lookups_needed()) and resolves over its answer instead
// (with_lookup()). Relays without the feature are never sent one.

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

/// Whether a relay's RelayInfo lists wire::kFeatureLeaseLookup (it answers LeaseLookupRequest).
[[nodiscard]] PORTAL_API bool supports_lookup(const wire::RelayInfo& info) noexcept;

/// The relays to send a LeaseLookupRequest for `target`, as indexes into `listings`: each relay
/// that answered RelayInfo, lists wire::kFeatureLeaseLookup and lists no lease `target` names
/// (resolve_target() over its listing alone finds nothing). None for an empty target or one above
/// wire::kMaxLookupTarget bytes.
[[nodiscard]] PORTAL_API std::vector<std::size_t> lookups_needed(
    const std::vector<Listing>& listings, std::string_view target);

/// What stands for a relay's listing once it answered a LeaseLookupRequest: its RelayInfo with
/// the answer's leases instead of its own (none unless the answer is ACCEPTED). The RelayInfo did
/// not list the target, so none of its own leases could have matched.
[[nodiscard]] PORTAL_API wire::RelayInfo with_lookup(wire::RelayInfo info,
                                                     const wire::LeaseLookupResponse& answer);

}  // namespace portal::client
