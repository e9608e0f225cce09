// SPDX-License-Identifier: Apache-2.0
#include "portal/client/resolve.hpp"

#include <algorithm>

#include "portal/client/errors.hpp"
#include "portal/identity/identity.hpp"
#include "portal/lease/name.hpp"

namespace portal::client {
namespace {

// Every listed lease (with an identity) that `match` accepts, at most one per relay.
template <class Match>
std::vector<Found> collect(const std::vector<Listing>& listings, Match match) {
  std::vector<Found> out;
  for (const auto& l : listings) {
    if (l.info == nullptr) continue;
    for (const auto& lease : l.info->leases) {
      if (lease.identity && match(lease)) {
        out.push_back(Found{l.relay, lease});
        break;
      }
    }
  }
  return out;
}

}  // namespace

base::Result<std::vector<Found>> resolve_target(const std::vector<Listing>& listings,
                                                std::string_view target, std::string* detail) {
  if (target.empty()) return make_error_code(Errc::InvalidTarget);
  if (const auto as_id = identity::id_in_any_case(target)) {
    auto found = collect(listings, [&](const wire::Lease& l) { return l.identity->id == *as_id; });
    if (found.empty()) {
      if (detail) *detail = "no lease with ID " + *as_id;
      return make_error_code(Errc::NotFound);
    }
    return found;
  }
  // Byte for byte first, then under case folding. A relay may list one name twice (v1 relays
  // keep names unique byte for byte only), so matches are gathered per lease, not per relay.
  for (const bool exact : {true, false}) {
    std::vector<Found> found;
    for (const auto& l : listings) {
      if (l.info == nullptr) continue;
      for (const auto& lease : l.info->leases) {
        if (!lease.identity) continue;
        if (exact ? lease.name == target : lease::same_name_ignoring_case(lease.name, target)) {
          found.push_back(Found{l.relay, lease});
        }
      }
    }
    if (found.empty()) continue;
    std::vector<std::string> ids;
    for (const auto& f : found) {
      if (std::find(ids.begin(), ids.end(), f.lease.identity->id) == ids.end()) {
        ids.push_back(f.lease.identity->id);
      }
    }
    if (ids.size() > 1) {
      if (detail) {
        std::sort(ids.begin(), ids.end());
        *detail = "the name '" + std::string(target) + "' matches leases of " +
                  std::to_string(ids.size()) + " identities" + (exact ? "" : " (ignoring case)") +
                  ": ";
        for (std::size_t i = 0; i < ids.size(); ++i) *detail += (i ? ", " : "") + ids[i];
        *detail += "; dial one by ID";
      }
      return make_error_code(Errc::Ambiguous);
    }
    // One identity: one entry per relay, in relay order.
    std::vector<Found> out;
    for (auto& f : found) {
      const bool seen =
          std::any_of(out.begin(), out.end(), [&](const Found& o) { return o.relay == f.relay; });
      if (!seen) out.push_back(std::move(f));
    }
    return out;
  }
  if (detail) *detail = "no lease named '" + std::string(target) + "'";
  return make_error_code(Errc::NotFound);
}

bool supports_lookup(const wire::RelayInfo& info) noexcept {
  return std::find(info.features.begin(), info.features.end(), wire::kFeatureLeaseLookup) !=
         info.features.end();
}

std::vector<std::size_t> lookups_needed(const std::vector<Listing>& listings,
                                        std::string_view target) {
  std::vector<std::size_t> out;
  if (target.empty() || target.size() > wire::kMaxLookupTarget) return out;
  for (std::size_t i = 0; i < listings.size(); ++i) {
    const auto& l = listings[i];
    if (l.info == nullptr || !supports_lookup(*l.info)) continue;
    auto found = resolve_target({l}, target);
    if (!found && found.error() == Errc::NotFound) out.push_back(i);
  }
  return out;
}

wire::RelayInfo with_lookup(wire::RelayInfo info, const wire::LeaseLookupResponse& answer) {
  info.leases.clear();
  if (answer.code == wire::ResponseCode::Accepted) info.leases = answer.leases;
  return info;
}

}  // namespace portal::client
