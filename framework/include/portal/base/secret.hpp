// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <array>
#include <cstddef>
#include <cstring>

#include "portal/base/bytes.hpp"
#include "portal/base/export.hpp"

namespace portal::base {

/// Overwrites `n` bytes at `p` with zeros in a way the optimiser may not remove.
PORTAL_API void secure_zero(void* p, std::size_t n) noexcept;

/// A fixed-size secret (a seed, a private scalar, a session key) that is zeroised when it is
/// destroyed or moved from. Copying is explicit (clone()) so that secrets are not duplicated by
/// accident.
template <std::size_t N>
class SecretArray {
 public:
  /// The secret's length in bytes.
  static constexpr std::size_t kSize = N;

  /// All zeros.
  SecretArray() noexcept : bytes_{} {}
  /// Copies exactly N bytes from `src`; the caller checks the length first.
  static SecretArray from(ByteSpan src) noexcept {
    SecretArray s;
    std::memcpy(s.bytes_.data(), src.data(), src.size() < N ? src.size() : N);
    return s;
  }
  /// Copies `other`'s bytes and zeroises `other`.
  SecretArray(SecretArray&& other) noexcept : bytes_(other.bytes_) { other.wipe(); }
  /// Overwrites this secret with `other`'s bytes and zeroises `other` (nothing happens on
  /// self-assignment).
  SecretArray& operator=(SecretArray&& other) noexcept {
    if (this != &other) {
      bytes_ = other.bytes_;
      other.wipe();
    }
    return *this;
  }
  SecretArray(const SecretArray&) = delete;
  SecretArray& operator=(const SecretArray&) = delete;
  ~SecretArray() { wipe(); }

  /// An explicit copy.
  [[nodiscard]] SecretArray clone() const noexcept {
    SecretArray s;
    s.bytes_ = bytes_;
    return s;
  }

  /// The N bytes, borrowed: valid while this object lives; copying them out defeats the
  /// zeroisation.
  [[nodiscard]] ByteSpan span() const noexcept { return bytes_; }
  /// The N bytes, writable in place (to fill a key), valid while this object lives.
  [[nodiscard]] MutableByteSpan mutable_span() noexcept { return bytes_; }
  /// Pointer to the first of the N bytes, for C-style APIs; valid while this object lives.
  [[nodiscard]] const Byte* data() const noexcept { return bytes_.data(); }
  /// Writable pointer to the first of the N bytes; valid while this object lives.
  [[nodiscard]] Byte* data() noexcept { return bytes_.data(); }
  /// N, the length in bytes.
  [[nodiscard]] static constexpr std::size_t size() noexcept { return N; }

  /// Zeroises the contents.
  void wipe() noexcept { secure_zero(bytes_.data(), N); }

 private:
  std::array<Byte, N> bytes_;
};

/// A variable-size secret on the heap, zeroised on destruction, move-only.
class PORTAL_API SecretBytes {
 public:
  SecretBytes() noexcept = default;
  /// `n` zero bytes.
  explicit SecretBytes(std::size_t n);
  /// A copy of `src`.
  static SecretBytes from(ByteSpan src);
  /// Takes over `other`'s heap block without copying; `other` becomes empty.
  SecretBytes(SecretBytes&& other) noexcept;
  /// Zeroises and frees this secret's block, then takes over `other`'s; `other` becomes empty.
  SecretBytes& operator=(SecretBytes&& other) noexcept;
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;
  ~SecretBytes();

  /// The bytes, borrowed: valid until this object is destroyed, moved from or assigned to.
  [[nodiscard]] ByteSpan span() const noexcept { return {data_, size_}; }
  /// The bytes, writable in place; same lifetime as span().
  [[nodiscard]] MutableByteSpan mutable_span() noexcept { return {data_, size_}; }
  /// Length in bytes (0 for a default-constructed or moved-from secret).
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  /// True when the secret holds no byte (default-constructed or moved from).
  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }

 private:
  void reset() noexcept;

  Byte* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace portal::base
