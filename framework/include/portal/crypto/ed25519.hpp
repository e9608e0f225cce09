// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <array>

#include "portal/base/bytes.hpp"
#include "portal/base/export.hpp"
#include "portal/base/result.hpp"
#include "portal/base/secret.hpp"

namespace portal::crypto {

/// Bytes of an Ed25519 seed (the private key of RFC 8032).
inline constexpr std::size_t kEd25519SeedSize = 32;
/// Bytes of an encoded Ed25519 public key.
inline constexpr std::size_t kEd25519PublicKeySize = 32;
/// Bytes of an Ed25519 signature (R then S).
inline constexpr std::size_t kEd25519SignatureSize = 64;

/// A private seed, zeroised when destroyed.
using Ed25519Seed = base::SecretArray<kEd25519SeedSize>;
/// An encoded public key (not secret).
using Ed25519PublicKey = std::array<base::Byte, kEd25519PublicKeySize>;
/// An encoded signature.
using Ed25519Signature = std::array<base::Byte, kEd25519SignatureSize>;

/// An Ed25519 key pair (RFC 8032): the 32-byte seed is the private key, the public key is
/// derived from it once. Move-only; the seed is zeroised on destruction.
class PORTAL_API Ed25519KeyPair {
 public:
  /// Derives the key pair from a 32-byte seed. Errors: Errc::InvalidKeyLength.
  [[nodiscard]] static base::Result<Ed25519KeyPair> from_seed(base::ByteSpan seed) noexcept;

  /// Moves the seed (the moved-from seed is zeroised) and copies the public key.
  Ed25519KeyPair(Ed25519KeyPair&&) noexcept = default;
  /// Replaces this pair with the other's; the other's seed is zeroised.
  Ed25519KeyPair& operator=(Ed25519KeyPair&&) noexcept = default;

  /// The 32-byte private seed (RFC 8032's private key). Secret: never log or send it.
  [[nodiscard]] const Ed25519Seed& seed() const noexcept { return seed_; }
  /// The 32-byte public key derived from the seed, in RFC 8032 encoding.
  [[nodiscard]] const Ed25519PublicKey& public_key() const noexcept { return public_key_; }

  /// The deterministic RFC 8032 signature of `message`. Thread-safe (const).
  [[nodiscard]] Ed25519Signature sign(base::ByteSpan message) const noexcept;

 private:
  Ed25519KeyPair() = default;
  Ed25519Seed seed_;
  Ed25519PublicKey public_key_{};
};

/// Verifies an Ed25519 signature as Go's crypto/ed25519 does: the public key must be 32 bytes,
/// the signature 64 bytes with a canonical scalar (S < L), and the equation must hold.
/// Errors: Errc::InvalidKeyLength, Errc::InvalidSignatureLength, Errc::BadSignature.
[[nodiscard]] PORTAL_API base::Result<void> ed25519_verify(base::ByteSpan public_key,
                                                           base::ByteSpan message,
                                                           base::ByteSpan signature) noexcept;

}  // namespace portal::crypto
