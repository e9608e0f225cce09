// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <array>
#include <memory>

#include "portal/base/bytes.hpp"
#include "portal/base/export.hpp"

namespace portal::crypto {

/// Bytes of a SHA-256 digest.
inline constexpr std::size_t kSha256Size = 32;
/// A SHA-256 (or HMAC-SHA256) result.
using Sha256Digest = std::array<base::Byte, kSha256Size>;

/// SHA-256 of `data` in one call.
[[nodiscard]] PORTAL_API Sha256Digest sha256(base::ByteSpan data) noexcept;

/// Incremental SHA-256, for data that arrives in pieces (a plugin file being pinned).
/// Not thread-safe.
class PORTAL_API Sha256 {
 public:
  Sha256();
  /// Takes over the other's running state; the moved-from object may only be destroyed or assigned
  /// to.
  Sha256(Sha256&&) noexcept;
  /// Drops this state and takes over the other's; the moved-from object may only be destroyed or
  /// assigned to.
  Sha256& operator=(Sha256&&) noexcept;
  ~Sha256();

  /// Hashes `data` as the next piece of the message (any length, including empty).
  void update(base::ByteSpan data) noexcept;
  /// Returns the digest and resets the state for a new message.
  [[nodiscard]] Sha256Digest finish() noexcept;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

/// HMAC-SHA256 (RFC 2104) of `message` under `key` (any length).
[[nodiscard]] PORTAL_API Sha256Digest hmac_sha256(base::ByteSpan key,
                                                  base::ByteSpan message) noexcept;

}  // namespace portal::crypto
