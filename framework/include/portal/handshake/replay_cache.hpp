// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "portal/base/bytes.hpp"
#include "portal/base/export.hpp"

namespace portal::handshake {

/// Remembers the signed messages already accepted, so that a copy replayed within the timestamp
/// window is refused: the ClientInits a lease holder accepted (portal-v1 §13.3 items 11-12) and
/// the relay's signed lease requests (§13.2 item 5). v1 itself keeps no cache.
///
/// - Keyed by (identity ID, nonce). An entry lives until its message's timestamp + the allowed
///   skew: after that the timestamp check refuses the message anyway.
/// - Bounded: at most `capacity` entries in all and `per_identity` for one identity. An entry is
///   never evicted while it is live (evicting one would let its message be replayed); when a
///   bound is reached, new messages are refused instead (Verdict::Full, Verdict::IdentityFull)
///   until entries expire. Only verified messages enter, so the bounds are reached only by
///   holders of the keys; the per-identity bound keeps one identity from filling the cache.
///
/// Thread-safe.
class PORTAL_API ReplayCache {
 public:
  static constexpr std::size_t kDefaultCapacity = 65536;
  static constexpr std::size_t kDefaultPerIdentity = 4096;

  explicit ReplayCache(std::size_t capacity = kDefaultCapacity, std::int64_t lifetime_seconds = 30,
                       std::size_t per_identity = kDefaultPerIdentity);

  enum class Verdict {
    Fresh,         ///< recorded: the message may be accepted
    Replayed,      ///< already present and unexpired
    Full,          ///< the cache holds `capacity` live entries
    IdentityFull,  ///< this identity holds `per_identity` live entries
  };

  /// Records (id, nonce) seen with `timestamp`, at time `now` (both Unix seconds), unless it is
  /// a replay or a bound is reached.
  [[nodiscard]] Verdict insert(std::string_view id, base::ByteSpan nonce, std::int64_t timestamp,
                               std::int64_t now);

  [[nodiscard]] std::size_t size() const;
  [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }
  [[nodiscard]] std::size_t per_identity() const noexcept { return per_identity_; }

 private:
  void expire(std::int64_t now);

  mutable std::mutex mutex_;
  std::size_t capacity_;
  std::int64_t lifetime_;
  std::size_t per_identity_;
  std::unordered_set<std::string> keys_;
  std::set<std::pair<std::int64_t, std::string>> by_expiry_;
  std::unordered_map<std::string, std::size_t> per_id_;  // live entries by identity ID
};

}  // namespace portal::handshake
