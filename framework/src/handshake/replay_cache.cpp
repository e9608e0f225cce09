// SPDX-License-Identifier: Apache-2.0
#include "portal/handshake/replay_cache.hpp"

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

std::string_view id_of(const std::string& key) { return std::string_view(key.c_str()); }

}  // namespace

ReplayCache::ReplayCache(std::size_t capacity, std::int64_t lifetime_seconds,
                         std::size_t per_identity)
    : capacity_(capacity == 0 ? 1 : capacity),
      lifetime_(lifetime_seconds),
      per_identity_(per_identity == 0 ? 1 : per_identity) {}

void ReplayCache::expire(std::int64_t now) {
  while (!by_expiry_.empty() && by_expiry_.begin()->first < now) {
    const std::string& key = by_expiry_.begin()->second;
    if (auto it = per_id_.find(std::string(id_of(key))); it != per_id_.end() && --it->second == 0) {
      per_id_.erase(it);
    }
    keys_.erase(key);
    by_expiry_.erase(by_expiry_.begin());
  }
}

ReplayCache::Verdict ReplayCache::insert(std::string_view id, base::ByteSpan nonce,
                                         std::int64_t timestamp, std::int64_t now) {
  std::lock_guard lock(mutex_);
  expire(now);
  std::string key = make_key(id, nonce);
  if (keys_.count(key) != 0) return Verdict::Replayed;
  // Checked before anything is allocated for the new entry.
  if (keys_.size() >= capacity_) return Verdict::Full;
  auto& count = per_id_[std::string(id)];
  if (count >= per_identity_) return Verdict::IdentityFull;
  // Saturate instead of overflowing on a hostile timestamp (the caller's window check has
  // already bounded it, but the cache does not rely on that).
  const std::int64_t expiry = timestamp > INT64_MAX - lifetime_ ? INT64_MAX : timestamp + lifetime_;
  by_expiry_.emplace(expiry, key);
  keys_.insert(std::move(key));
  ++count;
  return Verdict::Fresh;
}

std::size_t ReplayCache::size() const {
  std::lock_guard lock(mutex_);
  return keys_.size();
}

}  // namespace portal::handshake
