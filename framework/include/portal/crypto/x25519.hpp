// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <array>

#include "portal/base/bytes.hpp"
#include "portal/base/export.hpp"
#include "portal/base/result.hpp"
#include "portal/base/secret.hpp"

namespace portal::crypto {

/// Bytes of an X25519 private scalar, public key or shared secret (RFC 7748).
inline constexpr std::size_t kX25519KeySize = 32;

/// A private scalar, zeroised when destroyed; any 32 bytes are valid (clamped when used).
using X25519PrivateKey = base::SecretArray<kX25519KeySize>;
/// A public key: the u-coordinate, little-endian.
using X25519PublicKey = std::array<base::Byte, kX25519KeySize>;
/// The Diffie-Hellman output, zeroised when destroyed; the handshake feeds it to HKDF.
using X25519SharedSecret = base::SecretArray<kX25519KeySize>;

/// The X25519 public key of a private scalar (RFC 7748; the scalar is clamped internally, so
/// 32 raw random bytes are a valid private key, as in Go's crypto/ecdh).
[[nodiscard]] PORTAL_API X25519PublicKey x25519_public_key(const X25519PrivateKey& priv) noexcept;

/// The X25519 shared secret of `priv` and the peer's public key.
/// Errors: Errc::InvalidKeyLength when the peer key is not 32 bytes; Errc::LowOrderPoint when
/// the result is all zeros (Go's crypto/ecdh refuses the same inputs).
[[nodiscard]] PORTAL_API base::Result<X25519SharedSecret> x25519(
    const X25519PrivateKey& priv, base::ByteSpan peer_public) noexcept;

}  // namespace portal::crypto
