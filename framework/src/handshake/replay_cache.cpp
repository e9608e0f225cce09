// SPDX-License-Identifier: Apache-2.0
#include "portal/handshake/replay_cache.hpp"

#include <algorithm>

namespace portal::handshake {
namespace {

// The key is the identity ID, a separator that cannot occur in an ID, and the raw nonce.
std::string make_key(std::string_view id, base::ByteSpan nonce) {
  std::string key;
  key.reserve(id.size() + 1 + nonce.size());
  key.append(id).push_back('\0');
  key.append(base::as_chars(nonce));
  return key;
}

std::string id_of(const std::string& key) { return std::string(key.c_str()); }  // up to '\0'

}  // namespace

ReplayCache::ReplayCache(std::size_t capacity, std::int64_t lifetime_seconds,
                         std::size_t per_identity)
    : capacity_(capacity == 0 ? 1 : capacity),
      lifetime_(lifetime_seconds),
      per_identity_(per_identity == 0 ? 1 : per_identity) {}

// Removes one entry from every index. `key` is copied first: it may live in an index.
void ReplayCache::forget(const std::string& key_ref) {
  const std::string key = key_ref;
  const auto entry = keys_.find(key);
  if (entry == keys_.end()) return;
  const std::int64_t timestamp = entry->second;
  if (auto it = per_id_.find(id_of(key)); it != per_id_.end() && --it->second == 0) {
    per_id_.erase(it);
  }
  by_timestamp_.erase({timestamp, key});
  keys_.erase(entry);
}

std::int64_t ReplayCache::expiry_of(std::int64_t timestamp) const noexcept {
  // Saturate instead of overflowing on a hostile timestamp (the caller's window check has
  // already bounded it, but the cache does not rely on that).
  return timestamp > INT64_MAX - lifetime_ ? INT64_MAX : timestamp + lifetime_;
}

void ReplayCache::expire(std::int64_t now) {
  // Expiry is timestamp + lifetime: the oldest timestamp expires first.
  while (!by_timestamp_.empty() && expiry_of(by_timestamp_.begin()->first) < now) {
    forget(by_timestamp_.begin()->second);
  }
}

ReplayCache::Verdict ReplayCache::insert(std::string_view id, base::ByteSpan nonce,
                                         std::int64_t timestamp, std::int64_t now) {
  std::lock_guard lock(mutex_);
  expire(now);
  if (timestamp <= floor_) return Verdict::BelowFloor;
  std::string key = make_key(id, nonce);
  if (keys_.count(key) != 0) return Verdict::Replayed;
  auto count = per_id_.find(std::string(id));
  if (count != per_id_.end() && count->second >= per_identity_) return Verdict::IdentityFull;
  // Full: the oldest entry goes, and nothing at or below its timestamp is accepted any more
  // (so a message no newer than the oldest entry is refused without evicting anything).
  if (keys_.size() >= capacity_ && !by_timestamp_.empty() &&
      by_timestamp_.begin()->first >= timestamp) {
    return Verdict::BelowFloor;
  }
  while (keys_.size() >= capacity_ && !by_timestamp_.empty()) {
    floor_ = std::max(floor_, by_timestamp_.begin()->first);
    forget(by_timestamp_.begin()->second);
    ++evictions_;
  }
  if (timestamp <= floor_) return Verdict::BelowFloor;
  by_timestamp_.emplace(timestamp, key);
  keys_.emplace(std::move(key), timestamp);
  ++per_id_[std::string(id)];
  return Verdict::Fresh;
}

std::size_t ReplayCache::size() const {
  std::lock_guard lock(mutex_);
  return keys_.size();
}

std::uint64_t ReplayCache::evictions() const {
  std::lock_guard lock(mutex_);
  return evictions_;
}

}  // namespace portal::handshake
