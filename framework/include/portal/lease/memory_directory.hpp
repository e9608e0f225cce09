// SPDX-License-Identifier: Apache-2.0
#pragma once

/// \file
/// A fleet directory held in memory (sans-IO): it answers lease::DirectoryRequest commands with
/// the semantics docs/adr/0015-relay-fleet.md gives them, with time as an argument. It is the
/// reference for what a directory plugin must do (the Redis plugin's tests hold it to the same
/// answers), and the directory of relays that share one process (the relay core's fleet tests).

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include "portal/base/bytes.hpp"
#include "portal/base/export.hpp"
#include "portal/lease/directory.hpp"

namespace portal::lease {

/// Not thread-safe: use it from one executor. Every key lives until its TTL passes (judged at
/// each call's `now_ms`), like a Redis key written with PX.
class PORTAL_API MemoryDirectory {
 public:
  /// Keys held at most (names, records, nonces and members together): a write past it answers
  /// Overloaded. Expired keys are dropped before the count is compared.
  explicit MemoryDirectory(std::size_t max_keys = 100'000) : max_keys_(max_keys) {}

  /// Carries out `request` at `now_ms` (milliseconds on any monotonic scale) and answers it. A
  /// request with a TTL below 1 ms, an empty key (except for Heartbeat and Members, which have
  /// none), or (for the ops that need one) an empty subject or relay answers Invalid.
  [[nodiscard]] DirectoryReply apply(const DirectoryRequest& request, std::int64_t now_ms);

  /// Keys held now, expired but not yet dropped ones included.
  [[nodiscard]] std::size_t size() const noexcept {
    return names_.size() + records_.size() + nonces_.size() + members_.size();
  }

 private:
  struct Value {
    std::string text;   // the name's holder, or nothing
    base::Bytes bytes;  // a record's signed request, or a member's URI
    std::int64_t expires_ms = 0;
  };
  void expire(std::int64_t now_ms);
  bool full() const noexcept { return size() >= max_keys_; }

  std::size_t max_keys_;
  std::map<std::string, Value, std::less<>> names_;                     // folded name
  std::map<std::pair<std::string, std::string>, Value> records_;        // (identity, relay)
  std::map<std::pair<std::string, base::Bytes>, std::int64_t> nonces_;  // -> expires
  std::map<std::string, Value, std::less<>> members_;                   // relay ID
};

}  // namespace portal::lease
