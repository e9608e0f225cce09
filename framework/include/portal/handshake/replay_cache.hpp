// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <unordered_set>

#include "portal/base/bytes.hpp"
#include "portal/base/export.hpp"

namespace portal::handshake {

/// Remembers the ClientInits a lease holder has accepted, so that a copy replayed within the
/// timestamp window is refused (portal-v1 §13.3 items 11-12; v1 itself keeps no cache).
///
/// - One cache per lease-holder identity, shared by every handshake of that identity.
/// - Keyed by (client ID, nonce). An entry lives until its ClientInit's timestamp + the allowed
///   skew: after that the timestamp check refuses the message anyway.
/// - Bounded: at most `capacity` entries. When full, expired entries go first, then the entry
///   closest to expiry. Evicting never lets a forged message in (entries are added only after the
///   signature verified); it can only shorten how long a genuine message stays unreplayable, and a
///   replayed ClientInit yields no keys to whoever replays it.
///
/// Thread-safe.
class PORTAL_API ReplayCache {
 public:
  static constexpr std::size_t kDefaultCapacity = 65536;

  explicit ReplayCache(std::size_t capacity = kDefaultCapacity, std::int64_t lifetime_seconds = 30);

  /// Records (client_id, nonce) seen with `timestamp`, at time `now` (both Unix seconds). Returns
  /// false if it is already present and unexpired: a replay.
  [[nodiscard]] bool insert(std::string_view client_id, base::ByteSpan nonce,
                            std::int64_t timestamp, std::int64_t now);

  [[nodiscard]] std::size_t size() const;
  [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }

 private:
  void expire(std::int64_t now);

  mutable std::mutex mutex_;
  std::size_t capacity_;
  std::int64_t lifetime_;
  std::unordered_set<std::string> keys_;
  std::set<std::pair<std::int64_t, std::string>> by_expiry_;
};

}  // namespace portal::handshake
