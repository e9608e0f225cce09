// SPDX-License-Identifier: Apache-2.0
#pragma once

/// \file
/// The relay's lease table (portal-v1 §6) as a sans-IO core: rules for register/renew, delete,
/// expiry and disconnect, with time as an argument. Signature and identity checks happen before
/// (the caller verifies the signed request); this table applies the lease rules.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "portal/base/export.hpp"
#include "portal/wire/control.hpp"

namespace portal::lease {

/// Identifies one relay connection (one transport + yamux session).
using ConnectionId = std::uint64_t;

/// The name exempt from the conflict rule (portal-v1 §6.2).
inline constexpr std::string_view kUnnamed = "(unnamed)";

/// The table's bounds against clients that would fill a relay's memory. The defaults suit a public
/// relay; each field is a relay setting (config::RelayLimits).
struct Limits {
  /// Leases one connection may hold at once; more are REJECTED (v1 has no limit).
  std::size_t max_leases_per_connection = 64;
  /// A lease is kept at most this long past its last update: a later `expires` is lowered to
  /// `now + max_ttl_seconds` (v1 has no bound, §13.2 item 6; v1 clients ask for 30 s and renew
  /// every 5 s). 0: no bound.
  std::int64_t max_ttl_seconds = 0;
  /// Leases in the whole table; a new identity's lease past it is REJECTED (v1: no limit).
  /// Together with max_lease_bytes it bounds a RelayInfo answer (which v1 cannot truncate).
  std::size_t max_leases = 10'000;
  /// Bytes of a lease's name, metadata and ALPN strings together; more is REJECTED.
  std::size_t max_lease_bytes = 4096;
};

/// Why update() refused a lease (a fixed set, for metrics labels).
enum class Refusal {
  None,
  Expired,                ///< now > expires
  NameTaken,              ///< another identity holds the same name, byte for byte (v1 rule)
  NameTakenIgnoringCase,  ///< another identity holds a name equal under case folding
  LeasesPerConnection,    ///< the connection holds Limits::max_leases_per_connection leases
  LeaseTooLarge,          ///< name, metadata and ALPNs above Limits::max_lease_bytes
  TableFull,              ///< the table holds Limits::max_leases leases
};

/// Bytes of `lease` that Limits::max_lease_bytes counts: name, metadata and ALPN strings.
[[nodiscard]] PORTAL_API std::size_t variable_bytes(const wire::Lease& lease) noexcept;

/// "expired", "name_taken", "name_taken_ignoring_case", "leases_per_connection",
/// "lease_too_large", "lease_table_full"; "" for None.
[[nodiscard]] PORTAL_API const char* to_string(Refusal r) noexcept;

/// One table entry.
struct Entry {
  wire::Lease lease;            ///< exactly as last accepted (identity present and valid)
  ConnectionId connection = 0;  ///< the connection the last accepted update arrived on
  std::int64_t last_seen = 0;   ///< Unix seconds of that update
};

/// Not thread-safe: the relay owns one table and uses it from one executor.
class PORTAL_API LeaseTable {
 public:
  /// An empty table enforcing `limits`; nothing is allocated until the first update().
  explicit LeaseTable(Limits limits = {}) : limits_(limits) {}

  /// Register or renew (§6.3) for a verified request that arrived on `connection` at `now`:
  /// REJECTED when expired (`now > expires`), when another identity holds a non-empty name
  /// equal to this one under Unicode simple case folding (stricter than v1's byte-exact rule,
  /// so that `Web` cannot shadow `web` for case-insensitive lookups; `(unnamed)` exempt;
  /// expired, unswept entries count), or when the connection already holds the maximum number
  /// of leases; otherwise the entry is stored or replaced (its `expires` lowered to the TTL
  /// bound), moved to `connection`, and ACCEPTED. A lease without an identity is
  /// INVALID_IDENTITY. `why`, when given, receives the reason for a REJECTED.
  [[nodiscard]] wire::ResponseCode update(const wire::Lease& lease, ConnectionId connection,
                                          std::int64_t now, Refusal* why = nullptr);

  /// Delete (§6.4): ACCEPTED if an entry for `id` existed, INVALID_IDENTITY otherwise.
  [[nodiscard]] wire::ResponseCode remove(std::string_view id);

  /// The unexpired entry for `id` (§6.5: lookups ignore `now > expires`).
  [[nodiscard]] const Entry* find(std::string_view id, std::int64_t now) const;

  /// Every unexpired entry, ordered by ID.
  [[nodiscard]] std::vector<const Entry*> list(std::int64_t now) const;

  /// Removes expired entries (the 30 s sweep); returns their IDs.
  std::vector<std::string> sweep(std::int64_t now);

  /// A connection ended (§6.6): removes every lease bound to it; returns their IDs.
  std::vector<std::string> drop_connection(ConnectionId connection);

  /// The entry for `id`, expired or not (nothing when absent).
  [[nodiscard]] const Entry* entry(std::string_view id) const {
    const auto it = entries_.find(id);
    return it == entries_.end() ? nullptr : &it->second;
  }

  /// Leases currently bound to `connection`.
  [[nodiscard]] std::size_t count(ConnectionId connection) const;
  /// Entries held, expired but unswept ones included (what Limits::max_leases is compared with).
  [[nodiscard]] std::size_t size() const noexcept { return entries_.size(); }
  /// The identity holding `name` or a name equal to it under case folding, if any.
  [[nodiscard]] const std::string* holder_of_name(std::string_view name) const;
  /// Changes with every change of the table's content (for caches of what list() returns).
  [[nodiscard]] std::uint64_t generation() const noexcept { return generation_; }
  /// The bounds given to the constructor.
  [[nodiscard]] const Limits& limits() const noexcept { return limits_; }

 private:
  using Entries = std::map<std::string, Entry, std::less<>>;
  void erase(Entries::iterator it);

  Limits limits_;
  Entries entries_;  // by identity ID
  std::unordered_map<ConnectionId, std::size_t> per_connection_;
  std::unordered_map<std::string, std::string> names_;  // fold_name(name) -> identity ID
  std::uint64_t generation_ = 0;
};

}  // namespace portal::lease
