// SPDX-License-Identifier: Apache-2.0
#include "portal/crypto/x25519.hpp"

#include <cryptopp/donna.h>

#include <array>

#include "portal/crypto/errors.hpp"

namespace portal::crypto {

X25519PublicKey x25519_public_key(const X25519PrivateKey& priv) noexcept {
  X25519PublicKey pub{};
  // Donna clamps a copy of the scalar (RFC 7748 §5), so raw random bytes are accepted.
  CryptoPP::Donna::curve25519_mult(pub.data(), priv.data());
  return pub;
}

base::Result<X25519SharedSecret> x25519(const X25519PrivateKey& priv,
                                        base::ByteSpan peer_public) noexcept {
  if (peer_public.size() != kX25519KeySize) return Errc::InvalidKeyLength;
  X25519SharedSecret shared;
  CryptoPP::Donna::curve25519_mult(shared.data(), priv.data(), peer_public.data());
  // RFC 7748 §6.1: an all-zero output means the peer sent a low-order point.
  static constexpr std::array<base::Byte, kX25519KeySize> kZero{};
  if (base::constant_time_equal(shared.span(), kZero)) return Errc::LowOrderPoint;
  return shared;
}

}  // namespace portal::crypto
