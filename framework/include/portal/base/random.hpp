// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <mutex>

#include "portal/base/bytes.hpp"
#include "portal/base/export.hpp"
#include "portal/base/result.hpp"

namespace portal::base {

/// A source of random bytes, injected wherever keys, nonces or jitter are drawn so that tests
/// can replay exact inputs. Implementations are thread-safe.
class PORTAL_API RandomSource {
 public:
  RandomSource() = default;
  RandomSource(const RandomSource&) = delete;
  RandomSource& operator=(const RandomSource&) = delete;
  virtual ~RandomSource();

  /// Fills `out` entirely, or fails and leaves its contents unspecified.
  /// Errors: Errc::RandomSourceFailed, Errc::RandomSourceExhausted.
  [[nodiscard]] virtual Result<void> fill(MutableByteSpan out) noexcept = 0;
};

/// The operating system's CSPRNG (getentropy(3), which blocks only until the kernel pool is
/// first seeded). Use it for every key and nonce outside tests.
class PORTAL_API OsRandom final : public RandomSource {
 public:
  [[nodiscard]] Result<void> fill(MutableByteSpan out) noexcept override;
  /// A process-wide instance (it has no state).
  static OsRandom& instance() noexcept;
};

/// Hands out a fixed byte sequence in order, then fails with Errc::RandomSourceExhausted.
/// For known-answer tests that must reproduce a peer's random draws. Never use it for keys.
class PORTAL_API ReplayRandom final : public RandomSource {
 public:
  /// fill() hands out `sequence` from its first byte on, each call continuing where the last
  /// stopped.
  explicit ReplayRandom(Bytes sequence) : bytes_(std::move(sequence)) {}
  [[nodiscard]] Result<void> fill(MutableByteSpan out) noexcept override;
  /// Bytes not yet handed out.
  [[nodiscard]] std::size_t remaining() const noexcept;

 private:
  mutable std::mutex mutex_;
  Bytes bytes_;
  std::size_t offset_ = 0;
};

}  // namespace portal::base
