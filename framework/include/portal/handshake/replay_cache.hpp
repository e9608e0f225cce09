// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <climits>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>

#include "portal/base/bytes.hpp"
#include "portal/base/export.hpp"

namespace portal::handshake {

/// Remembers the signed messages already accepted, so that a copy replayed within the timestamp
/// window is refused: the ClientInits a lease holder accepted (portal-v1 §13.3 items 11-12) and
/// the relay's signed lease requests (§13.2 item 5). v1 itself keeps no cache.
///
/// - Keyed by (identity ID, nonce). An entry lives until its message's timestamp + the allowed
///   skew: after that the timestamp check refuses the message anyway.
/// - Bounded: at most `capacity` entries in all and `per_identity` for one identity.
/// - Evicting never makes a message replayable: when the cache is full, the entry with the
///   oldest timestamp goes and the *floor* rises to that timestamp; from then on every message
///   whose timestamp is at or below the floor is refused (Verdict::BelowFloor), whether or not
///   it was seen. So a flood costs honest senders nothing unless it is fast enough to push the
///   floor up to their own (skewed) clocks: at capacity C and R accepted messages a second,
///   the floor trails the clock by about C / R seconds. Refusing new messages when full would
///   instead let anyone with a few throwaway identities lock every honest sender out.
/// - Only verified messages enter; the per-identity bound (Verdict::IdentityFull) keeps one
///   identity from taking more than its share.
///
/// Thread-safe.
class PORTAL_API ReplayCache {
 public:
  /// Default bound on all entries together.
  static constexpr std::size_t kDefaultCapacity = 65536;
  /// Default bound on the live entries of one identity.
  static constexpr std::size_t kDefaultPerIdentity = 4096;

  /// At most `capacity` entries, `per_identity` of them for one identity (0 counts as 1 for
  /// either); an entry expires `lifetime_seconds` after its message's timestamp, which should be
  /// the allowed clock skew. Allocates nothing until insert().
  explicit ReplayCache(std::size_t capacity = kDefaultCapacity, std::int64_t lifetime_seconds = 30,
                       std::size_t per_identity = kDefaultPerIdentity);

  /// The outcome of insert(); only Fresh lets the message through.
  enum class Verdict {
    Fresh,         ///< recorded: the message may be accepted
    Replayed,      ///< already present and unexpired
    BelowFloor,    ///< its timestamp is at or below the floor: it may have been evicted
    IdentityFull,  ///< this identity holds `per_identity` live entries
  };

  /// Records (id, nonce) seen with `timestamp`, at time `now` (both Unix seconds), unless it is
  /// a replay or a bound is reached.
  [[nodiscard]] Verdict insert(std::string_view id, base::ByteSpan nonce, std::int64_t timestamp,
                               std::int64_t now);

  /// Entries held now (expired ones are dropped only by the next insert()).
  [[nodiscard]] std::size_t size() const;
  /// The bound on all entries, as constructed (at least 1).
  [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }
  /// The bound on one identity's live entries, as constructed (at least 1).
  [[nodiscard]] std::size_t per_identity() const noexcept { return per_identity_; }
  /// Entries evicted while still live (each raised the floor).
  [[nodiscard]] std::uint64_t evictions() const;

 private:
  void expire(std::int64_t now);
  void forget(const std::string& key);
  [[nodiscard]] std::int64_t expiry_of(std::int64_t timestamp) const noexcept;

  mutable std::mutex mutex_;
  std::size_t capacity_;
  std::int64_t lifetime_;
  std::size_t per_identity_;
  std::unordered_map<std::string, std::int64_t> keys_;   // key -> the message's timestamp
  std::unordered_map<std::string, std::size_t> per_id_;  // live entries by identity ID
  std::set<std::pair<std::int64_t, std::string>> by_timestamp_;
  std::int64_t floor_ = INT64_MIN;
  std::uint64_t evictions_ = 0;
};

}  // namespace portal::handshake
