// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>

#include "portal/base/bytes.hpp"
#include "portal/base/export.hpp"
#include "portal/base/random.hpp"
#include "portal/base/result.hpp"
#include "portal/base/secret.hpp"
#include "portal/crypto/ed25519.hpp"
#include "portal/identity/identity.hpp"

namespace portal::identity {

/// A participant's own identity: an Ed25519 key pair and its v1 ID (the original calls this a
/// credential). Move-only; the seed is zeroised on destruction. Thread-safe for const use.
class PORTAL_API Credential {
 public:
  /// From a 32-byte Ed25519 seed. Errors: Errc::InvalidSeed.
  [[nodiscard]] static base::Result<Credential> from_seed(base::ByteSpan seed);
  /// A new identity from 32 bytes of `random`. Errors: those of RandomSource::fill.
  [[nodiscard]] static base::Result<Credential> generate(base::RandomSource& random);

  /// Takes over the key pair; the moved-from seed is zeroised and the object may only be destroyed
  /// or assigned to.
  Credential(Credential&&) noexcept = default;
  /// Replaces this credential with the other's key pair and ID; the other's seed is zeroised.
  Credential& operator=(Credential&&) noexcept = default;

  /// The 26-character v1 ID.
  [[nodiscard]] const std::string& id() const noexcept { return id_; }
  /// The 32-byte Ed25519 public key that id() is derived from, and that peers verify signatures
  /// with.
  [[nodiscard]] const crypto::Ed25519PublicKey& public_key() const noexcept {
    return keys_.public_key();
  }
  /// The 32-byte private seed. Never log it.
  [[nodiscard]] const crypto::Ed25519Seed& seed() const noexcept { return keys_.seed(); }
  /// The Identity message that describes this credential.
  [[nodiscard]] Identity identity() const;
  /// Go's 64-byte private key layout (seed ‖ public key), as the v1 tools print it.
  [[nodiscard]] base::SecretArray<64> go_private_key() const noexcept;

  /// The Ed25519 signature of `message`.
  [[nodiscard]] crypto::Ed25519Signature sign(base::ByteSpan message) const noexcept {
    return keys_.sign(message);
  }

 private:
  explicit Credential(crypto::Ed25519KeyPair keys);
  crypto::Ed25519KeyPair keys_;
  std::string id_;
};

}  // namespace portal::identity
