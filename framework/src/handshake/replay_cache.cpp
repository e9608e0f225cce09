// SPDX-License-Identifier: Apache-2.0
#include "portal/handshake/replay_cache.hpp"

namespace portal::handshake {
namespace {

// The key is the client ID, a separator that cannot occur in an ID, and the raw nonce.
std::string make_key(std::string_view client_id, base::ByteSpan nonce) {
  std::string key;
  key.reserve(client_id.size() + 1 + nonce.size());
  key.append(client_id).push_back('\0');
  key.append(base::as_chars(nonce));
  return key;
}

}  // namespace

ReplayCache::ReplayCache(std::size_t capacity, std::int64_t lifetime_seconds)
    : capacity_(capacity == 0 ? 1 : capacity), lifetime_(lifetime_seconds) {}

void ReplayCache::expire(std::int64_t now) {
  while (!by_expiry_.empty() && by_expiry_.begin()->first < now) {
    keys_.erase(by_expiry_.begin()->second);
    by_expiry_.erase(by_expiry_.begin());
  }
}

bool ReplayCache::insert(std::string_view client_id, base::ByteSpan nonce, std::int64_t timestamp,
                         std::int64_t now) {
  std::lock_guard lock(mutex_);
  expire(now);
  std::string key = make_key(client_id, nonce);
  if (keys_.count(key) != 0) return false;
  if (keys_.size() >= capacity_) {
    // Full of live entries: drop the one closest to expiry (see the class comment).
    keys_.erase(by_expiry_.begin()->second);
    by_expiry_.erase(by_expiry_.begin());
  }
  // Saturate instead of overflowing on a hostile timestamp (the caller's window check has
  // already bounded it, but the cache does not rely on that).
  const std::int64_t expiry = timestamp > INT64_MAX - lifetime_ ? INT64_MAX : timestamp + lifetime_;
  by_expiry_.emplace(expiry, key);
  keys_.insert(std::move(key));
  return true;
}

std::size_t ReplayCache::size() const {
  std::lock_guard lock(mutex_);
  return keys_.size();
}

}  // namespace portal::handshake
